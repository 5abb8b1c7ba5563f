// Command footprint measures gatemq's memory: the resident set (VmRSS) of
// the broker idle, holding N connected clients, and optionally holding a
// backlog of queued messages for offline persistent sessions. It builds
// gatemq for each target and runs the amd64 binary natively and the mips and
// arm ones under qemu-user (Debian's qemu-user-static), and Mosquitto on the
// host as a reference, then prints a table.
//
// Run it from the module root:
//
//	go run ./scripts/footprint                          # 100 clients, amd64 + mips + armv5 + mosquitto
//	go run ./scripts/footprint -clients 1000 -backlog 100 -gomemlimit 16MiB -targets mipsle
//
// Under qemu-user the RSS is that of the qemu process, which includes the
// emulator's own code and translation cache (several MB): it is an upper
// bound of what the binary needs on a real board, useful for comparing
// versions, not an exact figure.
package main

import (
	"bufio"
	"context"
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
	"sync"
	"text/tabwriter"
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

// result is one row of the table.
type result struct {
	name       string
	size       int64 // binary bytes; 0 for mosquitto
	idleKiB    int64
	clientsKiB int64
	clients    int
	backlogKiB int64
	queued     int
	peakKiB    int64
	err        error
}

func main() {
	clients := flag.Int("clients", 100, "connected clients for the second measurement")
	backlog := flag.Int("backlog", 0, "if > 0: the clients use persistent sessions, go offline, and this many QoS 1 messages are published to them all (a backlog of clients*backlog queued messages)")
	payload := flag.Int("payload", 64, "payload bytes of each backlog message")
	names := flag.String("targets", "amd64,mips,armv5,mosquitto", "comma-separated targets: amd64, mips, mipsle, armv5, armv7, arm64, mosquitto")
	memlimit := flag.String("gomemlimit", "", "GOMEMLIMIT for gatemq (e.g. 16MiB); empty: unset")
	settle := flag.Duration("settle", 2*time.Second, "wait before each reading, for the broker (and qemu) to settle")
	flag.Parse()

	var rows []result
	for _, n := range strings.Split(*names, ",") {
		tg, ok := findTarget(strings.TrimSpace(n))
		if !ok {
			fmt.Fprintf(os.Stderr, "footprint: unknown target %q\n", n)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "footprint: %s ...\n", tg.name)
		r := measure(tg, *clients, *backlog, *payload, *memlimit, *settle)
		if r.err != nil {
			fmt.Fprintf(os.Stderr, "footprint: %s: %v\n", tg.name, r.err)
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, rows, *clients, *backlog, *memlimit)
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
func measure(tg target, clients, backlog, payload int, memlimit string, settle time.Duration) (r result) {
	r.name, r.clients = tg.name, clients
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
	var argv []string
	var env []string
	if tg.env == nil {
		bin, err := lookTool("mosquitto")
		if err != nil {
			r.err = err
			return r
		}
		argv = []string{bin, "-p", strconv.Itoa(port)}
	} else {
		bin := filepath.Join(dir, "gatemq-"+tg.name)
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
		if memlimit != "" {
			env = append(env, "GOMEMLIMIT="+memlimit)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
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
	pid := cmd.Process.Pid

	time.Sleep(settle)
	if r.idleKiB, err = vmKiB(pid, "VmRSS"); err != nil {
		r.err = err
		return r
	}

	persistent := backlog > 0
	conns, err := connectAll(addr, clients, persistent)
	defer closeAll(conns)
	if err != nil {
		r.err = err
		return r
	}
	time.Sleep(settle)
	if r.clientsKiB, err = vmKiB(pid, "VmRSS"); err != nil {
		r.err = err
		return r
	}

	if persistent {
		closeAll(conns)
		conns = nil
		if err := publishBacklog(addr, backlog, payload); err != nil {
			r.err = err
			return r
		}
		r.queued = clients * backlog
		time.Sleep(settle)
		if r.backlogKiB, err = vmKiB(pid, "VmRSS"); err != nil {
			r.err = err
			return r
		}
	}
	r.peakKiB, _ = vmKiB(pid, "VmHWM")
	return r
}

// build compiles gatemq for tg as scripts/cross.sh does.
func build(tg target, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=footprint", "-o", out, ".")
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

// vmKiB reads a "Vm...: N kB" line of /proc/PID/status.
func vmKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// connectAll opens n MQTT 3.1.1 clients, each subscribed at QoS 1 to its
// own topic and to fp/all. Persistent clients use clean session 0.
func connectAll(addr string, n int, persistent bool) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	const workers = 16
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				c, err := client(addr, fmt.Sprintf("fp-%05d", i), persistent)
				if err != nil {
					errs[w] = fmt.Errorf("client %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	return conns, errors.Join(errs...)
}

// closeAll closes every connection (RST, so no TIME_WAIT piles up).
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}
}

// client connects, subscribes and waits for the SUBACK.
func client(addr, id string, persistent bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	flags := byte(0x02)
	if persistent {
		flags = 0
	}
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 0}, mqttString(id)...)
	pkt := append(append([]byte{0x10}, remLen(len(body))...), body...)
	sub := []byte{0, 1}
	sub = append(append(sub, mqttString("fp/"+id)...), 1)
	sub = append(append(sub, mqttString("fp/all")...), 1)
	pkt = append(append(append(pkt, 0x82), remLen(len(sub))...), sub...)
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	for _, want := range []byte{0x20, 0x90} { // CONNACK, SUBACK
		typ, _, err := readPacket(br)
		if err != nil || typ != want {
			c.Close()
			return nil, fmt.Errorf("want packet %#x, got %#x (%v)", want, typ, err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// publishBacklog publishes n QoS 1 messages to fp/all and waits for each
// PUBACK (so every one is queued before it returns).
func publishBacklog(addr string, n, size int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}, mqttString("fp-publisher")...)
	if _, err := c.Write(append(append([]byte{0x10}, remLen(len(body))...), body...)); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	if typ, _, err := readPacket(br); err != nil || typ != 0x20 {
		return fmt.Errorf("publisher CONNACK: %#x %v", typ, err)
	}
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for i := 1; i <= n; i++ {
		id := uint16(i%65535 + 1)
		pb := append(mqttString("fp/all"), byte(id>>8), byte(id))
		pb = append(pb, payload...)
		if _, err := c.Write(append(append([]byte{0x32}, remLen(len(pb))...), pb...)); err != nil {
			return err
		}
		if typ, _, err := readPacket(br); err != nil || typ != 0x40 {
			return fmt.Errorf("PUBACK %d: %#x %v", i, typ, err)
		}
	}
	return nil
}

// readPacket reads one MQTT packet and returns its type byte (flags
// cleared) and body.
func readPacket(br *bufio.Reader) (byte, []byte, error) {
	h, err := br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for range 4 {
		b, err := br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	_, err = io.ReadFull(br, body)
	return h & 0xf0, body, err
}

func mqttString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

func remLen(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// printTable writes the results as an aligned table.
func printTable(w io.Writer, rows []result, clients, backlog int, memlimit string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := fmt.Sprintf("target\tbinary bytes\tRSS idle KiB\tRSS %d clients KiB\t", clients)
	if backlog > 0 {
		head += fmt.Sprintf("RSS %d clients offline, %d queued each KiB\t", clients, backlog)
	}
	head += "peak KiB\trun\t"
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		run := "native"
		if t, _ := findTarget(r.name); t.qemu != "" {
			run = t.qemu + " (RSS includes qemu)"
		}
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t\t\t\t%s: %v\t\n", r.name, run, r.err)
			continue
		}
		size := "-"
		if r.size > 0 {
			size = strconv.FormatInt(r.size, 10)
		}
		line := fmt.Sprintf("%s\t%s\t%d\t%d\t", r.name, size, r.idleKiB, r.clientsKiB)
		if backlog > 0 {
			line += fmt.Sprintf("%d\t", r.backlogKiB)
		}
		line += fmt.Sprintf("%d\t%s\t", r.peakKiB, run)
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if memlimit != "" {
		fmt.Fprintf(w, "gatemq ran with GOMEMLIMIT=%s\n", memlimit)
	}
}
