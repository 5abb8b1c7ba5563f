package qos

import "sort"

// Inbound is the receiver side (client -> broker) of one session for QoS 2,
// using Method B of MQTT 3.1.1 §4.3.3: it holds the packet ids whose PUBLISH
// was accepted and answered with PUBREC and whose PUBREL has not arrived.
// Its ids are the client's id space, separate from the ids of an [Outbound]
// of the same session. An Inbound is not safe for concurrent use. Its zero
// value is an empty Inbound that holds up to MaxID ids, like NewInbound(0).
type Inbound struct {
	// The ids awaiting PUBREL: the first few in small (nSmall of them),
	// the rest in ids. A client at an everyday rate has one or two
	// pending, which then cost no map insert, lookup and delete.
	small  [smallInbound]uint16
	nSmall int
	ids    map[uint16]struct{}
	max    int // 0 = MaxID
	peak   int // most ids the map has held since it was made
}

// smallInbound is how many pending ids an Inbound keeps without its map.
const smallInbound = 4

// NewInbound returns an empty Inbound that holds at most max ids awaiting
// PUBREL (0, a negative value or anything above MaxID means MaxID); in 5.0
// max is the Receive Maximum the server announced in CONNACK.
func NewInbound(max int) *Inbound {
	if max <= 0 || max > MaxID {
		max = 0
	}
	return &Inbound{max: max}
}

// Publish records a QoS 2 PUBLISH with packet id id.
//
//   - isNew true: the id was not awaiting PUBREL and is now recorded; the
//     caller delivers the message onward and answers PUBREC.
//   - isNew false, full false: a retransmission of an id still awaiting
//     PUBREL; the caller answers PUBREC again and MUST NOT deliver the message
//     onward [MQTT-4.3.3-10]. Any number of duplicates is accepted.
//   - full true (isNew false): the id is new but max ids already await
//     PUBREL; nothing is recorded (5.0: DISCONNECT with 0x93 Receive Maximum
//     exceeded, §3.3.4 and §4.13). Id 0, which no QoS 2 PUBLISH may carry
//     [MQTT-2.2.1-3], is also refused this way, so it is never acknowledged.
func (in *Inbound) Publish(id uint16) (isNew bool, full bool) {
	if id == 0 {
		return false, true
	}
	if in.Pending(id) {
		return false, false
	}
	if in.Len() >= in.Max() {
		return false, true
	}
	in.add(id)
	return true, false
}

// Release handles PUBREL id. known is false when the id was not awaiting
// PUBREL; the caller answers PUBCOMP either way (5.0: with reason 0x92
// Packet Identifier not found when known is false). Afterwards a PUBLISH with
// this id is a new message [MQTT-4.3.3-12].
func (in *Inbound) Release(id uint16) (known bool) {
	for i := range in.nSmall {
		if in.small[i] == id {
			in.nSmall--
			in.small[i] = in.small[in.nSmall]
			return true
		}
	}
	if _, ok := in.ids[id]; !ok {
		return false
	}
	delete(in.ids, id)
	if len(in.ids) == 0 && in.peak > indexKeepPeak {
		in.ids, in.peak = nil, 0 // free the memory of a past burst
	}
	return true
}

// Pending reports whether id awaits PUBREL.
func (in *Inbound) Pending(id uint16) bool {
	for _, p := range in.small[:in.nSmall] {
		if p == id {
			return true
		}
	}
	_, ok := in.ids[id]
	return ok
}

// Restore records id as awaiting PUBREL, as read back from durable storage.
// It ignores max (the PUBREC was already sent) and ignores id 0.
func (in *Inbound) Restore(id uint16) {
	if id == 0 {
		return
	}
	if !in.Pending(id) {
		in.add(id)
	}
}

// IDs returns the ids awaiting PUBREL in increasing order, for persistence
// and snapshots. The slice is new and owned by the caller; it is nil when
// none await PUBREL.
func (in *Inbound) IDs() []uint16 {
	if in.Len() == 0 {
		return nil
	}
	out := make([]uint16, 0, in.Len())
	out = append(out, in.small[:in.nSmall]...)
	for id := range in.ids {
		out = append(out, id)
	}
	sort.Sort(idSlice(out))
	return out
}

// idSlice sorts packet ids in increasing order. It is a sort.Interface
// rather than slices.Sort: the sort package's one interface-based sort is
// already in the binary, while slices.Sort[[]uint16] adds about 9 KB of
// code and metadata on linux/mipsle, for a list sorted at reconnects and
// snapshots.
type idSlice []uint16

func (s idSlice) Len() int           { return len(s) }
func (s idSlice) Less(i, j int) bool { return s[i] < s[j] }
func (s idSlice) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// Len returns the number of ids awaiting PUBREL.
func (in *Inbound) Len() int { return in.nSmall + len(in.ids) }

// Max returns the most ids that Publish lets await PUBREL (1..MaxID).
func (in *Inbound) Max() int {
	if in.max == 0 {
		return MaxID
	}
	return in.max
}

// add records a new id.
func (in *Inbound) add(id uint16) {
	if in.nSmall < smallInbound {
		in.small[in.nSmall] = id
		in.nSmall++
		return
	}
	if in.ids == nil {
		in.ids = make(map[uint16]struct{})
	}
	in.ids[id] = struct{}{}
	if len(in.ids) > in.peak {
		in.peak = len(in.ids)
	}
}
