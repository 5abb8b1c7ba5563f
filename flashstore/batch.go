package flashstore

import (
	"encoding/binary"

	"gatemq/flashstore/internal/msgp"
)

// Batch collects puts and deletes to Commit together, atomically. A Batch
// keeps its buffers across Reset, so a reused Batch allocates nothing in
// steady state. A Batch is not safe for concurrent use.
type Batch struct {
	// buf holds the records: per record a uint32 LE length, then the
	// msgp encoding of Entry's fields from Op on (op, kind, key, value).
	// The writer adds the frame, array header and sequence number.
	buf     []byte
	n       int // records
	puts    int // records that are puts
	val     []byte
	err     error
	done    chan error  // reply from the writer, reused across commits
	compact compactMode // a Compact request, not data
}

// batchBytesPerRecord is the most a record's frame adds to its size in buf:
// frame header, array header and a 9-byte seq, less buf's 4-byte length.
const batchBytesPerRecord = frameHeader + 1 + 9 - 4

// Len returns the number of records in the batch.
func (b *Batch) Len() int { return b.n }

// Size returns the bytes the batch buffers (a close upper bound of what
// it adds to the log is Size() + 14*Len() + 18 per Delete).
func (b *Batch) Size() int { return len(b.buf) }

// maxFramed is the most the batch adds to the log once framed.
func (b *Batch) maxFramed() int64 {
	return int64(len(b.buf) + b.n*batchBytesPerRecord + (b.n-b.puts)*deleteExtra)
}

// Reset empties the batch and clears a recorded error, keeping its
// buffers.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	b.n, b.puts = 0, 0
	b.err = nil
}

// Err returns the first error recorded by Put, PutMsg or Delete (the
// error Commit will return), or nil.
func (b *Batch) Err() error { return b.err }

// begin starts a record: it checks kind and key and appends the length
// placeholder, op, kind and key. It returns the record's start, or -1.
func (b *Batch) begin(op uint8, kind Kind, key []byte) int {
	if b.err != nil {
		return -1
	}
	if kind == 0 {
		b.err = ErrBadKind
		return -1
	}
	if len(key) > MaxKey {
		b.err = ErrTooLarge
		return -1
	}
	start := len(b.buf)
	b.buf = append(b.buf, 0, 0, 0, 0, op)
	b.buf = msgp.AppendUint8(b.buf, uint8(kind))
	b.buf = msgp.AppendBytes(b.buf, key)
	return start
}

// end fills in the record length, or drops the record when it is too big.
func (b *Batch) end(start int, put bool) {
	n := len(b.buf) - start - 4
	if n+1+9 > MaxRecord {
		b.buf = b.buf[:start]
		b.err = ErrTooLarge
		return
	}
	binary.LittleEndian.PutUint32(b.buf[start:], uint32(n))
	b.n++
	if put {
		b.puts++
	}
}

// Put adds a record setting key (of kind) to value, normally a msgp
// encoding made by the caller. The bytes are copied; key and value may be
// reused when Put returns. An invalid kind, or a key or record too large,
// is recorded and returned by Commit (and Err).
func (b *Batch) Put(kind Kind, key, value []byte) {
	if len(value) > MaxRecord-len(key) && b.err == nil {
		b.err = ErrTooLarge // checked before copying a huge value
		return
	}
	start := b.begin(OpPut, kind, key)
	if start < 0 {
		return
	}
	b.buf = msgp.AppendBytes(b.buf, value)
	b.end(start, true)
	if cap(value) > cap(b.val) && cap(value) <= maxKeptValueBuf {
		// Remember the largest value seen, so that ValueBuf hands out a
		// buffer MarshalMsg need not grow.
		b.val = make([]byte, 0, cap(value))
	}
}

// maxKeptValueBuf bounds the scratch buffer ValueBuf keeps.
const maxKeptValueBuf = 64 << 10

// ValueBuf returns an empty scratch buffer owned by the batch, for
// encoding a value to pass to Put:
//
//	v, err := msg.MarshalMsg(b.ValueBuf())
//	b.Put(flashstore.KindMessage, key, v)
//
// The buffer stays valid until the next ValueBuf or Reset; Put copies
// the value, and the batch keeps a buffer as large as the largest value
// (up to 64 KiB), so this allocates nothing in steady state. PutMsg does
// the same without the copy.
func (b *Batch) ValueBuf() []byte { return b.val[:0] }

// PutMsg adds a record setting key (of kind) to v's msgp encoding, which
// is appended straight into the batch: no copy, no allocation once the
// batch's buffer has grown. A marshal error is returned and also recorded
// for Commit.
func (b *Batch) PutMsg(kind Kind, key []byte, v msgp.Marshaler) error {
	start := b.begin(OpPut, kind, key)
	if start < 0 {
		return b.err
	}
	// Reserve the largest bin header (bin32), encode, then move the value
	// down behind the canonical header msgp.AppendBytes would have written.
	hdr := len(b.buf)
	b.buf = append(b.buf, 0, 0, 0, 0, 0)
	out, err := v.MarshalMsg(b.buf)
	if err != nil {
		b.buf = b.buf[:start]
		b.err = err
		return err
	}
	n := len(out) - hdr - 5
	canon := msgp.AppendBytesHeader(out[hdr:hdr], uint32(n))
	copy(out[hdr+len(canon):], out[hdr+5:])
	b.buf = out[:hdr+len(canon)+n]
	b.end(start, true)
	return b.err
}

// Delete adds a record removing key (of kind). Deleting a key that does
// not exist is allowed and does nothing.
func (b *Batch) Delete(kind Kind, key []byte) {
	start := b.begin(OpDelete, kind, key)
	if start < 0 {
		return
	}
	b.buf = msgp.AppendBytes(b.buf, nil)
	b.end(start, false)
}

// record returns the record at buf[off:] and the offset of the next one.
func (b *Batch) record(off int) (rec []byte, next int) {
	n := int(binary.LittleEndian.Uint32(b.buf[off:]))
	return b.buf[off+4 : off+4+n], off + 4 + n
}

// recordKey returns the kind and key of a record made by begin.
func recordKey(rec []byte) (Kind, []byte) {
	k, r, _ := msgp.ReadUint8Bytes(rec[1:])
	key, _, _ := msgp.ReadBytesZC(r)
	return Kind(k), key
}
