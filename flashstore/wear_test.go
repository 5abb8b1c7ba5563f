package flashstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// queueWear runs a steady queue of n messages for one persistent session,
// as the broker writes it (QoS 1, a 30-byte topic, a 64-byte payload):
// each step publishes a message (its Message and its Route, one batch)
// and delivers one queued message (its Route goes to stage Sent with a
// packet id, then the acknowledgement deletes both). order is "fifo"
// (the oldest is delivered), "random" (any queued one: the worst case for
// compaction) or "mixed" (a slow session's queue of n, delivered in
// order, and a fast one's of 100 sharing the log). After filling the
// queue it runs steps deliveries and returns the bytes written per
// delivered message, compaction included, and the part compaction wrote.
func queueWear(tb testing.TB, n, steps int, order string) (perMsg, movedPerMsg float64, st Stats) {
	return queueWearSeg(tb, n, steps, order, 0)
}

func queueWearSeg(tb testing.TB, n, steps int, order string, segSize int64) (perMsg, movedPerMsg float64, st Stats) {
	l, _, err := Open(Options{Dir: tb.TempDir(), Sync: SyncNone, SegmentSize: segSize})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	msg := &Message{Topic: "site/floor1/room12/temperature", Payload: make([]byte, 64), QoS: 1, PublisherID: "sensor-0042"}
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	var (
		b      Batch
		mkey   [8]byte
		rkey   []byte
		next   uint64
		queued []uint64 // ids queued, oldest first (fifo), any order (random)
		fast   []uint64
	)
	route := func(id uint64) []byte {
		client := "app-1"
		if id&1 == 1 && order == "mixed" {
			client = "app-2"
		}
		rkey = binary.BigEndian.AppendUint64(append(append(rkey[:0], client...), 0), id)
		return rkey
	}
	publish := func(id uint64) {
		msg.ID = id
		binary.BigEndian.PutUint64(mkey[:], id)
		r := Route{ClientID: "app-1", MsgID: id, QoS: 1, Stage: RouteQueued, Seq: id}
		b.Reset()
		b.PutMsg(KindMessage, mkey[:], msg)
		b.PutMsg(KindRoute, route(id), &r)
		if err := l.Commit(&b); err != nil {
			tb.Fatal(err)
		}
	}
	deliver := func(id uint64) {
		binary.BigEndian.PutUint64(mkey[:], id)
		r := Route{ClientID: "app-1", MsgID: id, QoS: 1, PacketID: uint16(id), Stage: RouteSent, Seq: id}
		b.Reset()
		b.PutMsg(KindRoute, route(id), &r)
		if err := l.Commit(&b); err != nil {
			tb.Fatal(err)
		}
		b.Reset()
		b.Delete(KindRoute, route(id))
		b.Delete(KindMessage, mkey[:])
		if err := l.Commit(&b); err != nil {
			tb.Fatal(err)
		}
	}
	pick := func() uint64 {
		var id uint64
		if order == "random" {
			i := rng.IntN(len(queued))
			id = queued[i]
			queued[i] = queued[len(queued)-1]
			queued = queued[:len(queued)-1]
		} else {
			id, queued = queued[0], queued[1:]
		}
		return id
	}
	step := func() {
		next++
		if order == "mixed" && next&1 == 1 {
			publish(next)
			fast = append(fast, next)
			if len(fast) > 100 {
				deliver(fast[0])
				fast = fast[1:]
			}
			return
		}
		publish(next)
		queued = append(queued, next)
		if len(queued) > n {
			deliver(pick())
		}
	}
	delivered := func() int { return int(next) - len(queued) - len(fast) }
	for delivered() < n/2 { // fill, and let the log settle a little
		step()
	}
	before, d0 := l.Stats(), delivered()
	for delivered()-d0 < steps {
		step()
	}
	st = l.Stats()
	d := float64(delivered() - d0)
	return float64(st.BytesWritten-before.BytesWritten) / d, float64(st.MovedBytes-before.MovedBytes) / d, st
}

// wearBudget is what the broker may write per delivered message: three
// times its topic, payload and 64 bytes.
const wearBudget = 3 * (30 + 64 + 64)

// BenchmarkQueueWear reports flash bytes written per delivered message
// (disk-B/msg, compaction included; moved-B/msg is compaction's part)
// for steady queues of 10k and 100k messages, delivered in order, in
// random order, and mixed with a fast session. Flat across queue lengths
// means wear does not grow with the queue. Each run delivers 3x the queue
// length, so compaction cycles several times.
func BenchmarkQueueWear(b *testing.B) {
	for _, order := range []string{"fifo", "random", "mixed"} {
		for _, n := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("%s/queue=%d", order, n), func(b *testing.B) {
				for b.Loop() {
					per, moved, st := queueWear(b, n, 3*n, order)
					b.ReportMetric(per, "disk-B/msg")
					b.ReportMetric(moved, "moved-B/msg")
					b.ReportMetric(float64(st.TotalBytes)/float64(st.LiveBytes), "size/live")
					b.ReportMetric(float64(wearBudget), "budget-B/msg")
				}
			})
		}
	}
}

// Bytes written per delivered message stay flat when the queue grows
// tenfold (2k to 20k), and under the budget of 3x (topic + payload + 64
// bytes). With 64 KiB segments, so that both queues span many and
// compaction runs (BenchmarkQueueWear does 10k and 100k with the default
// 4 MiB); a quarter of that under the race detector.
func TestQueueWearIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few tens of MB")
	}
	n, seg := 2000, int64(64<<10)
	if raceOn {
		n, seg = 500, 16<<10 // the race detector makes it 10 times slower
	}
	for _, order := range []string{"fifo", "random", "mixed"} {
		small, smallMoved, _ := queueWearSeg(t, n, 3*n, order, seg)
		big, bigMoved, st := queueWearSeg(t, 10*n, 30*n, order, seg)
		t.Logf("%s: %.0f B/msg at %d (%.0f moved), %.0f B/msg at %d (%.0f moved); log %d B for %d live",
			order, small, n, smallMoved, big, 10*n, bigMoved, st.TotalBytes, st.LiveBytes)
		if big > small*1.15 {
			t.Errorf("%s: %.0f B per message at %d against %.0f at %d: wear grows with the queue", order, big, 10*n, small, n)
		}
		if big > wearBudget || small > wearBudget {
			t.Errorf("%s: %.0f and %.0f B per message, over the budget of %d", order, small, big, wearBudget)
		}
	}
}
