package mqtt

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"gatemq/flashstore"
	"gatemq/internal/textlog"
)

// BenchmarkRecover measures a cold start on a large store: flashstore.Open
// (replay and CRC check of every record) plus Server.Recover (sessions,
// subscriptions, queued messages, retained messages back in memory). The
// store holds GATEMQ_RECOVER_MB megabytes (default 16; the notes use 100) of
// 1 KiB QoS 1 messages queued for one offline persistent session. It reports
// the heap in use after recovery.
func BenchmarkRecover(b *testing.B) {
	mb := 16
	if v, err := strconv.Atoi(os.Getenv("GATEMQ_RECOVER_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := b.TempDir()
	payload := make([]byte, 1024)
	msgs := mb << 10 // ~1 KiB of log per message (its record and its route)
	func() {
		st, _, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncNone})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		srv := NewServer(Options{Store: st, Logger: discardLogger()})
		addOfflineSubscriber(b, srv)
		for i := range msgs {
			if err := srv.Publish(fmt.Sprintf("r/%d", i%100), payload, 1, false); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("store: %d messages, %d MiB on disk", msgs, st.Stats().TotalBytes>>20)
	}()
	b.ResetTimer()
	for b.Loop() {
		st, rep, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncNone})
		if err != nil {
			b.Fatal(err)
		}
		srv := NewServer(Options{Store: st, Logger: discardLogger()})
		rs, err := srv.Recover()
		if err != nil {
			b.Fatal(err)
		}
		if rs.Routes != msgs {
			b.Fatalf("recovered %d routes, want %d (report %+v)", rs.Routes, msgs, rep)
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMiB")
		b.ReportMetric(float64(rep.Segments), "segments")
		runtime.KeepAlive(srv) // the recovered state is what is measured
		st.Close()
		b.StartTimer()
	}
}

// discardLogger drops every log line (benchmarks measure, not talk).
func discardLogger() *textlog.Logger {
	return textlog.New(textlog.NewTextHandler(io.Discard, textlog.LevelInfo))
}

// peakMem samples the Go runtime's memory until stop is called, and
// returns the peaks of its heap's objects (live and not yet swept) and of
// all it holds from the OS (mapped and not released: its part of the
// resident set).
func peakMem() (stop func() (objects, held uint64)) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	done, res := make(chan struct{}), make(chan [2]uint64)
	go func() {
		var objs, held uint64
		for {
			metrics.Read(samples)
			objs = max(objs, samples[0].Value.Uint64())
			held = max(held, samples[1].Value.Uint64()-samples[2].Value.Uint64())
			select {
			case <-done:
				res <- [2]uint64{objs, held}
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return func() (uint64, uint64) { close(done); r := <-res; return r[0], r[1] }
}

// TestQueuePeakMem is TestQueueBiggerThanRAM (root package) in process,
// without the network: it queues GATEMQ_PEAK_MESSAGES QoS 1 messages of
// 1 KiB for an offline persistent session under the router's Go
// settings (GOMEMLIMIT=24MiB, GOGC=50), then opens the store again and
// recovers them. It reports the peak of the heap in both phases, per
// message (GATEMQ_PEAK_HEAPPROF=file writes a heap profile of the full
// queue), and fails when recovering needs much more than queueing: the
// routes read back, the message ids and the Range buffers once made
// recovery peak 30% above (38 MiB against 29 MiB for 200,000 messages);
// now it is within a few percent (the blocks of routes already restored
// wait for the collector while the queues grow).
func TestQueuePeakMem(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("GATEMQ_PEAK_MESSAGES"))
	if err != nil || n <= 0 {
		t.Skip("set GATEMQ_PEAK_MESSAGES (200000 is the binary test's queue)")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(24 << 20))
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	dir := t.TempDir()
	payload := make([]byte, 1024)
	live := func() uint64 {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	report := func(phase string, base, objs, held uint64) {
		t.Logf("%s: heap at most %.1f MiB, %.1f MiB above the %.1f MiB before (%.0f B per message); runtime's memory at most %.1f MiB",
			phase, float64(objs)/(1<<20), float64(objs-base)/(1<<20), float64(base)/(1<<20), float64(objs-base)/float64(n), float64(held)/(1<<20))
	}
	var fillPeak uint64
	func() {
		st, _, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		srv := NewServer(Options{Store: st, Logger: discardLogger()})
		addOfflineSubscriber(t, srv)
		base := live()
		stop := peakMem()
		for range n {
			if err := srv.Publish("r/x", payload, 1, false); err != nil {
				t.Fatal(err)
			}
		}
		objs, held := stop()
		report("queue", base, objs, held)
		fillPeak = objs - base
		if f := os.Getenv("GATEMQ_PEAK_HEAPPROF"); f != "" {
			runtime.GC()
			w, err := os.Create(f)
			if err != nil {
				t.Fatal(err)
			}
			pprof.WriteHeapProfile(w)
			w.Close()
		}
		runtime.KeepAlive(srv)
	}()
	base := live()
	stop := peakMem()
	st, _, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := NewServer(Options{Store: st, Logger: discardLogger()})
	rs, err := srv.Recover()
	if err != nil || rs.Routes != n {
		t.Fatalf("recovered %+v, %v", rs, err)
	}
	objs, held := stop()
	report("recover", base, objs, held)
	if objs-base > fillPeak+fillPeak*15/100 {
		t.Errorf("recovering peaked %.1f MiB above the heap before, queueing %.1f MiB", float64(objs-base)/(1<<20), float64(fillPeak)/(1<<20))
	}
	runtime.KeepAlive(srv)
}

// addOfflineSubscriber gives srv a stored, offline persistent session
// "offline" subscribed to r/# at QoS 1, for the queue benchmarks.
func addOfflineSubscriber(tb testing.TB, srv *Server) {
	tb.Helper()
	ss := srv.newSession("offline", true)
	ss.expiry = expireNever
	srv.sessions[ss.id] = ss
	t := srv.beginTxn()
	t.putSession(ss, 0)
	ss.subs["r/#"] = subOpts{qos: 1}
	t.putSub(ss.id, "r/#", subOpts{qos: 1})
	if err := srv.commitTxn(t); err != nil {
		tb.Fatal(err)
	}
	srv.addSub(ss, "r/#", subOpts{qos: 1})
}
