package mqtt

import (
	"context"
	"encoding/binary"
	"reflect"
	"slices"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"gatemq/flashstore"
)

// fuzzRecord is one live entry of fuzzStore.
type fuzzRecord struct {
	kind  flashstore.Kind
	key   []byte // nil: fuzzKey makes one
	value []byte
}

// fuzzStore is a Store over a fixed list of records; commits are accepted
// and dropped. A message record's key is its id when it decodes (the last
// record of an id is the live one, as in the log), or one of its own.
type fuzzStore struct{ recs []fuzzRecord }

func (s *fuzzStore) Commit(*flashstore.Batch) error { return nil }

func (s *fuzzStore) Range(fn func(kind flashstore.Kind, key, value []byte) error) error {
	return s.RangeKinds(nil, fn)
}

func (s *fuzzStore) RangeKinds(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key, value []byte) error) error {
	for i, r := range s.recs {
		if len(kinds) > 0 && !slices.Contains(kinds, r.kind) || r.kind == flashstore.KindMessage && !s.live(i) {
			continue
		}
		if err := fn(r.kind, fuzzKey(i, r), r.value); err != nil {
			return err
		}
	}
	return nil
}

func (s *fuzzStore) RangeKeys(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key []byte) error) error {
	return s.RangeKinds(kinds, func(kind flashstore.Kind, key, _ []byte) error { return fn(kind, key) })
}

func (s *fuzzStore) GetAppend(dst []byte, kind flashstore.Kind, key []byte) ([]byte, error) {
	for i := len(s.recs) - 1; i >= 0; i-- {
		if r := s.recs[i]; r.kind == kind && string(fuzzKey(i, r)) == string(key) {
			return append(dst, r.value...), nil
		}
	}
	return dst, flashstore.ErrNotFound
}

// live reports whether message record i is the last of its key.
func (s *fuzzStore) live(i int) bool {
	k := fuzzKey(i, s.recs[i])
	for j := i + 1; j < len(s.recs); j++ {
		if s.recs[j].kind == flashstore.KindMessage && string(fuzzKey(j, s.recs[j])) == string(k) {
			return false
		}
	}
	return true
}

// fuzzKey is record i's key.
func fuzzKey(i int, r fuzzRecord) []byte {
	if r.key != nil {
		return r.key
	}
	if r.kind != flashstore.KindMessage {
		return []byte("k")
	}
	var m flashstore.Message
	if _, err := m.UnmarshalMsg(r.value); err == nil {
		return binary.BigEndian.AppendUint64(nil, m.ID)
	}
	return binary.BigEndian.AppendUint64(nil, 1<<63|uint64(i))
}

// splitRecords reads fuzz input as records: a kind byte, a little-endian
// uint16 length and that many bytes of value (fewer at the end of data).
// A value that starts with 0xff and a length L has a key of its own: the
// L bytes that follow (a numbered route or inbound key, say); the rest is
// the value.
func splitRecords(data []byte) []fuzzRecord {
	var recs []fuzzRecord
	for len(data) >= 3 {
		kind, n := flashstore.Kind(data[0]), int(binary.LittleEndian.Uint16(data[1:3]))
		data = data[3:]
		n = min(n, len(data))
		r := fuzzRecord{kind: kind, value: data[:n:n]}
		if v := r.value; len(v) >= 2 && v[0] == 0xff && len(v) >= 2+int(v[1]) {
			k := 2 + int(v[1])
			r.key, r.value = v[2:k:k], v[k:]
		}
		recs = append(recs, r)
		data = data[n:]
	}
	return recs
}

// joinRecords is the inverse of splitRecords, for seeds.
func joinRecords(recs ...fuzzRecord) []byte {
	var out []byte
	for _, r := range recs {
		out = append(out, byte(r.kind))
		if r.key != nil {
			out = binary.LittleEndian.AppendUint16(out, uint16(2+len(r.key)+len(r.value)))
			out = append(append(out, 0xff, byte(len(r.key))), r.key...)
			out = append(out, r.value...)
			continue
		}
		out = binary.LittleEndian.AppendUint16(out, uint16(len(r.value)))
		out = append(out, r.value...)
	}
	return out
}

// rec encodes v as a record of kind.
func rec(kind flashstore.Kind, v msgp.Marshaler) fuzzRecord {
	b, err := v.MarshalMsg(nil)
	if err != nil {
		panic(err)
	}
	return fuzzRecord{kind: kind, value: b}
}

// storedProps is the property block of a stored 5.0 message, as
// encodeStoredProps writes it: a PUBLISH to "p" whose properties are a
// content type, a user property k=v and a payload format indicator.
var storedProps = []byte{0x30, 24, 0, 1, 'p', 21,
	0x03, 0, 10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n',
	0x26, 0, 1, 'k', 0, 1, 'v', 0x01, 0x01}

// FuzzRecover rebuilds a broker from arbitrary store records (see
// splitRecords), as Server.Recover does at start-up from flashstore.
// Properties: decoding and rebuilding never panic; Recover fails only for a
// small record (not a message: bodies are read when needed) that does not
// decode; when it succeeds, every record is accounted for: each session
// record counts as a session, and each subscription, route, inbound and
// retained record and each distinct message key counts once, as rebuilt
// or as dropped. A decodable message record re-encodes (as
// the broker writes it) to a record that decodes to the same message.
func FuzzRecover(f *testing.F) {
	sess := flashstore.Session{ClientID: "c1", ProtocolVersion: 5, ExpirySeconds: 3600}
	gone := flashstore.Session{ClientID: "old", ProtocolVersion: 4, ExpirySeconds: 1, ExpiresAt: 1,
		Will: &flashstore.Will{Topic: "w", Payload: []byte("bye"), QoS: 1}}
	msg := flashstore.Message{ID: 1, Topic: "a/b", Payload: []byte("x"), QoS: 1, Props: storedProps}
	kept := flashstore.Message{ID: 2, Topic: "r", Payload: []byte("retained"), Retain: true, ExpiresAt: 1 << 50}
	all := []fuzzRecord{
		rec(flashstore.KindSession, &sess),
		rec(flashstore.KindSession, &gone),
		rec(flashstore.KindSubscription, &flashstore.Subscription{ClientID: "c1", Filter: "a/+", QoS: 1, SubID: 7}),
		rec(flashstore.KindSubscription, &flashstore.Subscription{ClientID: "c1", Filter: "$share/g/s/#", QoS: 2}),
		rec(flashstore.KindMessage, &msg),
		rec(flashstore.KindMessage, &kept),
		rec(flashstore.KindRoute, &flashstore.Route{ClientID: "c1", MsgID: 1, QoS: 1, PacketID: 7, Stage: flashstore.RouteSent, Seq: 2}),
		rec(flashstore.KindRoute, &flashstore.Route{ClientID: "c1", MsgID: 2, QoS: 2, PacketID: 7, Stage: flashstore.RouteReleased, Seq: 3}),
		rec(flashstore.KindRoute, &flashstore.Route{ClientID: "c1", MsgID: 1, QoS: 1, Stage: flashstore.RouteQueued, Seq: 1}),
		rec(flashstore.KindInbound, &flashstore.Inbound{ClientID: "c1", PacketID: 9}),
		rec(flashstore.KindRetained, &flashstore.Retained{Topic: "r", MsgID: 2}),
		rec(flashstore.KindRetained, &flashstore.Retained{Topic: "lost", MsgID: 99}),
	}
	f.Add(joinRecords(all...))
	f.Add(joinRecords(all[4:]...)) // no sessions: routes and subscriptions dropped
	f.Add(joinRecords(all[0], all[0], all[6], all[6]))
	f.Add(joinRecords(fuzzRecord{kind: flashstore.KindMessage, value: msg.Props[:10]}))
	f.Add(joinRecords(fuzzRecord{kind: flashstore.KindSession, value: all[0].value[:5]}))
	f.Add(joinRecords(fuzzRecord{kind: 9, value: []byte{0x90}}))
	// Numbered: sessions c2 (3) and c3 (3 too: it gets a new number), a
	// route in flight and a queued one keyed by session 3, an inbound id,
	// and keys of a session that is not there or that are malformed.
	c2 := flashstore.Session{ClientID: "c2", ExpirySeconds: 3600, Num: 3}
	c3 := flashstore.Session{ClientID: "c3", ExpirySeconds: 3600, Num: 3}
	numKey := func(num uint32, id ...byte) []byte { return append(appendNumKey(nil, num), id...) }
	numbered := func(kind flashstore.Kind, key []byte, v msgp.Marshaler) fuzzRecord {
		r := rec(kind, v)
		r.key = key
		return r
	}
	f.Add(joinRecords(rec(flashstore.KindSession, &c2), rec(flashstore.KindSession, &c3), all[4], all[5],
		numbered(flashstore.KindRoute, numKey(3, 0, 0, 0, 0, 0, 0, 0, 1), &flashstore.Route{QoS: 1, PacketID: 4, Stage: flashstore.RouteSent, Seq: 5}),
		numbered(flashstore.KindRoute, numKey(3, 0, 0, 0, 0, 0, 0, 0, 2), &flashstore.Route{QoS: 2, Seq: 6}),
		numbered(flashstore.KindRoute, numKey(4, 0, 0, 0, 0, 0, 0, 0, 2), &flashstore.Route{QoS: 2, Seq: 7}),
		numbered(flashstore.KindInbound, numKey(3, 0, 9), &flashstore.Inbound{}),
		numbered(flashstore.KindInbound, numKey(4, 0, 9), &flashstore.Inbound{})))
	f.Add(joinRecords(rec(flashstore.KindSession, &c2),
		numbered(flashstore.KindRoute, numKey(3, 1), &flashstore.Route{QoS: 1, Seq: 1})))
	f.Add(joinRecords(rec(flashstore.KindSession, &c2),
		numbered(flashstore.KindInbound, numKey(3, 1, 2, 3), &flashstore.Inbound{})))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := splitRecords(data)
		for _, r := range recs {
			if r.kind == flashstore.KindMessage {
				checkStoredMessage(t, r.value)
			}
		}
		srv := NewServer(Options{Store: &fuzzStore{recs}, Logger: discardLogger()})
		defer srv.Shutdown(context.Background())
		rs, err := srv.Recover()
		if err != nil {
			if _, derr := decodeStore(&fuzzStore{recs}); derr == nil && routesDecode(recs) {
				t.Fatalf("Recover failed (%v) on records that decode", err)
			}
			return
		}
		var sessions, others int
		ids := map[string]bool{}
		for i, r := range recs {
			switch r.kind {
			case flashstore.KindSession:
				sessions++
			case flashstore.KindMessage:
				ids[string(fuzzKey(i, r))] = true
			default:
				others++
			}
		}
		got := rs.Subscriptions + rs.Routes + rs.Inbound + rs.Retained + rs.Messages + rs.Dropped
		if rs.Sessions != sessions || got != others+len(ids) {
			t.Fatalf("recovered %+v from %d session, %d message (%d ids) and %d other records",
				rs, sessions, len(recs)-sessions-others, len(ids), others)
		}
	})
}

// routesDecode reports whether every route record's value decodes (a
// route that does not is the one small record decodeStore does not read).
func routesDecode(recs []fuzzRecord) bool {
	for _, r := range recs {
		var rt flashstore.Route
		if _, err := rt.UnmarshalMsg(r.value); r.kind == flashstore.KindRoute && err != nil {
			return false
		}
	}
	return true
}

// checkStoredMessage decodes a message record, and if it decodes,
// re-encodes it as txn.ref does and decodes that to the same message.
func checkStoredMessage(t *testing.T, value []byte) {
	m, err := decodeMessage(value)
	if err != nil {
		return
	}
	r := flashstore.Message{ID: m.ID, Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain,
		PublisherID: m.Publisher, Props: encodeStoredProps(m)}
	if !m.ExpiresAt.IsZero() {
		r.ExpiresAt = m.ExpiresAt.UnixMilli()
	}
	b, err := r.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := decodeMessage(b)
	if err != nil {
		t.Fatalf("re-encoded message does not decode: %v", err)
	}
	if m2.ID != m.ID || m2.Topic != m.Topic || string(m2.Payload) != string(m.Payload) || m2.QoS != m.QoS ||
		m2.Retain != m.Retain || m2.Publisher != m.Publisher || !m2.ExpiresAt.Equal(m.ExpiresAt) {
		t.Fatalf("message round trip differs:\n first %+v\nsecond %+v", m, m2)
	}
	if !reflect.DeepEqual(m.props, m2.props) {
		t.Fatalf("message properties round trip differs:\n first %+v\nsecond %+v", m.props, m2.props)
	}
}
