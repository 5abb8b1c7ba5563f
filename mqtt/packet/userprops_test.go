package packet

import (
	"bytes"
	"runtime"
	"testing"
)

// userProp is one User Property in wire form.
func userProp(k, v string) []byte { return append(by(propUser), append(str(k), str(v)...)...) }

// TestUserPropertiesInterleaved decodes a PUBLISH whose User Properties have other properties between
// them: the list keeps their order [MQTT-3.3.2-18], skips the others, and Clone and Append write only
// the User Properties, in order.
func TestUserPropertiesInterleaved(t *testing.T) {
	raw := pk(0x30, str("t"), props(userProp("a", "1"), by(propContentType), str("text"), userProp("b", "2"),
		by(propMessageExpiry), u32(9), userProp("a", "3")), bs("payload"))
	fh, body, err := splitHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := Decode(fh, body, V5, &p); err != nil {
		t.Fatal(err)
	}
	want := []UserProperty{{bs("a"), bs("1")}, {bs("b"), bs("2")}, {bs("a"), bs("3")}}
	u := p.Props.User
	if u.Len() != 3 || !u.Equal(UserPropertiesOf(want...)) {
		t.Fatalf("decoded %q, want %q", u.Slice(), want)
	}
	if u.compactWire() != nil {
		t.Fatal("an interleaved list claims to be one run")
	}
	c := u.Clone()
	if c.compactWire() == nil || !c.Equal(u) || c.WireSize() != 3*7 {
		t.Fatalf("Clone = %q (%d bytes)", c.Slice(), c.WireSize())
	}
	if &c.raw[0] == &body[0] || cap(c.raw) != len(c.raw) {
		t.Fatal("Clone does not own exactly its bytes")
	}
	i := 0
	for k, v := range u.All() {
		if !bytes.Equal(k, want[i].Key) || !bytes.Equal(v, want[i].Value) {
			t.Fatalf("All()[%d] = %q:%q", i, k, v)
		}
		i++
		if i == 2 {
			break // stopping early is allowed
		}
	}
	enc := p.Append(nil, V5)
	canon := pk(0x30, str("t"), props(by(propMessageExpiry), u32(9), by(propContentType), str("text"),
		userProp("a", "1"), userProp("b", "2"), userProp("a", "3")), bs("payload"))
	if !bytes.Equal(enc, canon) {
		t.Fatalf("Append = % x\nwant     % x", enc, canon)
	}
}

// TestUserPropertiesAddCopies checks that Add never writes into a decoded body or into a copy's bytes.
func TestUserPropertiesAddCopies(t *testing.T) {
	body := append(make([]byte, 0, 32), userProp("k", "v")...) // room after it, as in a packet body
	u := UserProperties{raw: body, n: 1, size: len(body)}
	before := bytes.Clone(body[:cap(body)])
	a, b := u, u
	a.Add(bs("x"), bs("1"))
	b.Add(bs("y"), bs("2"))
	if !bytes.Equal(body[:cap(body)], before) {
		t.Fatal("Add wrote into the viewed bytes")
	}
	if got := a.Slice(); len(got) != 2 || string(got[1].Key) != "x" {
		t.Fatalf("a = %q", got)
	}
	if got := b.Slice(); len(got) != 2 || string(got[1].Key) != "y" {
		t.Fatalf("b = %q", got)
	}
	if u.Len() != 1 {
		t.Fatal("Add changed a copy")
	}
	var z UserProperties
	if z.Slice() != nil || z.Clone().raw != nil || !z.Equal(UserPropertiesOf()) {
		t.Fatal("the zero list is not empty")
	}
}

// hostileBodies are packet bodies made only of the cheapest repeatable fields, about size bytes each:
// what would multiply if each field were decoded into a Go value of its own.
func hostileBodies(size int) map[string]struct {
	fh      FixedHeader
	body    []byte
	version byte
} {
	rep := func(unit []byte) []byte { return bytes.Repeat(unit, size/len(unit)) }
	type hb = struct {
		fh      FixedHeader
		body    []byte
		version byte
	}
	mk := func(first byte, version byte, parts ...[]byte) hb {
		raw := pk(first, parts...)
		fh, body, _ := splitHeader(raw)
		return hb{fh, body, version}
	}
	connectHead := append(str("MQTT"), 5, 2, 0, 60)
	return map[string]hb{
		"CONNECT empty user properties": mk(0x10, V5, connectHead, props(rep(by(propUser, 0, 0, 0, 0))), str("c")),
		"PUBLISH empty user properties": mk(0x30, V5, str("t"), props(rep(by(propUser, 0, 0, 0, 0)))),
		"PUBLISH subscription ids":      mk(0x30, V5, str("t"), props(rep(by(propSubscriptionID, 1)))),
		"SUBSCRIBE empty filters":       mk(0x82, V311, u16(1), rep(by(0, 0, 0))),
		"UNSUBSCRIBE empty filters":     mk(0xa2, V5, u16(1), by(0), rep(by(0, 0))),
	}
}

// TestHostilePacketsDoNotMultiply decodes packets made of many tiny repeatable fields and checks that
// decoding allocates nothing for User Properties and at most twice the packet otherwise (Subscription
// Identifiers, 2 bytes each on the wire at the least, are 4 bytes each as []uint32, allocated once);
// the body itself is the caller's.
func TestHostilePacketsDoNotMultiply(t *testing.T) {
	const size = 1 << 20
	for name, h := range hostileBodies(size) {
		t.Run(name, func(t *testing.T) {
			var p Packet
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := Decode(h.fh, h.body, h.version, &p); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			limit := uint64(2 * len(h.body))
			if p.Props.SubscriptionIDs == nil {
				limit = 0
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > limit+64<<10 { // + what else runs meanwhile
				t.Errorf("decoding %d bytes allocated %d bytes", len(h.body), got)
			}
			// What is decoded round-trips.
			if out := p.Append(nil, h.version); !bytes.Equal(out[len(out)-len(h.body):], h.body) {
				t.Error("Append does not reproduce the body")
			}
		})
	}
}

// TestDecodeManyUserPropertiesZeroAllocs checks that User Properties cost no allocation, however many.
func TestDecodeManyUserPropertiesZeroAllocs(t *testing.T) {
	raw := pk(0x30, str("t"), props(bytes.Repeat(userProp("k", "v"), 1000)), bs("x"))
	fh, body, _ := splitHeader(raw)
	var p Packet
	if n := testing.AllocsPerRun(20, func() {
		if err := Decode(fh, body, V5, &p); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Decode: %v allocs/op, want 0", n)
	}
	if p.Props.User.Len() != 1000 {
		t.Fatalf("Len = %d", p.Props.User.Len())
	}
	count := 0
	if n := testing.AllocsPerRun(20, func() {
		count = 0
		for range p.Props.User.All() {
			count++
		}
	}); n != 0 || count != 1000 {
		t.Errorf("All: %v allocs/op, %d properties", n, count)
	}
}

// TestAppendPublishHeaderSplit checks that the split header, the User Properties it returns and the
// payload make the same bytes as Append, and that User Properties not in one run stay in the header.
func TestAppendPublishHeaderSplit(t *testing.T) {
	p := samplePublish(V5)
	p.Props.SubscriptionIDs = []uint32{3, 300}
	p.Props.User = UserPropertiesOf(UserProperty{bs("a"), bs("1")}, UserProperty{bs("b"), bs("")})
	want := p.Append(nil, V5)
	head, user := AppendPublishHeaderSplit([]byte("x"), V5, false, p.QoS, false, p.Topic, p.PacketID, &p.Props, len(p.Payload))
	if !bytes.Equal(user, p.Props.User.raw) {
		t.Fatalf("user = % x, want the list's own bytes", user)
	}
	if got := append(append(head[1:], user...), p.Payload...); !bytes.Equal(got, want) {
		t.Fatalf("split = % x\nwant    % x", got, want)
	}
	for _, c := range []struct {
		name    string
		version byte
		props   Properties
	}{
		{"3.1.1", V311, p.Props},
		{"no user properties", V5, Properties{ContentType: bs("c")}},
		{"interleaved", V5, func() Properties {
			var q Packet
			raw := pk(0x30, str("t"), props(userProp("a", "1"), by(propPayloadFormat, 1), userProp("b", "2")))
			fh, body, _ := splitHeader(raw)
			if err := Decode(fh, body, V5, &q); err != nil {
				t.Fatal(err)
			}
			return q.Props
		}()},
	} {
		head, user := AppendPublishHeaderSplit(nil, c.version, false, 0, false, bs("t"), 0, &c.props, 3)
		if full := AppendPublishHeader(nil, c.version, false, 0, false, bs("t"), 0, &c.props, 3); user != nil || !bytes.Equal(head, full) {
			t.Errorf("%s: head % x, user % x; want the whole header % x and no user", c.name, head, user, full)
		}
	}
}
