package packet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// splitHeader parses the fixed header at the start of raw and returns it with the rest of raw.
func splitHeader(raw []byte) (FixedHeader, []byte, error) {
	r := bytes.NewReader(raw)
	fh, err := ReadFixedHeader(r)
	return fh, raw[len(raw)-r.Len():], err
}

// fuzzVersion maps any byte to one of the two connection levels.
func fuzzVersion(v byte) byte {
	if v == V5 {
		return V5
	}
	return V311
}

// FuzzDecode decodes arbitrary bytes as one packet. Decoding must not panic and may fail only with an
// *Error; a decoded packet must re-encode (Append, with Size agreeing) to bytes that decode to an equal
// packet and re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, tc := range packetCases {
		f.Add(tc.Version, tc.Raw)
	}
	f.Fuzz(func(t *testing.T, version byte, raw []byte) {
		version = fuzzVersion(version)
		fh, rest, err := splitHeader(raw)
		if err != nil || len(rest) < fh.Remaining {
			return
		}
		var p Packet
		if err := Decode(fh, rest[:fh.Remaining], version, &p); err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode error %v is %T, not *Error", err, err)
			}
			return
		}
		enc := version
		if p.Type == CONNECT {
			enc = p.Connect.ProtocolLevel
		}
		out := p.Append(nil, enc)
		if n := p.Size(enc); n != len(out) {
			t.Fatalf("Size = %d, Append wrote %d bytes", n, len(out))
		}
		fh2, rest2, err := splitHeader(out)
		if err != nil || len(rest2) != fh2.Remaining {
			t.Fatalf("re-encoded header: %+v, %v (% x)", fh2, err, out)
		}
		var q Packet
		if err := Decode(fh2, rest2, version, &q); err != nil {
			t.Fatalf("decode of re-encoded % x: %v\nfrom % x\npacket %s", out, err, raw, dump(&p))
		}
		if !equalPacket(&p, &q) {
			t.Fatalf("round trip differs\n first %s\nsecond %s", dump(&p), dump(&q))
		}
		if out2 := q.Append(nil, enc); !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding not stable\n% x\n% x", out, out2)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(b) > c.n {
		b = b[:c.n]
	}
	return c.r.Read(b)
}

// readAll reads packets from src until an error and records each outcome.
func readAll(src io.Reader, version byte, maxSize int) []string {
	rd := NewReader(bufio.NewReaderSize(src, 16), maxSize)
	var p Packet
	var out []string
	for len(out) < 1000 {
		err := rd.Read(version, &p)
		if err != nil {
			out = append(out, "error: "+err.Error())
			return out
		}
		out = append(out, fmt.Sprintf("% x", p.Append(nil, version)))
	}
	return out
}

// FuzzReader reads a stream of packets through a Reader whole, one byte at a time and in chunks of
// split bytes; all three must see the same packets and the same final error, and never panic.
func FuzzReader(f *testing.F) {
	for i, tc := range packetCases {
		next := packetCases[(i+1)%len(packetCases)]
		f.Add(tc.Version, uint16(i%7+1), uint32(0), append(append([]byte(nil), tc.Raw...), next.Raw...))
	}
	f.Add(V5, uint16(3), uint32(4), pk(0x30, str("a"), bs("too large")))
	f.Fuzz(func(t *testing.T, version byte, split uint16, maxSize uint32, stream []byte) {
		version = fuzzVersion(version)
		if split == 0 {
			split = 1
		}
		limit := int(maxSize % (1 << 20))
		whole := readAll(bytes.NewReader(stream), version, limit)
		one := readAll(iotest.OneByteReader(bytes.NewReader(stream)), version, limit)
		chunks := readAll(&chunkReader{bytes.NewReader(stream), int(split)}, version, limit)
		for i := range whole {
			if i >= len(one) || i >= len(chunks) || whole[i] != one[i] || whole[i] != chunks[i] {
				t.Fatalf("readers disagree at packet %d:\nwhole  %q\none    %q\nchunks %q", i, whole, one, chunks)
			}
		}
		if len(whole) != len(one) || len(whole) != len(chunks) {
			t.Fatalf("readers disagree on count: %d %d %d", len(whole), len(one), len(chunks))
		}
	})
}
