package flashstore

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/segment-v1-num.golden")

// goldenFile is what TestGoldenSegment writes today: format version 1
// with numbered sessions, whose routes and inbound ids are keyed by the
// number and leave client ID and message ID out of their values. The
// older goldens are logs written before that (listenerGoldenFile), before
// sessions recorded their listener (sizeGoldenFile), before routes
// carried their message's size (hidesGoldenFile), before a Delete named
// the segments it hides (ownerGoldenFile) and before sessions recorded
// their owner (oldGoldenFile); all must stay readable.
const (
	goldenFile         = "testdata/segment-v1-num.golden"
	listenerGoldenFile = "testdata/segment-v1-listener.golden"
	sizeGoldenFile     = "testdata/segment-v1-size.golden"
	hidesGoldenFile    = "testdata/segment-v1-hides.golden"
	ownerGoldenFile    = "testdata/segment-v1-owner.golden"
	oldGoldenFile      = "testdata/segment-v1.golden"
)

// goldenRecords are the values written to the golden segment, one of each
// broker record type, keyed as the broker would key them.
func goldenRecords() (sess Session, sub Subscription, msg Message, route Route, in Inbound, ret Retained) {
	sess = Session{ClientID: "sensor-1", ProtocolVersion: 5, ExpirySeconds: 3600, ExpiresAt: 1700000000000,
		Will:  &Will{Topic: "status/sensor-1", Payload: []byte("offline"), QoS: 1, Retain: true, DelaySeconds: 5, Props: []byte{0x01, 0x01}},
		Owner: &Owner{Username: "sensor", Listener: "lan"}, Num: 1}
	sub = Subscription{ClientID: "sensor-1", Filter: "cmd/sensor-1/#", QoS: 2, NoLocal: true, RetainHandling: 1, SubID: 7}
	msg = Message{ID: 42, Topic: "temp/kitchen", Payload: []byte("21.5"), QoS: 2, Retain: true, ExpiresAt: 0,
		Props: []byte{0x23, 0x00, 0x01}, PublisherID: "sensor-1"}
	route = Route{QoS: 2, PacketID: 9, Stage: RouteSent, Seq: 1, Size: 16}
	in = Inbound{}
	ret = Retained{Topic: "temp/kitchen", MsgID: 42}
	return
}

// writeGolden writes the golden log into dir: four batches covering every
// record type, an overwrite and a delete.
func writeGolden(t *testing.T, dir string) {
	t.Helper()
	l, _ := open(t, Options{Dir: dir})
	sess, sub, msg, route, in, ret := goldenRecords()
	var b Batch
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.PutMsg(KindSession, []byte("sensor-1"), &sess))
	must(b.PutMsg(KindSubscription, []byte("sensor-1\x00cmd/sensor-1/#"), &sub))
	commit(t, l, &b)
	b.Reset()
	must(b.PutMsg(KindMessage, []byte{0, 0, 0, 0, 0, 0, 0, 42}, &msg))
	must(b.PutMsg(KindRoute, []byte("\xff\x02\x00\x00\x00\x00\x00\x00\x00\x2a"), &route))
	must(b.PutMsg(KindRetained, []byte("temp/kitchen"), &ret))
	commit(t, l, &b)
	b.Reset()
	must(b.PutMsg(KindInbound, []byte("\xff\x01\x01\x2c"), &in))
	commit(t, l, &b)
	b.Reset()
	b.Delete(KindInbound, []byte("\xff\x01\x01\x2c"))
	route.Stage = RouteReleased
	must(b.PutMsg(KindRoute, []byte("\xff\x02\x00\x00\x00\x00\x00\x00\x00\x2a"), &route))
	commit(t, l, &b)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenSegment pins the on-disk format: the bytes of a fixed log must
// not change unless the format version does (regenerate with -update after
// review).
func TestGoldenSegment(t *testing.T) {
	dir := t.TempDir()
	writeGolden(t, dir)
	got, err := os.ReadFile(filepath.Join(dir, segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenSegment -update once)", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("segment format changed: first difference at byte %d (got %d bytes, golden %d)", i, len(got), len(want))
	}
}

// TestReadGolden opens the golden files as logs and decodes their values:
// logs written by version 1 must stay readable, including those written
// before sessions recorded their owner (Owner comes back nil), their
// listener ("") or routes their size (0).
func TestReadGolden(t *testing.T) {
	for _, f := range []string{goldenFile, listenerGoldenFile, sizeGoldenFile, hidesGoldenFile, ownerGoldenFile, oldGoldenFile} {
		t.Run(filepath.Base(f), func(t *testing.T) { readGolden(t, f) })
	}
}

// readGolden checks one golden log's values.
func readGolden(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, Options{Dir: dir})
	sess, sub, msg, route, _, ret := goldenRecords()
	if file != goldenFile { // written before sessions were numbered
		sess.Num = 0
		route.ClientID, route.MsgID = "app", 42
	}
	if file == oldGoldenFile {
		sess.Owner = nil
	} else if file != goldenFile && file != listenerGoldenFile {
		sess.Owner.Listener = "" // written before sessions recorded their listener
	}
	if file != goldenFile && file != listenerGoldenFile && file != sizeGoldenFile {
		route.Size = 0
	}
	route.Stage = RouteReleased
	want := []any{&sess, &sub, &msg, &ret, &route}
	var got []any
	err = l.Range(func(kind Kind, key, value []byte) error {
		var v interface {
			UnmarshalMsg([]byte) ([]byte, error)
		}
		switch kind {
		case KindSession:
			v = &Session{}
		case KindSubscription:
			v = &Subscription{}
		case KindMessage:
			v = &Message{}
		case KindRoute:
			v = &Route{}
		case KindRetained:
			v = &Retained{}
		default:
			t.Fatalf("unexpected kind %v", kind)
		}
		rest, err := v.UnmarshalMsg(value)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%v: decode: %v, %d bytes left", kind, err, len(rest))
		}
		got = append(got, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("golden values:\n got  %+v\n want %+v", got, want)
	}
}

const goldenManifest = "testdata/manifest-v1.golden"

// TestGoldenManifest pins the MANIFEST format of the golden log (one
// segment, 0000000000000001.seg, first and newest), and checks that it
// reads back.
func TestGoldenManifest(t *testing.T) {
	dir := t.TempDir()
	writeGolden(t, dir)
	got, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenManifest, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenManifest)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenManifest -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("manifest format changed:\n got  % x\n want % x", got, want)
	}
	m, err := readManifest(dir)
	if err != nil || m == nil || m.First != 1 || m.Last != 1 {
		t.Fatalf("readManifest = %+v, %v", m, err)
	}
}
