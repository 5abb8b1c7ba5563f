package qos

// A ring keeps a short queue in one circular buffer that doubles from
// ringMinCap up to blockLen entries, and a longer one in blocks of
// blockLen entries that are added at the tail and freed at the head as
// the queue moves: a long queue (an offline session's, hundreds of
// thousands of entries) is never copied to grow and holds at most two
// partly used blocks, while the thousands of sessions with a few
// queued messages each keep a buffer of a few entries. The QoS bytes
// live in arrays parallel to the messages', so that an entry costs the
// size of M plus one byte rather than M padded to its alignment.
//
// ringKeepCap is the largest buffer a short ring keeps once it runs
// empty (larger ones shrink as they drain, so that an idle session does
// not hold the memory of a past burst). A long ring turns short again
// once blockLen/4 entries are left.
const (
	ringMinCap  = 4
	ringKeepCap = 16
	blockBits   = 10
	blockLen    = 1 << blockBits
	blockMask   = blockLen - 1
)

// queued is one message waiting for room in the in-flight window.
type queued[M any] struct {
	msg M
	qos byte
}

// ring is a FIFO of queued messages. Its zero value is an empty ring
// holding no memory.
type ring[M any] struct {
	// A short ring: a circular buffer whose capacity is a power of two,
	// at most blockLen; bufQ holds the QoS bytes. Both are nil in a long
	// ring.
	buf  []M
	bufQ []byte
	// A long ring's blocks (nil: the ring is short).
	lr   *blocks[M]
	head int // index of the oldest entry, in buf or in the first block
	n    int // number of entries
}

// blocks are the entries of a long ring: msg[0] holds the oldest at
// ring.head, entry i is at position head+i counted across the blocks,
// and the last block holds the newest. There is never an empty block at
// either end. qos[i] holds the QoS bytes of msg[i].
type blocks[M any] struct {
	msg []*[blockLen]M
	qos []*[blockLen]byte
	// A block freed at the head, kept (zeroed) for the next one the
	// tail needs, so that a long queue moving at a steady length does not
	// allocate.
	spare  *[blockLen]M
	spareQ *[blockLen]byte
}

// len returns the number of queued messages.
func (r *ring[M]) len() int { return r.n }

// long reports whether the ring holds its entries in blocks.
func (r *ring[M]) long() bool { return r.lr != nil }

// makeRoom grows a full short ring: doubling up to blockLen, then as
// blocks (after which r.long() holds).
func (r *ring[M]) makeRoom() {
	if r.n < len(r.buf) {
		return
	}
	if len(r.buf) < blockLen {
		r.resize(max(2*len(r.buf), ringMinCap))
	} else {
		r.toBlocks()
	}
}

// push appends q at the tail.
func (r *ring[M]) push(q queued[M]) {
	if !r.long() {
		r.makeRoom()
		if !r.long() {
			i := (r.head + r.n) & (len(r.buf) - 1)
			r.buf[i], r.bufQ[i] = q.msg, q.qos
			r.n++
			return
		}
	}
	lr, p := r.lr, r.head+r.n
	b := p >> blockBits
	if b == len(lr.msg) {
		m, mq := lr.newBlock()
		lr.msg, lr.qos = append(lr.msg, m), append(lr.qos, mq)
	}
	lr.msg[b][p&blockMask], lr.qos[b][p&blockMask] = q.msg, q.qos
	r.n++
}

// pushFront puts q before the oldest message.
func (r *ring[M]) pushFront(q queued[M]) {
	if !r.long() {
		r.makeRoom()
		if !r.long() {
			r.head = (r.head - 1) & (len(r.buf) - 1)
			r.buf[r.head], r.bufQ[r.head] = q.msg, q.qos
			r.n++
			return
		}
	}
	lr := r.lr
	if r.head == 0 {
		// Rare (Unsend right after the head block was freed): the
		// spine is copied to make room at its front.
		m, mq := lr.newBlock()
		lr.msg = append([]*[blockLen]M{m}, lr.msg...)
		lr.qos = append([]*[blockLen]byte{mq}, lr.qos...)
		r.head = blockLen
	}
	r.head--
	lr.msg[0][r.head], lr.qos[0][r.head] = q.msg, q.qos
	r.n++
}

// peek returns the oldest message without removing it.
func (r *ring[M]) peek() (queued[M], bool) {
	if r.n == 0 {
		return queued[M]{}, false
	}
	return r.at(0), true
}

// pop removes and returns the oldest message. The vacated slot is zeroed so
// the ring does not keep the message reachable.
func (r *ring[M]) pop() (queued[M], bool) {
	if r.n == 0 {
		return queued[M]{}, false
	}
	var zero M
	var q queued[M]
	if !r.long() {
		q = queued[M]{msg: r.buf[r.head], qos: r.bufQ[r.head]}
		r.buf[r.head], r.bufQ[r.head] = zero, 0
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.n--
		switch {
		case r.n == 0:
			r.head = 0
		case len(r.buf) > ringKeepCap && r.n*4 <= len(r.buf):
			// Halve a large buffer once it is a quarter full, so a
			// drained burst leaves at most ringKeepCap slots behind.
			r.resize(len(r.buf) / 2)
		}
		return q, true
	}
	lr := r.lr
	b, bq := lr.msg[0], lr.qos[0]
	q = queued[M]{msg: b[r.head], qos: bq[r.head]}
	b[r.head], bq[r.head] = zero, 0
	r.head++
	r.n--
	if r.head == blockLen {
		// The head block is empty (and all zero): keep it as the spare
		// or let it go.
		if lr.spare == nil {
			lr.spare, lr.spareQ = b, bq
		}
		lr.msg[0], lr.qos[0] = nil, nil
		lr.msg, lr.qos = lr.msg[1:], lr.qos[1:]
		r.head = 0
	}
	if r.n <= blockLen/4 {
		r.toShort()
	}
	return q, true
}

// newBlock returns the spare block, or new zeroed ones.
func (lr *blocks[M]) newBlock() (*[blockLen]M, *[blockLen]byte) {
	if m, mq := lr.spare, lr.spareQ; m != nil {
		lr.spare, lr.spareQ = nil, nil
		return m, mq
	}
	return new([blockLen]M), new([blockLen]byte)
}

// toBlocks turns a full short ring of blockLen entries into a long one
// whose first block is the buffer itself, rotated in place so that the
// oldest entry comes first.
func (r *ring[M]) toBlocks() {
	rotate(r.buf, r.head)
	rotate(r.bufQ, r.head)
	r.lr = &blocks[M]{msg: []*[blockLen]M{(*[blockLen]M)(r.buf)}, qos: []*[blockLen]byte{(*[blockLen]byte)(r.bufQ)}}
	r.buf, r.bufQ, r.head = nil, nil, 0
}

// toShort moves the entries of a long ring into a short buffer of twice
// their number and frees the blocks.
func (r *ring[M]) toShort() {
	c := ringMinCap
	for c < 2*r.n {
		c *= 2
	}
	buf, bufQ := make([]M, c), make([]byte, c)
	r.copyTo(buf, bufQ)
	*r = ring[M]{buf: buf, bufQ: bufQ, n: r.n}
}

// rotate moves s[k:] before s[:k], in place.
func rotate[T any](s []T, k int) {
	if k == 0 {
		return
	}
	reverse(s[:k])
	reverse(s[k:])
	reverse(s)
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// resize moves the entries of a short ring, oldest first, into a new
// buffer of capacity c, a power of two with r.n <= c <= blockLen.
func (r *ring[M]) resize(c int) {
	buf, bufQ := make([]M, c), make([]byte, c)
	r.copyTo(buf, bufQ)
	r.buf, r.bufQ, r.head = buf, bufQ, 0
}

// copyTo copies the entries, oldest first, to dst and their QoS bytes to
// dstQ (both at least r.n long).
func (r *ring[M]) copyTo(dst []M, dstQ []byte) {
	if !r.long() {
		if r.n == 0 {
			return
		}
		end := r.head + r.n
		if end <= len(r.buf) {
			copy(dst, r.buf[r.head:end])
			copy(dstQ, r.bufQ[r.head:end])
			return
		}
		k := copy(dst, r.buf[r.head:])
		copy(dstQ, r.bufQ[r.head:])
		copy(dst[k:], r.buf[:end-len(r.buf)])
		copy(dstQ[k:], r.bufQ[:end-len(r.buf)])
		return
	}
	k, from := 0, r.head
	for i := range r.lr.msg {
		if k == r.n {
			break
		}
		to := min(blockLen, from+r.n-k)
		copy(dst[k:], r.lr.msg[i][from:to])
		copy(dstQ[k:], r.lr.qos[i][from:to])
		k += to - from
		from = 0
	}
}

// reserve makes room for n more entries in a short ring, so that
// restoring a known number of them does not grow its buffer step by
// step. A long ring needs nothing: its blocks are never copied.
func (r *ring[M]) reserve(n int) {
	if r.long() {
		return
	}
	need := min(r.n+n, blockLen)
	if need > len(r.buf) {
		c := ringMinCap
		for c < need {
			c *= 2
		}
		r.resize(c)
	}
}

// at returns the i-th oldest element (0 <= i < r.n).
func (r *ring[M]) at(i int) queued[M] {
	if !r.long() {
		j := (r.head + i) & (len(r.buf) - 1)
		return queued[M]{msg: r.buf[j], qos: r.bufQ[j]}
	}
	p := r.head + i
	return queued[M]{msg: r.lr.msg[p>>blockBits][p&blockMask], qos: r.lr.qos[p>>blockBits][p&blockMask]}
}

// msgPtr points at the message of the i-th oldest element (0 <= i < r.n).
func (r *ring[M]) msgPtr(i int) *M {
	if !r.long() {
		return &r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	p := r.head + i
	return &r.lr.msg[p>>blockBits][p&blockMask]
}

// reset empties the ring and releases its memory.
func (r *ring[M]) reset() {
	*r = ring[M]{}
}
