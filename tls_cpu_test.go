package main

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestTLSBusyCPU measures what a busy TLS connection costs in CPU, for
// comparing builds (issue 18: TLS connections park when idle, and must
// not pay for it while busy). The broker runs in this process, started
// as the binary starts it, with one TLS listener; one TLS 1.3 client
// subscribed to its own topic runs PINGREQ round trips, and QoS 0
// PUBLISHes to itself of 64 B, 1 KiB and 32 KiB (two TLS records), one
// at a time; then PINGREQ round trips 0.3 s apart, which park and wake
// the connection each time where TLS connections park (their CPU time
// includes what the process spends while idle between them, which the
// last row measures alone: pauses with nothing sent). It logs the
// CPU time (user and system) and the read system calls (/proc/self/io
// syscr), both of client and broker together, and the wall time per
// round trip, the median of five rounds. It only runs with
// GATEMQ_MEASURE=1:
//
//	GATEMQ_MEASURE=1 go test -count=1 -run '^TestTLSBusyCPU$' -v .
func TestTLSBusyCPU(t *testing.T) {
	if os.Getenv("GATEMQ_MEASURE") != "1" {
		t.Skip("measurement; set GATEMQ_MEASURE=1 to run")
	}
	pki := twNewPKI(t)
	port := strconv.Itoa(freePort(t))
	conf := anonymousOK + "listener " + port + " 127.0.0.1\n" + pki.serverLines
	g := startInProcess(t, writeConfig(t, conf), io.Discard)
	defer func() {
		if r := idleChildShutdown(g); r != "ok" {
			t.Errorf("shutdown: %s", r)
		}
	}()
	tc := twTLS(pki.ca.pool)
	tc.MinVersion = tls.VersionTLS13
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", "127.0.0.1:"+port, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := idleClient(c, "busy", 0, true); err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{conn: c, buf: make([]byte, 64<<10)}
	for _, bc := range []struct {
		name string
		n    int
		pkt  []byte
		want byte
		gap  time.Duration // the pause before each round trip (not in the wall time)
	}{
		{"PINGREQ", 20000, []byte{0xc0, 0}, pktPINGRESP, 0},
		{"PUBLISH 64 B", 20000, encPublish("idle/busy", make([]byte, 64), 0, false, false, 0), pktPUBLISH, 0},
		{"PUBLISH 1 KiB", 10000, encPublish("idle/busy", make([]byte, 1<<10), 0, false, false, 0), pktPUBLISH, 0},
		{"PUBLISH 32 KiB", 2000, encPublish("idle/busy", make([]byte, 32<<10), 0, false, false, 0), pktPUBLISH, 0},
		// Idle a third of a second before each: the connection parks and
		// wakes for every PINGREQ where TLS connections park.
		{"PINGREQ, idle", 20, []byte{0xc0, 0}, pktPINGRESP, parkGap / 2},
		// The same pauses with no round trip: what the process spends
		// while idle, to subtract from the row above.
		{"nothing, idle", 20, nil, 0, parkGap / 2},
	} {
		var cpus, walls, reads []float64
		for range 5 {
			cpu0, reads0 := cpuTime(), procSelf("io", "syscr")
			var wall time.Duration
			for range bc.n {
				time.Sleep(bc.gap)
				if bc.pkt == nil {
					continue
				}
				wall0 := time.Now()
				if err := rc.send(bc.pkt); err != nil {
					t.Fatal(err)
				}
				p, err := rc.next(10 * time.Second)
				if err != nil || p.typ != bc.want {
					t.Fatalf("%s: got %v (%v), want packet type %d", bc.name, p, err, bc.want)
				}
				wall += time.Since(wall0)
			}
			cpus = append(cpus, float64(cpuTime()-cpu0)/float64(bc.n))
			walls = append(walls, float64(wall)/float64(bc.n))
			reads = append(reads, float64(procSelf("io", "syscr")-reads0)/float64(bc.n))
		}
		slices.Sort(cpus)
		slices.Sort(walls)
		slices.Sort(reads)
		t.Logf("%-15s %6.1f µs CPU, %6.1f µs wall, %4.1f read calls per round trip (median of 5 rounds of %d)", bc.name, cpus[2]/1e3, walls[2]/1e3, reads[2], bc.n)
	}
}

// cpuTime returns the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
