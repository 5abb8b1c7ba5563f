package main

// The flash log is portable across byte orders: a data folder written by
// the amd64 build (little-endian) is read by a linux/mips build (big-endian,
// soft float, as on MT7621/ath79 OpenWrt routers) run under
// qemu-mips-static, and back, with the same state: persistent sessions,
// their subscriptions and queued QoS 1/2 messages, an inbound QoS 2 packet
// id awaiting PUBREL, and retained messages, byte for byte.
//
// qemu-mips-static comes from Debian's qemu-user-static; without it the test
// skips loudly, or fails under GATEMQ_REQUIRE_TOOLS=1.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"
)

// buildMIPS cross-compiles gatemq for linux/mips (soft float, static) into
// a temporary folder of t.
func buildMIPS(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatemq-mips")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+testVersion, "-o", path, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=mips", "GOMIPS=softfloat")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building gatemq for linux/mips: %v\n%s", err, out)
	}
	return path
}

func TestPortabilityAcrossByteOrder(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("needs a little-endian host; this is %s", runtime.GOARCH)
	}
	qemu := requireTool(t, "qemu-mips-static", "qemu-user-static")
	native := []string{gatemqBinary(t)}
	mips := []string{qemu, buildMIPS(t)}
	t.Run("amd64_writes_mips_reads", func(t *testing.T) { checkLogPortable(t, native, mips) })
	t.Run("mips_writes_amd64_reads", func(t *testing.T) { checkLogPortable(t, mips, native) })
}

// portPayload is the payload of message i: binary bytes of every kind, and
// for i == 2 more than 64 KiB, so that no length field fits in 16 bits.
func portPayload(topic string, i int) []byte {
	p := fmt.Appendf(nil, "%s#%d:", topic, i)
	p = append(p, 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0xc3, 0xa9)
	if i == 2 {
		for j := 0; j < 100_000; j++ {
			p = append(p, byte(j*7))
		}
	}
	return p
}

// checkLogPortable builds state with the writer binary (argv), stops it
// with SIGTERM, and checks that the reader binary serves the same state
// from the same folder.
func checkLogPortable(t *testing.T, writer, reader []string) {
	dir := t.TempDir()
	const wait = 30 * time.Second // qemu is slow
	w := newBrokerProc(t, append(writer, "-data", dir)...)
	w.mustStart(wait)

	// A persistent subscriber to a QoS 1 and a QoS 2 filter, offline.
	s, _ := mustDialRaw(t, w.addr, "port-sub", false)
	for _, f := range []struct {
		filter string
		qos    byte
	}{{"port/q1", 1}, {"port/q2", 2}} {
		if err := s.subscribe(f.filter, f.qos); err != nil {
			t.Fatal(err)
		}
	}
	s.disconnect()

	// Queue three messages on each, from a persistent publisher.
	p, _ := mustDialRaw(t, w.addr, "port-pub", false)
	var want []wirePacket
	id := uint16(0)
	for i := 1; i <= 3; i++ {
		for _, q := range []byte{1, 2} {
			topic := fmt.Sprintf("port/q%d", q)
			pl := portPayload(topic, i)
			id++
			publishExact(t, p, topic, pl, q, false, id)
			want = append(want, wirePacket{topic: topic, payload: pl, flags: q << 1})
		}
	}
	// Two retained messages.
	retained := map[string][]byte{}
	for _, topic := range []string{"port/r/a", "port/r/b"} {
		retained[topic] = portPayload(topic, 0)
		id++
		publishExact(t, p, topic, retained[topic], 1, true, id)
	}
	// An inbound QoS 2 message PUBRECed but not PUBRELed: its id must stay
	// known to the reader (a resend is not delivered twice).
	xPayload := portPayload("port/q2", 9)
	if err := p.send(encPublish("port/q2", xPayload, 2, false, false, 77)); err != nil {
		t.Fatal(err)
	}
	if pk, err := p.next(wait); err != nil || pk.typ != pktPUBREC || pk.id != 77 {
		t.Fatalf("QoS 2 id 77: got %v, %v; want PUBREC", pk, err)
	}
	want = append(want, wirePacket{topic: "port/q2", payload: xPayload, flags: 2 << 1})
	p.conn.Close()
	if code, err := w.term(wait); err != nil || code != 0 {
		t.Fatalf("writer stop: exit %d, %v", code, err)
	}

	r := newBrokerProc(t, append(reader, "-data", dir)...)
	t.Logf("reader recovered: %s", r.mustStart(wait))

	// The publisher resends id 77 (DUP): PUBREC, no second delivery.
	p2, present := mustDialRaw(t, r.addr, "port-pub", false)
	if !present {
		t.Error("publisher's session not present after the switch of byte order")
	}
	if err := p2.send(encPublish("port/q2", xPayload, 2, false, true, 77)); err != nil {
		t.Fatal(err)
	}
	if pk, err := p2.next(wait); err != nil || pk.typ != pktPUBREC || pk.id != 77 {
		t.Fatalf("resent QoS 2 id 77: got %v, %v; want PUBREC", pk, err)
	}
	if err := p2.send(encAck(pktPUBREL, 77)); err != nil {
		t.Fatal(err)
	}
	if pk, err := p2.next(wait); err != nil || pk.typ != pktPUBCOMP || pk.id != 77 {
		t.Fatalf("PUBREL 77: got %v, %v; want PUBCOMP", pk, err)
	}
	publishExact(t, p2, "port/q1", []byte("END"), 1, false, 1)
	want = append(want, wirePacket{topic: "port/q1", payload: []byte("END"), flags: 1 << 1})

	// The subscriber gets its queue exactly: same order, same bytes, and
	// the resent id 77 did not add a copy (END comes right after).
	s2, present := mustDialRaw(t, r.addr, "port-sub", false)
	if !present {
		t.Error("subscriber's session not present after the switch of byte order")
	}
	got, err := s2.receive(len(want), wait)
	if err != nil {
		t.Errorf("subscriber: %v after %d of %d messages", err, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.topic != w.topic || g.qos() != w.qos() || !bytes.Equal(g.payload, w.payload) {
			t.Errorf("message %d: got %s q%d %d bytes %.24q…, want %s q%d %d bytes %.24q…",
				i+1, g.topic, g.qos(), len(g.payload), g.payload, w.topic, w.qos(), len(w.payload), w.payload)
		}
	}

	// A fresh client gets both retained messages, byte for byte.
	f, _ := mustDialRaw(t, r.addr, "port-fresh", true)
	if err := f.subscribe("port/r/#", 1); err != nil {
		t.Fatal(err)
	}
	rs, err := f.receive(2, wait)
	if err != nil {
		t.Errorf("retained: %v after %d of 2", err, len(rs))
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].topic < rs[j].topic })
	for _, m := range rs {
		if !m.retain() || !bytes.Equal(m.payload, retained[m.topic]) {
			t.Errorf("retained %s: flag %v, payload %.24q…; want flag true, %.24q…", m.topic, m.retain(), m.payload, retained[m.topic])
		}
	}
	if code, err := r.term(wait); err != nil || code != 0 {
		t.Errorf("reader stop: exit %d, %v", code, err)
	}
}

// publishExact publishes one QoS 1 or 2 message on c and completes its
// exchange (PUBACK, or PUBREC-PUBREL-PUBCOMP), failing the test otherwise.
func publishExact(t *testing.T, c *rawClient, topic string, payload []byte, qos byte, retain bool, id uint16) {
	t.Helper()
	if err := c.send(encPublish(topic, payload, qos, retain, false, id)); err != nil {
		t.Fatal(err)
	}
	steps := []byte{pktPUBACK}
	if qos == 2 {
		steps = []byte{pktPUBREC, pktPUBCOMP}
	}
	for _, typ := range steps {
		pk, err := c.next(30 * time.Second)
		if err != nil || pk.typ != typ || pk.id != id {
			t.Fatalf("publishing %s id %d: got %v, %v; want %s", topic, id, pk, err, pktNames[typ])
		}
		if typ == pktPUBREC {
			if err := c.send(encAck(pktPUBREL, id)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
