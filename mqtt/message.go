package mqtt

import (
	"sync/atomic"
	"time"
	"unsafe"

	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
)

// Message is one application message as the broker holds it: immutable once
// built, shared by every subscriber it is delivered to.
type Message struct {
	// Topic is the topic name the message was published to.
	Topic string
	// Payload is the application payload; never modified after creation.
	Payload []byte
	// QoS is the QoS the publisher used (0, 1 or 2).
	QoS byte
	// Retain is the RETAIN flag the publisher set.
	Retain bool
	// Publisher is the client id of the publisher ("" for the broker itself).
	Publisher string
	// ID is the broker-wide sequence number of the message (used as its store key).
	ID uint64
	// Created is when the broker received the message.
	Created time.Time
	// ExpiresAt is when the 5.0 Message Expiry Interval runs out; zero for
	// never. An expired message is not delivered.
	ExpiresAt time.Time
	// props is the 5.0 metadata forwarded with the message (nil: none).
	props *msgProps
	// source is the publisher's identity, for check_retain_source (nil:
	// the broker's own message, or one recovered from the store).
	source *auth.Credentials
	// sourceListener is the listener it came through, whose policy
	// judges source (per_listener_settings).
	sourceListener string
	// replaced is, between match and record, the retained message this one
	// replaced (its durable records must go).
	replaced *Message

	// dur is the message's durable identity once a record refers to it
	// (see stored.go); nil without a store.
	dur atomic.Pointer[storedMsg]
}

// newMessage copies topic and payload into one allocation shared by both, so
// the message owns its bytes and the read buffer can be reused.
func newMessage(topic, payload []byte, qos byte, retain bool, publisher string) *Message {
	buf := make([]byte, len(topic)+len(payload))
	n := copy(buf, topic)
	copy(buf[n:], payload)
	return &Message{
		// The buffer is owned by the message and never written again, so a
		// string over its first n bytes is safe and saves an allocation.
		// SliceData, not &buf[0]: buf is empty for a message with neither
		// topic nor payload, which a store record can hold.
		Topic:     unsafe.String(unsafe.SliceData(buf), n),
		Payload:   buf[n:len(buf):len(buf)],
		QoS:       qos,
		Retain:    retain,
		Publisher: publisher,
	}
}

// inboundMessage turns the PUBLISH just read (c.rs.pk) into a Message. The
// body of a large packet is handed over by the Reader and becomes the
// message's memory, topic, payload and 5.0 properties staying views of it:
// the message costs its packet once, however large. A small one is copied
// out of the Reader's reused buffer. A 5.0 Message Expiry Interval starts
// now: only then is the clock read.
func (c *client) inboundMessage() *Message {
	p := &c.rs.pk
	if !c.rs.r.Keep() {
		m := newMessage(p.Topic, p.Payload, p.QoS, p.Retain, c.id)
		if c.version == packet.V5 {
			setMessageProps(m, &p.Props, time.Now())
		}
		return m
	}
	m := &Message{
		// The body is never written again (Reader.Keep), and an aliased
		// topic is a string already.
		Topic:     unsafe.String(unsafe.SliceData(p.Topic), len(p.Topic)),
		Payload:   p.Payload,
		QoS:       p.QoS,
		Retain:    p.Retain,
		Publisher: c.id,
	}
	if c.version == packet.V5 {
		keepMessageProps(m, &p.Props, time.Now())
	}
	return m
}

// topicBytes views a topic string as bytes without copying. The result must
// never be written to.
func topicBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// outMsg is one delivery of a shared Message to one session: the message plus
// what this subscription changes about how it is sent. It is 16 bytes (12 on
// 32-bit boards): a session's queue of them is the broker's RAM per queued
// message.
type outMsg struct {
	// ref is the message, a *Message; or, while the delivery is cold
	// (queued for a persistent session with its body on flash only, read
	// back by Server.loadBody when it is sent, see stored.go), only the
	// message's durable identity, a *storedMsg: one pointer serves both,
	// since a body leads to its identity (Message.dur). For the few
	// deliveries that need an outMore, ref is the outMore, which holds
	// that pointer. Only the methods below touch it.
	ref unsafe.Pointer
	// subID is the 5.0 subscription identifier to send with it (0: none).
	subID uint32
	// retain is the RETAIN flag to send: true for retained messages sent on
	// subscribe, false for normal fan-out (5.0: as published when the
	// subscription asked for Retain As Published).
	retain bool
	// flags say what ref points to.
	flags uint8
}

// The flags of an outMsg.
const (
	outCold    = 1 << iota // the body is a *storedMsg, not a *Message
	outHasMore             // ref is an *outMore
	// outVolatile marks a QoS 0 delivery queued for an offline session
	// (queue_qos0_messages): it has no route on flash, so it keeps its
	// body and takes no reference on the message's record (stored is
	// nil) even when other sessions' deliveries of it are stored.
	outVolatile
)

// outMore is the rarely set part of an outMsg. It is never changed once
// an outMsg points to it: copies of the outMsg share it.
type outMore struct {
	// body is what the outMsg's ref is without an outMore.
	body unsafe.Pointer
	// subIDs holds all the 5.0 subscription identifiers of overlapping
	// subscriptions.
	subIDs []uint32
	// group is the shared subscription (shareKey) it came through.
	group string
}

// hotOut returns a delivery of m.
func hotOut(m *Message) outMsg { return outMsg{ref: unsafe.Pointer(m)} }

// coldOut returns a cold delivery of the stored message sm.
func coldOut(sm *storedMsg) outMsg { return outMsg{ref: unsafe.Pointer(sm), flags: outCold} }

// body is the *Message or, when cold, the *storedMsg.
func (om outMsg) body() unsafe.Pointer {
	if om.flags&outHasMore != 0 {
		return (*outMore)(om.ref).body
	}
	return om.ref
}

// msg returns the delivery's message; nil while it is cold.
func (om outMsg) msg() *Message {
	if om.flags&outCold != 0 {
		return nil
	}
	return (*Message)(om.body())
}

// setMsg gives the delivery its body m, whose durable identity (m.dur)
// is the one the delivery had, if any.
func (om *outMsg) setMsg(m *Message) { om.setBody(unsafe.Pointer(m), 0) }

// setBody points the delivery at body, a *Message (cold 0) or a
// *storedMsg (cold outCold). An outMore is shared by the copies of the
// delivery, so it is copied, not changed.
func (om *outMsg) setBody(body unsafe.Pointer, cold uint8) {
	om.flags = om.flags&^outCold | cold
	if om.flags&outHasMore == 0 {
		om.ref = body
		return
	}
	more := *(*outMore)(om.ref)
	more.body = body
	om.ref = unsafe.Pointer(&more)
}

// more returns the delivery's outMore (nil: none).
func (om outMsg) more() *outMore {
	if om.flags&outHasMore == 0 {
		return nil
	}
	return (*outMore)(om.ref)
}

// setMore gives the delivery more, new and its own.
func (om *outMsg) setMore(more *outMore) {
	more.body = om.body()
	om.ref = unsafe.Pointer(more)
	om.flags |= outHasMore
}

// group is the shared subscription the delivery came through ("": none).
func (om outMsg) group() string {
	if more := om.more(); more != nil {
		return more.group
	}
	return ""
}
