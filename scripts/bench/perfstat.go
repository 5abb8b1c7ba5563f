package main

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// perfEvents are what -perf counts in the broker during an everyday-rate
// run: system calls, and context switches (each time one of its threads
// goes to sleep or is preempted: about its wake-ups).
var perfEvents = []string{"raw_syscalls:sys_enter", "context-switches"}

// perfStat is `perf stat` attached to a running process (its threads,
// and those they start, counted).
type perfStat struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startPerfStat attaches perf stat to pid, counting perfEvents and extra,
// and gives it a moment to start counting.
func startPerfStat(pid int, extra []string) (*perfStat, error) {
	p := &perfStat{}
	p.cmd = exec.Command("perf", "stat", "-x,", "-e", strings.Join(append(slices.Clone(perfEvents), extra...), ","), "-p", strconv.Itoa(pid))
	p.cmd.Stderr = &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf stat: %w", err)
	}
	time.Sleep(100 * time.Millisecond)
	return p, nil
}

// stop ends perf stat and returns its counts by event name.
func (p *perfStat) stop() (map[string]float64, error) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	counts, err := parsePerfCSV(p.out.String())
	if err != nil {
		return nil, fmt.Errorf("perf stat: %w: %s", err, strings.TrimSpace(p.out.String()))
	}
	return counts, nil
}

// parsePerfCSV reads perf stat -x, output: "value,unit,event,..." per
// line; every event of perfEvents must have a number.
func parsePerfCSV(out string) (map[string]float64, error) {
	counts := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			counts[f[2]] = v
		}
	}
	for _, e := range perfEvents {
		if _, ok := counts[e]; !ok {
			return nil, fmt.Errorf("no count for %s", e)
		}
	}
	return counts, nil
}

// cpuSpan measures a broker's CPU time (utime+stime of /proc/PID/stat,
// all threads), and with perf its perf counts, over the span of a run
// from the first publish until the deliveries are done.
type cpuSpan struct {
	pid         int
	user0, sys0 time.Duration
	perf        *perfStat // nil: not counting, or stopped
}

// startSpan starts measuring the broker with process id pid; with perf,
// it also counts perfEvents and extra. A caller that may not reach end
// defers abort.
func startSpan(pid int, perf bool, extra []string) (*cpuSpan, error) {
	s := &cpuSpan{pid: pid}
	var err error
	if perf {
		if s.perf, err = startPerfStat(pid, extra); err != nil {
			return nil, err
		}
	}
	if s.user0, s.sys0, err = procCPUTimes(pid); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// abort stops perf stat if it still runs.
func (s *cpuSpan) abort() {
	if s.perf != nil {
		_, _ = s.perf.stop()
		s.perf = nil
	}
}

// end returns the broker's CPU time since startSpan, the part of it in
// the kernel, and the perf counts (nil without perf).
func (s *cpuSpan) end() (cpu, sys time.Duration, counts map[string]float64, err error) {
	user1, sys1, err := procCPUTimes(s.pid)
	if err != nil {
		return 0, 0, nil, err
	}
	cpu, sys = user1+sys1-s.user0-s.sys0, sys1-s.sys0
	if s.perf != nil {
		counts, err = s.perf.stop()
		s.perf = nil
	}
	return cpu, sys, counts, err
}

// awaitDeliveries waits, once publishing ended at pubEnd (since base),
// until got() reaches sent, or deliveries stall (a second without one
// since the later of the last, lastRecv since base, and pubEnd), or drain
// runs out. It returns the wall time from start to the last delivery, or
// to pubEnd if that is later.
func awaitDeliveries(got func() int64, sent int64, base, start time.Time, pubEnd time.Duration, lastRecv *atomic.Int64, drain time.Duration) time.Duration {
	deadline := time.Now().Add(drain)
	for got() < sent && time.Now().Before(deadline) &&
		time.Since(base)-max(time.Duration(lastRecv.Load()), pubEnd) < time.Second {
		time.Sleep(time.Millisecond)
	}
	return max(time.Duration(lastRecv.Load()), pubEnd) - start.Sub(base)
}

// extraCounts formats, per message, the counts not in perfEvents that
// were not zero, highest first: "sys_enter_write 2.00, sys_enter_read 1.50".
func extraCounts(counts map[string]float64, msgs int64) string {
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range counts {
		if v > 0 && !slices.Contains(perfEvents, k) {
			_, short, _ := strings.Cut(k, ":")
			l = append(l, kv{cmp.Or(short, k), v / float64(max(msgs, 1))})
		}
	}
	slices.SortFunc(l, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var out []string
	for _, e := range l {
		out = append(out, fmt.Sprintf("%s %.2f", e.k, e.v))
	}
	return strings.Join(out, ", ")
}
