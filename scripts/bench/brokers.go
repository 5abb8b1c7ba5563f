package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// brokerProc is one running broker process on a loopback port.
type brokerProc struct {
	kind brokerKind
	addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	dir  string // temporary folder (configs, data), removed by stop
	data string // the broker's data folder inside dir; "" when its state is in memory
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result; read after done
}

// startBroker starts a fresh broker of kind on a free loopback port, with
// extra arguments after its own, and waits until it accepts TCP
// connections.
func startBroker(kind brokerKind, extra ...string) (*brokerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &brokerProc{
		kind: kind,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		out:  &tailBuffer{max: 8 << 10},
		done: make(chan struct{}),
	}
	b.dir, err = os.MkdirTemp("", "gatemq-bench-"+kind.name+"-")
	if err != nil {
		return nil, err
	}
	args, err := b.commandLine(port)
	if err != nil {
		os.RemoveAll(b.dir)
		return nil, err
	}
	b.cmd = kind.command(append(args, extra...)...)
	b.cmd.Stdout = b.out
	b.cmd.Stderr = b.out
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(b.dir)
		return nil, fmt.Errorf("starting %s: %w", kind.name, err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	if err := b.waitReady(10 * time.Second); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

// benchLogTypes is the logging both brokers get: errors and warnings.
const benchLogTypes = "log_type error\nlog_type warning\n"

// commandLine writes the broker's config into b.dir and returns its
// arguments.
func (b *brokerProc) commandLine(port int) ([]string, error) {
	kind := b.kind
	switch kind.program {
	case "gatemq":
		// mosquitto keeps its state in memory by default; so does gatemq
		// here unless the variant asks for its flash log. Both log errors
		// and warnings only: by default both log a line per connection
		// (log_type notice), which would be most of what connecting
		// costs in the idle scenario.
		conf := benchLogTypes
		if kind.durable {
			b.data = filepath.Join(b.dir, "data")
			conf += fmt.Sprintf("allow_anonymous true\npersistence true\npersistence_location %s\nsync %s\nsys_interval 1\n", b.data, kind.sync)
		}
		path := filepath.Join(b.dir, "gatemq.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		if !kind.durable {
			return []string{"-p", strconv.Itoa(port), "-c", path, "-memory"}, nil
		}
		return []string{"-p", strconv.Itoa(port), "-c", path}, nil
	case "mosquitto":
		// Errors and warnings only, as gatemq above.
		conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n", port) + benchLogTypes
		if kind.nodelay {
			conf += "set_tcp_nodelay true\n"
		}
		if kind.durable {
			b.data = filepath.Join(b.dir, "data")
			if err := os.Mkdir(b.data, 0o755); err != nil {
				return nil, err
			}
			// mosquitto wants the folder with its trailing slash.
			conf += "persistence true\npersistence_location " + b.data + "/\n"
		}
		path := filepath.Join(b.dir, "mosquitto.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		return []string{"-c", path}, nil
	case "mochi":
		args := []string{"-addr", b.addr}
		if kind.durable {
			b.data = filepath.Join(b.dir, "data")
			if err := os.Mkdir(b.data, 0o755); err != nil {
				return nil, err
			}
			args = append(args, "-bolt", filepath.Join(b.data, "mochi.bolt"))
		}
		return args, nil
	}
	return nil, fmt.Errorf("unknown broker program %q", kind.program)
}

// waitReady polls until the broker accepts a TCP connection.
func (b *brokerProc) waitReady(timeout time.Duration) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		if c, err := net.DialTimeout("tcp", b.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-tick.C:
		case <-b.done:
			return fmt.Errorf("%s exited during start-up (%v): %s", b.kind.name, b.err, b.out.String())
		case <-deadline:
			return fmt.Errorf("%s does not accept on %s after %v: %s", b.kind.name, b.addr, timeout, b.out.String())
		}
	}
}

// alive returns an error (with the broker's last output) if it has exited.
func (b *brokerProc) alive() error {
	select {
	case <-b.done:
		return fmt.Errorf("%s died (%v): %s", b.kind.name, b.err, b.out.String())
	default:
		return nil
	}
}

// rssKiB returns the broker's resident set size (VmRSS) in KiB.
func (b *brokerProc) rssKiB() (int64, error) {
	return readVmRSS(b.cmd.Process.Pid)
}

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100
// on every Linux architecture gatemq targets).
const userHZ = 100

// cpuTime returns the CPU time (user plus system, all threads) the broker
// has used so far, from /proc/PID/stat, in steps of 10 ms.
func (b *brokerProc) cpuTime() (time.Duration, error) {
	return procCPUTime(b.cmd.Process.Pid)
}

// procCPUTime reads utime + stime of process pid (all its threads, those
// that ended included).
func procCPUTime(pid int) (time.Duration, error) {
	user, sys, err := procCPUTimes(pid)
	return user + sys, err
}

// procCPUTimes reads utime and stime of process pid.
func procCPUTimes(pid int) (user, sys time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	user, sys, err = parseProcStatCPU(string(data))
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return user, sys, nil
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) from the text
// of /proc/PID/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ')'.
func parseProcStatCPU(stat string) (user, sys time.Duration, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%d fields after the name", len(f))
	}
	var ticks [2]int64
	for j, s := range f[11:13] {
		if ticks[j], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, err
		}
	}
	return time.Duration(ticks[0]) * time.Second / userHZ, time.Duration(ticks[1]) * time.Second / userHZ, nil
}

// stop ends the broker with SIGTERM (SIGKILL after 5 s) and removes its
// temporary folder.
func (b *brokerProc) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// readVmRSS reads VmRSS from /proc/PID/status, in KiB.
func readVmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest) // "1234 kB"
			if len(fields) >= 1 {
				return strconv.ParseInt(fields[0], 10, 64)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS line in /proc/" + strconv.Itoa(pid) + "/status")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// brokerVersion returns the first line a broker prints about its version.
func brokerVersion(kind brokerKind) string {
	var args []string
	switch kind.program {
	case "gatemq":
		args = []string{"-version"}
	case "mosquitto":
		args = []string{"-h"} // prints "mosquitto version X" first, exits 3
	case "mochi":
		args = []string{"-version"}
	}
	out, _ := kind.command(args...).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// findMosquitto returns the mosquitto broker's path: the flag's value if
// given, else mosquitto on PATH, else /usr/sbin/mosquitto (Debian's place,
// often not on a non-root PATH).
func findMosquitto(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errors.New("mosquitto not found: apt-get install mosquitto (or make tools), or pass -mosquitto PATH")
}

// needsMochi reports whether a mochi variant is to run.
func needsMochi(kinds []brokerKind) bool {
	for _, k := range kinds {
		if k.program == "mochi" {
			return true
		}
	}
	return false
}

// mochiSource is the mochi broker's module, from the repository's root
// (where `go run ./scripts/bench` runs).
const mochiSource = "scripts/bench/mochi"

// buildMochi builds the mochi broker of scripts/bench/mochi into a
// temporary folder and returns its path and a func that removes it.
func buildMochi() (string, func(), error) {
	if _, err := os.Stat(filepath.Join(mochiSource, "go.mod")); err != nil {
		return "", nil, fmt.Errorf("mochi variants: %w (run from the repository's root, or pass -mochi PATH)", err)
	}
	dir, err := os.MkdirTemp("", "gatemq-bench-mochi-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "mochi")
	cmd := exec.Command("go", "build", "-o", path, ".")
	cmd.Dir = mochiSource
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building %s: %v: %s", mochiSource, err, out)
	}
	return path, cleanup, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

// Write appends p, dropping the oldest bytes beyond max.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
