package main

// Access control of the built binary (issue 7): password files made by
// Debian's mosquitto_passwd and by `gatemq passwd`, checked by gatemq and by
// Debian's mosquitto; an ACL matrix driven by mosquitto_pub/mosquitto_sub
// -u -P and Paho; allow_anonymous's Mosquitto 2 default; SIGHUP reloads.
// Helpers from cli_test.go and mosquitto_test.go. Where Mosquitto 2.0.11
// answers differently from gatemq's documented choice, the comment says so.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// accWait bounds each wait for a CONNACK, an acknowledgement or a message.
const accWait = 10 * time.Second

// writeFile writes text to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// toolRun runs a client tool to completion and returns its exit code and
// combined output.
func toolRun(t *testing.T, path string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v: %v", path, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out\n%s", path, args, out)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return code, string(out)
}

// login returns mosquitto client arguments for user with password pass
// (none for an anonymous client, user "").
func login(user, pass string) []string {
	if user == "" {
		return nil
	}
	return []string{"-u", user, "-P", pass}
}

// checkPub runs mosquitto_pub (protocol version v: "311" or "5") as user
// and checks its exit code, which is the CONNACK code when refused, and
// that its output contains want.
func checkPub(t *testing.T, m *mosq, v, user, pass string, code int, want string) {
	t.Helper()
	args := append([]string{"-h", m.host, "-p", m.port, "-V", v, "-q", "1", "-t", "acc/check", "-m", "x"}, login(user, pass)...)
	got, out := toolRun(t, m.pub, args...)
	if got != code || !strings.Contains(out, want) {
		t.Errorf("mosquitto_pub -V %s -u %q -P %q: exit %d, output %q; want exit %d and %q", v, user, pass, got, out, code, want)
	}
}

// pahoTry connects a Paho 3.1.1 client as user (anonymous when "") and
// returns the client and CONNACK code; an accepted client is disconnected
// when the test ends. received, when not nil, gets "topic payload\n" for
// each message.
func pahoTry(t *testing.T, addr, id, user, pass string, received *outputBuffer) (paho.Client, byte) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(accWait).SetOrderMatters(true)
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	if received != nil {
		o.SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			fmt.Fprintf(received, "%s %s\n", msg.Topic(), msg.Payload())
		})
	}
	c := paho.NewClient(o)
	tok := c.Connect().(*paho.ConnectToken)
	if !tok.WaitTimeout(accWait) {
		t.Fatalf("Paho %q: no CONNACK", id)
	}
	t.Cleanup(func() {
		if c.IsConnectionOpen() {
			c.Disconnect(50)
		}
	})
	return c, tok.ReturnCode()
}

// pahoLogin is pahoTry failing the test unless the broker accepts.
func pahoLogin(t *testing.T, addr, id, user, pass string, received *outputBuffer) paho.Client {
	t.Helper()
	c, code := pahoTry(t, addr, id, user, pass, received)
	if code != 0 {
		t.Fatalf("Paho %q as %q: CONNACK %d", id, user, code)
	}
	return c
}

// pahoDo waits for tok and fails the test on error or timeout.
func pahoDo(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(accWait) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// v5Code connects a paho.golang (MQTT 5.0) client as user (anonymous when
// "") and returns the CONNACK reason code.
func v5Code(t *testing.T, addr, user, pass string) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, accWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := paho5.NewClient(paho5.ClientConfig{Conn: conn})
	cp := &paho5.Connect{ClientID: "v5-" + user, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = user, true, []byte(pass), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), accWait)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if ca == nil {
		t.Fatalf("5.0 connect as %q: no CONNACK: %v", user, err)
	}
	if err == nil {
		_ = c.Disconnect(&paho5.Disconnect{})
	}
	return ca.ReasonCode
}

// awaitLine waits until out holds the line want.
func awaitLine(t *testing.T, out *outputBuffer, want string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`)
	deadline := time.After(accWait)
	for {
		text, changed := out.snapshot()
		if re.MatchString(text) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no line %q within %v; got:\n%s", want, accWait, text)
		}
	}
}

// msgLines returns the "topic payload" lines mosquitto_sub -v -d printed.
func msgLines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "Client ") && !strings.HasPrefix(l, "Subscribed (") {
			ls = append(ls, l)
		}
	}
	return ls
}

// topicsOf returns the sorted topics of the lines whose payload is payload.
func topicsOf(lines []string, payload string) []string {
	var ts []string
	for _, l := range lines {
		if topic, p, _ := strings.Cut(l, " "); p == payload {
			ts = append(ts, topic)
		}
	}
	slices.Sort(ts)
	return ts
}

// sortedCopy returns s sorted, without changing s.
func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestAccessMosquittoPasswdFile: a password file written by Debian's
// mosquitto_passwd ($7$ by default, $6$ with -H sha512) is accepted by
// gatemq: right passwords connect, a wrong password or an unknown user get
// CONNACK 4 (5.0: 0x86) and an anonymous client 5 (0x87), with
// mosquitto_pub/mosquitto_sub -u -P and with Paho.
func TestAccessMosquittoPasswdFile(t *testing.T) {
	mpw := requireTool(t, "mosquitto_passwd", "mosquitto")
	m := mosqTools(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for _, args := range [][]string{{"-c", "-b", pw, "alice", "alice-pw"}, {"-H", "sha512", "-b", pw, "bob", "bob-pw"}} {
		if out, err := exec.Command(mpw, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v %s", args, err, out)
		}
	}
	text, _ := os.ReadFile(pw)
	if !regexp.MustCompile(`(?m)^alice:\$7\$`).Match(text) || !regexp.MustCompile(`(?m)^bob:\$6\$`).Match(text) {
		t.Fatalf("mosquitto_passwd wrote %q, want a $7$ line for alice and a $6$ line for bob", text)
	}
	conf := writeFile(t, dir, "gatemq.conf", "password_file "+pw+"\nallow_anonymous false\n")
	b := startGatemqOnPort(t, "-c", conf, "-memory")
	m.use(b)

	for _, v := range []string{"311", "5"} {
		checkPub(t, m, v, "alice", "alice-pw", 0, "")
		checkPub(t, m, v, "bob", "bob-pw", 0, "")
		bad, badMsg, anon, anonMsg := 4, "bad user name or password", 5, "not authorised"
		if v == "5" {
			bad, badMsg, anon, anonMsg = 0x86, "Bad User Name or Password", 0x87, "Not authorized"
		}
		checkPub(t, m, v, "alice", "bob-pw", bad, badMsg)
		checkPub(t, m, v, "bob", "bob-pw ", bad, badMsg)
		checkPub(t, m, v, "mallory", "alice-pw", bad, badMsg)
		checkPub(t, m, v, "", "", anon, anonMsg)
	}

	// mosquitto_sub logs in too and receives what bob publishes.
	sub := m.subscribe(t, "-u", "alice", "-P", "alice-pw", "-t", "acc/#", "-C", "1")
	m.publish(t, "", "-u", "bob", "-P", "bob-pw", "-q", "1", "-t", "acc/hello", "-m", "from bob")
	if got := messages(t, sub); !equalLines(got, []string{"acc/hello from bob"}) {
		t.Errorf("mosquitto_sub as alice got %q", got)
	}

	// Paho, 3.1.1 and 5.0.
	for _, c := range []struct {
		user, pass string
		code, v5   byte
	}{{"alice", "alice-pw", 0, 0}, {"bob", "bob-pw", 0, 0}, {"alice", "nope", 4, 0x86}, {"carol", "x", 4, 0x86}, {"", "", 5, 0x87}} {
		if _, got := pahoTry(t, b.addr, "paho-"+c.user, c.user, c.pass, nil); got != c.code {
			t.Errorf("Paho 3.1.1 %q/%q: CONNACK %d, want %d", c.user, c.pass, got, c.code)
		}
		if got := v5Code(t, b.addr, c.user, c.pass); got != c.v5 {
			t.Errorf("Paho 5.0 %q/%q: CONNACK %#x, want %#x", c.user, c.pass, got, c.v5)
		}
	}
}

// startRefMosquitto starts Debian's mosquitto with conf plus a listener on
// a free loopback port and returns its address once it accepts.
func startRefMosquitto(t *testing.T, conf string) string {
	t.Helper()
	bin := requireTool(t, "mosquitto", "mosquitto")
	port := freePort(t)
	if os.Geteuid() == 0 {
		conf = "user root\n" + conf // else mosquitto drops to a user who cannot read t.TempDir()
	}
	p := startProc(t, nil, bin, "-c", writeConfig(t, fmt.Sprintf("%slistener %d 127.0.0.1\n", conf, port)))
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(accWait); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case <-p.done:
			t.Fatalf("mosquitto exited: %v\n%s", p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond): // polling the port opening
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto does not accept connections")
		}
	}
}

// TestAccessGatemqPasswdFile: a file written by the binary's `gatemq
// passwd` (-c -b, then a user added with the password on stdin) is
// accepted by Debian's mosquitto and by gatemq. Mosquitto 2.0.11 refuses a
// wrong password with CONNACK 5 / 0x87 ("not authorised"); gatemq uses the
// code the specifications name for it, 4 / 0x86.
func TestAccessGatemqPasswdFile(t *testing.T) {
	m := mosqTools(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if code, out, errOut := runGatemq(t, "passwd", "-c", "-b", pw, "dev", "s3cret"); code != 0 {
		t.Fatalf("gatemq passwd -c -b: exit %d\n%s%s", code, out, errOut)
	}
	p := startProc(t, strings.NewReader("ops-pw\n"), gatemqBinary(t), "passwd", pw, "ops")
	if code := p.wait(t, accWait); code != 0 {
		t.Fatalf("gatemq passwd (stdin): exit %d\n%s", code, p.stderr.String())
	}
	if text, _ := os.ReadFile(pw); !regexp.MustCompile(`^dev:\$7\$101\$\S+\nops:\$7\$101\$\S+\n$`).Match(text) {
		t.Fatalf("gatemq passwd wrote %q, want two $7$ lines", text)
	}
	conf := "allow_anonymous false\npassword_file " + pw + "\n"

	m.addr = startRefMosquitto(t, conf)
	m.host, m.port, _ = net.SplitHostPort(m.addr)
	for _, v := range []string{"311", "5"} {
		checkPub(t, m, v, "dev", "s3cret", 0, "")
		checkPub(t, m, v, "ops", "ops-pw", 0, "")
		refused, msg := 5, "not authorised"
		if v == "5" {
			refused, msg = 0x87, "Not authorized"
		}
		checkPub(t, m, v, "dev", "s3cret ", refused, msg)
		checkPub(t, m, v, "ops", "s3cret", refused, msg)
	}

	m.use(startGatemqOnPort(t, "-c", writeConfig(t, conf), "-memory"))
	for _, v := range []string{"311", "5"} {
		checkPub(t, m, v, "dev", "s3cret", 0, "")
		checkPub(t, m, v, "ops", "ops-pw", 0, "")
		bad, msg := 4, "bad user name or password"
		if v == "5" {
			bad, msg = 0x86, "Bad User Name or Password"
		}
		checkPub(t, m, v, "dev", "s3cret ", bad, msg)
		checkPub(t, m, v, "ops", "s3cret", bad, msg)
	}
}

// accToolACL is the ACL of the binary's matrix; lines before the first user
// line are the anonymous section.
const accToolACL = `topic read public/#
topic write anon/in

user alice
topic readwrite home/#
topic deny home/secret

user bob
topic read home/#
topic write cmd/bob

user admin
topic readwrite #

pattern readwrite users/%u/#
pattern read devices/%c/cmd
pattern write devices/%c/status
`

var accToolTopics = []string{"home/kitchen", "home/secret", "public/news", "anon/in", "cmd/bob", "users/alice/x", "users/bob/x",
	"devices/cid-alice/status", "devices/cid-alice/cmd", "devices/cid-bob/cmd", "devices/anon-1/status", "devices/anon-1/cmd"}

// accToolUsers are the matrix's clients and, by hand from Mosquitto's
// rules, what each may read and write among accToolTopics.
var accToolUsers = []struct {
	user, pass, id string
	read, write    []string
}{
	{"alice", "alice-pw", "cid-alice",
		[]string{"home/kitchen", "users/alice/x", "devices/cid-alice/cmd"},
		[]string{"home/kitchen", "users/alice/x", "devices/cid-alice/status"}},
	{"bob", "bob-pw", "cid-bob",
		[]string{"home/kitchen", "home/secret", "users/bob/x", "devices/cid-bob/cmd"},
		[]string{"cmd/bob", "users/bob/x"}},
	{"", "", "anon-1",
		[]string{"public/news", "devices/anon-1/cmd"},
		[]string{"anon/in", "devices/anon-1/status"}},
}

// startACLBroker starts the binary with accToolACL and a password file
// (written by `gatemq passwd`) for alice, bob, carol and admin, listening on
// loopback only (so anonymous clients are allowed by default), points m at
// it and returns its address. GATEMQ_TEST_AGAINST=mosquitto starts Debian's
// mosquitto with the same files instead, to check the hand-written
// expectations against the reference.
func startACLBroker(t *testing.T, m *mosq) string {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for i, u := range []string{"alice", "bob", "carol", "admin"} {
		args := []string{"passwd", "-b", pw, u, u + "-pw"}
		if i == 0 {
			args = []string{"passwd", "-c", "-b", pw, u, u + "-pw"}
		}
		if code, _, errOut := runGatemq(t, args...); code != 0 {
			t.Fatalf("gatemq %v: %s", args, errOut)
		}
	}
	acl := writeFile(t, dir, "acl", accToolACL)
	conf := "password_file " + pw + "\nacl_file " + acl + "\n"
	if os.Getenv("GATEMQ_TEST_AGAINST") == "mosquitto" {
		m.ref = true
		m.addr = startRefMosquitto(t, conf+"allow_anonymous true\n")
		m.host, m.port, _ = net.SplitHostPort(m.addr)
		return m.addr
	}
	b := startGatemqOnPort(t, "-c", writeConfig(t, conf), "-memory")
	m.use(b)
	return b.addr
}

// TestAccessACLTools runs the ACL matrix on the binary: each client reads
// with mosquitto_sub -u -P and writes with mosquitto_pub -u -P, and an
// administrator publishes and observes with Paho. A 3.1.1 publish the ACL
// refuses is acknowledged and dropped.
func TestAccessACLTools(t *testing.T) {
	m := mosqTools(t)
	addr := startACLBroker(t, m)

	// Read: every client subscribes to "#"; admin publishes every topic,
	// then devices/ID/cmd "end" to each (readable by all: a barrier).
	subs := make([]*proc, len(accToolUsers))
	for i, u := range accToolUsers {
		subs[i] = m.startSub(t, append(login(u.user, u.pass), "-i", u.id, "-q", "1", "-t", "#")...)
	}
	for _, p := range subs {
		p.waitFor(t, p.stdout, regexp.MustCompile(`(?m)^Subscribed \(mid: \d+\): 1$`), accWait)
	}
	observed := newOutputBuffer()
	admin := pahoLogin(t, addr, "admin-1", "admin", "admin-pw", observed)
	pahoDo(t, "admin subscribe", admin.Subscribe("#", 1, nil))
	for _, topic := range accToolTopics {
		pahoDo(t, "admin publish "+topic, admin.Publish(topic, 1, false, "m"))
	}
	for i, u := range accToolUsers {
		pahoDo(t, "admin publish end", admin.Publish("devices/"+u.id+"/cmd", 1, false, "end"))
		awaitLine(t, subs[i].stdout, "devices/"+u.id+"/cmd end")
		if got, want := topicsOf(msgLines(subs[i].stdout.String()), "m"), sortedCopy(u.read); !slices.Equal(got, want) {
			t.Errorf("mosquitto_sub as %q read %v, want %v", u.user, got, want)
		}
	}

	for _, p := range subs { // their client IDs are used by the writers below
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(t, accWait)
	}

	// Write: every client publishes every topic with mosquitto_pub at QoS 1
	// and 2; every publish completes (exit 0); admin sees what got through.
	for _, u := range accToolUsers {
		for _, topic := range accToolTopics {
			for _, q := range []string{"1", "2"} {
				m.publish(t, "", append(login(u.user, u.pass), "-i", u.id, "-q", q, "-t", topic, "-m", u.id)...)
			}
		}
	}
	pahoDo(t, "admin publish end", admin.Publish("end/write", 1, false, "end"))
	awaitLine(t, observed, "end/write end")
	lines := strings.Split(observed.String(), "\n")
	for _, u := range accToolUsers {
		var want []string
		for _, w := range u.write {
			want = append(want, w, w) // QoS 1 and QoS 2
		}
		if got := topicsOf(lines, u.id); !slices.Equal(got, sortedCopy(want)) {
			t.Errorf("mosquitto_pub as %q got through on %v, want each of %v twice", u.user, got, u.write)
		}
	}
}

// TestAccessToolsReasonCodes checks the codes mosquitto_pub and
// mosquitto_sub report: a refused SUBSCRIBE filter gets 0x80 (5.0: 0x87),
// a refused 5.0 publish PUBACK/PUBREC 0x87 while 3.1.1 is acknowledged as
// usual, and a will topic the client may not write refuses the CONNECT
// with 5 (5.0: 0x87). (Mosquitto 2.0.11 grants every filter and accepts
// such a will; gatemq's choices are documented in mqtt/auth/doc.go and the
// issue.)
func TestAccessToolsReasonCodes(t *testing.T) {
	m := mosqTools(t)
	if os.Getenv("GATEMQ_TEST_AGAINST") == "mosquitto" {
		t.Skip("gatemq only: Mosquitto 2.0.11 grants every filter and accepts any will topic")
	}
	startACLBroker(t, m)
	alice := login("alice", "alice-pw")
	host := []string{"-h", m.host, "-p", m.port}

	for _, c := range []struct{ v, want string }{{"311", "128, 128, 1"}, {"5", "135, 135, 1"}} {
		args := append(append(slices.Clone(host), alice...), "-V", c.v, "-d", "-E", "-q", "1", "-t", "home/secret", "-t", "admin/#", "-t", "home/#")
		code, out := toolRun(t, m.sub, args...)
		if code != 0 || !strings.Contains(out, "Subscribed (mid: 1): "+c.want+"\n") {
			t.Errorf("mosquitto_sub -V %s: exit %d, want 0 and SUBACK codes %s:\n%s", c.v, code, c.want, out)
		}
	}

	for _, c := range []struct {
		v, q, topic string
		refused     bool
	}{{"5", "1", "home/secret", true}, {"5", "2", "home/secret", true}, {"5", "1", "public/news", true},
		{"5", "1", "home/kitchen", false}, {"5", "2", "home/kitchen", false},
		{"311", "1", "home/secret", false}, {"311", "2", "home/secret", false}} {
		args := append(append(slices.Clone(host), alice...), "-V", c.v, "-d", "-q", c.q, "-t", c.topic, "-m", "x")
		code, out := toolRun(t, m.pub, args...)
		failed := strings.Contains(out, "Publish 1 failed: Not authorized.")
		if code != 0 || failed != c.refused {
			t.Errorf("mosquitto_pub -V %s -q %s -t %s: exit %d, refusal reported %v, want exit 0 and %v:\n%s", c.v, c.q, c.topic, code, failed, c.refused, out)
		}
		// Accepted: 0x00, or 0x10 (no matching subscribers).
		rc := regexp.MustCompile(`received PUBACK \(Mid: 1, RC:(0|16)\)`)
		if c.refused {
			rc = regexp.MustCompile(`received PUBACK \(Mid: 1, RC:135\)`)
		}
		if c.v == "5" && c.q == "1" && !rc.MatchString(out) {
			t.Errorf("mosquitto_pub -V 5 -q 1 -t %s: want %s:\n%s", c.topic, rc, out)
		}
		ack := "received PUBACK"
		if c.q == "2" {
			ack = "received PUBCOMP"
		}
		if c.v == "311" && !strings.Contains(out, ack) {
			t.Errorf("mosquitto_pub -V 311 -q %s -t %s: not acknowledged (no %q):\n%s", c.q, c.topic, ack, out)
		}
	}

	for _, c := range []struct {
		v, will string
		code    int
	}{{"311", "home/secret", 5}, {"5", "home/secret", 0x87}, {"311", "public/news", 5}, {"311", "home/door", 0}, {"5", "users/alice/will", 0}} {
		args := append(append(slices.Clone(host), alice...), "-V", c.v, "-E", "-t", "home/#", "--will-topic", c.will, "--will-payload", "gone")
		if code, out := toolRun(t, m.sub, args...); code != c.code {
			t.Errorf("mosquitto_sub -V %s --will-topic %s: exit %d, want %d:\n%s", c.v, c.will, code, c.code, out)
		}
	}
}

// TestAccessToolsRetainedAndWill: a retained message is sent on subscribe
// only to clients that may read its topic, and so is a will, live and
// retained (mosquitto_sub -u -P as readers, Paho as publisher).
func TestAccessToolsRetainedAndWill(t *testing.T) {
	m := mosqTools(t)
	addr := startACLBroker(t, m)
	admin := pahoLogin(t, addr, "admin-1", "admin", "admin-pw", nil)
	for _, topic := range []string{"home/kitchen", "home/secret", "public/news"} {
		pahoDo(t, "retain "+topic, admin.Publish(topic, 1, true, "r"))
	}
	for _, u := range accToolUsers {
		// --retained-only: exit at the first message without RETAIN, the
		// barrier published once the SUBACK arrived.
		p := m.startSub(t, append(login(u.user, u.pass), "-i", u.id, "--retained-only", "-t", "home/#", "-t", "public/#", "-t", "devices/"+u.id+"/cmd")...)
		p.waitFor(t, p.stdout, subscribedRE, accWait)
		pahoDo(t, "barrier", admin.Publish("devices/"+u.id+"/cmd", 1, false, "end"))
		if code := p.wait(t, accWait); code != 0 {
			t.Fatalf("mosquitto_sub --retained-only as %q: exit %d", u.user, code)
		}
		var want []string
		for _, topic := range []string{"home/kitchen", "home/secret", "public/news"} {
			if slices.Contains(u.read, topic) {
				want = append(want, topic)
			}
		}
		if got := topicsOf(msgLines(p.stdout.String()), "r"); !slices.Equal(got, want) {
			t.Errorf("%q got retained %v, want %v", u.user, got, want)
		}
	}

	// carol's will on users/carol/status (hers by the %u pattern) reaches
	// admin, but not alice, who may not read it.
	aliceSub := m.startSub(t, "-u", "alice", "-P", "alice-pw", "-i", "cid-alice", "-q", "1", "-t", "#")
	adminSub := m.startSub(t, "-u", "admin", "-P", "admin-pw", "-i", "admin-2", "-q", "1", "-t", "#")
	carol := m.startSub(t, "-u", "carol", "-P", "carol-pw", "-i", "cid-carol", "-t", "users/carol/#",
		"--will-topic", "users/carol/status", "--will-payload", "gone", "--will-qos", "1", "--will-retain")
	for _, p := range []*proc{aliceSub, adminSub, carol} {
		p.waitFor(t, p.stdout, subscribedRE, accWait)
	}
	if err := carol.cmd.Process.Kill(); err != nil { // no DISCONNECT: the will goes out
		t.Fatal(err)
	}
	awaitLine(t, adminSub.stdout, "users/carol/status gone")
	pahoDo(t, "barrier", admin.Publish("devices/cid-alice/cmd", 1, false, "end"))
	awaitLine(t, aliceSub.stdout, "devices/cid-alice/cmd end")
	if got := topicsOf(msgLines(aliceSub.stdout.String()), "gone"); len(got) != 0 {
		t.Errorf("alice received the will on %v", got)
	}
	for _, c := range []struct {
		user string
		want bool
	}{{"alice", false}, {"carol", true}} {
		p := m.startSub(t, "-u", c.user, "-P", c.user+"-pw", "-i", "late-"+c.user, "--retained-only", "-t", "users/#", "-t", "devices/late-"+c.user+"/cmd")
		p.waitFor(t, p.stdout, subscribedRE, accWait)
		pahoDo(t, "barrier", admin.Publish("devices/late-"+c.user+"/cmd", 1, false, "end"))
		p.wait(t, accWait)
		if got := slices.Contains(msgLines(p.stdout.String()), "users/carol/status gone"); got != c.want {
			t.Errorf("late %s got the retained will: %v, want %v", c.user, got, c.want)
		}
	}
}

// startOnListener starts the binary with a config whose only listener is
// `listener PORT ADDRESS` plus extra lines (retrying on another port if the
// one found free was taken meanwhile) and returns it with the loopback
// address clients use.
func startOnListener(t *testing.T, address, extra string) (*broker, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		conf := writeConfig(t, fmt.Sprintf("listener %d %s\n%s", port, address, extra))
		b, err := tryStartGatemq(t, "-c", conf, "-memory")
		if err != nil {
			if attempt < 5 && strings.Contains(err.Error(), "address already in use") {
				continue
			}
			t.Fatal(err)
		}
		return b, "127.0.0.1:" + strconv.Itoa(port)
	}
}

// rawCONNACK sends a CONNECT without username (3.1.1, or 5.0 when v5) and
// returns the CONNACK's return code or reason code.
func rawCONNACK(t *testing.T, addr string, v5 bool) byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, accWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'a'}
	if v5 {
		pkt = []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 1, 'a'}
	}
	_ = c.SetDeadline(time.Now().Add(accWait))
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 {
		t.Fatalf("no CONNACK: % x %v", ack, err)
	}
	return ack[3]
}

// TestAccessAllowAnonymousDefault checks Mosquitto 2's default: as soon as
// the config file defines a listener, loopback or not, anonymous clients
// are refused (CONNACK 5, 5.0: 0x87) unless allow_anonymous says
// otherwise. (Without a listener in the file the broker listens on
// loopback and allows them: TestCLIDefaultListeners.)
func TestAccessAllowAnonymousDefault(t *testing.T) {
	for _, c := range []struct {
		address, extra string
		code, v5       byte
	}{
		{"127.0.0.1", "", 5, 0x87},
		{"127.0.0.1", "allow_anonymous true\n", 0, 0},
		{"0.0.0.0", "", 5, 0x87},
		{"0.0.0.0", "allow_anonymous true\n", 0, 0},
		{"127.0.0.1", "allow_anonymous false\n", 5, 0x87},
	} {
		b, addr := startOnListener(t, c.address, c.extra)
		if got := rawCONNACK(t, addr, false); got != c.code {
			t.Errorf("listener %s %q: anonymous 3.1.1 CONNACK %d, want %d", c.address, c.extra, got, c.code)
		}
		if got := rawCONNACK(t, addr, true); got != c.v5 {
			t.Errorf("listener %s %q: anonymous 5.0 CONNACK %#x, want %#x", c.address, c.extra, got, c.v5)
		}
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		b.wait(t, accWait)
	}
}

// TestAccessSIGHUP changes the ACL and password files of a running broker
// and sends SIGHUP: connections stay up, the new rules apply to them, and a
// new user can log in; a broken file then keeps the rules in force and the
// log says which file and line.
func TestAccessSIGHUP(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for _, args := range [][]string{{"passwd", "-c", "-b", pw, "alice", "alice-pw"}, {"passwd", "-b", pw, "admin", "admin-pw"}} {
		if code, _, errOut := runGatemq(t, args...); code != 0 {
			t.Fatalf("gatemq %v: %s", args, errOut)
		}
	}
	aclText := "user alice\ntopic read home/#\n\nuser admin\ntopic readwrite #\n"
	acl := writeFile(t, dir, "acl", aclText)
	conf := writeFile(t, dir, "gatemq.conf", "password_file "+pw+"\nacl_file "+acl+"\nallow_anonymous false\n")
	b := startGatemqOnPort(t, "-c", conf, "-memory")

	got := newOutputBuffer()
	alice := pahoLogin(t, b.addr, "cid-alice", "alice", "alice-pw", got)
	pahoDo(t, "alice subscribe", alice.Subscribe("#", 1, nil))
	admin := pahoLogin(t, b.addr, "admin-1", "admin", "admin-pw", nil)
	step := 0
	// receives publishes topic, then a barrier alice may read, and reports
	// whether alice received topic.
	receives := func(topic string) bool {
		t.Helper()
		step++
		payload := "p" + strconv.Itoa(step)
		pahoDo(t, "publish", admin.Publish(topic, 1, false, payload))
		pahoDo(t, "barrier", admin.Publish("home/barrier", 1, false, payload))
		awaitLine(t, got, "home/barrier "+payload)
		return strings.Contains(got.String(), topic+" "+payload+"\n")
	}
	hup := func(n int, re string) {
		t.Helper()
		if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		b.waitFor(t, b.stderr, regexp.MustCompile(`(?s)(`+re+`.*){`+strconv.Itoa(n)+`}`), accWait)
	}
	if receives("news/today") {
		t.Fatal("alice received news/today before it was granted")
	}
	if _, code := pahoTry(t, b.addr, "dave-0", "dave", "dave-pw", nil); code != 4 {
		t.Fatalf("dave before the reload: CONNACK %d, want 4", code)
	}

	writeFile(t, dir, "acl", strings.Replace(aclText, "topic read home/#\n", "topic read home/#\ntopic read news/#\n", 1))
	if code, _, errOut := runGatemq(t, "passwd", "-b", pw, "dave", "dave-pw"); code != 0 {
		t.Fatalf("gatemq passwd: %s", errOut)
	}
	hup(1, `msg="reloaded password and ACL files"`)
	if !receives("news/today") {
		t.Error("after SIGHUP granted news/#, alice's subscription did not deliver news/today")
	}
	if _, code := pahoTry(t, b.addr, "dave-1", "dave", "dave-pw", nil); code != 0 {
		t.Errorf("dave after the reload: CONNACK %d, want 0", code)
	}

	// A broken ACL file (its first lines would take news/# away) is not
	// used, not even in part.
	writeFile(t, dir, "acl", "user alice\ntopic deny news/#\ntopic bogus news/x\n")
	hup(1, `level=ERROR msg="reload failed; keeping the access control in force" err="acl_file: auth: `+regexp.QuoteMeta(acl)+`:3: unknown access \\"bogus\\"`)
	if !receives("news/more") {
		t.Error("after a broken ACL file, alice no longer receives news/#: the old rules were not kept")
	}
	if receives("secret/x") {
		t.Error("after a broken ACL file, alice receives a topic never granted")
	}
	// A broken password file (with the ACL file mended): dave keeps his
	// login.
	writeFile(t, dir, "acl", aclText)
	writeFile(t, dir, "passwd", "dave\n")
	hup(2, `reload failed; keeping the access control in force`)
	if _, code := pahoTry(t, b.addr, "dave-2", "dave", "dave-pw", nil); code != 0 {
		t.Errorf("dave after a broken password file: CONNACK %d, want 0 (old file kept)", code)
	}
	if !strings.Contains(b.stderr.String(), "password_file: ") {
		t.Errorf("the log does not name password_file:\n%s", b.stderr.String())
	}
	if !alice.IsConnectionOpen() || !admin.IsConnectionOpen() {
		t.Error("a connection was dropped by the reloads")
	}
}

// TestAccessDeliveryAfterRestartAndReload: read rights are checked when a
// message is delivered, against whoever holds the session then. bob (who
// may read pub/# and home/+, but not home/secret) keeps a persistent
// session subscribed to '#' with mosquitto_sub; the broker is SIGKILLed
// and restarted; alice publishes what bob may and may not read while he is
// away; on reconnect bob gets only his. Then a SIGHUP reload takes pub/#
// away while a pub/ message waits in his queue: it is not delivered, and
// the same reload removing carol from the password file disconnects her.
func TestAccessDeliveryAfterRestartAndReload(t *testing.T) {
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	for i, u := range []string{"alice", "bob", "carol"} {
		args := []string{"passwd", "-b", pw, u, u + "-pw"}
		if i == 0 {
			args = []string{"passwd", "-c", "-b", pw, u, u + "-pw"}
		}
		if code, _, errOut := runGatemq(t, args...); code != 0 {
			t.Fatalf("gatemq %v: %s", args, errOut)
		}
	}
	aclText := "user alice\ntopic readwrite #\n\nuser bob\ntopic read pub/#\ntopic read home/+\ntopic deny home/secret\n\nuser carol\ntopic read carol/#\n"
	acl := writeFile(t, dir, "acl", aclText)
	conf := writeFile(t, dir, "gatemq.conf", "password_file "+pw+"\nacl_file "+acl+"\nallow_anonymous false\n")
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", filepath.Join(dir, "data"))
	b.mustStart(accWait)
	host, port, _ := net.SplitHostPort(b.addr)
	bobSub := func(extra ...string) (int, string) {
		args := append([]string{"-h", host, "-p", port, "-V", "311", "-c", "-i", "cid-bob", "-u", "bob", "-P", "bob-pw", "-t", "#", "-q", "1"}, extra...)
		return toolRun(t, sub, args...)
	}
	if code, out := bobSub("-E"); code != 0 {
		t.Fatalf("mosquitto_sub -E (bob subscribes and leaves): %d %s", code, out)
	}
	b.kill()
	b.mustStart(accWait)

	alice := pahoLogin(t, b.addr, "cid-alice", "alice", "alice-pw", nil)
	for _, topic := range []string{"other/secret", "home/secret", "pub/x", "pub/end"} {
		pahoDo(t, "alice publishes "+topic, alice.Publish(topic, 1, false, "from-alice"))
	}
	code, out := bobSub("-v", "-C", "2", "-W", "10")
	if code != 0 || out != "pub/x from-alice\npub/end from-alice\n" {
		t.Errorf("bob after the restart: exit %d, received:\n%s\nwant exactly pub/x and pub/end", code, out)
	}

	// bob is away again with a pub/ message queued; the reload takes pub/#
	// away and removes carol, who is connected.
	carol := pahoLogin(t, b.addr, "cid-carol", "carol", "carol-pw", nil)
	pahoDo(t, "alice publishes pub/queued", alice.Publish("pub/queued", 1, false, "from-alice"))
	writeFile(t, dir, "acl", strings.Replace(aclText, "topic read pub/#\n", "", 1))
	if code, _, errOut := runGatemq(t, "passwd", "-D", pw, "carol"); code != 0 {
		t.Fatalf("gatemq passwd -D: %s", errOut)
	}
	_ = b.cur.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(accWait)
	for carol.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if carol.IsConnectionOpen() {
		t.Error("carol, removed from the password file, is still connected after SIGHUP")
	}
	pahoDo(t, "alice publishes home/end", alice.Publish("home/end", 1, false, "from-alice"))
	code, out = bobSub("-v", "-C", "1", "-W", "10")
	if code != 0 || out != "home/end from-alice\n" {
		t.Errorf("bob after the reload: exit %d, received:\n%s\nwant only home/end (pub/queued was revoked)", code, out)
	}
}
