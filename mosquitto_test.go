package main

// Interoperability tests: Debian's mosquitto_pub and mosquitto_sub (package
// mosquitto-clients) against the built gatemq binary.
//
// When the clients are missing the tests skip with a loud message, except
// under `make test`, which installs them and sets GATEMQ_REQUIRE_TOOLS=1 so
// that a missing tool fails instead.
//
// GATEMQ_TEST_AGAINST=mosquitto runs the same tests against Debian's
// mosquitto broker instead of gatemq, to check the tests' own expectations
// against the reference implementation.

import (
	"errors"
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

// requireTool returns the path of an external program, or skips the test
// loudly (fails under GATEMQ_REQUIRE_TOOLS=1) when it is not installed.
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (Debian package %s): run `make tools` or `apt-get install %s`", name, pkg, pkg)
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
	t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// mosq runs mosquitto_pub and mosquitto_sub against one broker.
type mosq struct {
	addr   string // 127.0.0.1:port
	host   string
	port   string
	pub    string // path of mosquitto_pub
	sub    string // path of mosquitto_sub
	stdbuf string // path of stdbuf: mosquitto_sub's stdout must be line-buffered to be watched
	ref    bool   // the broker is Debian's mosquitto, not gatemq
}

// newMosq starts a fresh broker for one test and finds the client tools.
func newMosq(t *testing.T) *mosq {
	t.Helper()
	m := &mosq{
		pub:    requireTool(t, "mosquitto_pub", "mosquitto-clients"),
		sub:    requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"),
	}
	switch against := os.Getenv("GATEMQ_TEST_AGAINST"); against {
	case "", "gatemq":
		// Persistence on (gatemq's default), in a fresh folder, sync always.
		m.addr = startGatemqOnPort(t, "-data", t.TempDir()).addr
	case "mosquitto":
		m.ref = true
		m.addr = startMosquitto(t)
	default:
		t.Fatalf("GATEMQ_TEST_AGAINST=%q: want gatemq or mosquitto", against)
	}
	m.host, m.port, _ = net.SplitHostPort(m.addr)
	return m
}

// startMosquitto starts Debian's mosquitto on a free loopback port and
// returns its address once it accepts connections.
func startMosquitto(t *testing.T) string {
	t.Helper()
	_, ports, _ := startMosquittoConf(t, 1, func(ports []int) string {
		return fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", ports[0])
	})
	return "127.0.0.1:" + strconv.Itoa(ports[0])
}

// subscribedRE matches mosquitto_sub's debug line once a SUBACK arrived.
var subscribedRE = regexp.MustCompile(`(?m)^Subscribed \(mid: \d+\)`)

// startSub starts `mosquitto_sub -d -v -W 10` with args and returns without
// waiting for the subscription.
func (m *mosq) startSub(t *testing.T, args ...string) *proc {
	t.Helper()
	all := append([]string{"-oL", m.sub, "-d", "-v", "-h", m.host, "-p", m.port, "-W", "10"}, args...)
	p := startProc(t, nil, m.stdbuf, all...)
	p.name = "mosquitto_sub " + strings.Join(args, " ")
	return p
}

// subscribe starts mosquitto_sub with args and waits until the broker has
// acknowledged its subscriptions.
func (m *mosq) subscribe(t *testing.T, args ...string) *proc {
	t.Helper()
	p := m.startSub(t, args...)
	p.waitFor(t, p.stdout, subscribedRE, 10*time.Second)
	return p
}

// publish runs mosquitto_pub -d with args (stdin feeds -l) and returns its
// debug output; it fails the test unless mosquitto_pub exits 0.
func (m *mosq) publish(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	all := append([]string{"-d", "-h", m.host, "-p", m.port}, args...)
	p := startProc(t, strings.NewReader(stdin), m.pub, all...)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("mosquitto_pub %v exited %d:\n%s%s", args, code, p.stdout.String(), p.stderr.String())
	}
	return p.stdout.String()
}

// messages waits for mosquitto_sub to exit 0 (its -C count reached) and
// returns the "topic payload" lines it printed, without the debug lines.
func messages(t *testing.T, p *proc) []string {
	t.Helper()
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("%s exited %d (27 = timed out waiting for messages):\n%s%s", p.name, code, p.stdout.String(), p.stderr.String())
	}
	var out []string
	for _, l := range strings.Split(p.stdout.String(), "\n") {
		if l == "" || strings.HasPrefix(l, "Client ") || strings.HasPrefix(l, "Subscribed (") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// drain runs a subscriber with args (typically a persistent session) until
// it printed the line want[len(want)-1], and returns every message line it
// printed, and its debug output. To make it exit cleanly with all its acknowledgements written, it
// also subscribes to a stop topic and ends by -C on a QoS 0 message there.
// (Stopping it with -C on the last real message can lose the last PUBACK,
// which rightly causes a QoS 1 redelivery; stopping it with a signal while
// -d logging is on can make mosquitto_sub print its last line twice.)
func (m *mosq) drain(t *testing.T, stopTopic string, want []string, args ...string) (lines []string, debug string) {
	t.Helper()
	p := m.startSub(t, append(args, "-t", stopTopic, "-C", strconv.Itoa(len(want)+1))...)
	_, err := p.await(p.stdout, subscribedRE, 10*time.Second)
	if err == nil {
		_, err = p.await(p.stdout, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(want[len(want)-1])+`$`), 10*time.Second)
	}
	switch {
	case err == nil:
		m.publish(t, "", "-t", stopTopic, "-q", "0", "-m", "stop")
	case errors.Is(err, errExited):
		// It reached its -C count early: it got more messages than expected,
		// which the caller's comparison will show.
	default:
		t.Fatal(err)
	}
	got := messages(t, p)
	if n := len(got); n > 0 && got[n-1] == stopTopic+" stop" {
		return got[:n-1], p.stdout.String()
	}
	t.Errorf("%s did not end with the stop message: %q", p.name, got)
	return got, p.stdout.String()
}

// receivedQoS returns the QoS of every PUBLISH a client's debug output shows
// it received, in order.
func receivedQoS(debug string) []int {
	var qs []int
	for _, m := range regexp.MustCompile(`received PUBLISH \(d\d, q(\d),`).FindAllStringSubmatch(debug, -1) {
		q, _ := strconv.Atoi(m[1])
		qs = append(qs, q)
	}
	return qs
}

func equalLines(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestMosquittoPubSubQoS(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	for pq := 0; pq <= 2; pq++ {
		for sq := 0; sq <= 2; sq++ {
			t.Run(fmt.Sprintf("pub%d_sub%d", pq, sq), func(t *testing.T) {
				topic := fmt.Sprintf("test/qos/p%ds%d", pq, sq)
				sub := m.subscribe(t, "-t", topic, "-q", strconv.Itoa(sq), "-C", "3")
				pubOut := m.publish(t, "m1\nm2\nm3\n", "-t", topic, "-q", strconv.Itoa(pq), "-l")
				got := messages(t, sub)
				want := []string{topic + " m1", topic + " m2", topic + " m3"}
				if !equalLines(got, want) {
					t.Fatalf("received %q, want %q", got, want)
				}
				// [MQTT-3.8.4-6]: delivered at the lower of the publish and subscription QoS.
				eff := min(pq, sq)
				subOut := sub.stdout.String()
				if qs := receivedQoS(subOut); fmt.Sprint(qs) != fmt.Sprint([]int{eff, eff, eff}) {
					t.Errorf("subscriber got PUBLISH at QoS %v, want %d each", qs, eff)
				}
				checkHandshake(t, "subscriber", subOut, eff, []string{"sending PUBACK"}, []string{"sending PUBREC", "received PUBREL", "sending PUBCOMP"})
				checkHandshake(t, "publisher", pubOut, pq, []string{"received PUBACK"}, []string{"received PUBREC", "sending PUBREL", "received PUBCOMP"})
			})
		}
	}
}

// checkHandshake checks that a client's debug output shows the QoS 1 or
// QoS 2 acknowledgements for all three messages.
func checkHandshake(t *testing.T, who, debug string, q int, q1, q2 []string) {
	t.Helper()
	steps := map[int][]string{1: q1, 2: q2}[q]
	for _, s := range steps {
		if n := strings.Count(debug, s); n != 3 {
			t.Errorf("%s at QoS %d: %q appears %d times, want 3", who, q, s, n)
		}
	}
}

func TestMosquittoRetained(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	const lamp = "test/retain/lamp"

	// A subscriber that is already there gets the message with retain 0 [MQTT-3.3.1-9].
	live := m.subscribe(t, "-t", "test/retain/#", "-C", "1")
	m.publish(t, "", "-t", lamp, "-q", "1", "-r", "-m", "on")
	if got := messages(t, live); !equalLines(got, []string{lamp + " on"}) {
		t.Fatalf("live subscriber got %q", got)
	}
	if !strings.Contains(live.stdout.String(), "received PUBLISH (d0, q0, r0,") {
		t.Errorf("live subscriber's copy should have retain 0:\n%s", live.stdout.String())
	}

	// A new retained message replaces the old one; a late subscriber gets
	// only the newest, with retain 1 [MQTT-3.3.1-8], through a wildcard too.
	m.publish(t, "", "-t", lamp, "-q", "1", "-r", "-m", "off")
	for _, filter := range []string{lamp, "test/+/lamp", "test/retain/#"} {
		args := []string{"-t", filter, "-C", "2"}
		if filter != "test/retain/#" {
			args = append(args, "-t", "test/retain/marker")
		}
		late := m.subscribe(t, args...)
		m.publish(t, "", "-t", "test/retain/marker", "-q", "1", "-m", "end")
		want := []string{lamp + " off", "test/retain/marker end"}
		if got := messages(t, late); !equalLines(got, want) {
			t.Errorf("late subscriber on %q got %q, want %q", filter, got, want)
		}
		if !strings.Contains(late.stdout.String(), "received PUBLISH (d0, q0, r1,") {
			t.Errorf("late subscriber on %q: retained copy should have retain 1:\n%s", filter, late.stdout.String())
		}
	}

	// An empty retained message clears it [MQTT-3.3.1-10]: a new subscriber
	// sees the marker first.
	m.publish(t, "", "-t", lamp, "-q", "1", "-r", "-n")
	after := m.subscribe(t, "-t", "test/retain/#", "-C", "1")
	m.publish(t, "", "-t", "test/retain/marker", "-q", "1", "-m", "end")
	if got := messages(t, after); !equalLines(got, []string{"test/retain/marker end"}) {
		t.Errorf("after clearing, a new subscriber got %q first, want the marker", got)
	}
}

func TestMosquittoPersistentSession(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	for _, q := range []string{"1", "2"} {
		t.Run("qos"+q, func(t *testing.T) {
			id := "pers-sub-q" + q
			topic := "test/pers/q" + q
			session := []string{"-c", "-i", id, "-q", q, "-t", topic}

			// Subscribe with a persistent session, then go away.
			first := m.startSub(t, append(session, "-E")...)
			if got := messages(t, first); len(got) != 0 {
				t.Fatalf("first connection got %q", got)
			}
			m.publish(t, "m1\nm2\nm3\n", "-t", topic, "-q", q, "-l")

			// Back again: the three queued messages, in order.
			want := []string{topic + " m1", topic + " m2", topic + " m3"}
			got, debug := m.drain(t, "test/stop/q"+q, want, session...)
			if !equalLines(got, want) {
				t.Fatalf("reconnected subscriber got %q, want %q", got, want)
			}
			if qs := receivedQoS(debug); fmt.Sprint(qs) != fmt.Sprintf("[%s %s %s 0]", q, q, q) {
				t.Errorf("queued messages (and the QoS 0 stop) came at QoS %v, want %s %s %s 0", qs, q, q, q)
			}

			// Once only: next time, the first message is a new one, not a repeat.
			m.publish(t, "", "-t", topic, "-q", q, "-m", "m4")
			again := m.startSub(t, append(session, "-C", "1")...)
			if got := messages(t, again); !equalLines(got, []string{topic + " m4"}) {
				t.Errorf("third connection got %q, want only the new m4", got)
			}
		})
	}
}

func TestMosquittoWill(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	watcher := m.subscribe(t, "-t", "test/will/#", "-q", "1", "-C", "2")

	polite := m.subscribe(t, "-i", "will-polite", "--will-topic", "test/will/polite", "--will-payload", "gone", "--will-qos", "1", "-t", "test/will/none")
	dying := m.subscribe(t, "-i", "will-dying", "--will-topic", "test/will/dying", "--will-payload", "gone", "--will-qos", "1", "-t", "test/will/none")

	// A clean DISCONNECT discards the will [MQTT-3.14.4-3].
	if err := polite.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	polite.wait(t, 10*time.Second)
	if !strings.Contains(polite.stdout.String(), "sending DISCONNECT") {
		t.Fatalf("test premise: mosquitto_sub did not disconnect cleanly on SIGTERM:\n%s", polite.stdout.String())
	}

	// A vanished client's will is published [MQTT-3.1.2-8].
	if err := dying.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	dying.wait(t, 10*time.Second)
	watcher.waitFor(t, watcher.stdout, regexp.MustCompile(`(?m)^test/will/dying gone$`), 10*time.Second)
	m.publish(t, "", "-t", "test/will/marker", "-q", "1", "-m", "end")

	want := []string{"test/will/dying gone", "test/will/marker end"}
	if got := messages(t, watcher); !equalLines(got, want) {
		t.Errorf("watcher got %q, want %q (no will from the clean disconnect)", got, want)
	}
}

func TestMosquittoSysVersion(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	sub := m.startSub(t, "-t", "$SYS/broker/version", "-C", "1")
	got := messages(t, sub)
	want := "$SYS/broker/version gatemq version " + testVersion
	if m.ref {
		want = "$SYS/broker/version mosquitto version "
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Errorf("got %q, want one line starting %q", got, want)
	}

	// A filter starting with a wildcard does not match $SYS topics [MQTT-4.7.2-1],
	// so a "#" subscriber sees the marker first, not the retained $SYS values.
	for _, filter := range []string{"#", "+/broker/version"} {
		all := m.subscribe(t, "-t", filter, "-t", "test/sys/marker", "-C", "1")
		m.publish(t, "", "-t", "test/sys/marker", "-q", "1", "-m", "end")
		if got := messages(t, all); !equalLines(got, []string{"test/sys/marker end"}) {
			t.Errorf("subscriber on %q got %q first, want the marker", filter, got)
		}
	}
}

func TestMosquittoWildcards(t *testing.T) {
	t.Parallel()
	m := newMosq(t)
	sub := m.subscribe(t, "-q", "1", "-C", "6",
		"-t", "test/wild/sensors/+/temp", "-t", "test/wild/home/#", "-t", "test/wild/+/status")
	topics := []struct {
		topic string
		match bool
	}{
		{"test/wild/sensors/kitchen/temp", true},
		{"test/wild/sensors/kitchen/humidity", false},
		{"test/wild/sensors/a/b/temp", false}, // + is exactly one level
		{"test/wild/home", true},              // "home/#" matches its parent level too
		{"test/wild/home/lights/1", true},
		{"test/wild/homer/x", false},
		{"test/wild/sensors//temp", true}, // + matches an empty level
		{"test/wild/gw/status", true},
		{"test/wild/gw/status/x", false},
		{"Test/wild/gw/status", false}, // topics are case-sensitive
		{"test/wild/end/status", true},
	}
	var want []string
	for i, tc := range topics {
		payload := "p" + strconv.Itoa(i)
		// QoS 1 so that each publish is routed before the next one starts.
		m.publish(t, "", "-t", tc.topic, "-q", "1", "-m", payload)
		if tc.match {
			want = append(want, tc.topic+" "+payload)
		}
	}
	if got := messages(t, sub); !equalLines(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestMosquittoSurvivesRestart checks gatemq's durability promise end to
// end: retained messages and a persistent session's acknowledged QoS 1
// messages survive a graceful restart (SIGTERM) and a crash (SIGKILL).
func TestMosquittoSurvivesRestart(t *testing.T) {
	t.Parallel()
	if os.Getenv("GATEMQ_TEST_AGAINST") == "mosquitto" {
		t.Skip("gatemq only: the reference mosquitto runs without persistence here")
	}
	dir := t.TempDir()
	m := newMosq(t) // finds the tools; its own broker is not used
	restart := func(old *broker, sig syscall.Signal) *broker {
		t.Helper()
		if old != nil {
			if err := old.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := old.wait(t, 10*time.Second)
			if sig == syscall.SIGTERM && code != 0 {
				t.Fatalf("exit code after SIGTERM = %d, want 0", code)
			}
		}
		b := startGatemqOnPort(t, "-data", dir)
		m.addr = b.addr
		m.host, m.port, _ = net.SplitHostPort(b.addr)
		return b
	}
	const lamp, queue = "test/keep/lamp", "test/keep/queue"
	keeper := []string{"-c", "-i", "keeper", "-q", "1", "-t", queue}
	// drainKeeper reconnects the persistent subscriber and returns what it
	// got, once it got the last line of want.
	drainKeeper := func(want ...string) []string {
		t.Helper()
		got, _ := m.drain(t, "test/keep/stop", want, keeper...)
		return got
	}
	checkLamp := func(when string) {
		t.Helper()
		p := m.startSub(t, "-t", lamp, "-C", "1")
		if got := messages(t, p); !equalLines(got, []string{lamp + " on"}) {
			t.Errorf("%s: retained message = %q, want %q", when, got, lamp+" on")
		}
	}

	b := restart(nil, 0)
	m.publish(t, "", "-t", lamp, "-q", "1", "-r", "-m", "on")
	if got := messages(t, m.startSub(t, append(keeper, "-E")...)); len(got) != 0 {
		t.Fatalf("first keeper connection got %q", got)
	}
	m.publish(t, "m1\nm2\n", "-t", queue, "-q", "1", "-l")

	b = restart(b, syscall.SIGTERM)
	checkLamp("after SIGTERM")
	if got := drainKeeper(queue+" m1", queue+" m2"); !equalLines(got, []string{queue + " m1", queue + " m2"}) {
		t.Errorf("after SIGTERM, keeper got %q, want m1 m2", got)
	}

	m.publish(t, "", "-t", queue, "-q", "1", "-m", "m3")
	restart(b, syscall.SIGKILL)
	checkLamp("after SIGKILL")
	if got := drainKeeper(queue + " m3"); !equalLines(got, []string{queue + " m3"}) {
		t.Errorf("after SIGKILL, keeper got %q, want only m3 (m1, m2 were acknowledged before)", got)
	}
}
