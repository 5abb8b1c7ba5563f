package mqtt

import (
	"math"
	"runtime"
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

// heapBytes is the size of the Go heap's objects, live and not yet swept
// (MemStats.HeapAlloc, the same as runtime/metrics'
// /memory/classes/heap/objects:bytes). runtime.ReadMemStats stops the
// world (about 10 µs on amd64), once per $SYS interval; runtime/metrics,
// which does not, costs 19 KB of the binary (its table of descriptions
// and the runtime's code that computes every metric).
func heapBytes() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// publishSys publishes the broker's counters under Mosquitto's $SYS names,
// retained, at QoS 0.
func (s *Server) publishSys() {
	st := s.Stats()
	up := int64(time.Since(s.started) / time.Second)
	s.sysPublish("version", []byte("gatemq version "+s.opts.Version))
	s.sysPublish("uptime", append(strconv.AppendInt(nil, up, 10), " seconds"...))
	s.sysInt("clients/connected", st.ClientsConnected)
	s.sysInt("clients/active", st.ClientsConnected)
	s.sysInt("clients/disconnected", st.ClientsDisconnected)
	s.sysInt("clients/inactive", st.ClientsDisconnected)
	s.sysInt("clients/total", st.ClientsTotal)
	s.sysInt("clients/maximum", st.ClientsMaximum)
	s.sysUint("messages/received", st.MessagesReceived)
	s.sysUint("messages/sent", st.MessagesSent)
	s.sysInt("messages/stored", st.Queued+st.Inflight+st.Retained)
	s.sysInt("messages/inflight", st.Inflight)
	s.sysUint("publish/messages/received", st.PublishReceived)
	s.sysUint("publish/messages/sent", st.PublishSent)
	s.sysUint("publish/messages/dropped", st.PublishDropped)
	s.sysUint("bytes/received", st.BytesReceived)
	s.sysUint("bytes/sent", st.BytesSent)
	s.sysInt("subscriptions/count", st.Subscriptions)
	s.sysInt("retained messages/count", st.Retained)
	s.sysInt("store/messages/count", st.Queued+st.Inflight)
	if f := s.opts.ConnectionsRefused; f != nil {
		s.sysUint("limits/connections/refused", f())
	}
	s.sysUint("limits/connect_timeouts", st.ConnectTimeouts)
	s.sysUint("limits/connects_too_large", st.ConnectsTooLarge)
	s.sysUint("limits/subscriptions/refused", st.SubscriptionsRefused)
	s.sysUint("limits/topics/refused", st.TopicsRefused)
	s.sysUint("limits/auth/failures", st.AuthFailures)
	s.sysUint("limits/auth/backoff_refused", st.AuthBackoffRefused)
	s.sysUint("limits/slow_consumers/disconnected", st.SlowConsumersDropped)
	s.sysUint("limits/auth/revoked", st.AuthRevoked)
	s.sysUint("limits/receive_maximum/exceeded", st.ReceiveMaxExceeded)
	s.sysUint("messages/denied", st.DeliveriesDenied)
	for _, b := range s.bridgesNow() {
		b.publishSys()
	}
	// Flash wear: what the store has written since the broker started.
	if ws, ok := s.opts.Store.(wearReporter); ok {
		w := ws.Stats()
		s.sysInt("store/bytes/written", w.BytesWritten)
		s.sysInt("store/fsyncs", w.Fsyncs)
		s.sysInt("store/compactions", w.Compactions)
		s.sysInt("store/bytes/total", w.TotalBytes)
		s.sysInt("store/bytes/live", w.LiveBytes)
	}
}

// sysPublish publishes v, retained, on $SYS/broker/NAME; sysInt and
// sysUint publish a number there. They are kept out of line: publishSys
// runs once per sys_interval, and inlined at its forty calls they cost
// about 6 KB of a router's flash.
//
//go:noinline
func (s *Server) sysPublish(name string, v []byte) { _ = s.Publish("$SYS/broker/"+name, v, 0, true) }

// sysInt publishes n on $SYS/broker/NAME (see sysPublish).
//
//go:noinline
func (s *Server) sysInt(name string, n int64) { s.sysPublish(name, strconv.AppendInt(nil, n, 10)) }

// sysUint publishes n on $SYS/broker/NAME (see sysPublish).
//
//go:noinline
func (s *Server) sysUint(name string, n uint64) { s.sysPublish(name, strconv.AppendUint(nil, n, 10)) }

// wearReporter is a store that counts what it writes (flashstore.Log).
type wearReporter interface {
	Stats() flashstore.Stats
}
