package transport

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// Accept back-off bounds: the first retry waits minBackoff, each further
// failure doubles the wait up to maxBackoff.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// nextBackoff returns the wait after a failed accept, given the previous wait
// (0 after a success).
func nextBackoff(prev time.Duration) time.Duration {
	if prev < minBackoff {
		return minBackoff
	}
	if prev >= maxBackoff/2 {
		return maxBackoff
	}
	return 2 * prev
}

// acceptLoop accepts on l until it is closed or the server shuts down.
func (s *Server) acceptLoop(l *listener) {
	defer s.goroutineDone()
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			delay = nextBackoff(delay)
			s.log.Warn("transport: accept failed; retrying", "listener", l.name, "err", err, "retry_in", delay)
			if !s.sleep(s.ctx, delay) {
				return
			}
			continue
		}
		delay = 0
		s.admit(l, c)
	}
}

// admit applies the limits to c and starts its handler, or closes it.
func (s *Server) admit(l *listener, c net.Conn) {
	if !reserve(&s.open, s.maxConns) {
		s.reject(l, c, "server")
		return
	}
	if !reserve(&l.open, l.max) {
		s.open.Add(-1)
		s.reject(l, c, "listener")
		return
	}
	if tc, ok := c.(*net.TCPConn); ok && l.nagle {
		// Go sets TCP_NODELAY on every accepted connection; only
		// set_tcp_nodelay false takes it off again. Keep-alive comes
		// from the listener (listenConfig).
		_ = tc.SetNoDelay(false)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.open.Add(-1)
		s.open.Add(-1)
		_ = c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.admitting = true
	if !s.ticking {
		s.startSpareTick()
	}
	h := handoff{l: l, c: c}
	if s.spare > 0 {
		// A spare goroutine serves c; its place in active becomes c's.
		s.spare--
		s.handoff <- h // never blocks: the channel has room for every spare
		s.mu.Unlock()
		return
	}
	s.active++
	s.mu.Unlock()
	go s.work(h)
}

// maxSpares is how many goroutines whose connection's handler returned
// may wait for the next connection. A connection served by a new goroutine
// starts on a 2 KiB stack, and the broker's connect path needs 4: the
// copy that grows it (every frame walked and moved) was a fifth of the
// broker's instructions per connection in a connect storm. A spare
// already has the larger stack (until a garbage collection finds it idle
// and shrinks it), and waiting costs it no timer of its own.
//
// Spares are for storms, not for keeping: a goroutine stays as a spare
// only while connections come (admit came by within the last spareLife),
// and every spareLife the spares then waiting end, so that spareLife or
// two after the last new connection none is left: an idle broker holds
// no more goroutines, nor their stacks (a TLS or WebSocket handshake's
// run to tens of KiB), than before.
const (
	maxSpares = 16
	spareLife = 100 * time.Millisecond
)

// startSpareTick arms spareTick, made on first use. The caller holds s.mu.
func (s *Server) startSpareTick() {
	s.ticking = true
	if s.retire == nil {
		s.retire = make(chan struct{})
	}
	if s.spareTimer == nil {
		s.spareTimer = time.AfterFunc(s.spareLife, s.spareTick)
		return
	}
	s.spareTimer.Reset(s.spareLife)
}

// spareTick ends the spares waiting now and, if connections came since the
// last tick, comes again after spareLife.
func (s *Server) spareTick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spare > 0 {
		close(s.retire)
		s.retire = make(chan struct{})
	}
	if s.admitting && !s.closed {
		s.admitting = false
		s.spareTimer.Reset(s.spareLife)
		return
	}
	s.admitting = false
	s.ticking = false
}

// handoff is a connection that admit hands to a goroutine.
type handoff struct {
	l *listener
	c net.Conn
}

// work serves h's connection and then, as a spare, the connections admit
// hands it, until the Server shuts down or has spares enough.
func (s *Server) work(h handoff) {
	for ok := true; ok; h, ok = s.waitSpare() {
		s.serve(h.l, h.c)
	}
}

// waitSpare waits, as a spare, for the next connection admit hands over,
// and returns it; it returns false at once when no connection came lately,
// there are spares enough or the Server is closed, and after waiting when
// spareTick retires the spares or the Server shuts down.
func (s *Server) waitSpare() (handoff, bool) {
	s.mu.Lock()
	if s.closed || !s.admitting || s.spare+len(s.handoff) >= cap(s.handoff) {
		s.mu.Unlock()
		return handoff{}, false
	}
	s.spare++
	s.active++ // Shutdown waits for spares too
	retire := s.retire
	s.mu.Unlock()
	select {
	case h := <-s.handoff:
		return h, true
	case <-retire:
	case <-s.ctx.Done():
	}
	s.mu.Lock()
	if s.spare == 0 {
		// Every waiting goroutine has a connection handed over: take
		// one and serve it (after Shutdown its handler sees the ctx
		// ended).
		s.mu.Unlock()
		return <-s.handoff, true
	}
	s.spare--
	s.mu.Unlock()
	s.goroutineDone()
	return handoff{}, false
}

// serve runs the handler for c and releases c's place in the limits when the
// handler returns, or, if the handler detached, when it says the
// connection has ended.
func (s *Server) serve(l *listener, c net.Conn) {
	h := &handling{s: s, l: l, c: c}
	defer func() {
		if !h.detached.Load() {
			h.release()
		}
	}()
	info := ConnInfo{Listener: l.name, Remote: c.RemoteAddr(), Detach: h.detach}
	hc := c
	if l.upgrade != nil {
		var err error
		if hc, err = l.upgrade(s.ctx, c, &info); err != nil {
			if l.websocket {
				// Mosquitto's log_type websockets: the broker's log
				// destinations sort lines by this attribute.
				s.log.Info("transport: WebSocket handshake failed", "listener", l.name, "remote", info.Remote.String(), "err", err, "log_type", "websockets")
			} else {
				s.log.Debug("transport: handshake failed", "listener", l.name, "remote", info.Remote.String(), "err", err)
			}
			_ = c.Close()
			return
		}
	}
	s.handler(s.ctx, hc, info)
}

// handling is one connection's place in the server, which its handler may
// keep after it returns (ConnInfo.Detach).
type handling struct {
	s        *Server
	l        *listener
	c        net.Conn
	detached atomic.Bool
}

// detach is ConnInfo.Detach.
func (h *handling) detach() (done func()) {
	h.detached.Store(true)
	return h.release
}

// release gives up the connection's place in the limits and in Shutdown's
// wait.
func (h *handling) release() {
	s := h.s
	s.mu.Lock()
	delete(s.conns, h.c)
	s.mu.Unlock()
	h.l.open.Add(-1)
	s.open.Add(-1)
	s.goroutineDone()
}

// reject closes c, which a limit refused, and counts it.
func (s *Server) reject(l *listener, c net.Conn, limit string) {
	s.rejected.Add(1)
	s.log.Debug("transport: connection refused: limit reached", "listener", l.name, "remote", c.RemoteAddr().String(), "limit", limit)
	_ = c.Close()
}

// reserve adds one to n unless that would exceed max (max <= 0: no limit).
// It reports whether it did.
func reserve(n *atomic.Int32, max int) bool {
	if max <= 0 {
		n.Add(1)
		return true
	}
	for {
		cur := n.Load()
		if int(cur) >= max {
			return false
		}
		if n.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}
