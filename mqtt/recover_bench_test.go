package mqtt

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"

	"gatemq/flashstore"
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
		ss := newSession("offline", true, &srv.opts)
		ss.expiry = expireNever
		srv.sessions[ss.id] = ss
		t := srv.beginTxn()
		t.putSession(ss, 0)
		ss.subs["r/#"] = subOpts{qos: 1}
		t.putSub(ss.id, "r/#", subOpts{qos: 1})
		if err := srv.commitTxn(t); err != nil {
			b.Fatal(err)
		}
		srv.addSub(ss, "r/#", subOpts{qos: 1})
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
func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
