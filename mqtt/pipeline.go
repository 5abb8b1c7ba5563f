package mqtt

import (
	"sync"

	"gatemq/mqtt/packet"
)

// The store pipeline of a connection. With a store, what an inbound packet
// changes durably (a message and its routes, a QoS 2 packet id, a route's
// stage) is added to the connection's open batch together with what to do
// once it is durable (deliver the message, send the acknowledgement), and
// the reader goes on with the next packet. One committer goroutine, started
// on demand and owned by the connection, commits everything gathered so far
// with one Commit (one fsync, shared with other connections' commits), then
// carries out the actions in order. So a publisher that pipelines many
// messages gets them made durable together, acknowledgements keep the order
// of the packets they answer [MQTT-4.6.0-2..4], and nothing is acknowledged
// before it is durable. Without a store every action happens at once. The
// records themselves are written by store.go (record, addRec).

// action is what to do once the batch holding a packet's records is
// durable: deliver a message (m with targets[t0:t1]) and/or send an
// acknowledgement (ack 0: none).
type action struct {
	ack  packet.Type
	id   uint16
	code packet.ReasonCode
	qos2 bool // the packet was a QoS 2 PUBLISH (refusing it releases its id)
	// then is the session state change the records make durable, done
	// only once they are: memory never runs ahead of the log, so a failed
	// commit leaves both where they were.
	then stateChange

	m      *Message
	t0, t1 int
	// replaced is the retained message m replaced in memory, restored if
	// m's records cannot be committed.
	replaced *Message
}

// stateChange is a QoS 2 state change of the session that waits for its
// records' commit.
type stateChange uint8

const (
	// noChange: nothing waits for the commit.
	noChange stateChange = iota
	// releaseInbound: PUBREL id's removal is durable; the id may now be
	// forgotten (and PUBCOMP sent).
	releaseInbound
	// markReleased: stage "released" of outbound id is durable; the
	// delivery moves to its second half (and PUBREL is sent).
	markReleased
)

// apply makes the state change in memory.
func (ch stateChange) apply(ss *session, id uint16) {
	switch ch {
	case releaseInbound:
		ss.mu.Lock()
		ss.in.Release(id)
		ss.mu.Unlock()
	case markReleased:
		ss.mu.Lock()
		ss.out.Pubrec(id)
		ss.mu.Unlock()
	}
}

// pipe is the pipeline's state; mu guards it.
type pipe struct {
	mu      sync.Mutex
	t       *txn     // open batch; nil when empty
	acts    []action // actions waiting for the open batch
	targets []target // deliveries referred to by acts
	running bool     // a committer goroutine runs
	err     error    // a commit failed: the connection must end
	// idle, when not nil, is closed when the committer stops (waiters
	// make it).
	idle chan struct{}
	// dropped is set when the connection let go of the pipeline, empty
	// (closeIdlePipe): nothing may be added to it any more.
	dropped bool

	// Spares handed back by the committer for reuse.
	spareActs    []action
	spareTargets []target
}

// pipeline adds one record (rec may be zero) and one action (a may be
// zero) to the connection's pipeline.
func (c *client) pipeline(rec pipeRec, a action) {
	s := c.srv
	if s.opts.Store == nil || (rec.kind == recNone && !c.pipeBusy()) {
		if a.ack != 0 {
			c.sendAck(a.ack, a.id, a.code)
		}
		return
	}
	p := c.lockPipe()
	if p.t == nil {
		p.t = s.beginTxn()
	}
	t := p.t
	s.addRec(t, rec)
	if a.ack != 0 || a.m != nil {
		p.acts = append(p.acts, a)
	} else if !p.running && t.b.Len() < lazyRecords {
		// A removal promises the peer nothing: it rides along with the
		// next commit of this connection (or the end of the connection)
		// instead of costing an fsync of its own.
		p.mu.Unlock()
		return
	}
	c.startCommitterLocked(p)
	p.mu.Unlock()
}

// lazyRecords is how many waiting removals make the pipeline commit them
// without anything else to commit.
const lazyRecords = 64

// deliverThenAck delivers the message just routed to c.rs.targets and then
// has its acknowledgement (a) written, when nothing had to be made durable
// first. The acknowledgement is queued before the deliveries and written
// after them: other subscribers get the message without waiting for the
// publisher's write, and a publisher subscribed to its own topic gets its
// PUBACK or PUBREC ahead of its copy, in the same write.
func (c *client) deliverThenAck(a action) {
	if a.ack != 0 {
		c.queueAck(a.ack, a.id, a.code)
	}
	c.srv.fanout(c.rs.targets, c)
	clear(c.rs.targets) // the reused slice must not keep the message alive
	if a.ack != 0 {
		c.kick()
	}
}

// pipelineRoute records and routes an inbound message (whose targets are in
// c.rs.targets) and then sends a's acknowledgement. Without anything to make
// durable and nothing waiting in the pipeline, it delivers at once.
func (c *client) pipelineRoute(m *Message, inboundID uint16, a action) {
	s := c.srv
	if s.opts.Store == nil {
		s.record(nil, m, c.rs.targets, c, 0)
		c.deliverThenAck(a)
		return
	}
	p := c.lockPipe()
	if p.t == nil {
		p.t = s.beginTxn()
	}
	a.replaced = m.replaced // record forgets it; a failed commit needs it back
	added := s.record(p.t, m, c.rs.targets, c, inboundID)
	if !added && len(p.acts) == 0 && !p.running {
		p.mu.Unlock()
		c.deliverThenAck(a)
		return
	}
	a.m = m
	a.t0 = len(p.targets)
	p.targets = append(p.targets, c.rs.targets...)
	a.t1 = len(p.targets)
	clear(c.rs.targets)
	p.acts = append(p.acts, a)
	c.startCommitterLocked(p)
	p.mu.Unlock()
}

// pipeBusy reports whether actions wait in the pipeline (a new
// acknowledgement must then wait its turn).
func (c *client) pipeBusy() bool {
	p := c.pipe.Load()
	if p == nil {
		return false
	}
	p.mu.Lock()
	busy := p.running || len(p.acts) > 0
	p.mu.Unlock()
	return busy
}

// pipeErr returns the error of a failed commit: the connection must end.
func (c *client) pipeErr() error {
	p := c.pipe.Load()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	return err
}

// lockPipe returns the connection's pipeline, locked; it is made on first
// use (a connection of a broker without a store never needs one), and
// again after closeIdlePipe dropped it. The reader and the writer (for the
// deliveries it ends itself) may both call it.
func (c *client) lockPipe() *pipe {
	for {
		p := c.pipe.Load()
		if p == nil {
			p = new(pipe)
			if !c.pipe.CompareAndSwap(nil, p) {
				continue
			}
		}
		p.mu.Lock()
		if !p.dropped {
			return p
		}
		p.mu.Unlock()
	}
}

// closeIdlePipe drops the pipeline when nothing is in it, so that an idle
// connection does not keep it; the reader calls it before it parks. A
// failed commit's error is kept (pipeErr must go on saying it).
func (c *client) closeIdlePipe() {
	p := c.pipe.Load()
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.t == nil && !p.running && len(p.acts) == 0 && p.idle == nil && p.err == nil {
		p.dropped = true // whoever holds it already makes a new one
		c.pipe.Store(nil)
	}
	p.mu.Unlock()
}

// startCommitterLocked starts p's committer unless it runs. The caller
// holds p.mu.
func (c *client) startCommitterLocked(p *pipe) {
	if p.running {
		return
	}
	p.running = true
	go c.commitLoop(p)
}

// waitPipeline waits until everything in the pipeline is durable and done
// (before packets whose answers must follow it, and at the end of the
// connection).
func (c *client) waitPipeline() {
	p := c.pipe.Load()
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.t != nil && p.t.b.Len() > 0 {
		c.startCommitterLocked(p) // lazy removals go now
	}
	for p.running || len(p.acts) > 0 {
		if p.idle == nil {
			p.idle = make(chan struct{})
		}
		idle := p.idle
		p.mu.Unlock()
		<-idle
		p.mu.Lock()
	}
	p.mu.Unlock()
}

// commitLoop commits the open batch and carries out its actions, until the
// pipeline is empty.
func (c *client) commitLoop(p *pipe) {
	s := c.srv
	for {
		p.mu.Lock()
		t, acts, targets := p.t, p.acts, p.targets
		if t == nil && len(acts) == 0 {
			p.running = false
			if p.idle != nil {
				close(p.idle)
				p.idle = nil
			}
			p.mu.Unlock()
			return
		}
		p.t, p.acts, p.targets = nil, p.spareActs[:0], p.spareTargets[:0]
		p.mu.Unlock()

		err := s.commitTxn(t)
		fatal := false
		for i := range acts {
			fatal = !c.act(&acts[i], targets, err) || fatal
		}
		clear(acts)
		clear(targets)
		p.mu.Lock()
		if fatal && p.err == nil {
			p.err = err
		}
		p.spareActs, p.spareTargets = acts[:0], targets[:0]
		p.mu.Unlock()
	}
}

// act carries out one action after its batch's commit (err != nil: the
// commit failed) and reports whether the connection may go on. A message
// that could not be stored is refused: a 5.0 client gets PUBACK/PUBREC
// 0x97 (quota exceeded) and may go on and retry later; a 3.1.1 client has
// no way to be told, so its connection is closed without an
// acknowledgement and it keeps the message. A QoS 0 message is delivered
// to the connected subscribers all the same (only its retained record is
// missing). In every case a retained message that could not be stored
// gives the topic back its previous retained message. Any other failed
// record closes the connection: its acknowledgement must not leave.
func (c *client) act(a *action, targets []target, err error) bool {
	s := c.srv
	if err == nil {
		a.then.apply(c.sess, a.id)
		if a.m != nil {
			s.fanout(targets[a.t0:a.t1], c)
		}
		if a.ack != 0 {
			c.sendAck(a.ack, a.id, a.code)
		}
		return true
	}
	if a.m != nil && a.m.Retain {
		s.restoreRetained(a.m, a.replaced)
	}
	switch {
	case a.m != nil && a.ack == 0: // QoS 0: at most once, and on its way
		s.fanout(targets[a.t0:a.t1], c)
		return true
	case a.m != nil || (a.ack == packet.PUBACK || a.ack == packet.PUBREC) && a.code == packet.Success:
		s.stats.publishDropped.Add(1)
		clear(targets[a.t0:a.t1])
		if a.qos2 {
			ss := c.sess
			ss.mu.Lock()
			ss.in.Release(a.id)
			ss.mu.Unlock()
		}
		if c.version == packet.V5 && a.ack != 0 {
			c.sendAck(a.ack, a.id, packet.QuotaExceeded)
			return true
		}
	}
	c.closeConn()
	return false
}
