package mqtt

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"unsafe"

	"gatemq/flashstore"
)

// storedMsg is the durable identity of a message that persistent sessions
// hold: the key of its record and the count of the records (routes, the
// retained entry) that refer to it. It is all that a queued delivery whose
// body is on flash keeps of its message (a "cold" outMsg), shared by
// every session that holds the message; the body comes back from the
// log (Server.loadBody) when the delivery is about to be sent. It is 16
// bytes, the smallest allocation that holds it.
type storedMsg struct {
	id uint64
	// size is the message's topic and payload bytes, which a session's
	// max_queued_bytes counts.
	size uint32
	// state counts the durable records that refer to the message (the
	// low 31 bits), and its top bit says whether the message's own
	// record is in the store.
	state atomic.Uint32
}

// onLogBit is the bit of storedMsg.state that says the record is written.
const onLogBit = 1 << 31

// addRef counts one more durable reference and returns the new count.
func (sm *storedMsg) addRef() uint32 { return sm.state.Add(1) &^ onLogBit }

// dropRef counts one durable reference less and returns the new count.
func (sm *storedMsg) dropRef() uint32 { return sm.state.Add(^uint32(0)) &^ onLogBit }

// refs returns the count of durable references.
func (sm *storedMsg) refs() uint32 { return sm.state.Load() &^ onLogBit }

// onLog reports whether the message's record is in the store.
func (sm *storedMsg) onLog() bool { return sm.state.Load()&onLogBit != 0 }

// swapOnLog sets whether the record is in the store and returns what was
// said before.
func (sm *storedMsg) swapOnLog(on bool) bool {
	for {
		old := sm.state.Load()
		nu := old &^ onLogBit
		if on {
			nu |= onLogBit
		}
		if sm.state.CompareAndSwap(old, nu) {
			return old&onLogBit != 0
		}
	}
}

// durable returns m's durable identity, making it on first use.
func (m *Message) durable() *storedMsg {
	if sm := m.dur.Load(); sm != nil {
		return sm
	}
	// An MQTT packet is under 256 MiB, so the size fits 32 bits.
	sm := &storedMsg{id: m.ID, size: uint32(len(m.Topic) + len(m.Payload))}
	if m.dur.CompareAndSwap(nil, sm) {
		return sm
	}
	return m.dur.Load()
}

// cold reports whether the delivery holds no body in RAM.
func (om outMsg) cold() bool { return om.flags&outCold != 0 }

// id is the delivery's message id.
func (om outMsg) id() uint64 {
	if m := om.msg(); m != nil {
		return m.ID
	}
	return om.stored().id
}

// size is the delivery's message size (topic and payload bytes).
func (om outMsg) size() int {
	if m := om.msg(); m != nil {
		return len(m.Topic) + len(m.Payload)
	}
	return int(om.stored().size)
}

// chill drops the body of a queued delivery of a stored message, so that
// only its storedMsg stays in RAM. A delivery whose message has no record
// (a $SYS message, a broker without a store) keeps its body.
func (om *outMsg) chill() {
	if om.cold() || om.flags&outVolatile != 0 {
		return
	}
	if sm := om.stored(); sm != nil && sm.onLog() {
		om.setBody(unsafe.Pointer(sm), outCold)
	}
}

// bodyCache keeps the bodies read back from the log most recently, so that
// the sessions that drain the same messages (a fan-out, a resend) read
// each from flash once. It holds at most max bytes of topics and payloads,
// evicting the oldest first. The zero value holds nothing.
type bodyCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	byID  map[uint64]*Message
	order []uint64 // ids in insertion order (a FIFO; head first)
	head  int
}

// get returns the cached body of message id.
func (c *bodyCache) get(id uint64) *Message {
	c.mu.Lock()
	m := c.byID[id]
	c.mu.Unlock()
	return m
}

// put caches m, evicting the oldest bodies beyond the cache's size. A
// body larger than the whole cache is not kept.
func (c *bodyCache) put(m *Message) {
	n := len(m.Topic) + len(m.Payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.max || c.byID[m.ID] != nil {
		return
	}
	if c.byID == nil {
		c.byID = make(map[uint64]*Message)
	}
	for c.bytes+n > c.max && c.head < len(c.order) {
		c.evictLocked()
	}
	c.byID[m.ID] = m
	c.order = append(c.order, m.ID)
	c.bytes += n
}

// evictLocked drops the oldest cached body. The caller holds mu.
func (c *bodyCache) evictLocked() {
	id := c.order[c.head]
	c.head++
	if old := c.byID[id]; old != nil {
		c.bytes -= len(old.Topic) + len(old.Payload)
		delete(c.byID, id)
	}
	if c.head > len(c.order)/2 && c.head > 64 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// forget drops message id from the cache (its record was deleted).
func (c *bodyCache) forget(id uint64) {
	c.mu.Lock()
	if old := c.byID[id]; old != nil {
		c.bytes -= len(old.Topic) + len(old.Payload)
		delete(c.byID, id)
	}
	c.mu.Unlock()
}

// len returns the number of cached bodies and their bytes.
func (c *bodyCache) len() (n, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), c.bytes
}

// loadBody gives a cold delivery its body back: from the cache, or read
// from the log and checked. It reports false when the record cannot be
// read (missing, or failing its check): the error is logged loudly and
// counted, and the caller drops that one delivery.
func (s *Server) loadBody(om *outMsg) bool {
	if !om.cold() {
		return true
	}
	sm := om.stored()
	if m := s.bodies.get(sm.id); m != nil {
		om.setMsg(m)
		return true
	}
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], sm.id)
	val, err := s.opts.Store.GetAppend(nil, flashstore.KindMessage, key[:])
	var m *Message
	if err == nil {
		m, err = decodeMessage(val)
	}
	if err != nil {
		n := s.stats.bodiesUnreadable.Add(1)
		s.log.Error("queued message unreadable on flash: dropped", "msg_id", sm.id, "err", err, "unreadable_total", n)
		return false
	}
	m.dur.Store(sm)
	s.bodies.put(m)
	om.setMsg(m)
	return true
}

// stored returns the delivery's durable identity (nil: its message has
// no record).
func (om outMsg) stored() *storedMsg {
	if om.flags&outVolatile != 0 {
		return nil
	}
	if om.cold() {
		return (*storedMsg)(om.body())
	}
	if m := om.msg(); m != nil {
		return m.dur.Load()
	}
	return nil
}
