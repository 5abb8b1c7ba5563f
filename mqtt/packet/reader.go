package packet

import (
	"bufio"
	"io"
	"strconv"
)

// growStep is how far the body buffer grows ahead of the bytes that have actually arrived, so that a
// peer announcing a huge Remaining Length cannot make us allocate it before sending it. Past it the
// buffer grows to four times what has arrived, and straight to the whole body once that is less than
// twice the next step: a large body costs itself plus about a third in garbage (64 KiB, 256 KiB, 1 MiB
// ... copied once each), and a peer that stops sending holds at most eight times what it sent.
const growStep = 64 << 10

// keptBody is the largest body buffer a Reader keeps between packets. A larger packet gets a buffer of
// its own, which the Reader drops when the next Read starts, so a connection that once received a large
// packet does not hold that memory while it waits for the next one.
const keptBody = 4 << 10

// Reader reads whole packets from a bufio.Reader into one reused body buffer and decodes them.
// It is not safe for concurrent use; one connection's reader goroutine owns it.
type Reader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader on r that refuses packets whose Remaining Length exceeds maxSize
// (0 or less means MaxRemaining).
func NewReader(r *bufio.Reader, maxSize int) *Reader {
	rd := &Reader{br: r}
	rd.SetMaxSize(maxSize)
	return rd
}

// Reset makes r read from br with the limit maxSize, as NewReader does, keeping its body buffer (up to
// keptBody) for the next packets: a pooled Reader serves one connection after another.
func (r *Reader) Reset(br *bufio.Reader, maxSize int) {
	r.br = br
	if cap(r.buf) > keptBody {
		r.buf = nil
	}
	r.SetMaxSize(maxSize)
}

// SetMaxSize changes the largest Remaining Length Read accepts (0 or less means MaxRemaining), e.g. once
// the broker knows a connection's limits.
func (r *Reader) SetMaxSize(n int) {
	if n <= 0 || n > MaxRemaining {
		n = MaxRemaining
	}
	r.max = n
}

// Read reads the next packet and decodes it into p for protocol level version (see Decode).
// p's slices point into the Reader's body buffer and stay valid only until the next Read or Release.
// Read resets p before it waits for the packet, so neither p nor the Reader holds on to the previous
// packet (a large one's memory is released, see keptBody) while the connection is idle.
//
// Errors: io.EOF when the stream ends cleanly before a packet; io.ErrUnexpectedEOF when it ends inside
// one; other I/O errors unchanged; an *Error with Code PacketTooLarge when the Remaining Length exceeds
// the maximum, returned after reading only the fixed header (the caller disconnects; the stream is not
// positioned at a packet boundary any more); an *Error from ReadFixedHeader or Decode otherwise. After a
// decode error the whole packet has been consumed.
func (r *Reader) Read(version byte, p *Packet) error {
	p.clearRead()
	if cap(r.buf) > keptBody {
		r.buf = nil
	}
	fh, err := ReadFixedHeader(r.br)
	if err != nil {
		return err
	}
	if fh.Remaining > r.max {
		return decodeError(PacketTooLarge, fh.Type.String()+": remaining length "+strconv.Itoa(fh.Remaining)+
			" exceeds the maximum "+strconv.Itoa(r.max))
	}
	body, err := r.readBody(fh.Remaining)
	if err != nil {
		return err
	}
	return decode(fh, body, version, p) // p was cleared above
}

// readBody reads n bytes into the body buffer, growing it as the bytes arrive (see growStep).
func (r *Reader) readBody(n int) ([]byte, error) {
	if n <= cap(r.buf) {
		b := r.buf[:n]
		_, err := io.ReadFull(r.br, b)
		return b, unexpectedEOF(err)
	}
	b := r.buf[:0]
	for len(b) < n {
		want := max(4*cap(b), growStep)
		if want > n/2 {
			want = n // not another step just short of n (4 MiB + 7 bytes after 4 MiB)
		}
		if want > cap(b) {
			nb := make([]byte, len(b), want)
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(r.br, b[len(b):want])
		b = b[:len(b)+m]
		if err != nil {
			r.buf = b[:0]
			return nil, unexpectedEOF(err)
		}
	}
	r.buf = b
	return b, nil
}

// Keep hands the body of the packet just read over to the caller: views of it (the Packet's slices)
// stay valid after the next Read, for as long as the caller keeps them, and nobody writes to it again.
// It reports false, and hands nothing over, when the body is the Reader's small reused buffer (up to
// keptBody), which the caller must copy from instead. A broker keeps a large PUBLISH so as its message,
// without a second copy.
func (r *Reader) Keep() bool {
	if cap(r.buf) <= keptBody {
		return false
	}
	r.buf = nil
	return true
}

// unexpectedEOF maps io.EOF inside a packet to io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Release drops the body buffer so that an idle connection holds no packet memory; the next Read
// allocates a new one.
func (r *Reader) Release() { r.buf = nil }
