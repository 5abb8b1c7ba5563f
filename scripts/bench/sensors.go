package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sensorsConfig is one run of the sensors scenario: conns clients that
// each publish a reading every period or so (each its own period in
// [every, 2*every), their first readings spread over the first every), for
// duration, to one subscriber on a wildcard. A reading is burst messages,
// each written on its own, one after the other.
type sensorsConfig struct {
	conns int
	every time.Duration
	burst int
	msgRun
}

// sensorHeader is the start of a sensor's payload: the sensor's index
// (uint32), its sequence number (uint32) and the send time (nanoseconds
// since the run's base, uint64), big-endian.
const sensorHeader = 16

// sensorsResult is what one sensors run measured.
type sensorsResult struct {
	sent, received, dups int64
	brokerCPU            time.Duration // from the first publish to the end of draining
	brokerSys            time.Duration
	wall                 time.Duration
	idleKiB, busyKiB     int64 // the broker's VmRSS with the sensors connected, before publishing and at its end
	latencies            []time.Duration
	perf                 map[string]float64
}

// cpuPerMsg returns the broker's CPU time per delivered message, in µs.
func (r sensorsResult) cpuPerMsg() float64 {
	return perMessage(float64(r.brokerCPU.Microseconds()), r.received)
}

// perMessage returns v / msgs, 0 without messages.
func perMessage(v float64, msgs int64) float64 {
	if msgs == 0 {
		return 0
	}
	return v / float64(msgs)
}

// runSensors runs the sensors scenario against b: the everyday life of a
// home hub, many clients each sending a reading now and then, and so a
// connection that is idle between two of its messages for longer than
// gatemq's idle time (idle.go: it parks, and wakes for the next message).
// The sensors are raw MQTT 3.1.1 clients (keep alive 60 s) that connect
// all at once, wait a second (gatemq parks them all), then publish; at QoS
// 1 each waits for its PUBACK. It measures the broker's CPU time from the
// first publish until the deliveries are done, per delivered message, the
// latency from publish to delivery, and the broker's VmRSS once the
// sensors are connected and idle, and again at the end of the publishing.
func runSensors(b *brokerProc, runID string, cfg sensorsConfig) (sensorsResult, error) {
	var res sensorsResult
	topic := "sensors/" + runID
	sub, err := dialRaw(b.addr, runID+"-sub", cfg.connTimeout)
	if err != nil {
		return res, err
	}
	defer sub.conn.Close()
	if err := sub.subscribe(topic+"/#", cfg.qos, cfg.connTimeout); err != nil {
		return res, err
	}
	sensors := make([]*rawClient, cfg.conns)
	defer func() {
		for _, c := range sensors {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	_, errs := inParallel(cfg.conns, 32, func(i int) error {
		c, err := dialRaw(b.addr, fmt.Sprintf("%s-s%d", runID, i), cfg.connTimeout)
		sensors[i] = c
		return err
	})
	for _, e := range errs {
		if e != nil {
			return res, e
		}
	}

	var (
		mu       sync.Mutex
		lastSeq  = make([]int64, cfg.conns)
		lat      []time.Duration
		received atomic.Int64
		lastRecv atomic.Int64 // since base, of the latest delivery
		base     = time.Now()
	)
	for i := range lastSeq {
		lastSeq[i] = -1
	}
	subDone := make(chan error, 1)
	go func() {
		subDone <- sub.receive(func(p []byte) {
			now := time.Since(base)
			if len(p) < sensorHeader {
				return
			}
			i, seq := binary.BigEndian.Uint32(p), int64(binary.BigEndian.Uint32(p[4:]))
			mu.Lock()
			defer mu.Unlock()
			if int(i) >= len(lastSeq) || seq <= lastSeq[i] {
				res.dups++
				return
			}
			lastSeq[i] = seq
			lat = append(lat, now-time.Duration(binary.BigEndian.Uint64(p[8:])))
			received.Add(1)
			lastRecv.Store(int64(now))
		})
	}()

	time.Sleep(time.Second) // idle long enough for gatemq to park every sensor
	if res.idleKiB, err = b.rssKiB(); err != nil {
		return res, err
	}
	span, err := startSpan(b.cmd.Process.Pid, cfg.perf, cfg.perfExtra)
	if err != nil {
		return res, err
	}
	defer span.abort()
	start := time.Now()
	var sent atomic.Int64
	pubErrs := make([]error, cfg.conns)
	var wg sync.WaitGroup
	for i, c := range sensors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pubErrs[i] = c.sense(i, topic, cfg, start, base, &sent)
		}()
	}
	time.Sleep(time.Until(start.Add(cfg.duration)))
	if res.busyKiB, err = b.rssKiB(); err != nil {
		return res, err
	}
	wg.Wait()
	for _, e := range pubErrs {
		if e != nil {
			return res, e
		}
	}
	res.sent = sent.Load()
	pubEnd := time.Since(base)
	res.wall = awaitDeliveries(received.Load, res.sent, base, start, pubEnd, &lastRecv, cfg.drain)
	if res.brokerCPU, res.brokerSys, res.perf, err = span.end(); err != nil {
		return res, err
	}
	sub.conn.Close()
	<-subDone
	mu.Lock()
	res.received, res.latencies = received.Load(), lat
	mu.Unlock()
	return res, nil
}

// sense publishes sensor i's readings to topic/i from start until
// cfg.duration has passed: the first at a time of its own in
// [0, cfg.every), then one every period, a period of its own in
// [cfg.every, 2*cfg.every); each reading is cfg.burst messages, each
// written on its own. At QoS 1 it then waits for their PUBACKs.
func (c *rawClient) sense(i int, topic string, cfg sensorsConfig, start, base time.Time, sent *atomic.Int64) error {
	n := int64(cfg.conns)
	period := cfg.every + cfg.every*time.Duration(i)/time.Duration(n)
	phase := cfg.every * time.Duration(int64(i)*7919%n) / time.Duration(n)
	prefix := appendMQTTString(nil, fmt.Sprintf("%s/%d", topic, i))
	payload := make([]byte, max(cfg.payload, sensorHeader))
	binary.BigEndian.PutUint32(payload, uint32(i))
	ack := make([]byte, 4)
	seq := 0
	for reading := 0; ; reading++ {
		at := phase + time.Duration(reading)*period
		if at >= cfg.duration {
			return nil
		}
		time.Sleep(time.Until(start.Add(at)))
		for range cfg.burst {
			body := slices.Clone(prefix)
			if cfg.qos > 0 {
				body = binary.BigEndian.AppendUint16(body, uint16(seq%65535+1))
			}
			binary.BigEndian.PutUint32(payload[4:], uint32(seq))
			binary.BigEndian.PutUint64(payload[8:], uint64(time.Since(base)))
			body = append(body, payload...)
			if err := c.write(0x30|cfg.qos<<1, body); err != nil {
				return fmt.Errorf("sensor %d: %w", i, err)
			}
			sent.Add(1)
			seq++
		}
		if cfg.qos == 0 {
			continue
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(cfg.drain))
		for range cfg.burst {
			if _, err := io.ReadFull(c.br, ack); err != nil || ack[0] != 0x40 {
				return fmt.Errorf("sensor %d: PUBACK % x, %v", i, ack, err)
			}
		}
	}
}

// runSensorsOne runs sensors scenario s against the running broker b,
// records its figures into metrics and returns a progress line.
func runSensorsOne(b *brokerProc, s scenario, round int, metrics map[string]*metric) (string, error) {
	name := b.kind.name
	res, err := runSensors(b, fmt.Sprintf("r%d-%s", round, s.name), *s.sensors)
	if err != nil {
		return "", err
	}
	if err := b.alive(); err != nil {
		return "", err
	}
	lat := everydayResult{latencies: res.latencies}
	p50, p99 := lat.percentile(50), lat.percentile(99)
	metrics[s.name+"_cpu_us"].add(name, res.cpuPerMsg())
	metrics[s.name+"_rss_idle"].add(name, float64(res.idleKiB))
	metrics[s.name+"_rss_busy"].add(name, float64(res.busyKiB))
	metrics[s.name+"_p50_us"].add(name, p50)
	metrics[s.name+"_p99_us"].add(name, p99)
	metrics[s.name+"_lost"].add(name, float64(max(res.sent-res.received, 0)))
	line := fmt.Sprintf("%d sensors sent %d, delivered %d, dups %d in %v: broker CPU %v (%v in the kernel; %.1f µs/msg), RSS %d KiB idle, %d KiB busy, latency p50 %.0f µs p99 %.0f µs",
		s.sensors.conns, res.sent, res.received, res.dups, res.wall.Round(time.Millisecond), res.brokerCPU, res.brokerSys,
		res.cpuPerMsg(), res.idleKiB, res.busyKiB, p50, p99)
	return line + addPerf(metrics, s.name, name, res.perf, res.received), nil
}
