package serial

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
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
		b.st.cmdOffline.Add(1)
		b.warnCmdOffline()
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

// writeLoop writes queued commands in order until sctx is done. A command
// the device does not take within writeTimeout is dropped (its start may
// have gone out); any other write error ends the session (cancel), so the
// device is reopened.
func (b *Bridge) writeLoop(sctx context.Context, cancel context.CancelFunc, s *session) {
	dl, _ := s.conn.(interface{ SetWriteDeadline(time.Time) error })
	for sctx.Err() == nil {
		select {
		case <-sctx.Done():
			return
		case msg := <-b.cmds:
			if dl != nil {
				_ = dl.SetWriteDeadline(time.Now().Add(b.writeTimeout(len(msg))))
			}
			err := writeAll(s.conn, msg)
			switch {
			case err == nil:
				b.st.cmdWritten.Add(1)
			case errors.Is(err, os.ErrDeadlineExceeded):
				b.st.cmdDropped.Add(1)
				b.warnCmd("serial device does not take commands: command dropped", "timeout", b.writeTimeout(len(msg)))
			default:
				b.st.cmdDropped.Add(1)
				if sctx.Err() == nil {
					b.log.Warn("writing a command to the serial device", "err", err)
				}
				cancel()
				return
			}
		}
	}
}

// writeTimeout is how long a command of n bytes may take: a second plus
// twice its time on the wire (10 bits a byte).
func (b *Bridge) writeTimeout(n int) time.Duration {
	return time.Second + 2*time.Duration(n)*10*time.Second/time.Duration(b.cfg.Baud)
}

// warnCmd logs a command problem at Warn once per session of the writer,
// then at Debug.
func (b *Bridge) warnCmd(msg string, args ...any) {
	if b.cmdWarned.CompareAndSwap(false, true) {
		b.log.Warn(msg+" (further ones are logged at debug level and counted)", args...)
		return
	}
	b.log.Debug(msg, args...)
}

// cmdOfflineWarnEvery spaces the Warn lines about commands dropped while
// the device is away; the ones between are logged at Debug and counted.
const cmdOfflineWarnEvery = 10 * time.Second

// warnCmdOffline logs a command dropped because the device is not
// connected: at Warn, at most once every cmdOfflineWarnEvery (with the
// count so far), else at Debug. It runs on publishers' goroutines.
func (b *Bridge) warnCmdOffline() {
	now := time.Now().UnixNano()
	last := b.offlineWarnAt.Load()
	if last != 0 && now-last < int64(cmdOfflineWarnEvery) || !b.offlineWarnAt.CompareAndSwap(last, now) {
		b.log.Debug("serial command dropped: device not connected")
		return
	}
	b.log.Warn("serial command dropped: device not connected (commands are not kept for when it returns)",
		"topic", b.cfg.CmdTopic, "dropped_offline", b.st.cmdOffline.Load())
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
