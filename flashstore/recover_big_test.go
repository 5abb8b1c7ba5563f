package flashstore

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRecoverBig measures a cold start on a large log: Open (replay
// and CRC check of every record), then Range over every live entry, and
// the two reads a broker that leaves bodies on flash does instead:
// RangeKinds over the routes and RangeKeys over the messages. The
// log holds GATEMQ_RECOVER_MB MiB (unset: the benchmark is skipped, so
// `make test` and `make bench` do not write a gigabyte) of QoS 1 messages
// with a 1 KiB payload, each with its route to one session, as the broker
// writes them: about 1,000,000 messages for 1024. GATEMQ_RECOVER_DIR keeps
// the generated log between runs (it is reused when its size matches).
//
// It reports the wall time of each, the peak heap above the start during
// each (sampled every millisecond, garbage included) and the heap that
// stays in use after Open (the key index).
func BenchmarkRecoverBig(b *testing.B) {
	mb, _ := strconv.Atoi(os.Getenv("GATEMQ_RECOVER_MB"))
	if mb <= 0 {
		b.Skip("set GATEMQ_RECOVER_MB (e.g. 1024) to run")
	}
	dir := os.Getenv("GATEMQ_RECOVER_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	msgs := genBigLog(b, dir, mb)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		base := heapNow()
		peak := watchHeap()
		start := time.Now()
		l, rep, err := Open(Options{Dir: dir, Sync: SyncNone})
		if err != nil {
			b.Fatal(err)
		}
		openTime := time.Since(start)
		openPeak := peak() - base
		runtime.GC()
		kept := heapNow() - base

		n := 0
		rangeTime, rangePeak := measure(base, func() error {
			return l.Range(func(kind Kind, key, value []byte) error { n++; return nil })
		})
		if n != 2*msgs {
			b.Fatalf("Range saw %d entries, want %d (report %+v)", n, 2*msgs, rep)
		}
		// What the broker needs to rebuild its index without the bodies:
		// the routes with their values, the message ids without.
		n = 0
		kindsTime, kindsPeak := measure(base, func() error {
			return l.RangeKinds([]Kind{KindRoute}, func(kind Kind, key, value []byte) error { n++; return nil })
		})
		keysTime, keysPeak := measure(base, func() error {
			return l.RangeKeys([]Kind{KindMessage}, func(kind Kind, key []byte) error { n++; return nil })
		})
		if n != 2*msgs {
			b.Fatalf("RangeKinds and RangeKeys saw %d entries, want %d", n, 2*msgs)
		}
		b.ReportMetric(openTime.Seconds(), "open-s")
		b.ReportMetric(float64(openPeak)/(1<<20), "open-peak-MiB")
		b.ReportMetric(float64(kept)/(1<<20), "kept-MiB")
		b.ReportMetric(float64(l.Stats().IndexBytes)/(1<<20), "index-MiB")
		b.ReportMetric(rangeTime.Seconds(), "range-s")
		b.ReportMetric(float64(rangePeak)/(1<<20), "range-peak-MiB")
		b.ReportMetric(kindsTime.Seconds(), "routes-s")
		b.ReportMetric(float64(kindsPeak)/(1<<20), "routes-peak-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "rss-peak-MiB")
		b.ReportMetric(keysTime.Seconds(), "msgkeys-s")
		b.ReportMetric(float64(keysPeak)/(1<<20), "msgkeys-peak-MiB")
		b.ReportMetric(float64(rep.Records), "records")
		l.Close()
	}
}

// genBigLog writes about mb MiB of 1 KiB messages and their routes into
// dir, unless it already holds them, and returns the message count.
func genBigLog(b *testing.B, dir string, mb int) int {
	msgs := mb * 1000000 / 1024 // 1,000,000 for 1024
	stamp := filepath.Join(dir, "GENERATED")
	if data, err := os.ReadFile(stamp); err == nil && string(data) == strconv.Itoa(msgs) {
		return msgs
	}
	for _, f := range segFiles(b, dir) {
		os.Remove(f)
	}
	os.Remove(filepath.Join(dir, manifestName))
	l, _, err := Open(Options{Dir: dir, Sync: SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	msg := &Message{Topic: "site/floor1/room12/temperature", Payload: make([]byte, 1024), QoS: 1, PublisherID: "sensor-0042"}
	route := Route{ClientID: "app-1", QoS: 1, Stage: RouteQueued}
	var (
		batch Batch
		mkey  [8]byte
		rkey  []byte
	)
	for i := 0; i < msgs; {
		batch.Reset()
		for j := 0; j < 64 && i < msgs; j, i = j+1, i+1 {
			id := uint64(i + 1)
			msg.ID, route.MsgID, route.Seq = id, id, id
			binary.BigEndian.PutUint64(mkey[:], id)
			rkey = binary.BigEndian.AppendUint64(append(rkey[:0], "app-1\x00"...), id)
			batch.PutMsg(KindMessage, mkey[:], msg)
			batch.PutMsg(KindRoute, rkey, &route)
		}
		if err := l.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated %d messages, %d MiB in %d segments", msgs, l.Stats().TotalBytes>>20, l.Stats().Segments)
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(stamp, []byte(strconv.Itoa(msgs)), 0o644); err != nil {
		b.Fatal(err)
	}
	return msgs
}

// measure runs fn and returns its wall time and peak heap above base.
func measure(base uint64, fn func() error) (time.Duration, uint64) {
	runtime.GC()
	peak := watchHeap()
	start := time.Now()
	if err := fn(); err != nil {
		panic(err)
	}
	d := time.Since(start)
	return d, peak() - base
}

// peakRSS returns the process's peak resident set (VmHWM) on Linux, or
// 0. It covers the whole test binary; with GATEMQ_RECOVER_DIR reused,
// nothing but the runs above.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapNow() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// watchHeap samples the heap every millisecond until the returned func is
// called, which returns the highest HeapAlloc seen.
func watchHeap() func() uint64 {
	var (
		stop atomic.Bool
		max  uint64
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if h := heapNow(); h > max {
				max = h
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() uint64 {
		stop.Store(true)
		wg.Wait()
		if h := heapNow(); h > max {
			max = h
		}
		return max
	}
}
