package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseVariants(t *testing.T) {
	kinds, err := parseVariants("gatemq-always, gatemq-none,mosquitto,mosquitto-persist,mochi,mochi-bolt,gatemq-always+clean", "/g", "/m", "/c", false, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []brokerKind{
		{name: "gatemq-always", program: "gatemq", path: "/g", durable: true, sync: "always"},
		{name: "gatemq-none", program: "gatemq", path: "/g", durable: true, sync: "none"},
		{name: "mosquitto", program: "mosquitto", path: "/m", nodelay: true},
		{name: "mosquitto-persist", program: "mosquitto", path: "/m", durable: true, nodelay: true},
		{name: "mochi", program: "mochi", path: "/c"},
		{name: "mochi-bolt", program: "mochi", path: "/c", durable: true},
		{name: "gatemq-always+clean", program: "gatemq", path: "/g", durable: true, sync: "always", clean: true},
	}
	if len(kinds) != len(want) {
		t.Fatalf("got %d kinds, want %d: %+v", len(kinds), len(want), kinds)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Errorf("kind %d = %+v, want %+v", i, kinds[i], want[i])
		}
	}
	if got := baselineOf(kinds); got != "mosquitto-persist" {
		t.Errorf("baseline = %q, want mosquitto-persist", got)
	}
	if !kinds[0].wear() || kinds[2].wear() || kinds[3].wear() || kinds[5].wear() {
		t.Errorf("wear() wrong: %v %v %v %v", kinds[0].wear(), kinds[2].wear(), kinds[3].wear(), kinds[5].wear())
	}

	// -durable keeps its meaning for the plain "gatemq" variant.
	kinds, err = parseVariants("gatemq,mosquitto", "/g", "/m", "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds[0]; !k.durable || k.sync != "always" || !k.wear() {
		t.Errorf("gatemq under -durable = %+v, want the flash log with sync always", k)
	}
	if got := baselineOf(kinds); got != "mosquitto" {
		t.Errorf("baseline = %q, want mosquitto", got)
	}

	for _, bad := range []string{"", "gatemq,gatemq", "gatemq-sometimes", "mosquitto+dirty"} {
		if _, err := parseVariants(bad, "/g", "/m", "", false, false); err == nil {
			t.Errorf("parseVariants(%q) accepted", bad)
		}
	}
}

func TestCounterSet(t *testing.T) {
	s := &counterSet{values: map[string]int64{}, done: make(chan struct{})}
	// Retained values predate the subscription and are ignored.
	for _, tp := range storeTopics {
		s.add("$SYS/broker/store/"+tp, []byte("999"), true)
	}
	// A round joined in the middle does not count: bytes/written opens one.
	s.add("$SYS/broker/store/bytes/total", []byte("1"), false)
	s.add("$SYS/broker/store/bytes/live", []byte("1"), false)
	s.add("$SYS/broker/store/messages/count", []byte("7"), false)
	s.add("$SYS/broker/uptime", []byte("3 seconds"), false)
	for i, tp := range storeTopics {
		select {
		case <-s.done:
			t.Fatalf("done before %s", tp)
		default:
		}
		s.add("$SYS/broker/store/"+tp, []byte{byte('1' + i)}, false)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("not done after a whole round")
	}
	want := storeCounters{bytesWritten: 1, fsyncs: 2, compactions: 3, bytesTotal: 4, bytesLive: 5}
	if got := s.counters(); got != want {
		t.Errorf("counters = %+v, want %+v", got, want)
	}
	// A later round does not change what was taken.
	s.add("$SYS/broker/store/bytes/written", []byte("100"), false)
	if got := s.counters(); got != want {
		t.Errorf("counters after done = %+v, want %+v", got, want)
	}
	fs, b := want.perDelivery(4)
	if fs != 500 || b != 0.25 {
		t.Errorf("perDelivery(4) = %v, %v; want 500, 0.25", fs, b)
	}
	if fs, b := want.perDelivery(0); fs != 0 || b != 0 {
		t.Errorf("perDelivery(0) = %v, %v; want 0, 0", fs, b)
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b"), make([]byte, 23), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := dirSize(dir); err != nil || n != 123 {
		t.Errorf("dirSize = %d, %v; want 123", n, err)
	}
	if _, err := dirSize(filepath.Join(dir, "missing")); err == nil {
		t.Error("dirSize of a missing folder: no error")
	}
}
