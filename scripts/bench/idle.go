package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// connRun is what a scenario of new connections took: how many, in how
// much wall time, for how much of the broker's CPU time.
type connRun struct {
	conns   int           // connections that completed CONNECT
	elapsed time.Duration // from the first dial to the last CONNACK (churn: the last close)
	cpu     time.Duration // the broker's CPU time over elapsed (churn: and its last closes)
}

// idleResult is the broker's memory before and after holding idle clients.
type idleResult struct {
	connRun
	beforeKiB int64 // VmRSS with no clients
	afterKiB  int64 // VmRSS holding conns clients, once settled
	atOnceKiB int64 // VmRSS holding conns clients, at the last CONNACK
}

// kibPerConnAtOnce returns the RSS growth per client right after the last
// one connected: what a burst of connections costs before they go idle.
func (r idleResult) kibPerConnAtOnce() float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.atOnceKiB-r.beforeKiB) / float64(r.conns)
}

// connsPerSec returns how many connections the broker accepted (TCP accept
// and MQTT CONNECT to CONNACK; churn: and closed) per second of wall time.
func (r connRun) connsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.conns) / r.elapsed.Seconds()
}

// cpuPerConn returns the broker's CPU time per accepted connection, in µs:
// unlike the rate, it does not depend on how much of the machine the
// driver's own dialing takes.
func (r connRun) cpuPerConn() float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.conns)
}

// kibPerConn returns the RSS growth per connected client.
func (r idleResult) kibPerConn() float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.afterKiB-r.beforeKiB) / float64(r.conns)
}

// runIdle opens n TCP connections to b, each completing an MQTT 3.1.1
// CONNECT (clean session, keep alive 0 so the broker never times them out),
// and reads the broker's VmRSS before, right after the last CONNACK, and
// settle later: an idle connection is one that has been idle a while
// (gatemq parks a connection after 250 ms and gives a burst's memory back
// to the system within 20 s; mosquitto holds what it holds at once). All connections are reset
// (SO_LINGER 0, so no TIME_WAIT ties up loopback ports) before it returns.
//
// These clients speak raw MQTT rather than Paho: a Paho client costs the
// driver several goroutines and a keep-alive timer each, and the broker
// sees the same CONNECT either way.
func runIdle(b *brokerProc, n, workers int, timeout, settle time.Duration) (idleResult, error) {
	var res idleResult
	// Warm up the broker's connection path once, so the baseline includes it.
	if c, err := idleConnect(b.addr, "idle-warmup", timeout); err != nil {
		return res, err
	} else {
		c.Close()
	}
	var err error
	if res.beforeKiB, err = b.rssKiB(); err != nil {
		return res, err
	}

	conns := make([]net.Conn, n)
	cpu0, err := b.cpuTime()
	if err != nil {
		return res, err
	}
	var errs []error
	res.elapsed, errs = inParallel(n, workers, func(i int) error {
		c, err := idleConnect(b.addr, fmt.Sprintf("idle-%06d", i), timeout)
		conns[i] = c
		return err
	})
	cpu1, err := b.cpuTime()
	if err != nil {
		return res, err
	}
	res.cpu = cpu1 - cpu0
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}
	}()
	for _, c := range conns {
		if c != nil {
			res.conns++
		}
	}
	for _, e := range errs {
		if e != nil {
			return res, fmt.Errorf("%d of %d idle clients connected; first failure: %w", res.conns, n, e)
		}
	}
	if err := b.alive(); err != nil {
		return res, err
	}
	if res.atOnceKiB, err = b.rssKiB(); err != nil {
		return res, err
	}
	time.Sleep(settle)
	if err := b.alive(); err != nil {
		return res, err
	}
	res.afterKiB, err = b.rssKiB()
	return res, err
}

// inParallel calls each(i) for every i in [0, n) from workers goroutines
// at once (worker w takes w, w+workers, ..., and stops at its first
// error), and returns the wall time it took and each worker's error.
func inParallel(n, workers int, each func(i int) error) (time.Duration, []error) {
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := each(i); err != nil {
					errs[w] = fmt.Errorf("connection %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), errs
}

// idleConnect dials addr and completes an MQTT 3.1.1 CONNECT with clientID
// (clean session, keep alive 0).
func idleConnect(addr, clientID string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, byte(len(clientID) >> 8), byte(len(clientID))}
	body = append(body, clientID...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		c.Close()
		return nil, fmt.Errorf("reading CONNACK: %w", err)
	}
	if !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
		c.Close()
		return nil, fmt.Errorf("CONNACK % x, want 20 02 00 00", ack)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// raiseFileLimit raises RLIMIT_NOFILE's soft limit to the hard limit, for
// this process and the brokers it starts, and returns the new soft limit.
// (Calling Setrlimit also stops os/exec from restoring the original limit
// in children.)
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
