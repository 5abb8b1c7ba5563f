package flashstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"gatemq/flashstore/internal/msgp"
)

// frameHeader is the size of a record's frame: length and CRC-32C.
const frameHeader = 8

// Segment header constants.
const (
	segmentMagic   = "GMQF"
	segmentVersion = 1
)

// castagnoli is a constant table (read-only after package initialisation).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// errTorn and errBadFrame classify a record that cannot be read; whether
// that is a torn write or corruption depends on where it is (see recover.go).
var (
	errTorn     = errors.New("flashstore: torn record")
	errBadFrame = errors.New("flashstore: bad record")
)

// finishFrame frames the body that follows an 8-byte placeholder at
// b[start:] by filling in its length and CRC.
func finishFrame(b []byte, start int) {
	body := b[start+frameHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], checksum(body))
}

// frameLen checks the length in a frame header against MaxRecord and
// avail, the bytes of the file after the header. It returns the body
// length, or errTorn when the length is zero or runs past the end of the
// file, or errBadFrame when it is impossible.
func frameLen(hdr []byte, avail int64) (int, error) {
	n := binary.LittleEndian.Uint32(hdr)
	if n == 0 {
		return 0, errTorn // zeros: never written (or lost)
	}
	if n > MaxRecord {
		return 0, errBadFrame
	}
	if int64(n) > avail {
		return 0, errTorn
	}
	return int(n), nil
}

// frameCRCOK reports whether the frame's CRC matches body.
func frameCRCOK(hdr, body []byte) bool {
	return binary.LittleEndian.Uint32(hdr[4:]) == checksum(body)
}

// entryView is a decoded Entry whose Key and Value alias the record buffer.
type entryView struct {
	seq   uint64
	op    uint8 // with flags
	kind  Kind
	key   []byte
	value []byte
	// afterOp is the body from the Kind field on (kind, key, value and
	// any fields appended by later versions), for re-encoding.
	afterOp []byte
	nfields uint32
	// A Delete's fields 6 to 8 (see appendDeleteFrame); hasRange is
	// false for a Delete written before them.
	below, older, span uint64
	hasRange           bool
}

// hidden names the segments that may hold Puts a Delete hides: the one
// with the key's latest Put (last; 0: none outside the Delete's own
// segment), and those [lo, hi] with its older ones since it was last
// deleted (hi 0: none elsewhere). They are segment ids (FirstSeq).
type hidden struct {
	last, lo, hi uint64
}

// span returns the smallest range of segment ids holding all of h, or
// hi 0 when h is empty.
func (h hidden) span() (lo, hi uint64) {
	switch {
	case h.last == 0:
		return 0, 0
	case h.hi == 0:
		return h.last, h.last
	}
	return min(h.lo, h.last), max(h.hi, h.last)
}

// hides returns the segments a Delete hides. Without the fields (a Delete
// written by an earlier version) that is every segment up to its own,
// self.
func (v *entryView) hides(self uint64) hidden {
	if !v.hasRange {
		return hidden{last: self, lo: 0, hi: self}
	}
	if v.below == 0 {
		return hidden{}
	}
	h := hidden{last: v.seq - v.below}
	if v.older != 0 {
		h.hi = h.last - v.older
		h.lo = h.hi - v.span
	}
	return h
}

// parseEntry decodes an Entry body without copying.
func parseEntry(body []byte, v *entryView) error {
	n, b, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return err
	}
	if n < 5 {
		return errBadFrame
	}
	v.nfields = n
	if v.seq, b, err = msgp.ReadUint64Bytes(b); err != nil {
		return err
	}
	if v.op, b, err = msgp.ReadUint8Bytes(b); err != nil {
		return err
	}
	v.afterOp = b
	var k uint8
	if k, b, err = msgp.ReadUint8Bytes(b); err != nil {
		return err
	}
	v.kind = Kind(k)
	if v.key, b, err = msgp.ReadBytesZC(b); err != nil {
		return err
	}
	if v.value, b, err = msgp.ReadBytesZC(b); err != nil {
		return err
	}
	i := uint32(5)
	v.below, v.older, v.span, v.hasRange = 0, 0, 0, false
	if v.op&opMask == OpDelete && n >= 8 {
		for _, f := range []*uint64{&v.below, &v.older, &v.span} {
			if *f, b, err = msgp.ReadUint64Bytes(b); err != nil {
				return err
			}
		}
		if v.below > v.seq || v.below == 0 && (v.older != 0 || v.span != 0) ||
			v.older > v.seq-v.below || v.span > v.seq-v.below-v.older {
			return errBadFrame
		}
		v.hasRange = true
		i = 8
	}
	for ; i < n; i++ { // fields appended by later versions
		if b, err = msgp.Skip(b); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return errBadFrame
	}
	switch v.op & opMask {
	case OpPut:
	case OpDelete:
		if len(v.value) != 0 {
			return errBadFrame
		}
	default:
		return errBadFrame
	}
	if v.kind == 0 || len(v.key) > MaxKey {
		return errBadFrame
	}
	return nil
}

// parseHeader decodes a SegmentHeader body and checks its magic and version.
func parseHeader(body []byte) (SegmentHeader, error) {
	var h SegmentHeader
	rest, err := h.UnmarshalMsg(body)
	if err != nil {
		return h, err
	}
	if len(rest) != 0 || h.Magic != segmentMagic {
		return h, errBadFrame
	}
	if h.Version != segmentVersion {
		return h, errors.New("flashstore: unsupported segment version")
	}
	return h, nil
}

// appendHeaderFrame appends the framed header record of a segment.
func appendHeaderFrame(b []byte, firstSeq uint64, snapshot bool) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	h := SegmentHeader{Magic: segmentMagic, Version: segmentVersion, FirstSeq: firstSeq, Snapshot: snapshot}
	b, _ = h.MarshalMsg(b) // cannot fail: no interfaces or limits in the type
	finishFrame(b, start)
	return b
}

// appendEntryFrame appends a framed Entry made of seq, op and the encoded
// fields from Kind on (rest), with nfields fields in all.
func appendEntryFrame(b []byte, nfields uint32, seq uint64, op uint8, rest []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = msgp.AppendArrayHeader(b, nfields)
	b = msgp.AppendUint64(b, seq)
	b = msgp.AppendUint8(b, op)
	b = append(b, rest...)
	finishFrame(b, start)
	return b
}

// appendDeleteFrame appends a framed Delete entry of kind+key with seq and
// op, and the three fields this version appends to a Delete: the
// segments h that may hold Puts of the key it hides, as distances back
// from its seq, so that a short-lived key costs 3 to 7 bytes:
//
//	Below = seq - h.last  (0: no Put outside the Delete's own segment)
//	Older = h.last - h.hi (0: no older Put outside h.last's segment)
//	Span  = h.hi - h.lo
//
// Keeping the latest Put's segment apart from the older ones matters: a
// queued message's route is put when queued and again when sent, long
// after, and a single range would span the whole queue between.
// Compaction keeps a Delete only while a segment it hides is left;
// readers before this version skip the fields.
func appendDeleteFrame(b []byte, seq uint64, op uint8, kind Kind, key []byte, h hidden) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = msgp.AppendArrayHeader(b, 8)
	b = msgp.AppendUint64(b, seq)
	b = msgp.AppendUint8(b, op)
	b = msgp.AppendUint8(b, uint8(kind))
	b = msgp.AppendBytes(b, key)
	b = msgp.AppendBytes(b, nil)
	var below, older, span uint64
	if h.last != 0 {
		below = seq - h.last
		if h.hi != 0 {
			older, span = h.last-h.hi, h.hi-h.lo
		}
	}
	b = msgp.AppendUint64(b, below)
	b = msgp.AppendUint64(b, older)
	b = msgp.AppendUint64(b, span)
	finishFrame(b, start)
	return b
}

// deleteExtra is the most appendDeleteFrame adds to a Delete's frame
// beyond appendEntryFrame's: three 9-byte uints.
const deleteExtra = 27

// uintSize is the msgp size of an unsigned integer.
func uintSize(v uint64) int {
	switch {
	case v < 128:
		return 1
	case v <= 0xff:
		return 2
	case v <= 0xffff:
		return 3
	case v <= 0xffffffff:
		return 5
	}
	return 9
}
