package flashstore

import "strconv"

// Kind says which broker record type a key and value belong to. Keys live
// in one namespace per kind: (KindSession, "a") and (KindRoute, "a") are
// different entries. Kind 0 is not valid.
type Kind uint8

// Record kinds used by the broker. The numbers are stored on disk: never
// renumber them, only append new ones.
const (
	KindSession      Kind = 1 // value: Session; key: client ID
	KindSubscription Kind = 2 // value: Subscription; key: client ID, 0, filter
	KindMessage      Kind = 3 // value: Message; key: message ID
	KindRoute        Kind = 4 // value: Route (message queued or in flight for a session)
	KindInbound      Kind = 5 // value: Inbound (QoS 2 packet id awaiting PUBREL)
	KindRetained     Kind = 6 // value: Retained; key: topic
)

// String returns the kind's name, or its number for unknown kinds.
func (k Kind) String() string {
	switch k {
	case KindSession:
		return "session"
	case KindSubscription:
		return "subscription"
	case KindMessage:
		return "message"
	case KindRoute:
		return "route"
	case KindInbound:
		return "inbound"
	case KindRetained:
		return "retained"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Route stages (Route.Stage).
const (
	RouteQueued   uint8 = 0 // waiting in the session's queue
	RouteSent     uint8 = 1 // PUBLISH sent, awaiting PUBACK / PUBREC
	RouteReleased uint8 = 2 // QoS 2: PUBREL sent, awaiting PUBCOMP
)

// Entry.Op values and flags. The operation is in the low four bits; the
// flags are set by the writer and keep the byte a one-byte msgp fixint.
const (
	OpPut    uint8 = 1 // the entry sets Key to Value
	OpDelete uint8 = 2 // the entry removes Key

	// FlagBatchEnd marks the last entry of a committed batch. Recovery
	// keeps a batch only when its last entry is present: batches are atomic.
	FlagBatchEnd uint8 = 0x10
	// FlagBarrier marks the first entry of a write issued after every
	// earlier byte of its segment had been fdatasync'd. A damaged record
	// followed by a barrier entry was durable once: that is corruption,
	// not a torn write.
	FlagBarrier uint8 = 0x20

	opMask uint8 = 0x0f
)
