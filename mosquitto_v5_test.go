package main

// MQTT 5.0 interoperability tests: Debian's mosquitto_pub and mosquitto_sub
// with -V 5 against the built gatemq binary (helpers in mosquitto_test.go and
// cli_test.go). GATEMQ_TEST_AGAINST=mosquitto runs the round trip against
// Debian's mosquitto instead, to check the expectations; the restart tests
// are gatemq only.

import (
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newMosqV5 finds the client tools and starts a broker for one test: gatemq
// with args (e.g. -memory, or -data DIR), or the reference mosquitto under
// GATEMQ_TEST_AGAINST=mosquitto.
func newMosqV5(t *testing.T, args ...string) *mosq {
	t.Helper()
	m := mosqTools(t)
	switch against := os.Getenv("GATEMQ_TEST_AGAINST"); against {
	case "", "gatemq":
		m.addr = startGatemqOnPort(t, args...).addr
	case "mosquitto":
		m.ref = true
		m.addr = startMosquitto(t)
	default:
		t.Fatalf("GATEMQ_TEST_AGAINST=%q: want gatemq or mosquitto", against)
	}
	m.host, m.port, _ = net.SplitHostPort(m.addr)
	return m
}

// mosqTools finds mosquitto_pub, mosquitto_sub and stdbuf (skipping the
// test loudly, or failing it under GATEMQ_REQUIRE_TOOLS=1, when missing).
func mosqTools(t *testing.T) *mosq {
	t.Helper()
	return &mosq{
		pub:    requireTool(t, "mosquitto_pub", "mosquitto-clients"),
		sub:    requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"),
	}
}

// use points m's clients at broker b.
func (m *mosq) use(b *broker) {
	m.addr = b.addr
	m.host, m.port, _ = net.SplitHostPort(b.addr)
}

// gatemqOnly skips a test that needs gatemq's persistence when the suite
// runs against the reference mosquitto.
func gatemqOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("GATEMQ_TEST_AGAINST") == "mosquitto" {
		t.Skip("gatemq only: the reference mosquitto runs without persistence here")
	}
}

// TestMosquittoV5Properties sends a message with 5.0 properties set by
// mosquitto_pub -D and checks that mosquitto_sub -V 5 prints each of them
// unaltered (-F '%t %p %P %C %R': topic, payload, user properties in
// order, content type, response topic; and correlation data, payload
// format indicator and the remaining message expiry), while a 3.1.1
// mosquitto_sub gets the plain message.
func TestMosquittoV5Properties(t *testing.T) {
	t.Parallel()
	m := newMosqV5(t, "-memory")
	const topic = "test/v5/props"
	props := m.subscribe(t, "-V", "5", "-t", topic, "-q", "1", "-C", "1", "-F", "%t %p %P %C %R")
	extra := m.subscribe(t, "-V", "5", "-t", topic, "-q", "1", "-C", "1", "-F", "%D|%F|%E")
	v311 := m.subscribe(t, "-V", "311", "-t", topic, "-q", "1", "-C", "1")

	m.publish(t, "", "-V", "5", "-t", topic, "-q", "1", "-m", "hello",
		"-D", "publish", "user-property", "k", "v",
		"-D", "publish", "user-property", "unit", "°C",
		"-D", "publish", "user-property", "k", "v2",
		"-D", "publish", "content-type", "text/plain",
		"-D", "publish", "response-topic", "test/v5/reply",
		"-D", "publish", "correlation-data", "req-42",
		"-D", "publish", "payload-format-indicator", "1",
		"-D", "publish", "message-expiry-interval", "60")

	want := topic + " hello k:v unit:°C k:v2 text/plain test/v5/reply"
	if got := messages(t, props); !equalLines(got, []string{want}) {
		t.Errorf("mosquitto_sub -V 5 -F '%%t %%p %%P %%C %%R' printed %q, want %q", got, want)
	}
	got := messages(t, extra)
	if len(got) != 1 || !regexp.MustCompile(`^req-42\|1\|(60|59)$`).MatchString(got[0]) {
		t.Errorf("mosquitto_sub -V 5 -F '%%D|%%F|%%E' printed %q, want req-42|1|60 (or 59)", got)
	}
	if got := messages(t, v311); !equalLines(got, []string{topic + " hello"}) {
		t.Errorf("3.1.1 mosquitto_sub printed %q, want %q", got, topic+" hello")
	}
}

// restartable is a gatemq whose state lives in one folder, so it can be
// killed and started again on a new port.
type restartable struct {
	t   *testing.T
	dir string
	m   *mosq
	b   *broker
}

// newRestartable starts gatemq with -data in a fresh folder.
func newRestartable(t *testing.T) *restartable {
	t.Helper()
	gatemqOnly(t)
	r := &restartable{t: t, dir: t.TempDir(), m: mosqTools(t)}
	r.start()
	return r
}

// start starts gatemq on the folder and points the clients at it.
func (r *restartable) start() {
	r.t.Helper()
	r.b = startGatemqOnPort(r.t, "-data", r.dir)
	r.m.use(r.b)
}

// kill SIGKILLs the running gatemq and waits for it to be gone.
func (r *restartable) kill() {
	r.t.Helper()
	if err := r.b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	r.b.wait(r.t, 10*time.Second)
}

// offline connects a 5.0 persistent session (Clean Start 0, Session Expiry
// Interval expiry) for id, subscribes it to topic at QoS 1 and disconnects
// it (mosquitto_sub -E).
func (r *restartable) offline(id, expiry, topic string) {
	r.t.Helper()
	p := r.m.startSub(r.t, "-V", "5", "-c", "-i", id, "-x", expiry, "-q", "1", "-t", topic, "-E")
	if got := messages(r.t, p); len(got) != 0 {
		r.t.Fatalf("first connection of %s got %q", id, got)
	}
}

// TestMosquittoV5SessionExpiryRestart checks that 5.0 sessions survive a
// SIGKILL of the broker according to their Session Expiry Interval,
// counted from the disconnect, not from the restart: a session with 60 s
// gets its queued QoS 1 messages once after the restart; a session with
// 2 s whose time ran out while the broker was down is gone (a new
// subscription gets nothing queued).
func TestMosquittoV5SessionExpiryRestart(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	const keep, short = "test/v5/keep", "test/v5/short"
	r.offline("v5keeper", "60", keep)
	r.offline("v5short", "2", short)
	disconnected := time.Now()
	r.m.publish(t, "m1\nm2\nm3\n", "-V", "5", "-t", keep, "-q", "1", "-l")
	r.m.publish(t, "", "-V", "5", "-t", short, "-q", "1", "-m", "s1")

	r.kill()
	// Down until the short session's 2 s have passed; back up before a
	// clock restarted at the restart would have ended it.
	time.Sleep(time.Until(disconnected.Add(2500 * time.Millisecond)))
	r.start()

	// The short session expired while the broker was down (checked first,
	// while a clock restarted at the restart would still be running): its
	// subscription and s1 are gone.
	p := r.m.startSub(t, "-V", "5", "-c", "-i", "v5short", "-x", "2", "-q", "1", "-t", "test/v5/stop2", "-C", "1")
	p.waitFor(t, p.stdout, subscribedRE, 10*time.Second)
	r.m.publish(t, "", "-t", "test/v5/stop2", "-q", "1", "-m", "stop")
	if got := messages(t, p); !equalLines(got, []string{"test/v5/stop2 stop"}) {
		t.Errorf("expired session's client got %q first, want only the stop message (s1 expired with its session)", got)
	}

	want := []string{keep + " m1", keep + " m2", keep + " m3"}
	got, _ := r.m.drain(t, "test/v5/stop", want, "-V", "5", "-c", "-i", "v5keeper", "-x", "60", "-q", "1", "-t", keep)
	if !equalLines(got, want) {
		t.Errorf("60 s session after SIGKILL got %q, want %q", got, want)
	}
	r.m.publish(t, "", "-V", "5", "-t", keep, "-q", "1", "-m", "m4")
	again := r.m.startSub(t, "-V", "5", "-c", "-i", "v5keeper", "-x", "60", "-q", "1", "-t", keep, "-C", "1")
	if got := messages(t, again); !equalLines(got, []string{keep + " m4"}) {
		t.Errorf("next connection got %q, want only the new m4 (m1..m3 were delivered once)", got)
	}
}

// TestMosquittoV5MessageExpiryRestart checks that a queued message's
// Message Expiry Interval keeps counting while the broker is down: a
// message with 2 s published to an offline session, the broker killed and
// restarted 3 s later, is not delivered; messages with 60 s or without
// expiry are, once.
func TestMosquittoV5MessageExpiryRestart(t *testing.T) {
	t.Parallel()
	r := newRestartable(t)
	const topic = "test/v5/expiry"
	r.offline("v5exp", "60", topic)
	published := time.Now()
	r.m.publish(t, "", "-V", "5", "-t", topic, "-q", "1", "-m", "short", "-D", "publish", "message-expiry-interval", "2")
	r.m.publish(t, "", "-V", "5", "-t", topic, "-q", "1", "-m", "long", "-D", "publish", "message-expiry-interval", "60")
	r.m.publish(t, "", "-V", "5", "-t", topic, "-q", "1", "-m", "forever")

	r.kill()
	time.Sleep(time.Until(published.Add(3 * time.Second)))
	r.start()

	want := []string{topic + " long", topic + " forever"}
	got, _ := r.m.drain(t, "test/v5/stop", want, "-V", "5", "-c", "-i", "v5exp", "-x", "60", "-q", "1", "-t", topic)
	if !equalLines(got, want) {
		t.Errorf("after the restart the session got %q, want %q (short expired)", got, want)
	}
	if strings.Contains(strings.Join(got, "\n"), "short") {
		t.Errorf("expired message delivered after restart")
	}
}
