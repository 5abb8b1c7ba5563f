package board

import (
	"context"
	"io"
)

// onCommand is the command topic's handler. It runs on the publisher's
// goroutine, so it only copies the payload into the bounded queue (or
// counts it as dropped) and returns. Retained commands, which the broker
// hands over when the subscription is made, are never replayed.
func (b *Bridge) onCommand(_ string, payload []byte, retained bool) {
	switch {
	case retained:
		b.st.cmdIgnored.Add(1)
		return
	case len(payload) > b.cfg.MaxLine:
		b.st.cmdDropped.Add(1)
		b.log.Debug("serial command dropped: longer than serial_max_line", "len", len(payload))
		return
	case !b.online.Load():
		b.st.cmdDropped.Add(1)
		b.log.Debug("serial command dropped: device not available")
		return
	}
	msg := make([]byte, len(payload)+len(b.ending))
	copy(msg[copy(msg, payload):], b.ending)
	select {
	case b.cmds <- msg:
	default:
		b.st.cmdDropped.Add(1)
		b.log.Debug("serial command dropped: queue full", "queue", cap(b.cmds))
	}
}

// writeLoop writes queued commands in order until sctx is done. A write
// error ends the session (cancel), so the device is reopened.
func (b *Bridge) writeLoop(sctx context.Context, cancel context.CancelFunc, s *session) {
	for {
		select {
		case <-sctx.Done():
			return
		case msg := <-b.cmds:
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				b.st.cmdDropped.Add(1)
				return
			}
			err := writeAll(s.conn, msg)
			s.mu.Unlock()
			if err != nil {
				b.st.cmdDropped.Add(1)
				b.log.Warn("writing a command to the serial device", "err", err)
				cancel()
				return
			}
			b.st.cmdWritten.Add(1)
		}
	}
}

// writeAll writes p whole (a tty may take a long write in parts).
func writeAll(w io.Writer, p []byte) error {
	for len(p) > 0 {
		n, err := w.Write(p)
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		p = p[n:]
	}
	return nil
}

// drainCmds drops the queued commands, counting them.
func (b *Bridge) drainCmds() {
	for {
		select {
		case <-b.cmds:
			b.st.cmdDropped.Add(1)
		default:
			return
		}
	}
}
