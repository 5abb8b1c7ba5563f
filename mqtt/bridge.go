package mqtt

// A bridge is a local session whose connection goes out instead of coming
// in. Its session (persistent unless local_cleansession) subscribes
// locally to the bridge's out topics, so what it forwards is queued,
// durably, exactly as for any offline subscriber (stored.go: bodies stay
// on flash); the connection to the upstream is an ordinary client whose
// packets flow the other way round: the writer sends the session's queue
// as PUBLISHes and the upstream's PUBACK/PUBREC/PUBCOMP complete them, the
// upstream's PUBLISHes (in topics) go through the inbound path and are
// acknowledged once durable. Only CONNECT, SUBSCRIBE, UNSUBSCRIBE and
// PINGREQ are the bridge's own (bridgeconn.go).

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gatemq/mqtt/topic"
)

// bridge is one running BridgeConfig.
type bridge struct {
	srv *Server
	cfg BridgeConfig
	// ctx ends when the server shuts down (cancel, from Shutdown): it
	// stops dialling, handshakes and waits.
	ctx    context.Context
	cancel context.CancelFunc
	// base is the $SYS directory of its counters (with a trailing /).
	base string

	// Owned by run.
	addr      int  // index of the address to try next
	noPrivate bool // the upstream refused try_private's level: plain 3.1.1

	// sess is the bridge's local session as last set up (for bridgeFull,
	// which must not lock every target of every message).
	sess atomic.Pointer[session]

	connected atomic.Bool
	// Counters for $SYS/broker/connection/…: connections made, PUBLISHes
	// written (resends included), deliveries the upstream acknowledged,
	// in-flight deliveries resent after a reconnect, deliveries dropped
	// (queue full, body unreadable, too large for the upstream), and
	// messages received from the upstream; and connections ended because
	// the upstream acknowledged nothing.
	connects, sent, acked, resent, dropped, received, stalls atomic.Uint64
	// refused counts publishes refused because the bridge's queue was at
	// max_queued_messages_total (bridgeFull).
	refused atomic.Uint64
	// lastActive is when a PUBLISH last went either way (UnixNano), for
	// idle_timeout.
	lastActive atomic.Int64
}

// startBridges makes each configured bridge's session and starts its
// connection loop. It runs from Start.
func (s *Server) startBridges() {
	var bs []*bridge
	defer func() { s.bridges.Store(&bs) }()
	for _, cfg := range s.opts.Bridges {
		b := &bridge{srv: s, cfg: cfg, base: bridgeSysBase(&cfg)}
		if err := b.setupSession(); err != nil {
			s.log.Error("bridge not started: its session cannot be stored", "bridge", cfg.Name, "err", err)
			continue
		}
		b.ctx, b.cancel = context.WithCancel(context.Background())
		bs = append(bs, b)
		b.notify(false)
		s.wg.Add(1)
		go b.run()
	}
}

// bridgeSysBase is where a bridge's counters go: beside its notification
// topic when that is Mosquitto's $SYS/broker/connection/ID/state, else
// under $SYS/broker/connection/NAME/.
func bridgeSysBase(cfg *BridgeConfig) string {
	const dir = "$SYS/broker/connection/"
	if t := cfg.NotificationTopic; strings.HasPrefix(t, dir) && strings.HasSuffix(t, "/state") {
		return strings.TrimSuffix(t, "state")
	}
	return dir + cfg.Name + "/"
}

// setupSession finds the bridge's local session (recovered from the store
// after a restart, with its queue) or makes it, and brings its local
// subscriptions in line with the out topics of the configuration; the
// session and its subscriptions are stored before anything is routed to
// it.
func (b *bridge) setupSession() error {
	s, cfg := b.srv, &b.cfg
	want := map[string]subOpts{}
	for _, tp := range cfg.Topics {
		if tp.Direction&BridgeOut == 0 {
			continue
		}
		f := tp.LocalPrefix + tp.Pattern
		o := want[f]
		// No Local: what the bridge itself publishes (the in topics)
		// never goes back out. Retain as published: the upstream gets
		// the RETAIN flag as the publisher set it (bridge_outgoing_retain).
		want[f] = subOpts{qos: max(o.qos, tp.QoS), noLocal: true, retainAsPublished: cfg.OutgoingRetain}
	}
	persistent := !cfg.LocalCleanSession
	s.sessMu.Lock()
	ss := s.sessions[cfg.LocalClientID]
	if ss == nil || ss.persistent != persistent || ss.local != nil {
		if ss != nil {
			ss.mu.Lock()
			s.removeSessionBothLocked(ss)
			ss.mu.Unlock()
		}
		ss = s.newSession(cfg.LocalClientID, persistent)
		s.addSessionLocked(ss)
	}
	ss.mu.Lock()
	ss.expiry = expireNever // the bridge's queue waits for the upstream however long it takes
	ss.bridge = b
	ss.out.SetMaxQueued(0) // bounded by the store cap and bridgeFull
	b.sess.Store(ss)
	old := ss.subs
	ss.subs = make(map[string]subOpts, len(want))
	for f, o := range want {
		ss.subs[f] = o
	}
	ss.mu.Unlock()
	s.sessMu.Unlock()

	t := s.beginTxn()
	s.subMu.Lock()
	for f := range old {
		s.removeSub(ss, f)
		if _, keep := want[f]; !keep && persistent {
			t.delSub(ss.id, f)
		}
	}
	s.subMu.Unlock()
	for f, o := range want {
		s.addSub(ss, f, o)
		if persistent {
			t.putSub(ss.id, f, o)
		}
	}
	if persistent {
		t.putSession(ss, 0)
	}
	return s.commitTxn(t)
}

// run connects, serves the connection until it ends, waits and connects
// again (restart_timeout), until the server shuts down. A lazy bridge
// waits for threshold queued messages before it connects; a bridge
// started once does not connect again after its first connection ends.
func (b *bridge) run() {
	s, cfg := b.srv, &b.cfg
	defer s.wg.Done()
	wait := cfg.RestartBase
	for first := true; ; first = false {
		if !first && cfg.StartType == "once" {
			s.log.Info("bridge stopped: start_type once", "bridge", cfg.Name)
			return
		}
		if cfg.StartType == "lazy" && !b.waitThreshold() {
			return
		}
		if s.shuttingDown() {
			return
		}
		up, err := b.connectAndServe()
		if s.shuttingDown() {
			return
		}
		if up {
			wait = cfg.RestartBase
		} else if err != nil && cfg.RestartCap > 0 {
			wait = min(wait*2, cfg.RestartCap)
		}
		if !up {
			// Failover: the next address; without round_robin a
			// connection that worked and ended goes back to the first.
			b.addr = (b.addr + 1) % len(cfg.Addresses)
		} else if !cfg.RoundRobin {
			b.addr = 0
		}
		d := wait
		if cfg.RestartCap > 0 { // backoff with jitter, as Mosquitto's
			d = wait/2 + rand.N(wait/2+1)
		}
		t := time.NewTimer(d)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// waitThreshold blocks until the bridge's queue holds threshold messages
// (start_type lazy). It reports false when the server shuts down.
func (b *bridge) waitThreshold() bool {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		if b.queued() >= b.cfg.Threshold {
			return true
		}
		select {
		case <-b.ctx.Done():
			return false
		case <-tk.C:
		}
	}
}

// session returns the bridge's local session as the server has it now.
func (b *bridge) session() *session {
	s := b.srv
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if ss := s.sessions[b.cfg.LocalClientID]; ss != nil && ss.bridge == b {
		return ss
	}
	return nil
}

// queued returns the bridge's queued deliveries and their bytes.
func (b *bridge) queued() int {
	n, _ := b.queueSize()
	return n
}

// queueSize returns the bridge's queued deliveries and their bytes.
func (b *bridge) queueSize() (int, int64) {
	ss := b.session()
	if ss == nil {
		return 0, 0
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.Queued(), ss.queuedBytes
}

// notify publishes the connection state, retained, on the notification
// topic locally (notifications true), and logs it.
func (b *bridge) notify(up bool) {
	b.connected.Store(up)
	if !b.cfg.Notifications {
		return
	}
	v := "0"
	if up {
		v = "1"
	}
	if err := b.srv.Publish(b.cfg.NotificationTopic, []byte(v), 1, true); err != nil {
		b.srv.log.Warn("bridge notification not published", "bridge", b.cfg.Name, "err", err)
	}
}

// remoteTopic maps a local topic to the upstream's: the first out topic
// whose local filter matches it swaps its local prefix for its remote one
// (Mosquitto's rule). A topic no out topic matches goes unchanged (it
// cannot happen: only out topics are subscribed).
func (b *bridge) remoteTopic(t string) string {
	for _, tp := range b.cfg.Topics {
		if tp.Direction&BridgeOut != 0 && strings.HasPrefix(t, tp.LocalPrefix) &&
			topic.Match(tp.LocalPrefix+tp.Pattern, t) {
			return tp.RemotePrefix + t[len(tp.LocalPrefix):]
		}
	}
	return t
}

// localTopic maps a topic from the upstream to the local one, by the
// first in topic whose remote filter matches it; ok is false when none
// does (the message is acknowledged and dropped, as Mosquitto does).
func (b *bridge) localTopic(t []byte) ([]byte, bool) {
	for _, tp := range b.cfg.Topics {
		if tp.Direction&BridgeIn == 0 || !strings.HasPrefix(string(t), tp.RemotePrefix) {
			continue
		}
		if topic.Match(tp.RemotePrefix+tp.Pattern, string(t)) {
			if tp.LocalPrefix == tp.RemotePrefix {
				return t, true
			}
			out := make([]byte, 0, len(tp.LocalPrefix)+len(t)-len(tp.RemotePrefix))
			return append(append(out, tp.LocalPrefix...), t[len(tp.RemotePrefix):]...), true
		}
	}
	return nil, false
}

// dial opens a connection to address with the bridge's Dial (plain TCP
// when none is set), giving up after the keep alive or when the server
// shuts down.
func (b *bridge) dial(address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(b.ctx, max(b.cfg.KeepAlive, 10*time.Second))
	defer cancel()
	if b.cfg.Dial != nil {
		return b.cfg.Dial(ctx, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", address)
}

// errRefused is a CONNACK that refused the bridge.
var errRefused = errors.New("refused by the upstream")

// publishSys publishes the bridge's counters under its $SYS directory,
// retained, at QoS 0.
func (b *bridge) publishSys() {
	n, bytes := b.queueSize()
	b.publishSysUint("queued/messages", uint64(n))
	b.publishSysUint("queued/bytes", uint64(max(bytes, 0)))
	b.publishSysUint("connects", b.connects.Load())
	b.publishSysUint("messages/sent", b.sent.Load())
	b.publishSysUint("messages/acknowledged", b.acked.Load())
	b.publishSysUint("messages/retransmitted", b.resent.Load())
	b.publishSysUint("messages/dropped", b.dropped.Load())
	b.publishSysUint("messages/received", b.received.Load())
	b.publishSysUint("stalls", b.stalls.Load())
	b.publishSysUint("messages/refused", b.refused.Load())
}

// publishSysUint publishes v, retained, on the bridge's $SYS topic NAME. It
// is kept out of line, as Server.sysPublish.
//
//go:noinline
func (b *bridge) publishSysUint(name string, v uint64) {
	_ = b.srv.Publish(b.base+name, strconv.AppendUint(nil, v, 10), 0, true)
}

// bridgesNow returns the running bridges (none before Start).
func (s *Server) bridgesNow() []*bridge {
	if p := s.bridges.Load(); p != nil {
		return *p
	}
	return nil
}

// bridgeFull reports whether a QoS 1/2 message to targets would go to a
// bridge whose queue holds MaxQueuedTotal messages already: each queued
// message costs RAM (an index entry), so past that bound the publisher is
// refused, as for a full store, rather than the message dropped.
func (s *Server) bridgeFull(targets []target) bool {
	max := s.opts.MaxQueuedTotal
	if max <= 0 {
		return false
	}
	for _, b := range s.bridgesNow() {
		bs := b.sess.Load()
		for i := range targets {
			if targets[i].ss != bs || targets[i].qos == 0 {
				continue
			}
			bs.mu.Lock()
			full := bs.out.Queued() >= max
			bs.mu.Unlock()
			if full {
				b.refused.Add(1)
				return true
			}
		}
	}
	return false
}

// bridgeOwns reports whether id is a bridge's local client id, which no
// client may connect with.
func (s *Server) bridgeOwns(id string) bool {
	for _, b := range s.bridgesNow() {
		if b.cfg.LocalClientID == id {
			return true
		}
	}
	return false
}
