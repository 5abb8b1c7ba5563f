package main

// Tests of gatemq built for the routers' instruction sets: linux/mips
// (big-endian, soft float) and linux/arm GOARM=5, each run under Debian's
// qemu-user-static and driven by the host's mosquitto_pub and mosquitto_sub.
// They check QoS 0, 1 and 2, a retained message, and that a persistent
// session's queued messages survive a SIGKILL of the emulated broker and
// arrive exactly once after the restart on the same data folder.
//
// Missing tools skip loudly, except under GATEMQ_REQUIRE_TOOLS=1 (make test).
// `go test -short` skips them: the cross builds and the emulation are slow.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// qemuTarget is one emulated architecture.
type qemuTarget struct {
	name string   // subtest name, as in scripts/cross.sh
	env  []string // GOARCH and friends
	qemu string   // qemu-user binary
}

// qemuTargets are the architectures tested under emulation: the big-endian
// MIPS of older routers, and the oldest ARM that Go supports.
var qemuTargets = []qemuTarget{
	{"mips", []string{"GOARCH=mips", "GOMIPS=softfloat"}, "qemu-mips-static"},
	qemuARMv5,
}

// The other targets of the tests under emulation.
var (
	qemuMIPSLE = qemuTarget{"mipsle", []string{"GOARCH=mipsle", "GOMIPS=softfloat"}, "qemu-mipsel-static"}
	qemuARMv5  = qemuTarget{"armv5", []string{"GOARCH=arm", "GOARM=5"}, "qemu-arm-static"}
)

// Timeouts under emulation, generous: qemu-user runs gatemq 5-50 times
// slower than native and the machine is shared.
const (
	qemuStartTimeout = 60 * time.Second
	qemuStepTimeout  = 30 * time.Second
)

func TestQemuCrossBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds under qemu-user are slow; not run with -short")
	}
	pub := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	for _, tg := range qemuTargets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			qemu := requireTool(t, tg.qemu, "qemu-user-static")
			bin := crossBuild(t, tg)
			e := &emulated{t: t, qemu: qemu, bin: bin, data: t.TempDir()}
			e.start()
			m := &mosq{addr: e.addr, pub: pub, sub: sub, stdbuf: stdbuf}
			m.host, m.port, _ = net.SplitHostPort(e.addr)

			t.Run("qos", func(t *testing.T) { qemuQoS(t, m) })
			t.Run("retained", func(t *testing.T) { qemuRetained(t, m) })
			t.Run("kill_and_restart", func(t *testing.T) { qemuKillRestart(t, e, m) })
		})
	}
}

// crossBuild builds gatemq for tg (static, -trimpath, the -gcflags of
// scripts/gcflags.sh, as scripts/cross.sh does) into a temporary folder and
// returns its path.
func crossBuild(t *testing.T, tg qemuTarget) string {
	t.Helper()
	return crossCompile(t, tg, "gatemq-"+tg.name, "build")
}

// crossBuildTest builds this package's test binary for tg, with the same
// flags as crossBuild, and returns its path.
func crossBuildTest(t *testing.T, tg qemuTarget) string {
	t.Helper()
	return crossCompile(t, tg, "gatemq.test-"+tg.name, "test", "-c")
}

// crossCompile runs `go GOCMD...` on this package for tg with crossBuild's
// flags, writing name into a temporary folder, and returns its path.
func crossCompile(t *testing.T, tg qemuTarget, name string, gocmd ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	gcflags, err := exec.Command("sh", "scripts/gcflags.sh").Output()
	if err != nil {
		t.Fatalf("scripts/gcflags.sh: %v", err)
	}
	args := append(append(append([]string(nil), gocmd...), "-trimpath"), strings.Fields(string(gcflags))...)
	cmd := exec.Command("go", append(args, "-ldflags", "-s -w -X main.version=qemutest", "-o", out, ".")...)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), tg.env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s for %s (%v): %v\n%s", strings.Join(gocmd, " "), tg.name, tg.env, err, b)
	}
	return out
}

// emulated is a gatemq binary for another architecture running under
// qemu-user on one port and data folder, restartable.
type emulated struct {
	t    *testing.T
	qemu string // qemu-*-static
	bin  string // the cross-built gatemq
	data string // -data folder, kept across restarts
	port int    // chosen at the first start, kept across restarts
	addr string // 127.0.0.1:port
	p    *proc  // the running qemu process
}

// start starts the broker and waits for its start line. The first start
// picks a free port (retrying if it is taken meanwhile); later starts reuse
// it.
func (e *emulated) start() {
	t := e.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := e.port
		if port == 0 {
			port = freePort(t)
		}
		p := startProc(t, nil, e.qemu, e.bin, "-p", strconv.Itoa(port), "-data", e.data)
		p.name = filepath.Base(e.qemu) + " gatemq"
		err := qemuWaitOutput(p, p.stderr, startedRE, qemuStartTimeout)
		if err == nil {
			e.p, e.port, e.addr = p, port, "127.0.0.1:"+strconv.Itoa(port)
			return
		}
		if e.port == 0 && attempt < 5 && p.exited() && strings.Contains(p.stderr.String(), "address already in use") {
			continue
		}
		t.Fatalf("emulated gatemq did not start: %v\n%s", err, p.stderr.String())
	}
}

// qemuWaitOutput waits until re matches what p wrote to out; it returns an
// error if p exits first or timeout passes.
func qemuWaitOutput(p *proc, out *outputBuffer, re *regexp.Regexp, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := out.snapshot()
		if re.MatchString(text) {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if re.MatchString(out.String()) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before printing %q", p.name, p.err, re)
		case <-deadline.C:
			return fmt.Errorf("%s did not print %q within %v", p.name, re, timeout)
		}
	}
}

// kill sends SIGKILL to the emulated broker (qemu-user runs the guest in its
// own process, so this is the broker dying without a chance to flush) and
// waits for it to be gone.
func (e *emulated) kill() {
	t := e.t
	t.Helper()
	if err := e.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-e.p.done:
	case <-time.After(qemuStepTimeout):
		t.Fatal("emulated gatemq still running after SIGKILL")
	}
}

// qemuQoS publishes three messages at each QoS to a subscriber at the same
// QoS and checks they arrive in order with the full handshake.
func qemuQoS(t *testing.T, m *mosq) {
	for q := 0; q <= 2; q++ {
		topic := fmt.Sprintf("qemu/qos/%d", q)
		qs := strconv.Itoa(q)
		sub := m.subscribe(t, "-t", topic, "-q", qs, "-C", "3")
		pubOut := m.publish(t, "m1\nm2\nm3\n", "-t", topic, "-q", qs, "-l")
		got := messages(t, sub)
		if want := []string{topic + " m1", topic + " m2", topic + " m3"}; !equalLines(got, want) {
			t.Fatalf("QoS %d: received %q, want %q", q, got, want)
		}
		if got := receivedQoS(sub.stdout.String()); fmt.Sprint(got) != fmt.Sprint([]int{q, q, q}) {
			t.Errorf("QoS %d: subscriber got PUBLISH at QoS %v", q, got)
		}
		checkHandshake(t, "subscriber", sub.stdout.String(), q, []string{"sending PUBACK"}, []string{"sending PUBREC", "received PUBREL", "sending PUBCOMP"})
		checkHandshake(t, "publisher", pubOut, q, []string{"received PUBACK"}, []string{"received PUBREC", "sending PUBREL", "received PUBCOMP"})
	}
}

// qemuRetained checks that a late subscriber gets the last retained message
// with the retain flag set.
func qemuRetained(t *testing.T, m *mosq) {
	const topic = "qemu/retain/lamp"
	m.publish(t, "", "-t", topic, "-q", "1", "-r", "-m", "on")
	m.publish(t, "", "-t", topic, "-q", "2", "-r", "-m", "off")
	late := m.subscribe(t, "-t", "qemu/retain/#", "-C", "1")
	if got := messages(t, late); !equalLines(got, []string{topic + " off"}) {
		t.Fatalf("late subscriber got %q, want the retained %q", got, topic+" off")
	}
	if !strings.Contains(late.stdout.String(), "received PUBLISH (d0, q0, r1,") {
		t.Errorf("retained copy should have retain 1:\n%s", late.stdout.String())
	}
}

// qemuKillRestart queues messages for persistent sessions (QoS 1 and 2),
// SIGKILLs the broker, restarts it on the same data folder and checks that
// each session gets its queued messages exactly once, and the retained
// message is still there.
func qemuKillRestart(t *testing.T, e *emulated, m *mosq) {
	sessions := []struct{ id, q, topic string }{
		{"qemu-pers-q1", "1", "qemu/pers/q1"},
		{"qemu-pers-q2", "2", "qemu/pers/q2"},
	}
	for _, s := range sessions {
		first := m.startSub(t, "-c", "-i", s.id, "-q", s.q, "-t", s.topic, "-E")
		if got := messages(t, first); len(got) != 0 {
			t.Fatalf("%s: first connection got %q", s.id, got)
		}
		m.publish(t, "m1\nm2\nm3\n", "-t", s.topic, "-q", s.q, "-l")
	}

	e.kill()
	e.start()

	for _, s := range sessions {
		// The subscriber is stopped with SIGTERM once a QoS 0 marker that
		// follows m3 has arrived: by then its acknowledgements of m1..m3
		// are long on the wire. (Stopping it with -C 3, or with SIGTERM
		// right after m3, can end it before its last PUBACK / PUBCOMP is
		// written, and the broker then rightly sends m3 again.)
		marker := s.topic + "/marker"
		back := m.startSub(t, "-c", "-i", s.id, "-q", s.q, "-t", s.topic, "-t", marker)
		back.waitFor(t, back.stdout, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(s.topic)+` m3$`), qemuStepTimeout)
		// The queued messages come right after CONNACK, possibly before the
		// SUBSCRIBE is handled: publish the marker only once it is.
		back.waitFor(t, back.stdout, regexp.MustCompile(`(?m)^Subscribed \(mid`), qemuStepTimeout)
		m.publish(t, "", "-t", marker, "-q", "0", "-m", "end")
		back.waitFor(t, back.stdout, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(marker)+` end$`), qemuStepTimeout)
		if err := back.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range messages(t, back) {
			if !strings.HasPrefix(l, marker+" ") {
				got = append(got, l)
			}
		}
		want := []string{s.topic + " m1", s.topic + " m2", s.topic + " m3"}
		if !equalLines(got, want) {
			t.Errorf("%s after SIGKILL and restart: got %q, want each of m1..m3 once", s.id, got)
		}

		// Exactly once: the next connection gets only a new message.
		m.publish(t, "", "-t", s.topic, "-q", s.q, "-m", "m4")
		again := m.startSub(t, "-c", "-i", s.id, "-q", s.q, "-t", s.topic, "-C", "1")
		if got := messages(t, again); !equalLines(got, []string{s.topic + " m4"}) {
			t.Errorf("%s: third connection got %q, want only the new m4", s.id, got)
		}
	}

	late := m.subscribe(t, "-t", "qemu/retain/lamp", "-C", "1")
	if got := messages(t, late); !equalLines(got, []string{"qemu/retain/lamp off"}) {
		t.Errorf("retained message after restart: got %q", got)
	}
}
