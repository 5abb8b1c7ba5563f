package main

// A store whose first or newest segment file was removed while the broker
// was stopped is refused at start (non-zero exit, a message naming the
// file), not opened without the sessions and acknowledged messages it
// held. Put back, the same store starts and delivers everything.
// Helpers from crash_helpers_test.go and cli_test.go.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCrashStoreMissingSegmentRefused(t *testing.T) {
	dir := t.TempDir()
	b := newBrokerProc(t, gatemqBinary(t), "-data", dir)
	b.mustStart(15 * time.Second)

	// A persistent session, offline, with messages queued for it: 48 of
	// 100 KiB, more than one 4 MiB segment.
	sub, _ := mustDialRaw(t, b.addr, "keeper", false)
	if err := sub.subscribe("keep/#", 1); err != nil {
		t.Fatal(err)
	}
	sub.disconnect()
	const n = 48
	pub, _ := mustDialRaw(t, b.addr, "feeder", true)
	payload := bytes.Repeat([]byte("x"), 100<<10)
	for i := 1; i <= n; i++ {
		if err := pub.send(encPublish("keep/q", append([]byte(fmt.Sprintf("%03d ", i)), payload...), 1, false, false, uint16(i))); err != nil {
			t.Fatal(err)
		}
		p, err := pub.next(10 * time.Second)
		if err != nil || p.typ != pktPUBACK || p.id != uint16(i) {
			t.Fatalf("message %d: got %v, %v; want PUBACK", i, p, err)
		}
	}
	pub.disconnect()
	if code, err := b.term(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("stopping the broker: exit %d, %v", code, err)
	}

	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	slices.Sort(segs)
	if len(segs) < 2 {
		t.Fatalf("want at least two segments after %d×100 KiB: %v", n, segs)
	}
	aside := t.TempDir()
	for _, which := range []string{"first", "newest"} {
		seg := segs[0]
		if which == "newest" {
			seg = segs[len(segs)-1]
		}
		kept := filepath.Join(aside, filepath.Base(seg))
		if err := os.Rename(seg, kept); err != nil {
			t.Fatal(err)
		}
		_, err := b.start(15 * time.Second)
		if err == nil {
			b.kill()
			t.Fatalf("the broker started with the %s segment %s removed: the session and its acknowledged messages would be gone", which, filepath.Base(seg))
		}
		msg := err.Error()
		for _, l := range strings.Split(msg, "\n") {
			if strings.HasPrefix(l, "gatemq:") {
				t.Logf("%s segment removed: %s", which, l)
			}
		}
		if !strings.Contains(msg, "exited (exit status") || strings.Contains(msg, "exit status 0)") {
			t.Errorf("%s segment removed: want a non-zero exit, got: %v", which, err)
		}
		if want := filepath.Base(seg) + " is missing"; !strings.Contains(msg, want) || !strings.Contains(msg, "corrupt") {
			t.Errorf("%s segment removed: the message does not say %q (and that the store is corrupt):\n%s", which, want, msg)
		}
		if err := os.Rename(kept, seg); err != nil {
			t.Fatal(err)
		}
	}

	// Put back, the store starts and the session gets every message.
	b.mustStart(15 * time.Second)
	c, present := mustDialRaw(t, b.addr, "keeper", false)
	if !present {
		t.Fatal("session not present after the segments were put back")
	}
	got, err := c.receive(n, 30*time.Second)
	if err != nil || len(got) != n {
		t.Fatalf("received %d of %d queued messages: %v", len(got), n, err)
	}
	for i, p := range got {
		if want := fmt.Sprintf("%03d ", i+1); !bytes.HasPrefix(p.payload, []byte(want)) {
			t.Fatalf("message %d starts %q, want %q", i+1, p.payload[:4], want)
		}
	}
	c.disconnect()
}
