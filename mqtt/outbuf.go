package mqtt

import "net"

// A connection's writer encodes everything it sends in a pass into one
// pooled buffer, except the large byte runs of shared messages: a payload
// (or a block of 5.0 user properties) of sharedMin bytes or more is written
// from the Message itself, which every subscriber shares and nobody
// modifies. The buffer then holds headers and small packets only, and the
// pass goes out in one writev (net.Buffers): header, payload, next header
// and so on. A 4 MB message to four subscribers costs 4 MB, not 4 MB more
// per subscriber.

// sharedMin is the smallest run of a shared message written from the
// message instead of being copied: the pooled buffer's starting size, so
// that a typical pass of small messages is still one contiguous write.
const sharedMin = 4 << 10

// keptViews bounds the view and iovec slices a writer keeps between passes.
const keptViews = 256

// outView is a run of shared bytes to be written at offset at of the
// writer's buffer.
type outView struct {
	at int
	b  []byte
}

// appendShared adds b, bytes of a shared message, to what the writer sends
// after buf: copied when small, else as a view written in place. The caller
// is the connection's writer goroutine, which owns c.w.
func (c *client) appendShared(buf, b []byte) []byte {
	if len(b) < sharedMin {
		return append(buf, b...)
	}
	c.w.views = append(c.w.views, outView{at: len(buf), b: b})
	return buf
}

// dropViews forgets what a pass refers to in the messages it sends: its
// views, and the outgoing properties scratch (whose slices view the last
// message's properties), so that an idle connection keeps no message
// alive. Called before a pass and after it is written.
func (c *client) dropViews() {
	w := c.w
	clear(w.views)
	w.views = bounded(w.views, keptViews)
	w.resetProps()
}

// writeOut writes buf with the pass's views in their places, as one writev
// where the connection is a plain socket (other connections get one Write
// per piece), and forgets the views.
func (c *client) writeOut(buf []byte) (int64, error) {
	w := c.w
	if len(w.views) == 0 {
		n, err := c.conn.Write(buf)
		c.dropViews()
		return int64(n), err
	}
	iov, prev := w.iovArr[:0], 0
	for _, v := range w.views {
		if v.at > prev {
			iov = append(iov, buf[prev:v.at])
		}
		iov = append(iov, v.b)
		prev = v.at
	}
	if prev < len(buf) {
		iov = append(iov, buf[prev:])
	}
	c.dropViews()
	w.iov = net.Buffers(iov)
	n, err := w.iov.WriteTo(c.conn)
	clear(iov)
	w.iov, w.iovArr = nil, bounded(iov, 2*keptViews+1)
	return n, err
}
