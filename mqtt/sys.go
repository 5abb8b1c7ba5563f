package mqtt

import (
	"strconv"
	"time"

	"gatemq/flashstore"
)

// sysLoop publishes the $SYS/broker topics every SysInterval until Shutdown.
func (s *Server) sysLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SysInterval)
	defer t.Stop()
	s.publishSys()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			s.publishSys()
		}
	}
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
