package main

// What the broker does when its flash log is full (store_max_bytes reached,
// or the file system out of space): new QoS 1 messages are refused (MQTT
// 3.1.1 has no negative PUBACK, so the publisher's connection is closed
// without one and the publisher keeps the message), QoS 0 keeps flowing to
// connected subscribers, nothing already acknowledged is lost (not even by
// a SIGKILL while full), and once the queued messages drained, QoS 1 is
// accepted again by itself.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStoreFullRefusesNewQoS1(t *testing.T) {
	conf := writeConfig(t, "store_max_bytes 64k\nmax_queued_messages 0\n")
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", t.TempDir())
	b.mustStart(15 * time.Second)
	checkStoreFull(t, b, 1000, 2000)
}

// TestStoreFullENOSPC fills a 1 MiB tmpfs (no store_max_bytes): the file
// system's "no space left on device" must behave like a full store.
func TestStoreFullENOSPC(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		msg := fmt.Sprintf("cannot mount a 1 MiB tmpfs (%v): needs root with CAP_SYS_ADMIN", err)
		if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
			t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
		t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	}
	// Registered before the broker's cleanup, so it runs after the kill.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	conf := writeConfig(t, "max_queued_messages 0\n")
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", filepath.Join(dir, "data"))
	b.mustStart(15 * time.Second)
	checkStoreFull(t, b, 8000, 1000)
	// The cap (half the file system) leaves compaction the room it needs:
	// the store itself never fills the file system.
	if logs := b.allLogs(); strings.Contains(logs, "no space left") {
		t.Errorf("the store met ENOSPC under its cap:\n%s", logs)
	}
}

// fullPayload is the payload of the i-th QoS 1 message: its number, then
// padding to size bytes.
func fullPayload(i, size int) []byte {
	p := fmt.Appendf(nil, "%05d:", i)
	return append(p, bytes.Repeat([]byte{'x'}, size-len(p))...)
}

// errRefused says the broker closed a publisher's connection instead of
// acknowledging its PUBLISH.
var errRefused = errors.New("connection closed without PUBACK")

// publishQoS1 sends one QoS 1 PUBLISH on c and waits for its PUBACK. It
// returns errRefused when the connection ends instead.
func publishQoS1(c *rawClient, topic string, payload []byte, id uint16) error {
	if err := c.send(encPublish(topic, payload, 1, false, false, id)); err != nil {
		return fmt.Errorf("%w (write: %v)", errRefused, err)
	}
	p, err := c.next(10 * time.Second)
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no PUBACK and no close within 10 s: %w", err)
		}
		return fmt.Errorf("%w (%v)", errRefused, err)
	}
	if p.typ != pktPUBACK || p.id != id {
		return fmt.Errorf("got %v, want PUBACK(id=%d)", p, id)
	}
	return nil
}

// checkStoreFull fills the store of a running broker with QoS 1 messages of
// size bytes for an offline persistent subscriber (at most max of them)
// and checks the full-store behaviour described in the file comment.
func checkStoreFull(t *testing.T, b *brokerProc, size, max int) {
	t.Helper()
	s, _ := mustDialRaw(t, b.addr, "full-sub", false)
	if err := s.subscribe("full/q1", 1); err != nil {
		t.Fatal(err)
	}
	s.disconnect()
	z, _ := mustDialRaw(t, b.addr, "full-q0", true)
	if err := z.subscribe("full/q0", 0); err != nil {
		t.Fatal(err)
	}

	// Fill: publish until the broker refuses.
	p, _ := mustDialRaw(t, b.addr, "full-pub", true)
	accepted, refusedAt := 0, -1
	for i := 1; i <= max; i++ {
		err := publishQoS1(p, "full/q1", fullPayload(i, size), uint16(i))
		if errors.Is(err, errRefused) {
			refusedAt = i
			break
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		accepted++
	}
	if refusedAt < 0 {
		t.Fatalf("the store never refused: %d QoS 1 messages of %d bytes accepted for an offline session", accepted, size)
	}
	if accepted == 0 {
		t.Fatal("the very first QoS 1 message was refused")
	}
	t.Logf("%d QoS 1 messages of %d bytes accepted, message %d refused (connection closed without PUBACK)", accepted, size, refusedAt)
	if log := b.log(); strings.Contains(log, "store commit failed") {
		i := strings.LastIndex(log, "store commit failed")
		line, _, _ := strings.Cut(log[strings.LastIndex(log[:i], "\n")+1:], "\n")
		t.Logf("broker: %s", line)
	}

	// Still full: a new QoS 1 message is refused again, QoS 0 flows.
	p2, _ := mustDialRaw(t, b.addr, "full-pub2", true)
	if err := publishQoS1(p2, "full/q1", fullPayload(refusedAt, size), 1); !errors.Is(err, errRefused) {
		t.Errorf("QoS 1 while full: %v, want the connection closed without PUBACK", err)
	}
	p3, _ := mustDialRaw(t, b.addr, "full-pub3", true)
	if err := p3.send(encPublish("full/q0", []byte("zero"), 0, false, false, 0)); err != nil {
		t.Fatal(err)
	}
	if got, err := z.receive(1, 10*time.Second); err != nil || len(got) != 1 || string(got[0].payload) != "zero" {
		t.Errorf("QoS 0 while the store is full: got %v, %v; want one message \"zero\"", got, err)
	}

	// A crash while full loses nothing either.
	b.kill()
	t.Logf("SIGKILL while full; recovered: %s", b.mustStart(15*time.Second))

	// The subscriber comes back and gets exactly what was acknowledged.
	s2, present := mustDialRaw(t, b.addr, "full-sub", false)
	if !present {
		t.Fatal("CONNACK without session present for the persistent subscriber")
	}
	got, err := s2.receive(accepted, 60*time.Second)
	if err != nil {
		t.Errorf("draining: %v after %d of %d messages", err, len(got), accepted)
	}
	for i, m := range got {
		if want := fullPayload(i+1, size); !bytes.Equal(m.payload, want) {
			t.Fatalf("drained message %d is %.12q…, want %.12q…", i+1, m.payload, want)
		}
	}

	// Drained: QoS 1 is accepted again and reaches the subscriber.
	after := []byte("after-drain")
	var perr error
	// The last PUBACKs' removals may still be on their way to the log.
	for try := 0; try < 10; try++ {
		p4, _ := mustDialRaw(t, b.addr, "full-pub4", true)
		if perr = publishQoS1(p4, "full/q1", after, 7); perr == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if perr != nil {
		t.Fatalf("QoS 1 after the subscriber drained the store: %v, want PUBACK", perr)
	}
	got, err = s2.receive(1, 10*time.Second)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].payload, after) {
		t.Errorf("after the drain the subscriber got %v, %v; want %q", got, err, after)
	}
}
