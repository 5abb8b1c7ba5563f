package mqtt

import (
	"math"
	"runtime/metrics"
	"strconv"
	"time"

	"gatemq/flashstore"
)

// sysLoop publishes the $SYS/broker topics every SysInterval until Shutdown.
func (s *Server) sysLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SysInterval)
	defer t.Stop()
	var ld sysLoad
	s.publishSys()
	s.publishLoad(&ld, time.Now())
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			s.publishSys()
			s.publishLoad(&ld, now)
		}
	}
}

// loadTopics are the counters behind $SYS/broker/load/NAME/{1min,5min,15min}.
var loadTopics = [...]string{"messages/received", "messages/sent", "publish/dropped", "publish/received",
	"publish/sent", "bytes/received", "bytes/sent", "sockets", "connections"}

// sysLoad is what $SYS/broker/load and heap need from one update to the
// next (owned by sysLoop).
type sysLoad struct {
	last    time.Time
	counts  [len(loadTopics)]uint64
	avg     [len(loadTopics)][3]float64
	heapMax uint64
}

// loadCounts reads the counters of loadTopics.
func (s *Server) loadCounts() (c [len(loadTopics)]uint64) {
	st := &s.stats
	return [...]uint64{st.messagesReceived.Load(), st.messagesSent.Load(), st.publishDropped.Load(),
		st.publishReceived.Load(), st.publishSent.Load(), st.bytesReceived.Load(), st.bytesSent.Load(),
		st.sockets.Load(), st.connects.Load()}
}

// loadWindows are the averaging windows of the load topics, in seconds.
var loadWindows = [3]struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// publishLoad publishes $SYS/broker/load/... as Mosquitto computes them:
// for each counter, its rate per minute since the last update, folded
// into exponentially damped 1, 5 and 15 minute averages
// (avg = rate + e^(-dt/window) * (avg - rate)), printed with two decimals
// and published when it changed by 0.01 or more (always the first time).
// It also publishes $SYS/broker/heap/current and maximum: the bytes of the
// Go heap's live objects, and the most seen at an update.
func (s *Server) publishLoad(ld *sysLoad, now time.Time) {
	pub := func(name string, v []byte) { _ = s.Publish("$SYS/broker/"+name, v, 0, true) }
	heap := heapBytes()
	ld.heapMax = max(ld.heapMax, heap)
	pub("heap/current", strconv.AppendUint(nil, heap, 10))
	pub("heap/maximum", strconv.AppendUint(nil, ld.heapMax, 10))
	counts := s.loadCounts()
	initial := ld.last.IsZero()
	dt := now.Sub(ld.last).Seconds()
	if initial || dt <= 0 {
		dt = 0
	}
	for i, name := range loadTopics {
		rate := 0.0
		if dt > 0 {
			rate = float64(counts[i]-ld.counts[i]) * 60 / dt
		}
		for w, win := range loadWindows {
			cur := ld.avg[i][w]
			next := rate + math.Exp(-dt/win.secs)*(cur-rate)
			if initial {
				next = 0
			}
			if initial || math.Abs(next-cur) >= 0.01 {
				pub("load/"+name+"/"+win.name, strconv.AppendFloat(nil, next, 'f', 2, 64))
			}
			ld.avg[i][w] = next
		}
	}
	ld.counts, ld.last = counts, now
}

// heapBytes is the size of the Go heap's live objects (runtime/metrics,
// which does not stop the world).
func heapBytes() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// publishSys publishes the broker's counters under Mosquitto's $SYS names,
// retained, at QoS 0.
func (s *Server) publishSys() {
	st := s.Stats()
	u := func(n uint64) []byte { return strconv.AppendUint(nil, n, 10) }
	i := func(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
	up := int64(time.Since(s.started) / time.Second)
	pub := func(name string, v []byte) { _ = s.Publish("$SYS/broker/"+name, v, 0, true) }
	pub("version", []byte("gatemq version "+s.opts.Version))
	pub("uptime", append(i(up), " seconds"...))
	pub("clients/connected", i(st.ClientsConnected))
	pub("clients/active", i(st.ClientsConnected))
	pub("clients/disconnected", i(st.ClientsDisconnected))
	pub("clients/inactive", i(st.ClientsDisconnected))
	pub("clients/total", i(st.ClientsTotal))
	pub("clients/maximum", i(st.ClientsMaximum))
	pub("messages/received", u(st.MessagesReceived))
	pub("messages/sent", u(st.MessagesSent))
	pub("messages/stored", i(st.Queued+st.Inflight+st.Retained))
	pub("messages/inflight", i(st.Inflight))
	pub("publish/messages/received", u(st.PublishReceived))
	pub("publish/messages/sent", u(st.PublishSent))
	pub("publish/messages/dropped", u(st.PublishDropped))
	pub("bytes/received", u(st.BytesReceived))
	pub("bytes/sent", u(st.BytesSent))
	pub("subscriptions/count", i(st.Subscriptions))
	pub("retained messages/count", i(st.Retained))
	pub("store/messages/count", i(st.Queued+st.Inflight))
	if f := s.opts.ConnectionsRefused; f != nil {
		pub("limits/connections/refused", u(f()))
	}
	pub("limits/connect_timeouts", u(st.ConnectTimeouts))
	pub("limits/connects_too_large", u(st.ConnectsTooLarge))
	pub("limits/subscriptions/refused", u(st.SubscriptionsRefused))
	pub("limits/topics/refused", u(st.TopicsRefused))
	pub("limits/auth/failures", u(st.AuthFailures))
	pub("limits/auth/backoff_refused", u(st.AuthBackoffRefused))
	pub("limits/slow_consumers/disconnected", u(st.SlowConsumersDropped))
	pub("limits/auth/revoked", u(st.AuthRevoked))
	pub("limits/receive_maximum/exceeded", u(st.ReceiveMaxExceeded))
	pub("messages/denied", u(st.DeliveriesDenied))
	for _, b := range s.bridgesNow() {
		b.publishSys()
	}
	// Flash wear: what the store has written since the broker started.
	if ws, ok := s.opts.Store.(wearReporter); ok {
		w := ws.Stats()
		pub("store/bytes/written", i(w.BytesWritten))
		pub("store/fsyncs", i(w.Fsyncs))
		pub("store/compactions", i(w.Compactions))
		pub("store/bytes/total", i(w.TotalBytes))
		pub("store/bytes/live", i(w.LiveBytes))
	}
}

// wearReporter is a store that counts what it writes (flashstore.Log).
type wearReporter interface {
	Stats() flashstore.Stats
}
