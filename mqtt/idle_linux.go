//go:build linux

package mqtt

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// idlePollerSupported says that parked connections can be watched here.
const idlePollerSupported = true

// idleEvents is what wakes a parked connection: something to read, the
// peer's hang-up (EPOLLHUP and EPOLLERR come unasked); one event, then the
// socket is disarmed until it parks again.
const idleEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// idlePoller watches the sockets of parked connections (idle.go) in an
// epoll set of its own. The set's descriptor is itself in the runtime's
// poller, as a non-blocking file: one goroutine waits on it without
// holding a thread, reads the events when there are some, and starts the
// reader goroutine of each connection they name. A connection's epoll
// entry carries its slot in the table and a token, never a pointer.
type idlePoller struct {
	file *os.File // the epoll set; its read deadline is the nearest keep alive deadline
	epfd int
	rc   syscall.RawConn

	mu     sync.Mutex
	closed bool
	table  []*client // parked connections by slot; nil: free
	free   []int32   // free slots
	tokens uint32    // the last token given
	count  int       // parked connections
	// heap holds the parked connections with a keep alive, the one whose
	// keep alive runs out first on top; armed is the file's read
	// deadline (on the reader's clock; 0: none).
	heap  []*client
	armed int64
	// The epoll_ctl call that park makes under mu, as fields so that the
	// callback is made once (ctlFn) and no parking allocates.
	ctlEv  syscall.EpollEvent
	ctlErr error
	ctlFn  func(fd uintptr)

	// Owned by the loop goroutine.
	events [64]syscall.EpollEvent
	werr   error
	waitFn func(fd uintptr) bool
	wake   []*client
}

// newIdlePoller makes an idle poller and starts its goroutine.
func newIdlePoller() (*idlePoller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	f := os.NewFile(uintptr(fd), "mqtt-idle-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &idlePoller{file: f, epfd: fd, rc: rc}
	p.ctlFn = p.ctl
	p.waitFn = p.wait
	go p.loop()
	return p, nil
}

// park puts c, whose reader is about to end, in the table (and its keep
// alive deadline in the heap) and arms its socket sc (c's connection, or
// the socket under its WebSocket stream). It reports false when
// the socket cannot be watched (it is closed, or the poller is): c is then
// as before.
func (p *idlePoller) park(c *client, sc syscall.Conn) bool {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	var slot int32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		slot = int32(len(p.table))
		p.table = append(p.table, nil)
	}
	p.tokens++
	p.ctlEv = syscall.EpollEvent{Events: idleEvents, Fd: slot, Pad: int32(p.tokens)}
	p.ctlErr = nil
	if err := rc.Control(p.ctlFn); err != nil || p.ctlErr != nil {
		p.free = append(p.free, slot)
		return false
	}
	c.idle.slot, c.idle.token, c.idle.heapAt = slot, p.tokens, -1
	p.table[slot] = c
	p.count++
	if c.keepalive > 0 {
		p.push(c)
		if dl := c.keepaliveDeadline(); p.heap[0] == c && (p.armed == 0 || dl < p.armed) {
			p.setDeadlineLocked(c.srv, dl)
		}
	}
	return true
}

// ctl re-arms the socket fd in the epoll set, or adds it the first time
// its connection parks (RawConn.Control's callback, run under p.mu). A
// socket stays in the set until it is closed, so re-arming is what most
// parkings do: it is tried first, and fails with ENOENT only the first
// time.
func (p *idlePoller) ctl(fd uintptr) {
	err := p.epollCtl(syscall.EPOLL_CTL_MOD, fd)
	if err == syscall.ENOENT {
		err = p.epollCtl(syscall.EPOLL_CTL_ADD, fd)
	}
	if err != 0 {
		p.ctlErr = os.NewSyscallError("epoll_ctl", err)
	}
}

// epollCtl is epoll_ctl(2) of fd with p.ctlEv, as a raw system call: it
// never blocks, and a call through package syscall would tell the runtime
// that it might, which wakes the scheduler's monitor thread (sysmon) when
// the broker was idle, as it is when a connection parks; it then polls
// every 20 µs for a while (see rawsock_linux.go).
func (p *idlePoller) epollCtl(op int, fd uintptr) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(p.epfd), uintptr(op), fd,
		uintptr(unsafe.Pointer(&p.ctlEv)), 0, 0)
	return e
}

// unpark starts c's reader again if c is parked; a woken connection's
// socket stays in the set, disarmed or armed for a token that is not its
// any more, until it parks again or is closed.
func (p *idlePoller) unpark(c *client) {
	p.mu.Lock()
	ok := p.removeLocked(c)
	p.mu.Unlock()
	if ok {
		go c.resume()
	}
}

// removeLocked takes c out of the table and the heap; false if c is not
// parked. The caller holds p.mu.
func (p *idlePoller) removeLocked(c *client) bool {
	if s := int(c.idle.slot); s >= len(p.table) || p.table[s] != c {
		return false
	}
	p.table[c.idle.slot] = nil
	p.free = append(p.free, c.idle.slot)
	if c.idle.heapAt >= 0 {
		p.heapRemove(int(c.idle.heapAt))
	}
	p.count--
	if p.count == 0 && cap(p.table) > 64 {
		// After a crowd has gone, the table does not stay its size.
		p.table, p.free, p.heap = nil, nil, nil
	}
	return true
}

// parkedCount returns how many connections are parked.
func (p *idlePoller) parkedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// close stops the poller; parked connections are not woken (the server
// has ended them all before).
func (p *idlePoller) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.file.Close()
}

// loop waits for events and keep alive deadlines and resumes the
// connections they concern, until the poller is closed. The events are
// taken and acted on in the RawConn.Read callback (wait), which returns
// only on an error: so after a batch the loop waits for the set at once,
// and RawConn.Read, which forgets the set's readiness when it starts,
// does not make it look for events once more in vain.
func (p *idlePoller) loop() {
	for {
		err := p.rc.Read(p.waitFn)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.expire()
		case err != nil || p.werr != nil:
			return // closed
		}
	}
}

// wait is the loop's RawConn.Read callback: it takes the events there are,
// without waiting, resumes the connections they name, and returns false
// (wait for the set to be readable) when there are no more; true on an
// error (werr). Events that come after it looked make the set readable
// again, and RawConn.Read calls it again.
func (p *idlePoller) wait(fd uintptr) bool {
	for {
		// epoll_pwait with no signal mask is epoll_wait, which not every
		// architecture has (arm64); as a raw system call for the reason
		// epollCtl gives: with a timeout of 0 it never blocks.
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&p.events[0])),
			uintptr(len(p.events)), 0, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			p.werr = e
			return true
		}
		p.wakeEvents(p.events[:n])
		if int(n) < len(p.events) {
			return false
		}
	}
}

// wakeEvents resumes the parked connections that events name.
func (p *idlePoller) wakeEvents(events []syscall.EpollEvent) {
	if len(events) == 0 {
		return
	}
	p.mu.Lock()
	for _, ev := range events {
		slot := int(ev.Fd)
		if slot < 0 || slot >= len(p.table) {
			continue
		}
		if c := p.table[slot]; c != nil && c.idle.token == uint32(ev.Pad) && p.removeLocked(c) {
			p.wake = append(p.wake, c)
		}
	}
	p.mu.Unlock()
	p.resumeAll()
}

// expire resumes the parked connections whose keep alive has run out
// (their reader ends them) and sets the deadline for the next.
func (p *idlePoller) expire() {
	p.mu.Lock()
	for len(p.heap) > 0 {
		c := p.heap[0]
		if c.keepaliveDeadline() > c.srv.clock() {
			p.setDeadlineLocked(c.srv, c.keepaliveDeadline())
			break
		}
		p.removeLocked(c)
		p.wake = append(p.wake, c)
	}
	if len(p.heap) == 0 {
		p.setDeadlineLocked(nil, 0)
	}
	p.mu.Unlock()
	p.resumeAll()
}

// setDeadlineLocked makes the loop wake at t on s's reader clock (0: only
// for events). The caller holds p.mu.
func (p *idlePoller) setDeadlineLocked(s *Server, t int64) {
	p.armed = t
	var at time.Time
	if t != 0 {
		at = s.timeAt(t)
	}
	_ = p.file.SetReadDeadline(at)
}

// resumeAll starts the readers of the connections the loop took out.
func (p *idlePoller) resumeAll() {
	for i, c := range p.wake {
		go c.resume()
		p.wake[i] = nil
	}
	p.wake = p.wake[:0]
}

// The keep alive heap: a binary heap of parked connections ordered by
// keep alive deadline, each knowing its index (heapAt). The caller holds
// p.mu.

func (p *idlePoller) push(c *client) {
	c.idle.heapAt = int32(len(p.heap))
	p.heap = append(p.heap, c)
	p.up(len(p.heap) - 1)
}

func (p *idlePoller) heapRemove(i int) {
	last := len(p.heap) - 1
	p.heap[i].idle.heapAt = -1
	if i != last {
		p.heap[i] = p.heap[last]
		p.heap[i].idle.heapAt = int32(i)
	}
	p.heap[last] = nil
	p.heap = p.heap[:last]
	if i != last {
		p.down(i)
		p.up(i)
	}
}

func (p *idlePoller) less(i, j int) bool {
	return p.heap[i].keepaliveDeadline() < p.heap[j].keepaliveDeadline()
}

func (p *idlePoller) swap(i, j int) {
	p.heap[i], p.heap[j] = p.heap[j], p.heap[i]
	p.heap[i].idle.heapAt = int32(i)
	p.heap[j].idle.heapAt = int32(j)
}

func (p *idlePoller) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !p.less(i, parent) {
			return
		}
		p.swap(i, parent)
		i = parent
	}
}

func (p *idlePoller) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(p.heap) {
			return
		}
		m := l
		if r := l + 1; r < len(p.heap) && p.less(r, l) {
			m = r
		}
		if !p.less(m, i) {
			return
		}
		p.swap(i, m)
		i = m
	}
}
