package serial

// Cutting a P1 byte stream into telegrams, and their CRC (see dsmr.go).

import "bytes"

// crc16Table is the byte-wise table of CRC-16/ARC (reflected polynomial
// 0xA001).
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 returns the CRC-16/ARC of p: the P1 telegram checksum.
func crc16(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c = c>>8 ^ crc16Table[byte(c)^b]
	}
	return c
}

// States of a dsmrFramer.
const (
	dsmrIdle = iota // between telegrams: waiting for '/'
	dsmrBody        // inside a telegram: waiting for '!'
	dsmrCRC         // after '!': waiting for the end of the CRC line
	dsmrSkip        // inside an over-long telegram: waiting for the next '/'
)

// maxDSMRCRCLine bounds what may follow '!' before the line ends: four
// hexadecimal digits and some slack for odd meters.
const maxDSMRCRCLine = 16

// dsmrFramer cuts a byte stream into P1 telegrams, from '/' to the end of
// the "!CRC" line, holding at most max bytes. It needs no line structure
// to resynchronise: '/' only ever starts a telegram, so a '/' inside one
// means the one before was cut short (counted as partial), and a telegram
// longer than max is counted and skipped up to the next '/'. Bytes between
// telegrams other than line ends and spaces are noise (counted once per
// run), except those before the first '/' after a reset: the bridge
// usually joins a meter in the middle of a telegram.
type dsmrFramer struct {
	buf    []byte // the telegram so far; cap is max
	max    int
	state  int
	crcAt  int          // dsmrCRC: where the CRC line starts in buf
	synced bool         // a '/' was seen since the last reset
	noisy  bool         // noise was counted since the last telegram
	bad    func(string) // called with "partial" or "noise"
}

func newDSMRFramer(max int, bad func(kind string)) *dsmrFramer {
	if bad == nil {
		bad = func(string) {}
	}
	return &dsmrFramer{buf: make([]byte, 0, max), max: max, bad: bad}
}

// feed cuts p and calls emit for every complete telegram, from '/' to the
// end of its CRC line (without the line ending). The slice given to emit
// is valid only until emit returns. feed returns how many over-long
// telegrams it began to skip.
func (f *dsmrFramer) feed(p []byte, emit func(telegram []byte)) (tooLong int) {
	for len(p) > 0 {
		switch f.state {
		case dsmrIdle:
			i := bytes.IndexByte(p, '/')
			if i < 0 {
				f.noise(p)
				return tooLong
			}
			f.noise(p[:i])
			f.synced, f.noisy = true, false
			f.buf = append(f.buf[:0], '/')
			f.state = dsmrBody
			p = p[i+1:]
		case dsmrSkip:
			i := bytes.IndexByte(p, '/')
			if i < 0 {
				return tooLong
			}
			f.state = dsmrIdle
			p = p[i:]
		case dsmrBody:
			i := bytes.IndexAny(p, "/!")
			chunk := p
			if i >= 0 {
				chunk = p[:i+1] // with the '/' or '!'
			}
			if len(f.buf)+len(chunk) > f.max {
				tooLong++
				f.buf = f.buf[:0]
				f.state = dsmrSkip
				if i >= 0 && p[i] == '/' {
					p = p[i:]
				} else {
					p = p[len(chunk):]
				}
				continue
			}
			if i < 0 {
				f.buf = append(f.buf, p...)
				return tooLong
			}
			if p[i] == '/' {
				f.bad("partial") // the next telegram began before this one ended
				f.buf = f.buf[:0]
				f.state = dsmrIdle
				p = p[i:]
				continue
			}
			f.buf = append(f.buf, chunk...)
			f.state, f.crcAt = dsmrCRC, len(f.buf)
			p = p[i+1:]
		case dsmrCRC:
			i := bytes.IndexAny(p, "\r\n/")
			chunk := p
			if i >= 0 {
				chunk = p[:i]
			}
			if len(f.buf)-f.crcAt+len(chunk) > maxDSMRCRCLine || len(f.buf)+len(chunk) > f.max {
				tooLong++
				f.buf = f.buf[:0]
				f.state = dsmrSkip
				continue
			}
			f.buf = append(f.buf, chunk...)
			if i < 0 {
				return tooLong
			}
			emit(f.buf)
			f.buf = f.buf[:0]
			f.state = dsmrIdle
			if p[i] == '/' {
				p = p[i:] // a meter that does not end the CRC line
			} else {
				p = p[i+1:]
			}
		}
	}
	return tooLong
}

// noise counts a run of bytes between telegrams that are not line ends or
// spaces, once until the next telegram starts.
func (f *dsmrFramer) noise(p []byte) {
	if !f.synced || f.noisy {
		return
	}
	for _, c := range p {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' && c != 0 {
			f.noisy = true
			f.bad("noise")
			return
		}
	}
}

// reset drops an unfinished telegram (the device went away) and reports
// whether there was one.
func (f *dsmrFramer) reset() (partial bool) {
	partial = f.state == dsmrBody || f.state == dsmrCRC
	f.buf = f.buf[:0]
	f.state = dsmrIdle
	f.synced, f.noisy = false, false
	return partial
}
