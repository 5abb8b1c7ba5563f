package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVariants(t *testing.T) {
	kinds, err := parseVariants("gatemq-always, gatemq-none,mosquitto,mosquitto-persist,mochi,mochi-bolt,gatemq-always+clean", "/g", "", "/m", "/c", false, true)
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
	kinds, err = parseVariants("gatemq,mosquitto", "/g", "", "/m", "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds[0]; !k.durable || k.sync != "always" || !k.wear() {
		t.Errorf("gatemq under -durable = %+v, want the flash log with sync always", k)
	}
	if got := baselineOf(kinds); got != "mosquitto" {
		t.Errorf("baseline = %q, want mosquitto", got)
	}

	for _, bad := range []string{"", "gatemq,gatemq", "gatemq-sometimes", "mosquitto+dirty", "gatemq-base,gatemq"} {
		if _, err := parseVariants(bad, "/g", "", "/m", "", false, false); err == nil {
			t.Errorf("parseVariants(%q) accepted", bad)
		}
	}

	// gatemq-base is the other binary, in memory, beside gatemq.
	kinds, err = parseVariants("gatemq-base,gatemq", "/g", "/old", "/m", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds[0]; k.program != "gatemq" || k.path != "/old" || k.durable {
		t.Errorf("gatemq-base = %+v, want /old in memory", k)
	}
	if k := kinds[1]; k.path != "/g" {
		t.Errorf("gatemq = %+v, want /g", k)
	}

	// +base runs any gatemq set-up with the other binary.
	kinds, err = parseVariants("gatemq-always+base,gatemq-always,gatemq-always+base+clean", "/g", "/old", "/m", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds[0]; k.path != "/old" || !k.durable || k.sync != "always" || k.clean {
		t.Errorf("gatemq-always+base = %+v, want /old with sync always", k)
	}
	if k := kinds[1]; k.path != "/g" {
		t.Errorf("gatemq-always = %+v, want /g", k)
	}
	if k := kinds[2]; k.path != "/old" || !k.clean {
		t.Errorf("gatemq-always+base+clean = %+v, want /old with clean sessions", k)
	}
	for _, bad := range []string{"mosquitto+base", "gatemq-always+base"} {
		if _, err := parseVariants(bad, "/g", "", "/m", "", false, false); err == nil {
			t.Errorf("parseVariants(%q) without -gatemq-base accepted", bad)
		}
	}
}

func TestEmulatorCommand(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"lib/mipsel-linux-gnu", "usr/lib/mipsel-linux-gnu"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	emu, err := newEmulator("true", root) // any program on PATH stands in for qemu
	if err != nil {
		t.Fatal(err)
	}
	k := brokerKind{name: "mosquitto", program: "mosquitto", path: "/sysroot/usr/sbin/mosquitto", emu: emu}
	got := strings.Join(k.command("-c", "x.conf").Args[1:], " ")
	want := "-L " + root + " -E LD_LIBRARY_PATH=" + root + "/lib/mipsel-linux-gnu:" + root + "/usr/lib/mipsel-linux-gnu /sysroot/usr/sbin/mosquitto -c x.conf"
	if got != want {
		t.Errorf("command args\n got %s\nwant %s", got, want)
	}
	// A static binary needs no sysroot.
	emu, err = newEmulator("true", "")
	if err != nil {
		t.Fatal(err)
	}
	k = brokerKind{path: "./gatemq-mipsle", emu: emu}
	if got := strings.Join(k.command("-memory").Args[1:], " "); got != "./gatemq-mipsle -memory" {
		t.Errorf("command args %q", got)
	}
	if _, err := newEmulator("true", t.TempDir()); err == nil {
		t.Error("a sysroot without library folders accepted")
	}
	if k := (brokerKind{path: "/m"}); strings.Join(k.command("-h").Args, " ") != "/m -h" {
		t.Errorf("native command %q", k.command("-h").Args)
	}
}

func TestPickScenarios(t *testing.T) {
	all := []scenario{{name: "fanin_qos0", load: &loadConfig{}}, {name: "idle"}, {name: "everyday_qos1", everyday: &everydayConfig{}}}
	got, err := pickScenarios(all, "everyday_qos1,fanin_qos0")
	if err != nil || len(got) != 2 || got[0].name != "fanin_qos0" || got[1].name != "everyday_qos1" {
		t.Errorf("pickScenarios = %v, %v", got, err)
	}
	if got, _ := pickScenarios(all, ""); len(got) != 3 {
		t.Errorf("no -only picked %d scenarios", len(got))
	}
	if _, err := pickScenarios(all, "idle,everyday_qos3"); err == nil {
		t.Error("an unknown scenario accepted")
	}
	if !all[1].idle() || all[0].idle() || all[2].idle() || (scenario{name: "churn", churn: true}).idle() {
		t.Error("idle() wrong")
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
