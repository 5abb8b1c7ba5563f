package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// These tests run Debian's mosquitto 2.x tools (package mosquitto) as the
// reference; they skip loudly without them unless GATEMQ_REQUIRE_TOOLS=1.

// TestMosquittoPasswdFileAccepted: a file made by mosquitto_passwd now, in
// both hash formats, is accepted by Check with the right passwords only.
func TestMosquittoPasswdFileAccepted(t *testing.T) {
	bin := requireTool(t, "mosquitto_passwd", "mosquitto")
	path := filepath.Join(t.TempDir(), "passwd")
	steps := [][]string{
		{"-c", "-b", path, "user", "pass"},
		{"-b", path, "second", "pa ss:wörd"},
		{"-H", "sha512", "-b", path, "old", "legacy"},
	}
	for _, args := range steps {
		if out, err := runTool(t, bin, args...); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
		}
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pass string
		want       bool
	}{
		{"user", "pass", true}, {"user", "Pass", false},
		{"second", "pa ss:wörd", true}, {"second", "pa ss", false},
		{"old", "legacy", true}, {"old", "pass", false},
		{"nobody", "pass", false},
	} {
		if got := p.Check(c.user, []byte(c.pass)); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.pass, got, c.want)
		}
	}
	content, _ := os.ReadFile(path)
	if !strings.Contains(string(content), "old:$6$") || !strings.Contains(string(content), "user:$7$101$") {
		t.Fatalf("mosquitto_passwd wrote unexpected formats:\n%s", content)
	}
}

// TestHashAcceptedByMosquitto: an entry made by HashPBKDF2 (written with
// SetEntry and WriteFile, as `gatemq passwd` does) lets mosquitto_sub in; a
// wrong password or an unknown user is refused.
func TestHashAcceptedByMosquitto(t *testing.T) {
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	path := filepath.Join(t.TempDir(), "passwd")
	var content []byte
	for _, u := range []struct{ user, pass string }{{"gm", "from gatemq"}, {"iter", "x"}} {
		h, err := HashPBKDF2([]byte(u.pass), map[string]int{"gm": 0, "iter": 1000}[u.user])
		if err != nil {
			t.Fatal(err)
		}
		if content, _, err = SetEntry(content, u.user, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(path, content); err != nil {
		t.Fatal(err)
	}
	port := startMosquitto(t, "allow_anonymous false\npassword_file "+path+"\n")
	connect := func(user, pass string) (string, error) {
		return runTool(t, sub, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-u", user, "-P", pass,
			"-C", "1", "-W", "3", "-t", "$SYS/broker/version")
	}
	for _, c := range []struct{ user, pass string }{{"gm", "from gatemq"}, {"iter", "x"}} {
		out, err := connect(c.user, c.pass)
		if err != nil || !strings.Contains(out, "mosquitto version") {
			t.Errorf("%s with the right password: err %v, output %q", c.user, err, out)
		}
	}
	for _, c := range []struct{ user, pass string }{{"gm", "from gatemQ"}, {"nobody", "x"}} {
		out, err := connect(c.user, c.pass)
		if err == nil || !strings.Contains(out, "not authorised") {
			t.Errorf("%s/%q: want refusal, got err %v, output %q", c.user, c.pass, err, out)
		}
	}
}

// TestACLAgainstMosquitto runs matrixACL in Debian's mosquitto and checks
// that what mosquitto delivers (read) and accepts (write) for each client of
// the matrix is exactly what ACL.Check answers, and what TestACLMatrix
// states.
func TestACLAgainstMosquitto(t *testing.T) {
	dir := t.TempDir()
	users := matrixUsers()
	var pw []byte
	for _, name := range []string{"alice", "bob", "carol", "ev+l", "observer", "writer"} {
		h, err := HashPBKDF2([]byte("pw-"+name), 1)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _, err = SetEntry(pw, name, h); err != nil {
			t.Fatal(err)
		}
	}
	pwPath, aclPath := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	if err := WriteFile(pwPath, pw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aclPath, []byte(matrixACL), 0o600); err != nil {
		t.Fatal(err)
	}
	port := startMosquitto(t, "allow_anonymous true\npassword_file "+pwPath+"\nacl_file "+aclPath+"\n")
	acl, err := LoadACL(aclPath)
	if err != nil {
		t.Fatal(err)
	}
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)

	// Read: each client subscribes to everything; a writer allowed to write
	// everywhere publishes every topic, then one end/CLIENTID per client.
	readers := make([]*collector, len(users))
	for i, u := range users {
		readers[i] = newCollector(t, broker, u.name, u.clientID, "end/"+u.clientID)
	}
	w := connectPaho(t, broker, "writer", "cid-writer")
	for _, topic := range matrixTopics {
		publish(t, w, topic, "w")
	}
	for _, u := range users {
		publish(t, w, "end/"+u.clientID, "end")
	}
	for i, u := range users {
		got := readers[i].wait(t)
		checkSame(t, acl, u, Read, got)
	}

	// Write: each client publishes every topic; an observer allowed to read
	// everywhere records what got through.
	obs := newCollector(t, broker, "observer", "cid-observer", "end/observer")
	for _, u := range users {
		c := connectPaho(t, broker, u.name, u.clientID)
		for _, topic := range matrixTopics {
			publish(t, c, topic, u.clientID)
		}
		c.Disconnect(100)
	}
	publish(t, w, "end/observer", "end")
	got := obs.wait(t)
	for _, u := range users {
		var mine []string
		for _, m := range got {
			if topic, from, _ := strings.Cut(m, " "); from == u.clientID {
				mine = append(mine, topic)
			}
		}
		checkSame(t, acl, u, Write, mine)
	}
}

// checkSame compares the topics mosquitto let through for u with ACL.Check
// and with the matrix's hand-written expectation.
func checkSame(t *testing.T, acl *ACL, u matrixUser, acc Access, mosq []string) {
	t.Helper()
	want := u.read
	if acc == Write {
		want = u.write
	}
	for _, topic := range matrixTopics {
		m := slices.Contains(mosq, topic)
		if g := acl.Check(u.name, u.clientID, u.name == "", topic, acc); g != m {
			t.Errorf("user %q %s %q: gatemq %v, mosquitto %v", u.name, acc, topic, g, m)
		}
		if e := slices.Contains(want, topic); e != m {
			t.Errorf("user %q %s %q: matrix says %v, mosquitto %v", u.name, acc, topic, e, m)
		}
	}
}

func connectPaho(t *testing.T, broker, user, clientID string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword("pw-" + user)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %q: %v", user, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %q: %v", topic, tok.Error())
	}
}

// collector subscribes to every topic and records "TOPIC PAYLOAD" until it
// receives its end topic.
type collector struct {
	mu   sync.Mutex
	got  []string
	done chan struct{}
	end  string
}

func newCollector(t *testing.T, broker, user, clientID, end string) *collector {
	t.Helper()
	col := &collector{done: make(chan struct{}), end: end}
	c := connectPaho(t, broker, user, clientID)
	var once sync.Once
	tok := c.SubscribeMultiple(map[string]byte{"#": 1, "$test/#": 1}, func(_ paho.Client, m paho.Message) {
		if m.Topic() == col.end {
			once.Do(func() { close(col.done) })
			return
		}
		col.mu.Lock()
		col.got = append(col.got, m.Topic()+" "+string(m.Payload()))
		col.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %q: %v", user, tok.Error())
	}
	return col
}

// wait returns what was received before the end topic; for readers, the
// topics only.
func (c *collector) wait(t *testing.T) []string {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("end topic %q never arrived", c.end)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.got)
	if !strings.HasPrefix(c.end, "end/observer") {
		for i, m := range out {
			out[i], _, _ = strings.Cut(m, " ")
		}
	}
	return out
}
