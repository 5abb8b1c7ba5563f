package main

// Tests of the built gatemq binary as a user meets it: flags, exit codes,
// messages on stderr, the start log line and signals. The binary is built
// once per `go test` run (on first use) into a temporary folder.
//
// Helpers here are shared with mosquitto_test.go.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is stamped into the test binary with -ldflags -X main.version.
const testVersion = "clitest-1.2.3"

// builtBinary builds the gatemq binary once, on first use, and removes it in
// TestMain after all tests ran.
type builtBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// testBinary is this test binary's one build of gatemq.
var testBinary builtBinary

// TestMain removes the built binary after the tests ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	os.Exit(code)
}

// gatemqBinary returns the path of the gatemq binary built from this folder,
// building it on the first call. The build is static (CGO_ENABLED=0) and
// -trimpath, as `make build` does it.
func gatemqBinary(t testing.TB) string {
	t.Helper()
	b := &testBinary
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "gatemq-clitest-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "gatemq")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+testVersion, "-o", b.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("building gatemq: %v", b.err)
	}
	return b.path
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// outputBuffer is an io.Writer that collects a process's output and lets
// tests wait for a pattern to appear in it.
type outputBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every Write
}

func newOutputBuffer() *outputBuffer {
	return &outputBuffer{changed: make(chan struct{})}
}

// Write appends p and wakes every waiter.
func (o *outputBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// String returns everything written so far.
func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// snapshot returns the text so far and a channel closed on the next Write.
func (o *outputBuffer) snapshot() (string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String(), o.changed
}

// proc is a child process whose stdout and stderr are collected.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *outputBuffer
	stderr *outputBuffer
	done   chan struct{} // closed once the process has exited and its output is collected
	err    error         // cmd.Wait's result; read only after done is closed
}

// startProc starts path with args. A cleanup stops it with SIGTERM (SIGKILL
// after 10 s) and logs its output if the test failed.
func startProc(t *testing.T, stdin io.Reader, path string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, stdin, path, args...)
}

// startProcEnv is startProc with env added to the test's environment.
func startProcEnv(t *testing.T, env []string, stdin io.Reader, path string, args ...string) *proc {
	t.Helper()
	p := &proc{
		name:   filepath.Base(path),
		cmd:    exec.Command(path, args...),
		stdout: newOutputBuffer(),
		stderr: newOutputBuffer(),
		done:   make(chan struct{}),
	}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdin = stdin
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
				t.Errorf("%s %v did not stop within 10s of SIGTERM", p.name, args)
			}
		}
		if t.Failed() {
			t.Logf("%s %v\n--- stdout:\n%s--- stderr:\n%s", p.name, args, p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code; it fails the test if the process is still running.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v", p.name, timeout)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor waits until re matches the text of out, and returns the match's
// submatches. It fails if the process exits first or timeout passes.
func (p *proc) waitFor(t *testing.T, out *outputBuffer, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	m, err := p.await(out, re, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// errExited is returned by await when the process ended before printing.
var errExited = errors.New("process exited")

// await is waitFor returning an error (wrapping errExited if the process
// ended first) instead of failing the test.
func (p *proc) await(out *outputBuffer, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := out.snapshot()
		if m := re.FindStringSubmatch(text); m != nil {
			return m, nil
		}
		select {
		case <-changed:
		case <-p.done:
			if m := re.FindStringSubmatch(out.String()); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s %w (%v) before printing %q", p.name, errExited, p.err, re)
		case <-deadline.C:
			return nil, fmt.Errorf("%s did not print %q within %v", p.name, re, timeout)
		}
	}
}

// runGatemq runs the binary to completion and returns its exit code, stdout
// and stderr.
func runGatemq(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProc(t, nil, gatemqBinary(t), args...)
	code = p.wait(t, 15*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// startedRE matches slog's start line and captures the listening addresses
// and the data description (each quoted when it contains a space).
var startedRE = regexp.MustCompile(`msg="gatemq started".*? listening=(?:"([^"]*)"|(\S+)).*? data=(?:"([^"]*)"|(\S+))`)

// broker is a running gatemq started by startGatemq.
type broker struct {
	*proc
	addr      string   // 127.0.0.1:port, for clients
	listening []string // the addresses from the start line
	data      string   // the start line's data= value
}

// startGatemq starts gatemq with args and waits for its start line.
func startGatemq(t *testing.T, args ...string) *broker {
	t.Helper()
	b, err := tryStartGatemq(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tryStartGatemq is startGatemq returning an error instead of failing.
func tryStartGatemq(t *testing.T, args ...string) (*broker, error) {
	t.Helper()
	p := startProc(t, nil, gatemqBinary(t), args...)
	m, err := p.await(p.stderr, startedRE, 15*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.stderr.String())
	}
	b := &broker{proc: p, listening: strings.Fields(m[1] + m[2]), data: m[3] + m[4]}
	for _, a := range b.listening {
		if strings.HasPrefix(a, "127.0.0.1:") {
			b.addr = a
		}
	}
	return b, nil
}

// startGatemqOnPort starts gatemq with -p on a free port plus args (pass
// -memory or -data DIR: without either, gatemq keeps its state in
// /var/lib/gatemq or ~/.local/state/gatemq, which tests must not touch). A port
// found free can be taken (by a client's ephemeral port, say) before gatemq
// binds it, so a start that fails with "address already in use" is retried
// on another port.
func startGatemqOnPort(t *testing.T, args ...string) *broker {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		b, err := tryStartGatemq(t, append([]string{"-p", strconv.Itoa(port)}, args...)...)
		if err != nil {
			if attempt < 5 && errors.Is(err, errExited) && strings.Contains(err.Error(), "address already in use") {
				t.Logf("port %d was taken meanwhile; retrying: %v", port, err)
				continue
			}
			t.Fatal(err)
		}
		if want := "127.0.0.1:" + strconv.Itoa(port); b.addr != want {
			t.Fatalf("start line says listening=%q, want it to include %s", b.listening, want)
		}
		return b
	}
}

// writeConfig writes text to a config file in a temporary folder.
func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatemq.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mqttConnect opens a TCP connection to addr and completes an MQTT 3.1.1
// CONNECT (clean session, keep alive 60 s) with the given client id.
func mqttConnect(t *testing.T, addr, clientID string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	mqttConnectOn(t, c, clientID)
	return c
}

// mqttConnectOn completes an MQTT 3.1.1 CONNECT (clean session, keep
// alive 60 s) on the open connection c.
func mqttConnectOn(t *testing.T, c net.Conn, clientID string) {
	t.Helper()
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, byte(len(clientID) >> 8), byte(len(clientID))}
	body = append(body, clientID...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatalf("writing CONNECT: %v", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK = % x, want 20 02 00 00", ack)
	}
	_ = c.SetDeadline(time.Time{})
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runGatemq(t, "-version")
	if code != 0 {
		t.Fatalf("gatemq -version exited %d; stderr:\n%s", code, stderr)
	}
	if want := "gatemq " + testVersion + "\n"; stdout != want {
		t.Errorf("gatemq -version printed %q, want %q", stdout, want)
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	code, _, stderr := runGatemq(t, "-h")
	if code != 0 {
		t.Fatalf("gatemq -h exited %d, want 0", code)
	}
	for _, flag := range []string{"-c", "-p", "-listen", "-data", "-memory", "-v", "-version"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(flag) + `\b`).MatchString(stderr) {
			t.Errorf("gatemq -h does not list %s:\n%s", flag, stderr)
		}
	}
}

func TestCLIBadFlagExits2(t *testing.T) {
	t.Parallel()
	code, _, stderr := runGatemq(t, "-no-such-flag")
	if code != 2 {
		t.Errorf("gatemq -no-such-flag exited %d, want 2 (usage error)", code)
	}
	if !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("stderr does not name the bad flag:\n%s", stderr)
	}
}

// TestCLICPUProfileNeedsTag: the test binary is built without -tags
// profile, so -cpuprofile is refused by name as a usage error before
// anything starts, rather than accepted and ignored.
func TestCLICPUProfileNeedsTag(t *testing.T) {
	t.Parallel()
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	code, _, stderr := runGatemq(t, "-memory", "-p", "0", "-cpuprofile", prof)
	if code != 2 {
		t.Errorf("gatemq -cpuprofile exited %d, want 2 (usage error); stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "-cpuprofile") || !strings.Contains(stderr, "-tags profile") {
		t.Errorf("stderr does not name the flag and the build tag:\n%s", stderr)
	}
	if strings.Contains(stderr, "gatemq started") {
		t.Errorf("gatemq started despite the refused flag:\n%s", stderr)
	}
	if _, err := os.Stat(prof); !os.IsNotExist(err) {
		t.Errorf("a profile file was created (stat: %v)", err)
	}
}

func TestCLIUnknownDirective(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "# gatemq test config\n\nfrobnicate_widgets true\n")
	code, _, stderr := runGatemq(t, "-c", cfg)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr)
	}
	// "line 3" or the compiler-style "file:3:".
	if !regexp.MustCompile(`(?i)\bline:?\s*3\b|\.conf:3:`).MatchString(stderr) {
		t.Errorf("message does not give line 3:\n%s", stderr)
	}
	if !strings.Contains(stderr, "frobnicate_widgets") {
		t.Errorf("message does not name the directive:\n%s", stderr)
	}
	if strings.Contains(stderr, "gatemq started") {
		t.Errorf("gatemq started despite a bad config:\n%s", stderr)
	}
}

// TestCLIPersistence checks where the start line says the state lives, and
// that a data folder is used when persistence is on.
func TestCLIPersistence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		config  string // %s is replaced by a fresh folder
		flags   []string
		want    string // data= value; %s as above
		useDir  bool   // the folder must hold the store's files afterwards
		noStore bool
	}{
		{"config", "persistence true\npersistence_location %s\n", nil, "%s (sync always)", true, false},
		{"config sync none", "persistence_location %s\nsync none\n", nil, "%s (sync none)", true, false},
		{"-data flag", "persistence false\n", []string{"-data", "%s"}, "%s (sync always)", true, false},
		{"persistence false", "persistence false\npersistence_location %s\n", nil, "in memory only", false, true},
		{"-memory flag", "persistence true\npersistence_location %s\n", []string{"-memory"}, "in memory only", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			args := []string{"-c", writeConfig(t, strings.ReplaceAll(tc.config, "%s", dir))}
			for _, f := range tc.flags {
				args = append(args, strings.ReplaceAll(f, "%s", dir))
			}
			b := startGatemqOnPort(t, args...)
			if want := strings.ReplaceAll(tc.want, "%s", dir); !strings.HasPrefix(b.data, want) {
				t.Errorf("start line says data=%q, want it to start %q", b.data, want)
			}
			mqttConnect(t, b.addr, "persist-check")
			entries, err := os.ReadDir(dir)
			if tc.useDir && (err != nil || len(entries) == 0) {
				t.Errorf("data folder %s is empty or missing (%v)", dir, err)
			}
			if tc.noStore && err == nil {
				t.Errorf("in-memory broker created %s", dir)
			}
		})
	}
}

func TestCLIBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, args := range [][]string{{"-memory", "-p", port}, {"-memory", "-listen", addr}} {
		t.Run(strings.Join(args, "="), func(t *testing.T) {
			code, _, stderr := runGatemq(t, args...)
			if code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "cannot listen on "+addr) || !strings.Contains(stderr, "address already in use") {
				t.Errorf("message does not say that %s is in use:\n%s", addr, stderr)
			}
		})
	}
}

// checkLoopbackOnly checks that a started broker says it listens on
// loopback only, lists only loopback addresses, and accepts MQTT there.
func checkLoopbackOnly(t *testing.T, b *broker) {
	t.Helper()
	for _, a := range b.listening {
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("listening on non-loopback address %q", a)
		}
	}
	b.waitFor(t, b.stderr, regexp.MustCompile(`listening on loopback only`), 5*time.Second)
	mqttConnect(t, b.addr, "loopback-check")

	// The port must not be open on the host's other addresses.
	_, port, _ := net.SplitHostPort(b.addr)
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), port), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("broker reachable on %s:%s", ipn.IP, port)
		}
	}
}

func TestCLILoopbackOnlyWithPortFlag(t *testing.T) {
	t.Parallel()
	checkLoopbackOnly(t, startGatemqOnPort(t, "-memory"))
}

// TestCLIDefaultListeners starts gatemq with no listener flags or config
// (only -memory, so the test does not touch the machine's default data
// folder). Port 1883 may be taken on the test machine; then the start must
// fail with the busy-port message.
func TestCLIDefaultListeners(t *testing.T) {
	t.Parallel()
	const addr = "127.0.0.1:1883"
	probe, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("%s is taken on this machine (%v): checking the busy-port exit instead", addr, err)
		code, _, stderr := runGatemq(t, "-memory")
		if code != 1 || !strings.Contains(stderr, "cannot listen on "+addr) {
			t.Errorf("bare gatemq with %s taken: exit %d, stderr:\n%s", addr, code, stderr)
		}
		return
	}
	probe.Close()
	b := startGatemq(t, "-memory")
	if b.addr != addr {
		t.Fatalf("bare gatemq listens on %q, want %s", b.listening, addr)
	}
	checkLoopbackOnly(t, b)
}

func TestCLISignalsStopGracefully(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			b := startGatemqOnPort(t, "-data", t.TempDir())
			c := mqttConnect(t, b.addr, "sigtest")
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := b.wait(t, 10*time.Second); code != 0 {
				t.Errorf("exit code after %v = %d, want 0", sig, code)
			}
			if !strings.Contains(b.stderr.String(), "stopped") {
				t.Errorf("no 'stopped' line in the log:\n%s", b.stderr.String())
			}
			// The client's connection must be closed, not left hanging.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReader(c).ReadByte(); err == nil {
				t.Errorf("client connection still delivers data after shutdown")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("client connection still open after shutdown")
			}
		})
	}
}
