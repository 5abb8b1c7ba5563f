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

// inboundMessage turns the PUBLISH just read (c.pk) into a Message. The
// body of a large packet is handed over by the Reader and becomes the
// message's memory, topic, payload and 5.0 properties staying views of it:
// the message costs its packet once, however large. A small one is copied
// out of the Reader's reused buffer. now starts a 5.0 Message Expiry
// Interval.
func (c *client) inboundMessage(now time.Time) *Message {
	p := &c.pk
	if !c.r.Keep() {
		m := newMessage(p.Topic, p.Payload, p.QoS, p.Retain, c.id)
		if c.version == packet.V5 {
			setMessageProps(m, &p.Props, now)
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
		keepMessageProps(m, &p.Props, now)
	}
	return m
}

// topicBytes views a topic string as bytes without copying. The result must
// never be written to.
func topicBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// outMsg is one delivery of a shared Message to one session: the message plus
// what this subscription changes about how it is sent. It is 32 bytes: a
// session's queue of them is the broker's RAM per queued message.
type outMsg struct {
	// m is the message; nil while the delivery is cold: queued for a
	// persistent session with its body on flash only, read back by
	// Server.loadBody when it is sent (see stored.go).
	m *Message
	// sm is the message's durable identity, for deliveries to persistent
	// sessions (nil otherwise, and until the writer needs it).
	sm *storedMsg
	// subID is the 5.0 subscription identifier to send with it (0: none).
	subID uint32
	// retain is the RETAIN flag to send: true for retained messages sent on
	// subscribe, false for normal fan-out (5.0: as published when the
	// subscription asked for Retain As Published).
	retain bool
	// volatile marks a QoS 0 delivery queued for an offline session
	// (queue_qos0_messages): it has no route on flash, so it keeps its
	// body and takes no reference on the message's record (stored is nil)
	// even when other sessions' deliveries of the message are stored.
	volatile bool
	// more holds what few deliveries need (nil: nothing).
	more *outMore
}

// outMore is the rarely set part of an outMsg.
type outMore struct {
	// subIDs holds all the 5.0 subscription identifiers of overlapping
	// subscriptions.
	subIDs []uint32
	// group is the shared subscription (shareKey) it came through.
	group string
}

// group is the shared subscription the delivery came through ("": none).
func (om *outMsg) group() string {
	if om.more == nil {
		return ""
	}
	return om.more.group
}
