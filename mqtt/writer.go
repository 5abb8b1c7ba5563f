package mqtt

import (
	"net"
	"strings"
	"sync"
	"time"

	"gatemq/flashstore"
	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
	"gatemq/qos"
)

// writeState is a running writer's scratch: the encode buffer of a pass,
// the views and iovecs that write it (outbuf.go), the outgoing 5.0
// properties, the packet ids a pass moves into flight, and the spare
// halves of the output queues. A writer takes one from writeStatePool when
// it starts and gives it back when it stops: a connection holds one only
// while it has something to send, so an idle connection costs none.
type writeState struct {
	buf       []byte
	views     []outView
	iovArr    [][]byte
	iov       net.Buffers
	props     packet.Properties
	propsSet  bool      // props may hold something (appendPublish, 5.0 only)
	subIDs    [1]uint32 // a single subscription identifier
	sentIDs   []uint16
	ctrlSpare []byte
	q0Spare   []outMsg
	raw       rawWriting // a raw write's state (rawsock_linux.go)
}

// writeStatePool holds the scratch of writers that are not running.
var writeStatePool = sync.Pool{New: func() any { return new(writeState) }}

// Sizes of a pooled writeState: its buffer starts at writeBufSize, and
// one that grew over maxPooledWriteBuf (after a big message) is dropped.
// A pass takes no more of the session's deliveries into flight once it
// has passBytes to write (the next pass takes the rest): with a large
// window a burst of small messages is encoded a few dozen KiB at a time,
// not the whole window at once.
const (
	writeBufSize      = 4096
	maxPooledWriteBuf = 64 << 10
	passBytes         = 32 << 10
)

// takeWriteState returns a writer's scratch from the pool.
func takeWriteState() *writeState {
	w := writeStatePool.Get().(*writeState)
	if w.buf == nil {
		w.buf = make([]byte, 0, writeBufSize)
	}
	return w
}

// release gives w back to the pool; buf is its buffer as the writer left
// it. Nothing in it may keep a message or a connection alive.
func (w *writeState) release(buf []byte) {
	w.buf = buf[:0]
	if cap(buf) > maxPooledWriteBuf {
		w.buf = nil
	}
	w.views = bounded(w.views, keptViews)
	w.iovArr = bounded(w.iovArr, 2*keptViews+1)
	w.resetProps()
	w.sentIDs = w.sentIDs[:0]
	w.ctrlSpare = bounded(w.ctrlSpare, 1024)
	w.q0Spare = bounded(w.q0Spare, 64) // cleared by the pass that used it
	writeStatePool.Put(w)
}

// resetProps clears the outgoing properties scratch if a 5.0 PUBLISH used
// it since the last reset: a Properties is several hundred bytes to clear,
// for every pass, which a 3.1.1 connection never fills.
func (w *writeState) resetProps() {
	if w.propsSet {
		w.props.Reset()
		w.propsSet = false
	}
}

// passClock is a writer pass's time, read when the pass first needs it:
// only messages that expire do (their expiry is checked, and a 5.0
// PUBLISH carries what is left of it), so most passes read no clock.
type passClock struct{ t time.Time }

// now returns the pass's time, reading the clock on the first call.
func (pc *passClock) now() time.Time {
	if pc.t.IsZero() {
		pc.t = time.Now()
	}
	return pc.t
}

// sendControl encodes p into the control queue and makes sure a writer runs.
func (c *client) sendControl(p *packet.Packet) {
	c.queueControl(p)
	c.kick()
}

// queueControl encodes p into the control queue; the caller kicks the
// writer.
func (c *client) queueControl(p *packet.Packet) {
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return
	}
	c.ctrl = p.Append(c.ctrl, c.version)
	c.outMu.Unlock()
	c.srv.stats.messagesSent.Add(1)
}

// sendAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP for id.
func (c *client) sendAck(t packet.Type, id uint16, code packet.ReasonCode) {
	c.queueAck(t, id, code)
	c.kick()
}

// queueAck is sendAck without the kick.
func (c *client) queueAck(t packet.Type, id uint16, code packet.ReasonCode) {
	if t == packet.PUBACK || t == packet.PUBCOMP {
		c.inUnacked.Add(-1) // answered: no longer counts against Receive Maximum
	}
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return
	}
	c.ctrl = packet.AppendAck(c.ctrl, c.version, t, id, code)
	c.outMu.Unlock()
	c.srv.stats.messagesSent.Add(1)
}

// pushQoS0 queues a QoS 0 delivery. When the connection already has
// MaxQueuedBytes of QoS 0 payload waiting, a publishing client (from) waits
// up to QueueWait for the writer to drain it, as for QoS 1/2; the broker's
// own messages, and a publisher that waited in vain, drop it (counted).
func (c *client) pushQoS0(om outMsg, from *client) {
	var deadline time.Time
	for {
		c.outMu.Lock()
		if c.closed {
			c.outMu.Unlock()
			return
		}
		if n := len(om.msg().Payload); c.q0bytes+n <= c.srv.opts.MaxQueuedBytes || len(c.q0) == 0 {
			c.q0 = append(c.q0, om)
			c.q0bytes += n
			c.outMu.Unlock()
			c.kickFrom(from)
			return
		}
		if from == nil || from == c {
			c.outMu.Unlock()
			c.srv.stats.publishDropped.Add(1)
			return
		}
		if c.q0space == nil {
			c.q0space = make(chan struct{})
		}
		wait := c.q0space
		c.outMu.Unlock()
		if deadline.IsZero() {
			deadline = time.Now().Add(c.srv.opts.QueueWait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			c.srv.stats.publishDropped.Add(1)
			c.srv.slowConsumer(c)
			return
		}
		t := time.NewTimer(left)
		select {
		case <-wait:
		case <-t.C:
		case <-from.endedChan():
		case <-c.endedChan():
		}
		t.Stop()
	}
}

// kick makes sure what is queued gets written: what c's own reader (or
// its pipeline) queued, such as an acknowledgement; see kickFrom.
func (c *client) kick() { c.kickFrom(c) }

// kickFrom makes sure what is queued gets written, after a client's
// packet (from's; nil for the broker's own messages) queued something for
// c. When a writer is running it only makes it look at the queues once
// more before it stops. Else the caller becomes the writer (writeNow)
// when c is a plain socket whose session keeps nothing on flash and from
// has nothing more waiting in its read buffer: it encodes what is queued
// and writes what the socket takes at once, without waiting, so that at
// everyday rates a message reaches its subscriber, and an acknowledgement
// its publisher, on the thread that read the packet, with no goroutine to
// start and no other thread to wake. Otherwise a writer goroutine starts:
// under load (from has more packets buffered) it gathers what they queue
// meanwhile into one write, as it always did.
func (c *client) kickFrom(from *client) {
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return
	}
	if c.writing || !c.ready {
		// Before CONNACK is queued nothing may be written [MQTT-3.2.0-1]:
		// the writer starts when the CONNACK is queued (connack).
		c.dirty = true
		c.outMu.Unlock()
		return
	}
	c.writing = true
	c.writers.Add(1)
	c.outMu.Unlock()
	// A persistent session's pass commits its packet ids to the flash log
	// before they leave: that waits for the disk, so not on the caller's
	// goroutine.
	if c.raw == nil || from == nil || from.moreIn.Load() || (c.sess != nil && c.sess.persistent && c.srv.opts.Store != nil) {
		go c.writeLoop(nil, nil, 0, 0)
		return
	}
	c.writeNow()
}

// inlinePasses bounds the passes a caller of kick writes itself before it
// hands the writing to a goroutine (more keep coming under load).
const inlinePasses = 2

// writeNow is the writer on kick's caller's goroutine: it writes up to
// inlinePasses passes itself, each with one write that never waits. A
// writer goroutine takes over only when there is more: what the socket
// does not take at once, a pass with views (written with writev), or a
// pass encoded after the last one written here.
func (c *client) writeNow() {
	w := takeWriteState()
	buf := w.buf[:0]
	for i := 0; ; i++ {
		var sent int
		var ok bool
		if buf, sent, ok = c.pass(w, buf); !ok || len(buf) == 0 {
			// Closed, or stopped with nothing left.
			w.release(buf)
			c.writers.Done()
			return
		}
		if i == inlinePasses || len(w.views) > 0 {
			go c.writeLoop(w, buf, 0, sent)
			return
		}
		n, err := w.raw.writeNow(c.raw, c.conn, buf)
		c.srv.stats.bytesSent.Add(uint64(n))
		if err != nil {
			c.writeFailed(err)
			w.release(buf)
			c.writers.Done()
			return
		}
		if n < len(buf) {
			go c.writeLoop(w, buf, n, sent)
			return
		}
		c.countSent(sent)
		if c.stopIfDone(len(buf)) {
			w.release(buf[:0])
			c.writers.Done()
			return
		}
		buf = buf[:0]
	}
}

// stopIfDone stops the writer after a pass of passLen bytes (written, or
// empty) if that pass took all there was and nothing came since: the
// pass was not cut short at passBytes (the only bound on what a pass
// takes), and no kick marked the connection dirty since the pass began
// (every producer of output kicks: a queued packet or delivery, an
// acknowledgement that frees the window for queued messages). After a
// written pass, a second pass would then find nothing, at the cost of the
// session's lock and a transaction; at an everyday rate it was a third of
// the writer's work.
func (c *client) stopIfDone(passLen int) bool {
	if passLen >= passBytes {
		return false
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.dirty && !c.closed {
		return false
	}
	c.stopWriterLocked()
	return true
}

// writeLoop is the writer goroutine: it writes buf[off:] (holding sent
// publishes; left by writeNow with its scratch w, or nil), then drains the
// control queue, the QoS 0 queue and the session's QoS 1/2 deliveries into
// one buffer, writes it, and repeats until there is nothing left; then it
// returns its scratch to the pool and stops.
func (c *client) writeLoop(w *writeState, buf []byte, off, sent int) {
	defer c.writers.Done()
	if w == nil {
		w = takeWriteState()
		buf = w.buf[:0]
	}
	defer func() { w.release(buf) }()
	for {
		if len(buf) > off {
			if !c.write(buf[off:]) {
				return
			}
			c.countSent(sent)
			if c.stopIfDone(len(buf)) {
				return
			}
		}
		buf, off = buf[:0], 0
		var ok bool
		if buf, sent, ok = c.pass(w, buf); !ok || len(buf) == 0 {
			return
		}
	}
}

// pass encodes onto buf everything the writer has to send: the control
// queue, the QoS 0 queue and the session's QoS 1/2 deliveries, and returns
// buf and the number of publishes in it; w is the writer's scratch, c.w
// while it runs. When there is nothing to send it stops the writer (unless
// something was queued meanwhile: then it looks again) and returns an
// empty buf. ok is false when the connection closed (the writer is stopped
// too).
func (c *client) pass(w *writeState, buf []byte) (_ []byte, sent int, ok bool) {
	for {
		c.outMu.Lock()
		c.w = w
		if c.closed {
			c.stopWriterLocked()
			c.outMu.Unlock()
			return buf, 0, false
		}
		ctrl := c.ctrl
		c.ctrl = w.ctrlSpare[:0]
		q0 := c.q0
		c.q0 = w.q0Spare[:0]
		c.q0bytes = 0
		resend := c.resend
		c.resend = nil
		c.dirty = false
		leaving := c.leaving
		if leaving { // QoS 0 is dropped; in-flight messages wait in the session
			clear(q0)
			q0, resend = q0[:0], nil
		}
		if c.q0space != nil {
			close(c.q0space)
			c.q0space = nil
		}
		c.outMu.Unlock()

		c.dropViews() // left by a pass that was not written
		buf = append(buf, ctrl...)
		sent = 0
		var clk passClock
		for _, d := range resend {
			if d.Stage != qos.Released && !c.srv.loadBody(&d.Msg) {
				c.discardInflight(d) // unreadable: counted and logged
				if c.bridge != nil {
					c.bridge.dropped.Add(1)
				}
				continue
			}
			if d.Stage != qos.Released && !c.mayRead(d.Msg) {
				c.withholdInflight(d)
				continue
			}
			var ok bool
			if buf, ok = c.appendDelivery(buf, d, &clk); ok {
				sent++
			} else {
				c.discardInflight(d)
			}
		}
		for _, om := range q0 {
			if om.msg().expiredBy(&clk) || !c.mayRead(om) {
				continue
			}
			var ok bool
			if buf, ok = c.appendPublish(buf, om, 0, 0, false, &clk); ok {
				sent++
			}
		}
		clear(q0)
		w.ctrlSpare, w.q0Spare = ctrl[:0], q0[:0]

		if !leaving {
			buf, sent = c.appendSessionDeliveries(buf, sent, &clk)
		}
		if len(buf) > 0 {
			return buf, sent, true
		}
		if !c.stopIfDone(0) {
			continue
		}
		return buf, 0, true
	}
}

// countSent counts sent publishes just written.
func (c *client) countSent(sent int) {
	c.srv.stats.publishSent.Add(uint64(sent))
	c.srv.stats.messagesSent.Add(uint64(sent))
	if b := c.bridge; b != nil && sent > 0 {
		b.sent.Add(uint64(sent))
		b.lastActive.Store(time.Now().UnixNano())
	}
}

// appendSessionDeliveries moves as many queued QoS 1/2 messages into flight
// as the window allows and encodes them onto buf.
func (c *client) appendSessionDeliveries(buf []byte, sent int, clk *passClock) ([]byte, int) {
	ss := c.sess
	if ss == nil {
		return buf, sent
	}
	var t *txn
	if ss.persistent {
		t = c.srv.beginTxn()
	}
	var expired []outMsg
	ss.mu.Lock()
	if ss.conn == c {
		for {
			if ss.out.Inflight() >= ss.out.MaxInflight() || len(buf) >= passBytes {
				break
			}
			om, _, ok := ss.out.PeekQueued()
			if !ok {
				break
			}
			// A cold delivery's body is read back from the store; one
			// that cannot be read is dropped (loadBody says so loudly).
			body := om.msg()
			if body == nil {
				if !c.srv.loadBody(&om) {
					ss.popQueuedLocked()
					t.delRoute(ss, om.stored())
					if c.bridge != nil {
						c.bridge.dropped.Add(1)
					}
					continue
				}
				body = om.msg()
			}
			// Expired messages leave the queue unsent [MQTT-3.3.2-5]; once
			// in flight a message is always completed [MQTT-4.3.3-7].
			if body.expiredBy(clk) {
				ss.popQueuedLocked()
				expired = append(expired, om)
				t.delRoute(ss, om.stored())
				continue
			} else if !c.mayRead(om) {
				// Queued for whoever owned the session before (or before
				// a reload took the right away): not for this client.
				ss.popQueuedLocked()
				t.delRoute(ss, om.stored())
				continue
			}
			d, ok := ss.nextLocked()
			if !ok {
				break
			}
			// The copy d has the body for the encoding (see chill below).
			d.Msg.setMsg(body)
			if d.QoS == 0 { // queued while offline (queue_qos0_messages): sent, done
				if buf, ok = c.appendDelivery(buf, d, clk); ok {
					sent++
				}
				continue
			}
			if buf, ok = c.appendDelivery(buf, d, clk); !ok {
				// Larger than the client's Maximum Packet Size: discarded
				// as if sent and acknowledged [MQTT-3.1.2-25].
				completeLocked(ss, d)
				t.delRoute(ss, d.Msg.stored())
				if c.bridge != nil {
					c.bridge.dropped.Add(1)
				}
				continue
			}
			// In flight a persistent session's delivery keeps no body
			// either, however large the window: the message stays in RAM
			// only while something still has to send it, and a resend
			// (after a reconnect) reads it back, through the cache.
			if ss.persistent {
				ss.out.UpdateInflight(d.ID, (*outMsg).chill)
			}
			// The packet id a QoS 2 message travels under is durable
			// before the PUBLISH leaves, so after a crash it is resent
			// under the same id, which the receiver holds until PUBREL,
			// and never delivered twice. QoS 1 is at least once: after a
			// crash its route is still "queued", and it is sent again
			// (under a new id), which is all its receiver could do with
			// the old one; so no record and no commit wait per PUBLISH.
			if d.QoS == 2 {
				t.putRoute(ss, d.Msg.stored(), d.QoS, d.ID, flashstore.RouteSent, c.srv.routeSeq.Add(1))
				if t != nil {
					c.w.sentIDs = append(c.w.sentIDs, d.ID)
				}
			}
			sent++
		}
		ss.wakeWaitersLocked(&c.srv.opts)
	}
	ss.mu.Unlock()
	ids := c.w.sentIDs
	c.w.sentIDs = c.w.sentIDs[:0]
	if len(expired) > 0 {
		c.srv.log.Debug("expired messages not delivered", "client", ss.id, "count", len(expired))
	}
	if err := c.srv.commitTxn(t); err != nil {
		// Nothing of this pass may leave, and no id of it is durable: the
		// messages go back to the head of the queue, as the log still has
		// them, so they are sent under ids that are made durable first
		// when the client is back. Then the connection closes.
		ss.mu.Lock()
		for i := len(ids) - 1; i >= 0; i-- {
			ss.unsendLocked(ids[i])
		}
		ss.mu.Unlock()
		c.closeConn()
		return buf[:0], 0
	}
	return buf, sent
}

// appendDelivery encodes one QoS 1/2 delivery: a PUBLISH, or a PUBREL for a
// message whose PUBREC already arrived.
func (c *client) appendDelivery(buf []byte, d qos.Delivery[outMsg], clk *passClock) ([]byte, bool) {
	if d.Stage == qos.Released {
		p := packet.Packet{Type: packet.PUBREL, PacketID: d.ID}
		return p.Append(buf, c.version), true
	}
	return c.appendPublish(buf, d.Msg, d.QoS, d.ID, d.Dup, clk)
}

// mayRead checks, when a message is about to be sent, that the client
// connected now may read its topic: a message queued or in flight for a
// session is delivered under the rights of whoever is attached to it when
// it leaves (after a restart, a takeover by another user, or a reload that
// took the right away), not of whoever was when it was routed. A refused
// delivery is counted in $SYS/broker/messages/denied.
func (c *client) mayRead(om outMsg) bool {
	topic := om.msg().Topic
	if c.sess.allowed(topic, auth.Read) {
		return true
	}
	c.srv.stats.deliveriesDenied.Add(1)
	c.srv.log.Debug("delivery refused by the ACL when sent", "client", c.id, "topic", topic)
	return false
}

// withholdInflight ends an in-flight delivery whose topic the client now
// connected may not read, without sending it again: a QoS 1 one as if
// acknowledged; a QoS 2 one as if PUBREC had come, so it is released with
// PUBREL (no payload) and the client's packet id is freed properly [MQTT-
// 4.3.3], instead of being reused for another message while the client
// may still hold it.
func (c *client) withholdInflight(d qos.Delivery[outMsg]) {
	if d.QoS == 1 {
		c.handlePuback(d.ID)
		return
	}
	_ = c.handlePubrec(d.ID, packet.Success)
}

// completeLocked ends a delivery that will never be sent, as if the client
// had acknowledged it. The caller holds ss.mu.
func completeLocked(ss *session, d qos.Delivery[outMsg]) {
	if d.QoS == 1 {
		ss.out.Puback(d.ID)
		return
	}
	ss.out.Pubrec(d.ID)
	ss.out.Pubcomp(d.ID)
}

// discardInflight ends an in-flight delivery that cannot be sent again.
func (c *client) discardInflight(d qos.Delivery[outMsg]) {
	ss := c.sess
	ss.mu.Lock()
	completeLocked(ss, d)
	queued := ss.out.Queued() > 0
	ss.mu.Unlock()
	c.finished(d.Msg, queued)
}

// appendPublish encodes a PUBLISH of the shared message: header (with the
// 5.0 properties for this client), then the payload (large ones are
// written from the message, see outbuf.go). It reports false, and leaves buf as it was, when the
// packet must not be sent: a QoS 0 message that expired meanwhile (a QoS 1/2
// one already in flight is sent with a minimal expiry), or a packet over
// the client's Maximum Packet Size [MQTT-3.1.2-24].
func (c *client) appendPublish(buf []byte, om outMsg, q byte, id uint16, dup bool, clk *passClock) ([]byte, bool) {
	m := om.msg()
	var tb []byte
	if c.bridge != nil {
		tb = topicBytes(c.bridge.remoteTopic(m.Topic))
	} else {
		tb = topicBytes(strings.TrimPrefix(m.Topic, c.lo.MountPoint))
	}
	if c.version != packet.V5 {
		before := len(buf)
		buf = packet.AppendPublishHeader(buf, c.version, dup, q, om.retain, tb, id, nil, len(m.Payload))
		if c.maxOut > 0 && len(buf)-before+len(m.Payload) > c.maxOut { // a bridge's bridge_max_packet_size
			return buf[:before], false
		}
		return c.appendShared(buf, m.Payload), true
	}
	var ids []uint32
	if more := om.more(); more != nil {
		ids = more.subIDs
	}
	w := c.w
	if ids == nil && om.subID != 0 {
		w.subIDs[0] = om.subID
		ids = w.subIDs[:]
	}
	alias, known := c.topicAlias(m.Topic)
	var now time.Time
	if !m.ExpiresAt.IsZero() {
		now = clk.now()
	}
	w.propsSet = true
	if !outProps(&w.props, m, ids, alias, now) {
		if q == 0 {
			c.forgetAlias(m.Topic, alias, known)
			return buf, false
		}
		outProps(&w.props, &Message{props: m.props}, ids, alias, now)
		w.props.MessageExpiry, w.props.HasMessageExpiry = 1, true
	}
	if known {
		tb = nil // the alias stands for the topic
	}
	before := len(buf)
	buf, user := packet.AppendPublishHeaderSplit(buf, c.version, dup, q, om.retain, tb, id, &w.props, len(m.Payload))
	if c.maxOut > 0 && len(buf)-before+len(user)+len(m.Payload) > c.maxOut {
		c.forgetAlias(m.Topic, alias, known)
		return buf[:before], false
	}
	return c.appendShared(c.appendShared(buf, user), m.Payload), true
}

// forgetAlias undoes an alias set up for a packet that was not sent after
// all, so the client is never sent an alias it does not know.
func (c *client) forgetAlias(topic string, alias uint16, known bool) {
	if alias != 0 && !known && c.aliasesOut[topic] == alias && int(alias) == len(c.aliasesOut) {
		delete(c.aliasesOut, topic)
	}
}

// topicAlias returns the alias of topic towards this 5.0 client, setting one
// up while the client's Topic Alias Maximum allows; known reports that the
// client already has it (so the topic can be left out).
func (c *client) topicAlias(topic string) (alias uint16, known bool) {
	if c.aliasOutMax == 0 {
		return 0, false
	}
	if a, ok := c.aliasesOut[topic]; ok {
		return a, true
	}
	if len(c.aliasesOut) >= int(c.aliasOutMax) {
		return 0, false
	}
	if c.aliasesOut == nil {
		c.aliasesOut = make(map[string]uint16)
	}
	a := uint16(len(c.aliasesOut) + 1)
	c.aliasesOut[topic] = a
	return a, false
}

// write sends buf with a deadline; false means the connection is broken:
// it is then closed so the reader ends too, and the writer is stopped.
//
// A plain socket is first written without waiting, as writeNow does (no
// deadline to set, and a raw call: see rawsock_linux.go); only what it does not
// take at once goes through conn with the deadline.
func (c *client) write(buf []byte) bool {
	if c.raw != nil && len(c.w.views) == 0 {
		n, err := c.w.raw.writeNow(c.raw, c.conn, buf)
		c.srv.stats.bytesSent.Add(uint64(n))
		if err != nil {
			c.writeFailed(err)
			return false
		}
		if buf = buf[n:]; len(buf) == 0 {
			return true
		}
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
	n, err := c.writeOut(buf)
	c.srv.stats.bytesSent.Add(uint64(n))
	if err != nil {
		c.writeFailed(err)
		return false
	}
	return true
}

// writeFailed closes a connection whose write failed (so the reader ends
// too, woken if it is parked) and stops the writer.
func (c *client) writeFailed(err error) {
	c.srv.log.Debug("write failed; closing connection", "client", c.id, "err", err)
	c.closeConn()
	c.outMu.Lock()
	c.stopWriterLocked()
	c.outMu.Unlock()
}

// stopWriterLocked ends the running writer's turn; its scratch goes back
// to the pool (the deferred release in writeLoop). The caller holds outMu.
func (c *client) stopWriterLocked() {
	c.writing = false
	c.w = nil
}

// trimQueues drops the output queues' buffers if a burst grew them and no
// writer runs, so that an idle connection returns to its small footprint
// (the reader calls it when the connection parks).
func (c *client) trimQueues() {
	c.outMu.Lock()
	if !c.writing {
		if len(c.ctrl) == 0 && cap(c.ctrl) > 1024 {
			c.ctrl = nil
		}
		if len(c.q0) == 0 && cap(c.q0) > 64 {
			c.q0 = nil
		}
	}
	c.outMu.Unlock()
}

// flushSoon waits up to a second for the writer to drain what is queued.
func (c *client) flushSoon() {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		c.outMu.Lock()
		idle := !c.writing && len(c.ctrl) == 0
		c.outMu.Unlock()
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
