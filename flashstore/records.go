package flashstore

//go:generate go tool msgp -io=false
//go:generate sh -c "sed 's|\"github.com/tinylib/msgp/msgp\"|\"gatemq/flashstore/internal/msgp\"|' records_gen.go >records_gen.go.tmp && mv records_gen.go.tmp records_gen.go"

// records_gen.go imports gatemq/flashstore/internal/msgp, the part of
// msgp's runtime package it uses, not github.com/tinylib/msgp/msgp, whose
// init links its MessagePack-to-JSON conversion and encoding/json (see
// that package). records_gen_test.go keeps upstream's, to check against.

// The types in this file are encoded with msgp as arrays (vartuple): field
// names take no room on flash, and a decoder accepts both fewer trailing
// fields (left as they were: decode into a zero value) and more (skipped).
// The rule that follows: ONLY APPEND FIELDS; never reorder, retype or remove
// one. A format change shows up in testdata/segment-v1.golden.

//msgp:vartuple SegmentHeader Manifest Entry Session Owner Will Subscription Message Route Inbound Retained
//msgp:limit arrays:1024 maps:256

// SegmentHeader is the body of the first record of every segment file.
// FirstSeq is the header's own sequence number and the file's name
// (%016x.seg); the segment's entries follow with FirstSeq+1, FirstSeq+2, ...
// Snapshot marks a segment written by compaction: it holds the whole live
// state as of FirstSeq, so every segment before it is obsolete.
type SegmentHeader struct {
	Magic    string
	Version  uint8
	FirstSeq uint64
	Snapshot bool
}

// Manifest is the body of the one record of the folder's MANIFEST file.
// It names the log's first segment and its newest one, so that Open can
// tell a segment removed from either end from a log that never had it.
// It is rewritten (MANIFEST.tmp, fdatasync, rename, folder fsync) after a
// new segment or snapshot is durable in the folder, so Last is a lower
// bound of the newest segment the folder holds.
//
// Version 1 (Gaps absent) describes a log that starts at its first
// segment (FirstSeq 1) or at a snapshot, and has no gaps: First is a
// lower bound too. Version 2 describes a log from which compaction has
// removed segments (see compact.go): First is the first segment (exactly:
// older files are leftovers of a compaction, to delete), and Gaps the
// sequence ranges [from, to) removed between First and Last, as pairs of
// uvarints, ascending. Segment files inside a gap are leftovers too.
type Manifest struct {
	Magic   string
	Version uint8
	First   uint64
	Last    uint64
	Gaps    []byte `msg:"gaps,limit=16777216"`
}

// Entry is the body of every record after the header: one Put or Delete of
// a key. Op holds the operation (OpPut, OpDelete) in its low four bits and
// the flags FlagBatchEnd and FlagBarrier above them. Value is the caller's
// msgp-encoded value (empty for a delete).
//
// The writer appends two fields to a Delete (not listed here, since the
// writer and the reader use hand-written code: appendDeleteFrame and
// parseEntry): Below and Span, the segments holding the Puts it hides.
type Entry struct {
	Seq   uint64
	Op    uint8
	Kind  uint8
	Key   []byte `msg:"key,limit=262144"`
	Value []byte `msg:"value,limit=67108864"`
}

// Session is the stored state of an MQTT session (Kind KindSession, key:
// the client ID). ExpiresAt is unix milliseconds, 0 for none. Owner is who
// the client last attached to it authenticated as, so that access control
// applies to the session after a restart; nil in records written before
// it was kept.
//
// Num is the session's number, which the keys of its routes and inbound
// ids carry instead of its client ID (see Route): unique among the
// sessions in the log, never 0. Records written before sessions were
// numbered have 0, and their routes and inbound ids are keyed by client ID.
type Session struct {
	ClientID        string
	Clean           bool
	ProtocolVersion uint8
	ExpirySeconds   uint32
	ExpiresAt       int64
	Will            *Will
	Owner           *Owner
	Num             uint32
}

// Owner is the identity a session's last client authenticated as: its
// username (or certificate name), or anonymous. No password is kept.
type Owner struct {
	Username  string
	Anonymous bool
	// Listener names the listener the client connected through, whose
	// policy judges the session (per_listener_settings true); "" for
	// the broker's own policy, and in records written before it existed.
	Listener string
}

// Will is the will message of a session, nil when it has none.
// Props holds the raw MQTT 5.0 will properties, opaque to the store.
type Will struct {
	Topic        string
	Payload      []byte `msg:"payload,limit=67108864"`
	QoS          uint8
	Retain       bool
	DelaySeconds uint32
	Props        []byte `msg:"props,limit=67108864"`
}

// Subscription is one subscription of a persistent session
// (Kind KindSubscription).
type Subscription struct {
	ClientID          string
	Filter            string
	QoS               uint8
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    uint8
	SubID             uint32
}

// Message is a stored application message (Kind KindMessage), shared by
// the routes and the retained entry that refer to its ID. ExpiresAt is unix
// milliseconds, 0 for none. Props holds the raw MQTT 5.0 properties, opaque
// to the store.
type Message struct {
	ID          uint64
	Topic       string
	Payload     []byte `msg:"payload,limit=67108864"`
	QoS         uint8
	Retain      bool
	ExpiresAt   int64
	Props       []byte `msg:"props,limit=67108864"`
	PublisherID string
}

// Route is a message queued for, or in flight to, one session
// (Kind KindRoute). Stage is RouteQueued, RouteSent or RouteReleased;
// Seq orders the session's queue.
//
// The broker keys a route by its session's number and the message ID
// (mqtt/store.go) and then leaves ClientID empty and MsgID 0, since the
// key says them: the record is written up to three times per delivery.
// Routes written before sessions were numbered are keyed by client ID
// and carry both fields.
type Route struct {
	ClientID string
	MsgID    uint64
	QoS      uint8
	PacketID uint16
	Stage    uint8
	Seq      uint64
	// Size is the message's topic and payload bytes, which the session's
	// max_queued_bytes counts, so that recovery need not read the message
	// (0 in routes written before it was recorded).
	Size uint32
}

// Inbound is a QoS 2 packet id received from a client and awaiting its
// PUBREL (Kind KindInbound). Like a Route, it is keyed by the session's
// number and the packet id, and then has neither field set; records keyed
// by client ID (written before sessions were numbered) have both.
type Inbound struct {
	ClientID string
	PacketID uint16
}

// Retained is the retained message of a topic (Kind KindRetained).
type Retained struct {
	Topic string
	MsgID uint64
}
