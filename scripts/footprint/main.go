// Command footprint measures gatemq's memory: the resident set of the
// broker idle, holding N connected clients, and optionally holding a backlog
// of queued messages for offline persistent sessions, with the peak over the
// whole run. It builds gatemq for each target and runs the amd64 binary
// natively and the mips and arm ones under qemu-user (Debian's
// qemu-user-static), and Mosquitto on the host as a reference, then prints a
// table.
//
// Run it from the module root:
//
//	go run ./scripts/footprint                          # 100 clients, amd64 + mips + armv5 + mosquitto
//	go run ./scripts/footprint -clients 1000 -backlog 100 -gomemlimit 20MiB -gogc 50 -targets amd64,mipsle,armv5,mosquitto
//
// What is counted:
//
//   - RSS is VmRSS natively. Under qemu-user the process also holds the
//     emulator's code, heap and translation cache (about 20 MB); the tool
//     leaves that out by adding up /proc/PID/smaps over the guest's 4 GiB
//     address range only (guest_base is found from where qemu mapped the
//     binary's first segment). What remains is what the binary maps itself:
//     its text and data, the Go heap and stacks. Text pages are touched by
//     qemu's translator rather than by a CPU, so the figure is close to, not
//     exactly, what a board would show. The whole process's peak is printed
//     as well.
//   - anon is the anonymous part of that RSS (smaps "Anonymous", or RssAnon):
//     the memory the Go runtime allocated plus the written pages of the
//     binary's data. GOMEMLIMIT governs this part; the rest is file-backed
//     page cache (the binary's text) that the kernel can drop. "inside" says
//     whether the anonymous peak stayed at or under GOMEMLIMIT.
//   - peaks are sampled every 100 ms (and natively also VmHWM).
//   - Go's own view comes from GODEBUG=gctrace=1 on the broker's stderr: GC
//     cycles, the heap live after the last cycle, its goal and the stack
//     bytes scanned. CPU is the broker's CPU time while it holds the backlog
//     (the last settle period), as a share of one core: a GC that cannot get
//     under the limit shows up there.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// target is one way to run a broker.
type target struct {
	name string   // as in scripts/cross.sh, or "mosquitto"
	env  []string // GOARCH and friends for go build; nil for mosquitto
	qemu string   // qemu-user binary, "" for native
}

// targets lists what -targets can name.
var targets = []target{
	{"amd64", []string{"GOARCH=amd64"}, ""},
	{"mips", []string{"GOARCH=mips", "GOMIPS=softfloat"}, "qemu-mips-static"},
	{"mipsle", []string{"GOARCH=mipsle", "GOMIPS=softfloat"}, "qemu-mipsel-static"},
	{"armv5", []string{"GOARCH=arm", "GOARM=5"}, "qemu-arm-static"},
	{"armv7", []string{"GOARCH=arm", "GOARM=7"}, "qemu-arm-static"},
	{"arm64", []string{"GOARCH=arm64"}, "qemu-aarch64-static"},
	{"mosquitto", nil, ""},
}

// settings are the flags that shape one run.
type settings struct {
	clients, backlog, payload int
	memlimit, gogc            string
	settle                    time.Duration
}

// result is one row of the table. Memory figures are KiB.
type result struct {
	name    string
	qemu    string // qemu-user binary, "" for native
	size    int64  // binary bytes; 0 for mosquitto
	idle    memSample
	clients memSample
	backlog memSample // zero without -backlog
	peak    memSample // highest of the 100 ms samples (and VmHWM natively)
	gc      gcStats   // zero for mosquitto
	cpu     float64   // share of one core used while holding the last load
	err     error
}

func main() {
	var s settings
	flag.IntVar(&s.clients, "clients", 100, "connected clients for the second measurement")
	flag.IntVar(&s.backlog, "backlog", 0, "if > 0: the clients use persistent sessions, go offline, and this many QoS 1 messages are published to them all (a backlog of clients*backlog queued messages)")
	flag.IntVar(&s.payload, "payload", 64, "payload bytes of each backlog message")
	names := flag.String("targets", "amd64,mips,armv5,mosquitto", "comma-separated targets: amd64, mips, mipsle, armv5, armv7, arm64, mosquitto")
	flag.StringVar(&s.memlimit, "gomemlimit", "", "GOMEMLIMIT for gatemq (e.g. 20MiB); empty: unset (gatemq then applies its board profile's limit)")
	flag.StringVar(&s.gogc, "gogc", "", "GOGC for gatemq (e.g. 50); empty: unset (gatemq then applies its board profile's value)")
	flag.DurationVar(&s.settle, "settle", 2*time.Second, "wait before each reading, for the broker (and qemu) to settle")
	flag.Parse()

	limit, err := parseBytes(s.memlimit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "footprint: -gomemlimit: %v\n", err)
		os.Exit(2)
	}
	var rows []result
	for _, n := range strings.Split(*names, ",") {
		tg, ok := findTarget(strings.TrimSpace(n))
		if !ok {
			fmt.Fprintf(os.Stderr, "footprint: unknown target %q\n", n)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "footprint: %s ...\n", tg.name)
		r := measure(tg, s)
		if r.err != nil {
			fmt.Fprintf(os.Stderr, "footprint: %s: %v\n", tg.name, r.err)
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, rows, s, limit)
}

// findTarget returns the target called name.
func findTarget(name string) (target, bool) {
	for _, t := range targets {
		if t.name == name {
			return t, true
		}
	}
	return target{}, false
}

// measure starts the broker of tg and takes the readings.
func measure(tg target, s settings) (r result) {
	r.name, r.qemu = tg.name, tg.qemu
	dir, err := os.MkdirTemp("", "gatemq-footprint-")
	if err != nil {
		r.err = err
		return r
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		r.err = err
		return r
	}
	var argv, env []string
	var bin string
	if tg.env == nil {
		if bin, err = lookTool("mosquitto"); err != nil {
			r.err = err
			return r
		}
		argv = []string{bin, "-p", strconv.Itoa(port)}
	} else {
		bin = filepath.Join(dir, "gatemq-"+tg.name)
		if r.err = build(tg, bin); r.err != nil {
			return r
		}
		fi, _ := os.Stat(bin)
		r.size = fi.Size()
		argv = []string{bin, "-p", strconv.Itoa(port), "-data", filepath.Join(dir, "data")}
		if tg.qemu != "" {
			q, err := lookTool(tg.qemu)
			if err != nil {
				r.err = err
				return r
			}
			argv = append([]string{q}, argv...)
		}
		env = append(env, "GODEBUG=gctrace=1")
		if s.memlimit != "" {
			env = append(env, "GOMEMLIMIT="+s.memlimit)
		}
		if s.gogc != "" {
			env = append(env, "GOGC="+s.gogc)
		}
	}
	gct := new(gcTrace)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, gct
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitAccept(addr, done, 60*time.Second); err != nil {
		r.err = err
		return r
	}
	mr := memReader{pid: cmd.Process.Pid}
	if tg.qemu != "" {
		g, err := guestRange(mr.pid, bin)
		if err != nil {
			r.err = err
			return r
		}
		mr.guest = &g
	}
	sampler := startPeakSampler(mr, 100*time.Millisecond)
	defer func() {
		r.peak = maxOf(r.peak, sampler.stop())
		r.gc = gct.stats()
	}()

	time.Sleep(s.settle)
	if r.idle, r.err = mr.read(); r.err != nil {
		return r
	}

	persistent := s.backlog > 0
	conns, err := connectAll(addr, s.clients, persistent)
	defer closeAll(conns)
	if err != nil {
		r.err = err
		return r
	}
	if r.clients, r.cpu, r.err = settleRead(mr, s.settle); r.err != nil {
		return r
	}

	if persistent {
		closeAll(conns)
		conns = nil
		if r.err = publishBacklog(addr, s.backlog, s.payload); r.err != nil {
			return r
		}
		if r.backlog, r.cpu, r.err = settleRead(mr, s.settle); r.err != nil {
			return r
		}
	}
	if mr.guest == nil {
		if hwm, err := statusKiB(mr.pid, "VmHWM"); err == nil {
			r.peak.rss = max(r.peak.rss, hwm[0])
			r.peak.host = max(r.peak.host, hwm[0])
		}
	}
	return r
}

// settleRead waits d, then reads the broker's memory; cpu is the share of
// one core the broker used while waiting.
func settleRead(mr memReader, d time.Duration) (m memSample, cpu float64, err error) {
	c0, err := cpuSeconds(mr.pid)
	if err != nil {
		return m, 0, err
	}
	t0 := time.Now()
	time.Sleep(d)
	c1, err := cpuSeconds(mr.pid)
	if err != nil {
		return m, 0, err
	}
	cpu = (c1 - c0) / time.Since(t0).Seconds()
	m, err = mr.read()
	return m, cpu, err
}

// parseBytes parses a GOMEMLIMIT value ("24MiB", "16777216"); "" is 0.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count like 24MiB", s)
	}
	return n * mul, nil
}

// build compiles gatemq for tg as scripts/cross.sh does (with the -gcflags
// of scripts/gcflags.sh).
func build(tg target, out string) error {
	gcflags, err := exec.Command("sh", "scripts/gcflags.sh").Output()
	if err != nil {
		return fmt.Errorf("scripts/gcflags.sh: %v", err)
	}
	args := append([]string{"build", "-trimpath"}, strings.Fields(string(gcflags))...)
	cmd := exec.Command("go", append(args, "-ldflags", "-s -w -X main.version=footprint", "-o", out, ".")...)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), tg.env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// lookTool finds a program on PATH or in /usr/sbin.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := filepath.Join("/usr/sbin", name); fileExists(p) {
		return p, nil
	}
	return "", fmt.Errorf("%s is not installed (Debian: qemu-user-static / mosquitto)", name)
}

// fileExists says whether p can be stat'ed.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitAccept waits until addr accepts TCP connections.
func waitAccept(addr string, done <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("the broker exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections after %v", addr, timeout)
}
