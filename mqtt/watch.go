package mqtt

import "context"

// ServeDetached closes a connection when its ctx ends. A context.AfterFunc
// per connection would cost each about 170 bytes (its own context and its
// place among the parent's children) for as long as it is open; but the
// transport gives every connection the same ctx, so the connections served
// with one ctx share one watch.

// ctxWatch is the watch of one ctx: n connections are served with it.
type ctxWatch struct {
	done <-chan struct{}
	stop func() bool
	n    int
}

// watch returns the watch of ctx for a new connection, nil when ctx never
// ends. The caller sets c.watch to it before c is in s.clients, and checks
// ctx.Err() once it is, so that an end between the two is not missed.
func (s *Server) watch(ctx context.Context) *ctxWatch {
	done := ctx.Done()
	if done == nil {
		return nil
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	w := s.watches[done]
	if w == nil {
		w = &ctxWatch{done: done}
		w.stop = context.AfterFunc(ctx, func() { s.ctxEnded(w) })
		if s.watches == nil {
			s.watches = make(map[<-chan struct{}]*ctxWatch)
		}
		s.watches[done] = w
	}
	w.n++
	return w
}

// unwatch ends c's share of its watch.
func (s *Server) unwatch(c *client) {
	w := c.watch
	if w == nil {
		return
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if w.n--; w.n == 0 {
		w.stop()
		delete(s.watches, w.done)
	}
}

// ctxEnded shuts down the connections served with w's ctx, which has
// ended.
func (s *Server) ctxEnded(w *ctxWatch) {
	s.sessMu.Lock()
	var cs []*client
	for c := range s.clients {
		if c.watch == w {
			cs = append(cs, c)
		}
	}
	s.sessMu.Unlock()
	for _, c := range cs {
		c.shutdown()
	}
}
