package flashstore

import (
	"io"
	"os"
)

// scanner reads the frames of a segment file in order, through one
// reused buffer, verifying lengths and CRCs.
type scanner struct {
	f    *os.File
	size int64
	buf  []byte
	bpos int64 // file offset of buf[0]
	r, w int   // buf[r:w] holds unread bytes; bpos+r is the next frame's offset
}

const scanChunk = 256 << 10

func newScanner(f *os.File, size, from int64, buf []byte) *scanner {
	return &scanner{f: f, size: size, buf: buf[:0], bpos: from}
}

// pos is the offset of the next frame.
func (s *scanner) pos() int64 { return s.bpos + int64(s.r) }

// fill makes at least k unread bytes available (the caller checked that
// the file has them).
func (s *scanner) fill(k int) error {
	if s.w-s.r >= k {
		return nil
	}
	// Move the unread bytes to the front, growing the buffer if needed.
	n := copy(s.buf[:cap(s.buf)], s.buf[s.r:s.w])
	s.bpos += int64(s.r)
	s.r, s.w = 0, n
	want := max(k, scanChunk)
	if cap(s.buf) < want {
		nb := make([]byte, want)
		copy(nb, s.buf[:n])
		s.buf = nb
	}
	s.buf = s.buf[:cap(s.buf)]
	for s.w < k {
		end := min(len(s.buf), int(s.size-s.bpos))
		m, err := s.f.ReadAt(s.buf[s.w:end], s.bpos+int64(s.w))
		s.w += m
		if s.w >= k {
			break
		}
		if err == io.EOF || (err == nil && m == 0) {
			return io.ErrUnexpectedEOF // the file shrank under us
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// next returns the next frame's offset and body (valid until the next
// call). err is io.EOF at a clean end, errTorn for a frame cut short or a
// zero length, errBadFrame for an impossible length or a CRC mismatch, or
// an I/O error.
func (s *scanner) next() (off int64, body []byte, err error) {
	off = s.pos()
	left := s.size - off
	if left == 0 {
		return off, nil, io.EOF
	}
	if left < frameHeader {
		return off, nil, errTorn
	}
	if err := s.fill(frameHeader); err != nil {
		return off, nil, err
	}
	n, err := frameLen(s.buf[s.r:s.r+frameHeader], left-frameHeader)
	if err != nil {
		return off, nil, err
	}
	if err := s.fill(frameHeader + n); err != nil {
		return off, nil, err
	}
	fr := s.buf[s.r : s.r+frameHeader+n]
	if !frameCRCOK(fr, fr[frameHeader:]) {
		return off, nil, errBadFrame
	}
	s.r += frameHeader + n
	return off, fr[frameHeader:], nil
}

// barrierAfter reports whether a valid entry flagged FlagBarrier with a
// seq above afterSeq starts anywhere after offset bad: proof that the
// bytes at bad had been fdatasync'd before that later write, so their
// damage is corruption and not a torn write. Candidates are filtered on
// their length and first body bytes before the CRC is computed, so the
// scan costs little more than reading the file.
func barrierAfter(f *os.File, size, bad int64, afterSeq uint64) bool {
	win := readWindow{f: f}
	var v entryView
	for p := bad + 1; p+frameHeader+2 <= size; p++ {
		h, err := win.at(p, frameHeader+2)
		if err != nil {
			return false
		}
		n := int64(h[0]) | int64(h[1])<<8 | int64(h[2])<<16 | int64(h[3])<<24
		if n < 2 || n > MaxRecord || p+frameHeader+n > size {
			continue
		}
		if b0 := h[frameHeader]; !(b0 >= 0x95 && b0 <= 0x9f) && b0 != 0xdc {
			continue
		}
		fr, err := win.at(p, int(frameHeader+n))
		if err != nil {
			return false
		}
		if !frameCRCOK(fr, fr[frameHeader:]) || parseEntry(fr[frameHeader:], &v) != nil {
			continue
		}
		if v.op&FlagBarrier != 0 && v.seq > afterSeq {
			return true
		}
	}
	return false
}
