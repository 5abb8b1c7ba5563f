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
