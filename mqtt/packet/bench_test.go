package packet

import (
	"bufio"
	"testing"
)

// samplePublish returns a typical QoS 1 PUBLISH packet for the given version: a 24-byte topic and a
// 128-byte payload; the 5.0 one carries a message expiry, a content type and a user property.
func samplePublish(version byte) *Packet {
	p := &Packet{Type: PUBLISH, QoS: 1, PacketID: 42, Topic: bs("site/7/sensor/temp/value"), Payload: payloadOf(128)}
	if version == V5 {
		p.Props.MessageExpiry, p.Props.HasMessageExpiry = 3600, true
		p.Props.ContentType = bs("application/json")
		p.Props.User = UserPropertiesOf([]UserProperty{{Key: bs("unit"), Value: bs("C")}}...)
	}
	return p
}

var versions = []struct {
	name string
	v    byte
}{{"v311", V311}, {"v5", V5}}

func TestPublishZeroAllocs(t *testing.T) {
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			src := samplePublish(ver.v)
			raw := src.Append(nil, ver.v)
			fh, body, err := splitHeader(raw)
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			if err := Decode(fh, body, ver.v, &p); err != nil {
				t.Fatal(err)
			}
			if !equalPacket(&p, src) {
				t.Fatalf("decoded %s, want %s", dump(&p), dump(src))
			}
			if n := testing.AllocsPerRun(100, func() { _ = Decode(fh, body, ver.v, &p) }); n != 0 {
				t.Errorf("Decode PUBLISH: %v allocs/op, want 0", n)
			}
			buf := make([]byte, 0, 512)
			if n := testing.AllocsPerRun(100, func() { buf = p.Append(buf[:0], ver.v) }); n != 0 {
				t.Errorf("Append PUBLISH: %v allocs/op, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() {
				buf = AppendPublishHeader(buf[:0], ver.v, false, 1, false, p.Topic, 42, &p.Props, len(p.Payload))
			}); n != 0 {
				t.Errorf("AppendPublishHeader: %v allocs/op, want 0", n)
			}
			ack := Packet{Type: PUBACK, PacketID: 42}
			if n := testing.AllocsPerRun(100, func() { buf = ack.Append(buf[:0], ver.v) }); n != 0 {
				t.Errorf("Append PUBACK: %v allocs/op, want 0", n)
			}
			ackRaw := ack.Append(nil, ver.v)
			afh, abody, _ := splitHeader(ackRaw)
			if n := testing.AllocsPerRun(100, func() { _ = Decode(afh, abody, ver.v, &p) }); n != 0 {
				t.Errorf("Decode PUBACK: %v allocs/op, want 0", n)
			}
		})
	}
}

// loopReader serves the same bytes forever.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

func TestReaderZeroAllocs(t *testing.T) {
	for _, ver := range versions {
		raw := samplePublish(ver.v).Append(nil, ver.v)
		rd := NewReader(bufio.NewReader(&loopReader{b: raw}), 0)
		var p Packet
		if err := rd.Read(ver.v, &p); err != nil { // warm up: grows the body buffer once
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := rd.Read(ver.v, &p); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Reader.Read PUBLISH: %v allocs/op, want 0", ver.name, n)
		}
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, ver := range versions {
		b.Run(ver.name, func(b *testing.B) {
			raw := samplePublish(ver.v).Append(nil, ver.v)
			fh, body, _ := splitHeader(raw)
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := Decode(fh, body, ver.v, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	for _, ver := range versions {
		b.Run(ver.name, func(b *testing.B) {
			p := samplePublish(ver.v)
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			b.SetBytes(int64(p.Size(ver.v)))
			for b.Loop() {
				buf = p.Append(buf[:0], ver.v)
			}
		})
	}
}

func BenchmarkAppendPublishHeader(b *testing.B) {
	for _, ver := range versions {
		b.Run(ver.name, func(b *testing.B) {
			p := samplePublish(ver.v)
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			b.SetBytes(int64(p.Size(ver.v) - len(p.Payload)))
			for b.Loop() {
				buf = AppendPublishHeader(buf[:0], ver.v, false, p.QoS, false, p.Topic, p.PacketID, &p.Props, len(p.Payload))
			}
		})
	}
}

func BenchmarkReaderPublish(b *testing.B) {
	for _, ver := range versions {
		b.Run(ver.name, func(b *testing.B) {
			raw := samplePublish(ver.v).Append(nil, ver.v)
			rd := NewReader(bufio.NewReader(&loopReader{b: raw}), 0)
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := rd.Read(ver.v, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
