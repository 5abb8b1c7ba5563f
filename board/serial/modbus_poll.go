package serial

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gatemq/board/serial/modbus"
	"gatemq/internal/fmt"
)

// A Modbus port's session: a reader goroutine hands the bytes the device
// sends to the poller, which runs on Run's goroutine and is the only one to
// write to the device. A transaction is: wait until the bus has been
// silent for 3.5 character times (bytes heard meanwhile are noise), send
// the request, gather the answer until ResponseLen says it is whole or the
// response timeout passes, decode it. The timeout counts from the moment
// the request has left the wire (the write returns when the bytes are in
// the driver, not on the bus) and adds the answer's own time on the wire.

// modbusPoller is the Modbus side of a Bridge (FormatModbus).
type modbusPoller struct {
	b       *Bridge
	regs    []mbReg
	points  []modbus.Point // points[i] is regs[i]'s
	reads   []modbus.Read  // one poll cycle
	slaves  []*mbSlave     // by address
	writes  chan mbWrite   // set messages for the poller; bounded
	timeout time.Duration
	retries int
	char    time.Duration // one character on the wire
	t35     time.Duration // the silent interval between frames
	st      mbCounters

	// State of Run's goroutine only.
	conn     io.Writer
	deadline interface{ SetWriteDeadline(time.Time) error } // nil when conn has none
	rx       <-chan []byte                                  // closed when the device went away
	rxErr    *error                                         // the reader's error, set before rx closes
	lastBus  time.Time                                      // when the bus was last busy (a byte heard or sent)
	timer    *time.Timer
	in       []byte // the answer being gathered; cap MaxADU
	out      []byte // the request being sent
	fresh    []bool // regs read in this cycle
	json     []byte
	regBuf   []uint16
}

// mbReg is one register line, resolved.
type mbReg struct {
	ModbusRegister
	kind     modbus.Kind
	typ      modbus.Type
	slave    *mbSlave
	topic    string
	setTopic string // "" unless writable
	decimals int    // decimals kept of an integer type's scaled value
	text     []byte // last value published, as text (JSON state)
}

// mbSlave is one slave address of the port.
type mbSlave struct {
	_           [0]func() // not comparable: no generated == function (flash size)
	id          byte
	statusTopic string // "" when the port has no status topic
	c           mbSlaveCounters

	// State of Run's goroutine only.
	answering bool // its last transaction got a valid answer
	known     bool // answering has been published
	seen      bool // it had a transaction in this session
	skip      bool // failed in this cycle: its other reads are skipped

	up atomic.Bool // answering, for ModbusStats
}

// mbWrite is one set message waiting for the poller.
type mbWrite struct {
	reg     int
	payload string
}

// maxSetPayload bounds a set message (a number or ON/OFF).
const maxSetPayload = 64

// mbSlaveCounters count one slave's transactions.
type mbSlaveCounters struct {
	_                                                                         [0]func() // not comparable: no generated == function (flash size)
	requests, answers, timeouts, crcErrors, exceptions, wrongSlave, malformed atomic.Uint64
}

// mbCounters count a Modbus port's own events.
type mbCounters struct {
	_                                                                [0]func() // not comparable: no generated == function (flash size)
	cycles, cycleMicros, noise, invalid, writesRefused, writesFailed atomic.Uint64
}

// ModbusSlaveStats counts one slave's transactions since the bridge was
// made.
type ModbusSlaveStats struct {
	_          [0]func() // not comparable: no generated == function (flash size)
	Slave      int
	Answering  bool   // its last transaction got a valid answer (false while the device is absent)
	Requests   uint64 // requests sent, retries included
	Answers    uint64 // valid answers, exceptions included
	Timeouts   uint64 // no whole answer within the response timeout
	CRCErrors  uint64 // answers whose CRC was wrong
	Exceptions uint64 // exception responses
	WrongSlave uint64 // valid frames from another slave address
	Malformed  uint64 // answers of the wrong function, length or byte count, or truncated
}

// ModbusStats are the counters of a Modbus port (see Bridge.ModbusStats).
type ModbusStats struct {
	Cycles        uint64        // poll cycles completed
	LastCycle     time.Duration // how long the last one took
	NoiseBytes    uint64        // bytes heard outside an answer (noise, late answers, surplus)
	Invalid       uint64        // float values that were NaN or infinite, not published
	WritesRefused uint64        // set messages that were not a valid value for their register
	WritesFailed  uint64        // writes the slave did not acknowledge (no answer, exception)
	Slaves        []ModbusSlaveStats
}

// ModbusStats returns a snapshot of a Modbus port's counters (the zero
// value for another format). Writes done, dropped (device absent, queue
// full) and retained set messages ignored are Stats' CmdWritten,
// CmdDropped and CmdIgnored. It is safe to call at any time.
func (b *Bridge) ModbusStats() ModbusStats {
	p := b.mb
	if p == nil {
		return ModbusStats{}
	}
	s := ModbusStats{
		Cycles: p.st.cycles.Load(), LastCycle: time.Duration(p.st.cycleMicros.Load()) * time.Microsecond,
		NoiseBytes: p.st.noise.Load(), Invalid: p.st.invalid.Load(),
		WritesRefused: p.st.writesRefused.Load(), WritesFailed: p.st.writesFailed.Load(),
	}
	for _, sl := range p.slaves {
		c := &sl.c
		s.Slaves = append(s.Slaves, ModbusSlaveStats{Slave: int(sl.id), Answering: sl.up.Load(),
			Requests: c.requests.Load(), Answers: c.answers.Load(), Timeouts: c.timeouts.Load(),
			CRCErrors: c.crcErrors.Load(), Exceptions: c.exceptions.Load(), WrongSlave: c.wrongSlave.Load(),
			Malformed: c.malformed.Load()})
	}
	return s
}

// newModbusPoller resolves the registers of the normalized, checked c.
func newModbusPoller(b *Bridge) *modbusPoller {
	c := &b.cfg
	p := &modbusPoller{
		b:       b,
		writes:  make(chan mbWrite, c.CmdQueue),
		timeout: c.Modbus.Timeout,
		retries: c.Modbus.Retries,
		in:      make([]byte, 0, modbus.MaxADU),
		out:     make([]byte, 0, modbus.MaxADU),
		fresh:   make([]bool, len(c.Modbus.Registers)),
	}
	p.char, p.t35 = charTimes(c)
	bySlave := map[int]*mbSlave{}
	for _, r := range c.Modbus.Registers {
		kind, _ := modbus.ParseKind(r.Kind) // checked
		typ, _ := modbus.ParseType(r.Type)
		sl := bySlave[r.Slave]
		if sl == nil {
			sl = &mbSlave{id: byte(r.Slave)}
			if c.StatusTopic != "" {
				sl.statusTopic = c.slaveStatusTopic(r.Slave)
			}
			bySlave[r.Slave] = sl
			p.slaves = append(p.slaves, sl)
		}
		if r.Scale == 0 {
			r.Scale = 1
		}
		if r.Unit == "" {
			r.Unit = c.Unit[r.Name]
		}
		if r.Class == "" {
			r.Class = c.DeviceClass[r.Name]
		}
		reg := mbReg{ModbusRegister: r, kind: kind, typ: typ, slave: sl, topic: c.keyTopic(r.Name),
			decimals: max(decimals(r.Scale), decimals(r.Offset))}
		if r.Writable {
			reg.setTopic = reg.topic + "/set"
		}
		p.regs = append(p.regs, reg)
		p.points = append(p.points, modbus.Point{Slave: sl.id, Kind: kind, Address: uint16(r.Address), Words: uint16(typ.Words())})
	}
	sort.Sort(bySlaveID(p.slaves))
	p.reads = modbus.Plan(p.points)
	return p
}

// decimals is how many decimals f has (at most 9): 0.1 has 1, 0.25 has 2.
func decimals(f float64) int {
	p := 1.0
	for d := 0; d < 9; d++ {
		if x := f * p; math.Abs(x-math.Round(x)) < 1e-9*math.Max(1, math.Abs(x)) {
			return d
		}
		p *= 10
	}
	return 9
}

// charTimes returns one character's time on the wire of the normalized c
// (start bit, data bits, parity bit, stop bits) and the silent interval
// between frames: 3.5 characters, and a fixed 1.75 ms above 19200 baud
// (Modbus over Serial Line 2.5.1.1).
func charTimes(c *Config) (char, t35 time.Duration) {
	bits := 1 + float64(c.DataBits)
	if c.Parity != "none" {
		bits++
	}
	stop, _ := strconv.ParseFloat(c.StopBits, 64)
	bits += stop
	char = time.Duration(bits * float64(time.Second) / float64(c.Baud))
	t35 = time.Duration(3.5 * bits * float64(time.Second) / float64(c.Baud))
	if c.Baud > 19200 {
		t35 = 1750 * time.Microsecond
	}
	return char, t35
}

// errDeviceGone ends a session whose device went away.
var errDeviceGone error = constError("serial: device went away")

// serveModbus runs one session of a Modbus port: the reader goroutine, and
// the poller on the caller's goroutine. It returns once the device is
// closed and the reader has ended.
func (b *Bridge) serveModbus(ctx context.Context, conn io.ReadWriteCloser) error {
	p := b.mb
	s := &session{conn: conn}
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(sctx, s.close) // Close ends a blocked Read
	rx := make(chan []byte, 16)
	var rxErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(rx)
		rxErr = b.mbReadLoop(sctx, conn, rx)
	}()
	p.conn, p.rx, p.rxErr = conn, rx, &rxErr
	p.deadline, _ = conn.(interface{ SetWriteDeadline(time.Time) error })
	p.lastBus = time.Time{}
	for _, sl := range p.slaves {
		sl.seen = false
	}
	p.drainWrites()
	b.online.Store(true)

	err := p.run(sctx)

	b.online.Store(false)
	cancel()
	s.close()
	wg.Wait()
	stop()
	p.drainWrites()
	p.conn, p.rx, p.deadline = nil, nil, nil
	for _, sl := range p.slaves {
		b.mbSetSlave(sl, false)
	}
	p.publishStats() // the counters as the session left them
	return err
}

// mbReadLoop hands what the device sends to the poller in chunks until
// Read fails or sctx is done.
func (b *Bridge) mbReadLoop(sctx context.Context, r io.Reader, rx chan<- []byte) error {
	buf := make([]byte, modbus.MaxADU)
	empty := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			empty = 0
			b.st.bytesRead.Add(uint64(n))
			select {
			case rx <- append([]byte(nil), buf[:n]...):
			case <-sctx.Done():
				return sctx.Err()
			}
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
}

// run polls every Poll and carries out writes between transactions until
// sctx is done or the device goes away.
func (p *modbusPoller) run(sctx context.Context) error {
	b := p.b
	p.timer = time.NewTimer(time.Hour)
	defer p.timer.Stop()
	tick := time.NewTicker(b.cfg.Modbus.Poll)
	defer tick.Stop()
	var sys <-chan time.Time
	if b.cfg.SysInterval > 0 {
		t := time.NewTicker(b.cfg.SysInterval)
		defer t.Stop()
		sys = t.C
	}
	err := p.cycle(sctx)
	p.publishStats()
	for err == nil {
		select {
		case <-sctx.Done():
			return nil
		case <-tick.C:
			err = p.cycle(sctx)
		case w := <-p.writes:
			err = p.write(sctx, w)
		case <-sys:
			p.publishStats()
		case c, ok := <-p.rx:
			if !ok {
				return p.gone()
			}
			p.st.noise.Add(uint64(len(c)))
			p.lastBus = time.Now()
		}
	}
	if sctx.Err() != nil {
		return nil
	}
	return err
}

// gone is the error of a session whose reader ended.
func (p *modbusPoller) gone() error {
	if err := *p.rxErr; err != nil {
		return err
	}
	return errDeviceGone
}

// cycle reads every planned read once, publishes the values and the
// statuses. Writes waiting go first, between any two reads.
func (p *modbusPoller) cycle(sctx context.Context) error {
	start := time.Now()
	clear(p.fresh)
	for _, sl := range p.slaves {
		sl.skip = false
	}
	for i := range p.reads {
		if err := p.pendingWrites(sctx); err != nil {
			return err
		}
		r := &p.reads[i]
		sl := p.slave(r.Slave)
		if sl.skip {
			continue
		}
		retries := p.retries
		if sl.seen && !sl.answering {
			retries = 0 // a slave that is down costs one timeout a cycle
		}
		req := r.Request()
		resp, err := p.transact(sctx, &req, retries)
		if err = p.judge(sl, &req, err); err != nil {
			return err
		}
		if sl.answering && resp.Data != nil {
			p.publishRead(r, resp)
		}
	}
	p.publishJSON()
	p.publishStatuses()
	p.st.cycles.Add(1)
	p.st.cycleMicros.Store(uint64(time.Since(start) / time.Microsecond))
	if d := time.Since(start); d > p.b.cfg.Modbus.Poll {
		p.b.warnOnce("slow", "modbus poll cycle takes longer than modbus_poll", "cycle", d, "poll", p.b.cfg.Modbus.Poll)
	}
	return nil
}

func (p *modbusPoller) slave(id byte) *mbSlave {
	for _, sl := range p.slaves {
		if sl.id == id {
			return sl
		}
	}
	return nil // not reached: reads come from the slaves' points
}

// errSession marks the errors that end the session (the device went away,
// a write failed, the bridge is stopping).
type errSession struct{ err error }

func (e errSession) Error() string { return e.err.Error() }
func (e errSession) Unwrap() error { return e.err }

// judge records the outcome of a transaction with sl: an answer (an
// exception included) means it is up; anything else that it is down and
// its other reads are skipped in this cycle. It returns only the errors
// that end the session.
func (p *modbusPoller) judge(sl *mbSlave, req *modbus.Request, err error) error {
	var es errSession
	var ex *modbus.ExceptionError
	first := !sl.seen
	if !errors.As(err, &es) {
		sl.seen = true
	}
	switch {
	case err == nil:
		p.b.mbSetSlave(sl, true)
	case errors.As(err, &es):
		return es.err
	case errors.As(err, &ex):
		p.b.mbSetSlave(sl, true)
		p.b.warnOnce(fmt.Sprintf("exception %d %d %d", sl.id, req.Function, req.Address),
			"modbus slave refused a request", "slave", sl.id, "function", req.Function, "address", req.Address,
			"quantity", req.Quantity, "err", err)
	default:
		if sl.answering || first {
			p.b.log.Warn("modbus slave not answering", "slave", sl.id, "function", req.Function,
				"address", req.Address, "err", err)
		}
		p.b.mbSetSlave(sl, false)
		sl.skip = true
	}
	return nil
}

// mbSetSlave records whether sl answers, publishing its status when that
// changes (or was never published).
func (b *Bridge) mbSetSlave(sl *mbSlave, up bool) {
	if sl.known && sl.answering == up {
		return
	}
	if up && sl.known {
		b.log.Info("modbus slave answering", "slave", sl.id)
	}
	sl.answering, sl.known = up, true
	sl.up.Store(up)
	if sl.statusTopic == "" {
		return
	}
	s := StatusOffline
	if up {
		s = StatusOnline
	}
	if err := b.broker.Publish(sl.statusTopic, []byte(s), 1, true); err != nil {
		b.log.Warn("publishing modbus slave status", "topic", sl.statusTopic, "err", err)
	}
}

// publishStatuses sets the port's status after a cycle: online when every
// slave answers, else which ones do not ("slave 2 not answering", "slaves
// 1,2 not answering").
func (p *modbusPoller) publishStatuses() {
	var down []string
	for _, sl := range p.slaves {
		if !sl.answering {
			down = append(down, strconv.Itoa(int(sl.id)))
		}
	}
	switch len(down) {
	case 0:
		p.b.setStatus(StatusOnline)
	case 1:
		p.b.setStatus("slave " + down[0] + " not answering")
	default:
		p.b.setStatus("slaves " + strings.Join(down, ",") + " not answering")
	}
}

// transact sends req and returns the slave's answer, trying again up to
// retries times while the answer is missing or bad (not after an
// exception, which is the slave's answer). The Response is valid until
// the next transaction. Errors that end the session are errSession.
func (p *modbusPoller) transact(sctx context.Context, req *modbus.Request, retries int) (modbus.Response, error) {
	var err error
	for range retries + 1 {
		var resp modbus.Response
		resp, err = p.attempt(sctx, req)
		var ex *modbus.ExceptionError
		var es errSession
		if err == nil || errors.As(err, &ex) || errors.As(err, &es) {
			return resp, err
		}
	}
	return modbus.Response{}, err
}

// errTimeout is a transaction that got no whole answer in time.
var errTimeout error = constError("modbus: no answer within modbus_timeout")

// attempt is one request and its answer.
func (p *modbusPoller) attempt(sctx context.Context, req *modbus.Request) (modbus.Response, error) {
	sl := p.slave(req.Slave)
	if err := p.quiet(sctx); err != nil {
		return modbus.Response{}, err
	}
	var err error
	p.out, err = modbus.AppendRequest(p.out[:0], req)
	if err != nil {
		return modbus.Response{}, err // not reached: requests come from checked registers
	}
	if p.deadline != nil {
		_ = p.deadline.SetWriteDeadline(time.Now().Add(p.b.writeTimeout(len(p.out))))
	}
	sl.c.requests.Add(1)
	if err := writeAll(p.conn, p.out); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			sl.c.timeouts.Add(1)
			return modbus.Response{}, err
		}
		return modbus.Response{}, errSession{err}
	}
	sent := time.Now().Add(p.wire(len(p.out)))
	p.lastBus = sent
	want := 5 // an exception: the shortest answer
	if req.Function <= modbus.FuncReadInputRegisters {
		if req.Function <= modbus.FuncReadDiscreteInputs {
			want += (int(req.Quantity) + 7) / 8
		} else {
			want += 2 * int(req.Quantity)
		}
	} else {
		want = 8
	}
	p.timer.Reset(time.Until(sent.Add(p.timeout + p.wire(want))))
	p.in = p.in[:0]
	for {
		select {
		case <-sctx.Done():
			return modbus.Response{}, errSession{sctx.Err()}
		case <-p.timer.C:
			if len(p.in) > 0 {
				sl.c.malformed.Add(1) // truncated
				return modbus.Response{}, fmt.Errorf("%w: %d bytes of an answer", errTimeout, len(p.in))
			}
			sl.c.timeouts.Add(1)
			return modbus.Response{}, errTimeout
		case c, ok := <-p.rx:
			if !ok {
				return modbus.Response{}, errSession{p.gone()}
			}
			p.lastBus = time.Now()
			take := min(len(c), cap(p.in)-len(p.in))
			p.in = append(p.in, c[:take]...)
			p.st.noise.Add(uint64(len(c) - take))
			n, err := modbus.ResponseLen(req, p.in)
			if err != nil {
				sl.c.malformed.Add(1)
				p.st.noise.Add(uint64(len(p.in)))
				return modbus.Response{}, err
			}
			if n == 0 || len(p.in) < n {
				continue
			}
			p.st.noise.Add(uint64(len(p.in) - n))
			resp, err := modbus.DecodeResponse(req, p.in[:n])
			var ex *modbus.ExceptionError
			switch {
			case err == nil:
				sl.c.answers.Add(1)
			case errors.As(err, &ex):
				sl.c.answers.Add(1)
				sl.c.exceptions.Add(1)
			case errors.Is(err, modbus.ErrCRC):
				sl.c.crcErrors.Add(1)
			case errors.Is(err, modbus.ErrWrongSlave):
				sl.c.wrongSlave.Add(1)
			default:
				sl.c.malformed.Add(1)
			}
			return resp, err
		}
	}
}

// wire is the time n bytes take on the wire.
func (p *modbusPoller) wire(n int) time.Duration { return time.Duration(n) * p.char }

// quiet waits until the bus has been silent for the 3.5-character
// interval, counting what it hears meanwhile as noise. On a bus that never
// falls silent it gives up after modbus_timeout and lets the request go.
func (p *modbusPoller) quiet(sctx context.Context) error {
	giveUp := time.Now().Add(p.timeout)
	for {
		wait := time.Until(p.lastBus.Add(p.t35))
		if wait <= 0 || time.Now().After(giveUp) {
			select { // bytes already queued are noise too
			case c, ok := <-p.rx:
				if !ok {
					return errSession{p.gone()}
				}
				p.st.noise.Add(uint64(len(c)))
				p.lastBus = time.Now()
				if time.Now().After(giveUp) {
					return nil
				}
				continue
			default:
				return nil
			}
		}
		p.timer.Reset(wait)
		select {
		case <-sctx.Done():
			return errSession{sctx.Err()}
		case <-p.timer.C:
		case c, ok := <-p.rx:
			if !ok {
				return errSession{p.gone()}
			}
			p.st.noise.Add(uint64(len(c)))
			p.lastBus = time.Now()
		}
	}
}

// drainWrites drops the set messages waiting, counting them.
func (p *modbusPoller) drainWrites() {
	for {
		select {
		case <-p.writes:
			p.b.st.cmdDropped.Add(1)
		default:
			return
		}
	}
}

// bySlaveID sorts a port's slaves by address. It is a sort.Interface
// rather than slices.SortFunc: the sort package's one interface-based sort
// is in the binary anyway, while every slices.SortFunc[[]T] adds its own
// copy of pdqsort, about 10 KB of code and metadata on linux/mipsle.
type bySlaveID []*mbSlave

func (s bySlaveID) Len() int           { return len(s) }
func (s bySlaveID) Less(i, j int) bool { return s[i].id < s[j].id }
func (s bySlaveID) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
