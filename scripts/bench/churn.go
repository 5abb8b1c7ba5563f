package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// runChurn runs a connection storm against b: workers clients at once, n
// connections in all, each a new TCP connection that completes an MQTT
// 3.1.1 CONNECT (clean session, keep alive 0), sends DISCONNECT and waits
// for the broker to close the socket (so the broker closes first, and its
// close is part of what is measured). It reads the broker's CPU time
// before the first dial and after the last close, once the broker holds
// no more sockets than before (at most 5 s later): the whole life of a
// short connection, which the idle scenario (connections kept) does not
// see.
func runChurn(b *brokerProc, n, workers int, timeout time.Duration) (connRun, error) {
	var res connRun
	// Warm up the broker's connection path once.
	if c, err := idleConnect(b.addr, "churn-warmup", timeout); err != nil {
		return res, err
	} else if err := disconnect(c, timeout); err != nil {
		return res, err
	}
	pid := b.cmd.Process.Pid
	fds0, err := countFDs(pid)
	if err != nil {
		return res, err
	}
	cpu0, err := b.cpuTime()
	if err != nil {
		return res, err
	}
	var done atomic.Int64
	var errs []error
	res.elapsed, errs = inParallel(n, workers, func(i int) error {
		c, err := idleConnect(b.addr, fmt.Sprintf("churn-%06d", i), timeout)
		if err == nil {
			err = disconnect(c, timeout)
		}
		if err == nil {
			done.Add(1)
		}
		return err
	})
	res.conns = int(done.Load())
	for _, e := range errs {
		if e != nil {
			return res, fmt.Errorf("%d of %d connections done; first failure: %w", res.conns, n, e)
		}
	}
	// The broker has closed every socket (each client read its EOF); wait
	// until it has let go of them all, so that what follows close is
	// counted too.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fds, err := countFDs(pid); err != nil || fds <= fds0 {
			break
		}
	}
	cpu1, err := b.cpuTime()
	if err != nil {
		return res, err
	}
	res.cpu = cpu1 - cpu0
	return res, b.alive()
}

// disconnect sends DISCONNECT on c, waits until the broker closes the
// connection and closes c.
func disconnect(c net.Conn, timeout time.Duration) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{0xE0, 0}); err != nil {
		return err
	}
	var buf [16]byte
	for {
		n, err := c.Read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for the broker to close: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("after DISCONNECT the broker sent % x", buf[:n])
		}
	}
}

// countFDs returns how many file descriptors process pid has open.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}
