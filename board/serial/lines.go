package serial

import (
	"bytes"
	"unicode/utf8"
)

// lineSplitter cuts a byte stream into lines ended by '\n', '\r' or
// "\r\n", holding at most max bytes of an unfinished line. A line longer
// than max is counted once and skipped up to its end; empty lines are
// dropped silently. Its zero value is not usable; see newLineSplitter.
type lineSplitter struct {
	buf      []byte // unfinished line; cap is max
	max      int
	skipping bool // inside an over-long line, dropping bytes to its end
}

func newLineSplitter(max int) *lineSplitter {
	return &lineSplitter{buf: make([]byte, 0, max), max: max}
}

// feed splits p and calls emit for every complete, non-empty line (without
// its ending). The slice given to emit is valid only until emit returns.
// feed returns how many over-long lines it began to skip.
func (s *lineSplitter) feed(p []byte, emit func(line []byte)) (tooLong int) {
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if s.skipping {
				return tooLong
			}
			if len(s.buf)+len(p) > s.max {
				tooLong++
				s.skipping = true
				s.buf = s.buf[:0]
				return tooLong
			}
			s.buf = append(s.buf, p...)
			return tooLong
		}
		chunk := p[:i]
		p = p[i+1:]
		switch {
		case s.skipping:
			s.skipping = false
		case len(s.buf)+len(chunk) > s.max:
			tooLong++
		case len(s.buf) == 0:
			if len(chunk) > 0 {
				emit(chunk) // whole line inside p: no copy
			}
		default:
			s.buf = append(s.buf, chunk...)
			emit(s.buf)
		}
		s.buf = s.buf[:0]
	}
	return tooLong
}

// reset drops an unfinished line (the device went away) and reports
// whether there was one.
func (s *lineSplitter) reset() (partial bool) {
	partial = len(s.buf) > 0 || s.skipping
	s.buf = s.buf[:0]
	s.skipping = false
	return partial
}

// isText reports whether line is valid UTF-8 without control characters
// other than tab: what a sensor sends, and what noise (a wrong baud rate,
// binary data) almost never is.
func isText(line []byte) bool {
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && size == 1 || r >= 0x80 && r < 0xa0 {
			return false // invalid UTF-8, or a C1 control character
		}
		i += size
	}
	return true
}

func validUTF8String(s string) bool { return utf8.ValidString(s) }
