package qos

// ringMinCap is the capacity a ring starts with; ringKeepCap is the largest
// buffer a ring keeps once it runs empty (larger ones shrink as they drain so
// that an idle session does not hold the memory of a past burst).
const (
	ringMinCap   = 4
	ringKeepCap  = 16
	ringGrowSlow = 1024 // from this capacity on a ring grows by a quarter
)

// queued is one message waiting for room in the in-flight window.
type queued[M any] struct {
	msg M
	qos byte
}

// ring is a FIFO of queued messages in a circular buffer. Its zero value is
// an empty ring holding no memory.
type ring[M any] struct {
	buf  []queued[M]
	head int // index of the oldest element
	n    int // number of elements
}

// len returns the number of queued messages.
func (r *ring[M]) len() int { return r.n }

// push appends q at the tail, growing the buffer when it is full.
func (r *ring[M]) push(q queued[M]) {
	if r.n == len(r.buf) {
		r.resize(r.grown())
	}
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = q
	r.n++
}

// pushFront puts q before the oldest message, growing the buffer when it
// is full.
func (r *ring[M]) pushFront(q queued[M]) {
	if r.n == len(r.buf) {
		r.resize(r.grown())
	}
	r.head--
	if r.head < 0 {
		r.head = len(r.buf) - 1
	}
	r.buf[r.head] = q
	r.n++
}

// grown is the capacity a full ring grows to: double while small, then a
// quarter more at a time, so that a long queue (an offline session's,
// thousands of entries) holds at most a quarter of its length unused.
func (r *ring[M]) grown() int {
	if c := len(r.buf); c >= ringGrowSlow {
		return c + c/4
	}
	return max(2*len(r.buf), ringMinCap)
}

// peek returns the oldest message without removing it.
func (r *ring[M]) peek() (queued[M], bool) {
	if r.n == 0 {
		return queued[M]{}, false
	}
	return r.buf[r.head], true
}

// pop removes and returns the oldest message. The vacated slot is zeroed so
// the ring does not keep the message reachable.
func (r *ring[M]) pop() (queued[M], bool) {
	if r.n == 0 {
		return queued[M]{}, false
	}
	q := r.buf[r.head]
	r.buf[r.head] = queued[M]{}
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	switch {
	case r.n == 0:
		r.head = 0
	case len(r.buf) > ringKeepCap && r.n*4 <= len(r.buf):
		// Halve a large buffer once it is a quarter full, so a drained
		// burst leaves at most ringKeepCap slots behind.
		r.resize(len(r.buf) / 2)
	}
	return q, true
}

// resize moves the elements, oldest first, into a new buffer of capacity c
// (c >= r.n).
func (r *ring[M]) resize(c int) {
	nb := make([]queued[M], c)
	r.copyTo(nb)
	r.buf = nb
	r.head = 0
}

// copyTo copies the elements, oldest first, to dst (len(dst) >= r.n).
func (r *ring[M]) copyTo(dst []queued[M]) {
	if r.n == 0 {
		return
	}
	end := r.head + r.n
	if end <= len(r.buf) {
		copy(dst, r.buf[r.head:end])
		return
	}
	k := copy(dst, r.buf[r.head:])
	copy(dst[k:], r.buf[:end-len(r.buf)])
}

// at returns the i-th oldest element (0 <= i < r.n).
func (r *ring[M]) at(i int) queued[M] { return *r.ptr(i) }

// ptr points at the i-th oldest element (0 <= i < r.n).
func (r *ring[M]) ptr(i int) *queued[M] {
	j := r.head + i
	if j >= len(r.buf) {
		j -= len(r.buf)
	}
	return &r.buf[j]
}

// reset empties the ring and releases its buffer.
func (r *ring[M]) reset() {
	*r = ring[M]{}
}
