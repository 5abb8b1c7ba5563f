package mqtt

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gatemq/mqtt/packet"
)

// Defaults of the limits against abuse.
const (
	// DefaultMaxSubscriptions is how many subscriptions one session may hold.
	DefaultMaxSubscriptions = 1000
	// DefaultMaxTopicLength bounds topic names and filters, in bytes
	// (MQTT allows 65535; each byte of a wildcard filter's levels costs
	// memory in the topic tree).
	DefaultMaxTopicLength = 4096
	// DefaultMaxTopicLevels bounds the levels of topic names and filters.
	DefaultMaxTopicLevels = 64
)

// Failed-authentication back-off: after authFreeFailures failures from one
// address, further CONNECTs from it are refused without a password check for
// a time that doubles with each failure, from authBackoffBase up to
// authBackoffMax. At most authTrackedAddrs addresses are tracked.
const (
	authFreeFailures = 3
	authBackoffBase  = time.Second
	authBackoffMax   = time.Minute
	authTrackedAddrs = 1024
	authForgetAfter  = 10 * time.Minute
)

// authGuard counts failed logins per source address and says when an
// address must wait. Safe for concurrent use.
type authGuard struct {
	mu    sync.Mutex
	addrs map[string]*authRecord
	// tracked is len(addrs), kept under mu and read without it: while no
	// address has failed, a connection need not work out its own
	// (hostOf) to learn that it is not backed off.
	tracked atomic.Int32
}

// authRecord is one address's recent failures.
type authRecord struct {
	failures int
	until    time.Time // refused before this
	last     time.Time
}

// hostOf is the address part of a remote address for the back-off; ""
// (never backed off) when unknown or on loopback, where every local program
// shares one address and one misconfigured client must not lock out the
// others (Home Assistant next to the broker, say).
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if t, ok := a.(*net.TCPAddr); ok {
		// What the generic path below makes of t.String(), without
		// formatting and parsing it: an address with a zone does not
		// parse as an IP.
		if t.Zone != "" || len(t.IP) == 0 || t.IP.IsLoopback() {
			return ""
		}
		return t.IP.String()
	}
	return hostOfString(a)
}

// hostOfString is hostOf for any net.Addr, from its string.
func hostOfString(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() {
		return ""
	}
	return host
}

// idle reports whether no address has failed lately: then none is
// backed off and none has failures to forget.
func (g *authGuard) idle() bool {
	return g.tracked.Load() == 0
}

// blocked reports whether host must wait before it may try again.
func (g *authGuard) blocked(host string, now time.Time) bool {
	if host == "" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.addrs[host]
	return r != nil && now.Before(r.until)
}

// failed records a failed login from host and returns how long it must now
// wait (0: not yet).
func (g *authGuard) failed(host string, now time.Time) time.Duration {
	if host == "" {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.addrs == nil {
		g.addrs = make(map[string]*authRecord)
	}
	r := g.addrs[host]
	if r == nil {
		if len(g.addrs) >= authTrackedAddrs {
			g.evictLocked(now)
		}
		r = &authRecord{}
		g.addrs[host] = r
		g.tracked.Store(int32(len(g.addrs)))
	}
	if now.Sub(r.last) > authForgetAfter {
		r.failures = 0
	}
	r.failures++
	r.last = now
	if r.failures <= authFreeFailures {
		return 0
	}
	wait := authBackoffBase << min(r.failures-authFreeFailures-1, 16)
	wait = min(wait, authBackoffMax)
	r.until = now.Add(wait)
	return wait
}

// succeeded forgets host's failures.
func (g *authGuard) succeeded(host string) {
	g.mu.Lock()
	delete(g.addrs, host)
	g.tracked.Store(int32(len(g.addrs)))
	g.mu.Unlock()
}

// evictLocked makes room: forgotten records first, else the oldest.
func (g *authGuard) evictLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for h, r := range g.addrs {
		if now.Sub(r.last) > authForgetAfter {
			delete(g.addrs, h)
			continue
		}
		if oldest == "" || r.last.Before(oldestAt) {
			oldest, oldestAt = h, r.last
		}
	}
	if len(g.addrs) >= authTrackedAddrs && oldest != "" {
		delete(g.addrs, oldest)
	}
	g.tracked.Store(int32(len(g.addrs)))
}

// topicWithinLimits reports whether a topic name or filter is within the
// configured length and level limits.
func (o *Options) topicWithinLimits(t []byte) bool {
	if len(t) > o.MaxTopicLength {
		return false
	}
	levels := 1
	for _, b := range t {
		if b == '/' {
			levels++
			if levels > o.MaxTopicLevels {
				return false
			}
		}
	}
	return true
}

// slowConsumer closes a connection whose client has not taken its messages
// for QueueWait while publishers waited: it may not hold the router's
// memory (5.0: DISCONNECT 0x97 quota exceeded). A persistent session keeps
// its queued QoS 1/2 messages for when the client is back.
func (s *Server) slowConsumer(c *client) {
	if c == nil {
		return
	}
	c.outMu.Lock()
	if c.closed || c.slow {
		c.outMu.Unlock()
		return
	}
	c.slow = true
	c.writers.Add(1) // the connection's cleanup waits for the kick below
	c.outMu.Unlock()
	n := s.stats.slowConsumers.Add(1)
	s.log.Warn("disconnecting a slow consumer: its queue stayed full", "client", c.id, "remote", c.remote(), "slow_consumers_total", n)
	// Not on the publisher's goroutine: kickOut waits for the writer.
	go func() {
		defer c.writers.Done()
		c.kickOut(packet.QuotaExceeded)
	}()
}

// overQueuedTotal reports whether the broker holds MaxQueuedTotal QoS 1/2
// deliveries or more.
func (s *Server) overQueuedTotal() bool {
	return s.opts.MaxQueuedTotal > 0 && s.queuedTotal.Load() >= int64(s.opts.MaxQueuedTotal)
}
