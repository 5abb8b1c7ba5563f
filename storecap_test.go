package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"gatemq/board"
)

// TestStoreCapAgrees: the store cap that `gatemq -board` prints, the one the
// startup log names and the one the opened store enforces are the same
// number, decided once by the board profile (here an OpenWrt fake root with
// 10 MiB free: half of it, 5 MiB).
func TestStoreCapAgrees(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "openwrt_release"), []byte("DISTRIB_ID='OpenWrt'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	conf := filepath.Join(t.TempDir(), "gatemq.conf")
	if err := os.WriteFile(conf, []byte("persistence_location "+data+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	det := board.Detector{Root: root, Free: func(string) (int64, error) { return 10 << 20, nil }}
	const want = 5 << 20

	var out, errs bytes.Buffer
	if code := run([]string{"-c", conf, "-board"}, det, &out, &errs); code != 0 {
		t.Fatalf("-board exited %d: %s", code, errs.String())
	}
	if got := capIn(t, `store_max_bytes (\d+)\)`, out.String()); got != want {
		t.Errorf("-board says store_max_bytes %d, want %d:\n%s", got, want, out.String())
	}

	var log bytes.Buffer
	o, _ := parseFlags([]string{"-c", conf}, &log)
	s, err := load(o, det, &log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := open(s)
	if err != nil {
		t.Fatal(err)
	}
	defer g.closeStore()
	if got := capIn(t, `msg="store size cap" store_max_bytes=(\d+)`, log.String()); got != want {
		t.Errorf("startup log says store_max_bytes=%d, want %d:\n%s", got, want, log.String())
	}
	if got := g.store.Stats().MaxBytes; got != want {
		t.Errorf("the store enforces %d, want %d", got, want)
	}
	if s.dataDir != data {
		t.Errorf("data folder %q, want persistence_location %q", s.dataDir, data)
	}
}

// capIn returns the number the first group of re finds in text.
func capIn(t *testing.T, re, text string) int64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %q in:\n%s", re, text)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMaxPacketSizeAgrees: the default max_packet_size that `gatemq -board`
// prints and the one the broker is given are the same number, an eighth of
// the board's Go memory limit (here a 64 MiB router: 20 MiB, so 2.5 MiB); a
// config file's value wins. (open is not called: it would set this test
// process's memory limit to the fake router's.)
func TestMaxPacketSizeAgrees(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the default follows it instead of the board")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte("MemTotal: 65536 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	det := board.Detector{Root: root, Free: func(string) (int64, error) { return 10 << 20, nil }}
	const want = 2560 << 10

	var out, errs bytes.Buffer
	if code := run([]string{"-memory", "-board"}, det, &out, &errs); code != 0 {
		t.Fatalf("-board exited %d: %s", code, errs.String())
	}
	if got := capIn(t, `max_packet_size (\d+):`, out.String()); got != want {
		t.Errorf("-board says max_packet_size %d, want %d:\n%s", got, want, out.String())
	}
	var log bytes.Buffer
	o, _ := parseFlags([]string{"-memory"}, &log)
	s, err := load(o, det, &log)
	if err != nil {
		t.Fatal(err)
	}
	if got := brokerOptions(s.cfg, s.profile, s.log).MaxPacketSize; got != want {
		t.Errorf("the broker gets max packet size %d, want %d", got, want)
	}
	s.cfg.MaxPacketSize = 1000
	if got := brokerOptions(s.cfg, s.profile, s.log).MaxPacketSize; got != 1000 {
		t.Errorf("with max_packet_size 1000 the broker gets %d", got)
	}
}
