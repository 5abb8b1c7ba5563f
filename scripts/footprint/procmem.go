package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSample is one reading of a broker's memory, in KiB.
type memSample struct {
	// rss is the resident set. For a target under qemu-user it counts only
	// the guest's address range (the binary, its heap, stacks and data), not
	// qemu's own code, translation cache and heap.
	rss int64
	// anon is the anonymous part of rss: what the Go runtime allocated
	// (heap, goroutine stacks, runtime structures) plus the written pages
	// of the binary's data segment. GOMEMLIMIT governs this part; the
	// file-backed rest (the binary's text, read-only data) is page cache
	// the kernel can drop and reread.
	anon int64
	// host is VmRSS of the whole process: equal to rss natively, rss plus
	// qemu's own memory under emulation.
	host int64
}

// maxOf returns the field-wise maximum of a and b.
func maxOf(a, b memSample) memSample {
	return memSample{rss: max(a.rss, b.rss), anon: max(a.anon, b.anon), host: max(a.host, b.host)}
}

// addrRange is a half-open range of host virtual addresses.
type addrRange struct{ lo, hi uint64 }

// memReader reads the memory of one broker process.
type memReader struct {
	pid int
	// guest is the guest's address range under qemu-user; nil natively.
	guest *addrRange
}

// read takes one reading. Natively it uses /proc/PID/status (VmRSS,
// RssAnon); under qemu it adds up /proc/PID/smaps over the guest range.
func (m memReader) read() (memSample, error) {
	st, err := statusKiB(m.pid, "VmRSS", "RssAnon")
	if err != nil {
		return memSample{}, err
	}
	s := memSample{rss: st[0], anon: st[1], host: st[0]}
	if m.guest == nil {
		return s, nil
	}
	s.rss, s.anon, err = smapsKiB(m.pid, *m.guest)
	return s, err
}

// statusKiB reads "Name: N kB" fields of /proc/PID/status, in the order
// asked.
func statusKiB(pid int, fields ...string) ([]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]int64, len(fields))
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for i, name := range fields {
			if k == name {
				n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
				}
				out[i] = n
				found++
			}
		}
	}
	if found != len(fields) {
		return nil, fmt.Errorf("/proc/%d/status lacks one of %v", pid, fields)
	}
	return out, sc.Err()
}

// smapsKiB adds up the Rss and Anonymous lines of the mappings of pid that
// start inside r.
func smapsKiB(pid int, r addrRange) (rss, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if start, ok := mappingStart(line); ok {
			in = start >= r.lo && start < r.hi
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "Rss" && k != "Anonymous") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/smaps: %q: %w", pid, line, err)
		}
		if k == "Rss" {
			rss += n
		} else {
			anon += n
		}
	}
	return rss, anon, sc.Err()
}

// mappingStart parses the start address of a maps/smaps header line
// ("7f1728800000-7f1728a18000 r--p ..."); ok is false for other lines.
func mappingStart(line string) (uint64, bool) {
	lo, rest, ok := strings.Cut(line, "-")
	if !ok || !strings.Contains(rest, " ") {
		return 0, false
	}
	n, err := strconv.ParseUint(lo, 16, 64)
	return n, err == nil
}

// guestRange finds where qemu-user (process pid) put the 32-bit guest's
// address space: guest_base is where the binary bin's first loadable segment
// is mapped minus that segment's guest address, and the guest owns the 4 GiB
// from there.
func guestRange(pid int, bin string) (addrRange, error) {
	ef, err := elf.Open(bin)
	if err != nil {
		return addrRange{}, err
	}
	defer ef.Close()
	lowest := uint64(1<<64 - 1)
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			lowest = min(lowest, p.Vaddr&^0xfff)
		}
	}
	if lowest == 1<<64-1 {
		return addrRange{}, fmt.Errorf("%s: no loadable segment at file offset 0", bin)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return addrRange{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != bin || fields[2] != "00000000" {
			continue
		}
		start, ok := mappingStart(sc.Text())
		if !ok || start < lowest {
			continue
		}
		base := start - lowest
		return addrRange{lo: base, hi: base + 1<<32}, nil
	}
	if err := sc.Err(); err != nil {
		return addrRange{}, err
	}
	return addrRange{}, fmt.Errorf("qemu process %d has not mapped %s", pid, bin)
}

// cpuSeconds returns the user+system CPU time pid has used so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ")" are plain.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("stat: short")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on every Linux this runs on
	return (ut + st) / clkTck, nil
}

// peakSampler reads a broker's memory every interval and keeps the highest
// values seen. Start it with startPeakSampler and end it with stop.
type peakSampler struct {
	m    memReader
	quit chan struct{}
	done chan struct{}

	mu   sync.Mutex
	peak memSample
}

// startPeakSampler starts sampling m every interval until stop is called.
func startPeakSampler(m memReader, interval time.Duration) *peakSampler {
	p := &peakSampler{m: m, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// sample takes one reading into the peak (failed readings are skipped: the
// process may be exiting).
func (p *peakSampler) sample() {
	s, err := p.m.read()
	if err != nil {
		return
	}
	p.mu.Lock()
	p.peak = maxOf(p.peak, s)
	p.mu.Unlock()
}

// stop ends the sampling (after one last reading) and returns the peak.
// It may be called once.
func (p *peakSampler) stop() memSample {
	close(p.quit)
	<-p.done
	p.sample()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}
