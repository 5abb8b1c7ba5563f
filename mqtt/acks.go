package mqtt

import (
	"gatemq/mqtt/packet"
	"gatemq/qos"
)

// finished forgets a completed (or refused) delivery to c's session: its
// durable route goes (without waiting: a removal promises the peer nothing,
// and one lost in a crash only means a QoS 1 resend or a harmless PUBREL),
// and, when messages wait in the session's queue (queued, read under ss.mu
// with the acknowledgement), the writer sends more now that the window has
// room. With none waiting there is nothing to write: a message queued
// after the acknowledgement kicks the writer itself.
func (c *client) finished(om outMsg, queued bool) {
	ss := c.sess
	if c.bridge != nil {
		c.bridge.acked.Add(1)
	}
	if ss.persistent && c.srv.opts.Store != nil {
		c.pipeline(pipeRec{kind: recDelRoute, ss: ss, sm: om.stored()}, action{})
	}
	if queued {
		c.kick()
	}
}

// handlePuback completes a QoS 1 delivery.
func (c *client) handlePuback(id uint16) {
	ss := c.sess
	ss.mu.Lock()
	om, ok := ss.out.Puback(id)
	queued := ss.out.Queued() > 0
	ss.mu.Unlock()
	if ok {
		c.finished(om, queued)
	}
}

// handlePubrec moves a QoS 2 delivery to its second half and answers PUBREL
// [MQTT-4.3.3-3], after the new stage is durable (so the PUBLISH is never
// sent again, even after a crash [MQTT-4.3.3-6]). A PUBREC for an unknown id
// is answered with PUBREL all the same (5.0: reason "packet identifier not
// found"). A 5.0 PUBREC with a failure code ends the delivery.
func (c *client) handlePubrec(id uint16, code packet.ReasonCode) error {
	ss := c.sess
	ss.mu.Lock()
	if code >= 0x80 {
		om, ok := ss.out.PubrecFailed(id)
		queued := ss.out.Queued() > 0
		ss.mu.Unlock()
		if ok {
			c.finished(om, queued)
		}
		return nil
	}
	om, q, stage, ok := ss.out.Lookup(id)
	ok = ok && q == 2
	durable := ok && stage == qos.Sent && ss.persistent && c.srv.opts.Store != nil
	if ok && !durable {
		ss.out.Pubrec(id) // nothing to record: the state changes at once
	}
	ss.mu.Unlock()
	var rec pipeRec
	a := action{ack: packet.PUBREL, id: id, code: packet.Success}
	switch {
	case !ok:
		a.code = packet.PacketIDNotFound
	case durable:
		// The delivery moves to its second half once stage "released" is
		// durable; if that fails it stays where the log has it.
		rec = pipeRec{kind: recReleased, ss: ss, sm: om.stored(), id: id}
		a.then = markReleased
	}
	c.pipeline(rec, a)
	return c.pipeErr()
}

// handlePubrel ends an inbound QoS 2 exchange: the id may be used for a new
// message again [MQTT-4.3.3-12]. PUBCOMP is sent even for an unknown id, and
// only once the id's removal is durable.
func (c *client) handlePubrel(id uint16) error {
	ss := c.sess
	durable := ss.persistent && c.srv.opts.Store != nil
	ss.mu.Lock()
	known := ss.in.Pending(id)
	if known && !durable {
		ss.in.Release(id) // nothing to record: forgotten at once
	}
	ss.mu.Unlock()
	c.inUnacked.Add(1) // until its PUBCOMP is queued (sendAck)
	var rec pipeRec
	a := action{ack: packet.PUBCOMP, id: id, code: packet.Success}
	switch {
	case !known:
		a.code = packet.PacketIDNotFound
	case durable:
		// The id is forgotten once its removal is durable; if that fails
		// the publisher's next PUBREL finds it still pending.
		rec = pipeRec{kind: recDelInbound, ss: ss, id: id}
		a.then = releaseInbound
	}
	c.pipeline(rec, a)
	return c.pipeErr()
}

// handlePubcomp completes a QoS 2 delivery.
func (c *client) handlePubcomp(id uint16) {
	ss := c.sess
	ss.mu.Lock()
	om, ok := ss.out.Pubcomp(id)
	queued := ss.out.Queued() > 0
	ss.mu.Unlock()
	if ok {
		c.finished(om, queued)
	}
}
