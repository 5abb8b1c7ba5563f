package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// everydayConfig is one everyday-rate run: one publisher paced at rate
// messages per second for duration, one subscriber, both at qos.
type everydayConfig struct {
	rate int
	msgRun
}

// msgRun is what the runs of raw clients that publish at a pace of
// their own (everyday rate, sensors) have in common.
type msgRun struct {
	duration    time.Duration // publishing time
	qos         byte
	payload     int           // bytes, at least the scenario's header (everydayHeader, sensorHeader)
	drain       time.Duration // most time to wait for the last deliveries
	connTimeout time.Duration
	perf        bool     // count the broker's system calls and context switches with perf stat
	perfExtra   []string // more perf events to count (with perf), e.g. syscalls:sys_enter_*
}

// everydayHeader is the start of every payload: publisher index (always
// 0), sequence number and send time (nanoseconds since the run's base),
// both big-endian.
const everydayHeader = 17

// everydayWindow bounds the publisher's unacknowledged QoS 1/2 messages;
// at an everyday rate it is never reached unless the broker stalls.
const everydayWindow = 64

// everydayResult is what one everyday-rate run measured.
type everydayResult struct {
	sent, received, dups int64
	brokerCPU            time.Duration // the broker's utime+stime from the first publish to the end of draining
	brokerSys            time.Duration // the stime part of it (in the kernel)
	wall                 time.Duration // from the first publish to the last delivery (or the last publish, if later)
	latencies            []time.Duration
	perf                 map[string]float64 // perf stat counts over the span, with cfg.perf
}

// cpuPerMsg returns the broker's CPU time per delivered message, in µs.
func (r everydayResult) cpuPerMsg() float64 {
	return perMessage(float64(r.brokerCPU.Microseconds()), r.received)
}

// cpuShare returns the broker's CPU use over the run, in % of one core.
func (r everydayResult) cpuShare() float64 {
	if r.wall <= 0 {
		return 0
	}
	return 100 * r.brokerCPU.Seconds() / r.wall.Seconds()
}

// percentile returns the p-th percentile (0 < p <= 100) of the latencies,
// in µs (nearest rank).
func (r everydayResult) percentile(p float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i].Nanoseconds()) / 1000
}

// runEveryday publishes cfg.rate messages per second for cfg.duration
// from one raw MQTT 3.1.1 client to another subscribed to the same topic
// through the broker with process id pid at addr, and measures the
// broker's CPU time (utime+stime of /proc/PID/stat, which counts every
// thread) from the first publish until the last delivery, and each
// message's latency from just before the publisher's write to the
// subscriber's read of the PUBLISH.
//
// The clients speak raw MQTT, as the idle scenario's do, so that the
// driver, which shares the CPUs with the broker, spends little per
// message, and the publisher sleeps with nanosleep(2) on a thread of its
// own (Go's timers wake no more often than once a millisecond, which
// would send the messages in pairs).
func runEveryday(addr string, pid int, runID string, cfg everydayConfig) (everydayResult, error) {
	var res everydayResult
	topic := "bench/" + runID
	sub, err := dialRaw(addr, runID+"-sub", cfg.connTimeout)
	if err != nil {
		return res, err
	}
	defer sub.conn.Close()
	if err := sub.subscribe(topic, cfg.qos, cfg.connTimeout); err != nil {
		return res, err
	}
	pub, err := dialRaw(addr, runID+"-pub", cfg.connTimeout)
	if err != nil {
		return res, err
	}
	defer pub.conn.Close()

	total := int(int64(cfg.rate) * int64(cfg.duration) / int64(time.Second))
	tr := newSeqTracker(1, total)
	base := time.Now()
	lat := make([]time.Duration, 0, total)
	var lastRecv atomic.Int64 // since base, of the latest delivery
	subDone := make(chan error, 1)
	go func() {
		subDone <- sub.receive(func(payload []byte) {
			now := time.Since(base)
			if len(payload) >= everydayHeader {
				lat = append(lat, now-time.Duration(binary.BigEndian.Uint64(payload[9:17])))
			}
			lastRecv.Store(int64(now))
			tr.add(payload)
		})
	}()
	acks := make(chan struct{}, everydayWindow)
	pubDone := make(chan error, 1)
	if cfg.qos > 0 {
		go func() { pubDone <- pub.receiveAcks(acks) }()
	}

	span, err := startSpan(pid, cfg.perf, cfg.perfExtra)
	if err != nil {
		return res, err
	}
	defer span.abort()
	start := time.Now()
	sent, err := pub.publishPaced(topic, cfg, total, base, acks)
	res.sent = int64(sent)
	if err != nil {
		return res, err
	}
	pubEnd := time.Since(base)
	res.wall = awaitDeliveries(tr.distinct, res.sent, base, start, pubEnd, &lastRecv, cfg.drain)
	if res.brokerCPU, res.brokerSys, res.perf, err = span.end(); err != nil {
		return res, err
	}
	sub.conn.Close()
	pub.conn.Close()
	<-subDone
	if cfg.qos > 0 {
		<-pubDone
	}
	res.received, res.dups, res.latencies = tr.distinct(), tr.duplicates(), lat
	return res, nil
}

// rawClient is a minimal MQTT 3.1.1 client over one TCP connection.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex // writes come from the sending goroutine and the ack reader
}

// dialRaw connects and completes CONNECT (clean session, keep alive 60 s,
// as the Paho clients of the other scenarios).
func dialRaw(addr, clientID string, timeout time.Duration) (*rawClient, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	rc := &rawClient{conn: c, br: bufio.NewReaderSize(c, 32<<10)}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60}
	body = appendMQTTString(body, clientID)
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := rc.write(0x10, body); err != nil {
		c.Close()
		return nil, err
	}
	h, b, err := rc.read()
	if err != nil || h != 0x20 || len(b) != 2 || b[1] != 0 {
		c.Close()
		return nil, fmt.Errorf("connect %s: CONNACK %#x % x, %v", clientID, h, b, err)
	}
	_ = c.SetDeadline(time.Time{})
	return rc, nil
}

// appendMQTTString appends s with its 2-byte length.
func appendMQTTString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// write sends one packet: header byte, remaining length, body.
func (c *rawClient) write(header byte, body []byte) error {
	pkt := make([]byte, 0, 5+len(body))
	pkt = append(pkt, header)
	for n := len(body); ; {
		b := byte(n % 128)
		if n /= 128; n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, body...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(pkt)
	return err
}

// read returns the next packet's header byte and body.
func (c *rawClient) read() (byte, []byte, error) {
	h, err := c.br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := c.br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		if mul *= 128; i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	_, err = io.ReadFull(c.br, body)
	return h, body, err
}

// subscribe subscribes to topic at q and waits for the SUBACK.
func (c *rawClient) subscribe(topic string, q byte, timeout time.Duration) error {
	body := appendMQTTString([]byte{0, 1}, topic)
	body = append(body, q)
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	defer c.conn.SetDeadline(time.Time{})
	if err := c.write(0x82, body); err != nil {
		return err
	}
	h, b, err := c.read()
	if err != nil || h != 0x90 || len(b) != 3 || b[2] != q {
		return fmt.Errorf("subscribe %s: SUBACK %#x % x, %v", topic, h, b, err)
	}
	return nil
}

// receive reads PUBLISHes until the connection ends, acknowledging QoS 1
// (PUBACK) and QoS 2 (PUBREC, then PUBCOMP for the PUBREL) ones, and calls
// got with each payload as it arrives.
func (c *rawClient) receive(got func(payload []byte)) error {
	for {
		h, b, err := c.read()
		if err != nil {
			return err
		}
		switch h >> 4 {
		case 3: // PUBLISH
			q := h >> 1 & 3
			if len(b) < 2 {
				return errors.New("short PUBLISH")
			}
			i := 2 + int(binary.BigEndian.Uint16(b))
			var id []byte
			if q > 0 {
				id = b[i : i+2]
				i += 2
			}
			got(b[i:])
			switch q {
			case 1:
				err = c.write(0x40, id)
			case 2:
				err = c.write(0x50, id)
			}
		case 6: // PUBREL
			err = c.write(0x70, b[:2])
		}
		if err != nil {
			return err
		}
	}
}

// receiveAcks reads the publisher's acknowledgements until the connection
// ends: a PUBACK or PUBCOMP frees a window slot, a PUBREC is answered with
// PUBREL.
func (c *rawClient) receiveAcks(acks chan struct{}) error {
	for {
		h, b, err := c.read()
		if err != nil {
			return err
		}
		switch h >> 4 {
		case 4, 7: // PUBACK, PUBCOMP
			<-acks
		case 5: // PUBREC
			if err := c.write(0x62, b[:2]); err != nil {
				return err
			}
		}
	}
}

// publishPaced publishes total messages at cfg.rate per second, each
// stamped with its send time since base, and returns how many it sent. At
// QoS 1/2 it waits while everydayWindow messages are unacknowledged.
func (c *rawClient) publishPaced(topic string, cfg everydayConfig, total int, base time.Time, acks chan struct{}) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	setTimerSlack(1000) // 1 µs, for nanosleep
	interval := time.Second / time.Duration(cfg.rate)
	start := time.Now()
	payload := make([]byte, max(cfg.payload, everydayHeader))
	for i := everydayHeader; i < len(payload); i++ {
		payload[i] = 'x'
	}
	prefix := appendMQTTString(nil, topic)
	for seq := 0; seq < total; seq++ {
		if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 {
			ts := syscall.NsecToTimespec(int64(d))
			_ = syscall.Nanosleep(&ts, nil) // interrupted early at worst
		}
		if cfg.qos > 0 {
			select {
			case acks <- struct{}{}:
			default:
				select {
				case acks <- struct{}{}:
				case <-time.After(cfg.drain):
					return seq, fmt.Errorf("%d messages unacknowledged for %v", everydayWindow, cfg.drain)
				}
			}
		}
		body := append([]byte(nil), prefix...)
		if cfg.qos > 0 {
			body = binary.BigEndian.AppendUint16(body, uint16(seq%65535+1))
		}
		binary.BigEndian.PutUint64(payload[1:9], uint64(seq))
		binary.BigEndian.PutUint64(payload[9:17], uint64(time.Since(base)))
		body = append(body, payload...)
		if err := c.write(0x30|cfg.qos<<1, body); err != nil {
			return seq, err
		}
	}
	// At QoS 1/2 the publishing ends when the last message is acknowledged.
	for deadline := time.Now().Add(cfg.drain); len(acks) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return total, fmt.Errorf("%d messages unacknowledged %v after the last publish", len(acks), cfg.drain)
		}
	}
	return total, nil
}

// setTimerSlack sets the calling thread's timer slack (how late the kernel
// may wake a sleep, 50 µs by default) to ns nanoseconds.
func setTimerSlack(ns uintptr) {
	const prSetTimerSlack = 29
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, ns, 0)
}

// runEverydayOne runs everyday-rate scenario s against the running broker
// b, records its figures into metrics and returns a progress line.
func runEverydayOne(b *brokerProc, s scenario, round int, metrics map[string]*metric) (string, error) {
	name := b.kind.name
	res, err := runEveryday(b.addr, b.cmd.Process.Pid, fmt.Sprintf("r%d-%s", round, s.name), *s.everyday)
	if err != nil {
		return "", err
	}
	if err := b.alive(); err != nil {
		return "", err
	}
	p50, p99 := res.percentile(50), res.percentile(99)
	metrics[s.name+"_cpu_us"].add(name, res.cpuPerMsg())
	metrics[s.name+"_cpu_pct"].add(name, res.cpuShare())
	metrics[s.name+"_p50_us"].add(name, p50)
	metrics[s.name+"_p99_us"].add(name, p99)
	metrics[s.name+"_lost"].add(name, float64(max(res.sent-res.received, 0)))
	line := fmt.Sprintf("sent %d, delivered %d, dups %d in %v: broker CPU %v (%v in the kernel; %.1f%% of a core, %.2f µs/msg), latency p50 %.0f µs p99 %.0f µs",
		res.sent, res.received, res.dups, res.wall.Round(time.Millisecond), res.brokerCPU, res.brokerSys, res.cpuShare(), res.cpuPerMsg(), p50, p99)
	return line + addPerf(metrics, s.name, name, res.perf, res.received), nil
}

// addPerf records the perf counts of one run of scenario (nil: none) per
// delivered message into metrics under broker, and returns them for its
// progress line.
func addPerf(metrics map[string]*metric, scenario, broker string, counts map[string]float64, msgs int64) string {
	if counts == nil {
		return ""
	}
	sc, cs := perMessage(counts[perfEvents[0]], msgs), perMessage(counts[perfEvents[1]], msgs)
	metrics[scenario+"_syscalls"].add(broker, sc)
	metrics[scenario+"_ctxsw"].add(broker, cs)
	line := fmt.Sprintf(", %.2f syscalls/msg, %.2f context switches/msg", sc, cs)
	if more := extraCounts(counts, msgs); more != "" {
		line += " (per msg: " + more + ")"
	}
	return line
}
