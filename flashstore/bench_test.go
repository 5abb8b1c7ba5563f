package flashstore

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkCommit commits, per op, what the broker writes for one QoS 1
// message with a 64-byte payload routed to one persistent session: a
// Message and a Route put, plus the deletes of the message acknowledged
// `window` messages earlier (steady state, so the log stays bounded and
// compaction runs). disk-B/op is the bytes written to flash per message,
// compaction included: the write amplification.
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []SyncPolicy{SyncNone, SyncAlways} {
		for _, c := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("sync=%v/committers=%d", sync, c), func(b *testing.B) {
				benchCommit(b, sync, c)
			})
		}
	}
}

func benchCommit(b *testing.B, policy SyncPolicy, committers int) {
	l, _, err := Open(Options{Dir: b.TempDir(), Sync: policy})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const window = 256
	var next atomic.Int64
	b.SetBytes(64)
	b.ReportAllocs()
	before := l.Stats()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := 0; g < committers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				batch      Batch
				mkey, rkey [8]byte
				old        [8]byte
			)
			msg := benchMessage()
			route := Route{ClientID: "app-1", QoS: 1, Stage: RouteQueued}
			for i := uint64(0); next.Add(1) <= int64(b.N); i++ {
				id := uint64(g)<<40 | i
				msg.ID, route.MsgID, route.Seq = id, id, i
				binary.BigEndian.PutUint64(mkey[:], id)
				binary.BigEndian.PutUint64(rkey[:], id)
				batch.Reset()
				batch.PutMsg(KindMessage, mkey[:], msg)
				batch.PutMsg(KindRoute, rkey[:], &route)
				if i >= window {
					binary.BigEndian.PutUint64(old[:], id-window)
					batch.Delete(KindMessage, old[:])
					batch.Delete(KindRoute, old[:])
				}
				if err := l.Commit(&batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	st := l.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(st.Fsyncs-before.Fsyncs)/n, "fsyncs/op")
	b.ReportMetric(float64(st.BytesWritten-before.BytesWritten)/n, "disk-B/op")
	b.ReportMetric(float64(st.Writes-before.Writes)/n, "writes/op")
}

// BenchmarkEncode measures encoding one Message record into a batch.
func BenchmarkEncode(b *testing.B) {
	msg := benchMessage()
	key := []byte("12345678")
	var batch Batch
	batch.PutMsg(KindMessage, key, msg)
	b.SetBytes(int64(batch.Size()))
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		batch.PutMsg(KindMessage, key, msg)
	}
}

// BenchmarkOpen100k measures recovery of a log of 100k records (1000
// batches of 100 message puts, about 12 MB).
func BenchmarkOpen100k(b *testing.B) {
	dir := b.TempDir()
	l, _, err := Open(Options{Dir: dir, Sync: SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	msg := benchMessage()
	var (
		batch Batch
		key   [8]byte
	)
	for i := 0; i < 1000; i++ {
		batch.Reset()
		for j := 0; j < 100; j++ {
			msg.ID = uint64(i*100 + j)
			binary.BigEndian.PutUint64(key[:], msg.ID)
			batch.PutMsg(KindMessage, key[:], msg)
		}
		if err := l.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Stats().TotalBytes
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		l, rep, err := Open(Options{Dir: dir, Sync: SyncNone})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Records != 100000 {
			b.Fatalf("replayed %d records", rep.Records)
		}
		l.Close()
	}
}

// BenchmarkRange100k measures reading back 100k live entries.
func BenchmarkRange100k(b *testing.B) {
	l, _, err := Open(Options{Dir: b.TempDir(), Sync: SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	msg := benchMessage()
	var (
		batch Batch
		key   [8]byte
	)
	for i := 0; i < 1000; i++ {
		batch.Reset()
		for j := 0; j < 100; j++ {
			binary.BigEndian.PutUint64(key[:], uint64(i*100+j))
			batch.PutMsg(KindMessage, key[:], msg)
		}
		if err := l.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(l.Stats().LiveBytes)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		l.Range(func(Kind, []byte, []byte) error { n++; return nil })
		if n != 100000 {
			b.Fatalf("%d entries", n)
		}
	}
}
