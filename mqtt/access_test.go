package mqtt

// Access control end to end, in process: a broker with Options.Auth built
// from a Mosquitto password file and ACL file, driven by Paho clients
// (3.1.1: paho.mqtt.golang, 5.0: paho.golang). It checks what a client sees
// on the wire: CONNACK codes, PUBACK/PUBREC and SUBACK reason codes, and
// which messages (live, retained, wills) reach whom. The expected results
// are written out by hand from Mosquitto's rules (see mqtt/auth/doc.go),
// not computed with the ACL code under test.

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatemq/mqtt/auth"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// accessACL is the ACL of these tests. Lines before the first user line
// are the anonymous section.
const accessACL = `# anonymous clients only
topic read public/#
topic write anon/in

user alice
topic readwrite home/#
topic deny home/secret
topic read sensors/+/temp

user bob
topic read home/#
topic write cmd/bob

user admin
topic readwrite #

# every client (%u rules: not for anonymous ones)
pattern readwrite users/%u/#
pattern write devices/%c/status
pattern read devices/%c/cmd
`

// accessPasswords maps each user of the password file to its password;
// bob's entry is a Mosquitto 1.x "$6$" hash, the others "$7$".
var accessPasswords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "admin": "admin-pw"}

// sha512Entry returns a Mosquitto 1.x password line (salted SHA-512:
// SHA512(password || salt)), computed here with the standard library only.
func sha512Entry(t testing.TB, user, password string) string {
	t.Helper()
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	h := sha512.Sum512(append([]byte(password), salt...))
	return fmt.Sprintf("%s:$6$%s$%s", user, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(h[:]))
}

// accessAuth returns the access control of these tests, with acl as the
// ACL file's text and accessPasswords as the password file.
func accessAuth(t testing.TB, allowAnonymous bool, acl string) *auth.Policy {
	t.Helper()
	return auth.NewPolicy(allowAnonymous, passwordFile(t, accessPasswords), parseACL(t, acl))
}

// passwordFile returns a password file of users (name -> password): bob's
// entry, when present, is a Mosquitto 1.x "$6$" hash, the others "$7$".
func passwordFile(t testing.TB, users map[string]string) *auth.Passwords {
	t.Helper()
	var lines []string
	for u, pass := range users {
		if u == "bob" {
			lines = append(lines, sha512Entry(t, u, pass))
			continue
		}
		h, err := auth.HashPBKDF2([]byte(pass), 0)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u+":"+h)
	}
	pw, err := auth.ParsePasswords(strings.NewReader(strings.Join(lines, "\n")+"\n"), "passwd")
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// parseACL parses an ACL file's text.
func parseACL(t testing.TB, text string) *auth.ACL {
	t.Helper()
	a, err := auth.ParseACL(strings.NewReader(text), "acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// userOpts returns Paho 3.1.1 options for a client logging in as user with
// its password ("" user: anonymous).
func userOpts(tb *testBroker, user, clientID string) *paho.ClientOptions {
	o := pahoOpts(tb, clientID)
	if user != "" {
		o.SetUsername(user).SetPassword(accessPasswords[user])
	}
	return o
}

// userV5 returns a 5.0 CONNECT for user with its password ("" user:
// anonymous).
func userV5(user, clientID string) *paho5.Connect {
	cp := v5Connect(clientID, nil)
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(accessPasswords[user]), true
	}
	return cp
}

// accessTopics are the topics of the matrix.
var accessTopics = []string{
	"home/kitchen", "home/secret", "sensors/a/temp", "sensors/a/hum", "public/news", "anon/in", "cmd/bob",
	"users/alice/x", "users/bob/x", "users/carol/x",
	"devices/cid-alice/status", "devices/cid-alice/cmd", "devices/cid-bob/cmd", "devices/anon-1/status", "devices/anon-1/cmd",
}

// accessUser is one client of the matrix and what it may read and write
// among accessTopics, by hand from Mosquitto's rules: the client's own
// section decides first (a deny there wins), patterns only when it decides
// nothing, and nothing matching refuses.
type accessUser struct {
	user, clientID string // user "" is anonymous
	read, write    []string
}

var accessMatrix = []accessUser{
	{"alice", "cid-alice",
		[]string{"home/kitchen", "sensors/a/temp", "users/alice/x", "devices/cid-alice/cmd"},
		[]string{"home/kitchen", "users/alice/x", "devices/cid-alice/status"}},
	{"bob", "cid-bob", // read home/# includes home/secret: alice's deny is hers only
		[]string{"home/kitchen", "home/secret", "users/bob/x", "devices/cid-bob/cmd"},
		[]string{"cmd/bob", "users/bob/x"}},
	{"carol", "cid-carol", // no section of her own: patterns only
		[]string{"users/carol/x"},
		[]string{"users/carol/x"}},
	{"", "anon-1", // the anonymous section, and the %c patterns (not %u ones)
		[]string{"public/news", "devices/anon-1/cmd"},
		[]string{"anon/in", "devices/anon-1/status"}},
}

// topicsWith returns the sorted topics of ms whose payload is payload.
func topicsWith(ms []rcvd, payload string) []string {
	var out []string
	for _, m := range ms {
		if m.payload == payload {
			out = append(out, m.topic)
		}
	}
	slices.Sort(out)
	return out
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestAccessConnect311 checks the CONNACK return codes of 3.1.1 clients: 0
// for a right password ($7$ and $6$ entries), 4 for a wrong password, an
// unknown user or a username without password, 5 for an anonymous client
// when allow_anonymous is false and for a will topic the client may not
// write.
func TestAccessConnect311(t *testing.T) {
	for _, allowAnon := range []bool{false, true} {
		tb := startBroker(t, Options{Auth: accessAuth(t, allowAnon, accessACL)})
		anonCode := byte(5)
		if allowAnon {
			anonCode = 0
		}
		cases := []struct {
			name string
			opts *paho.ClientOptions
			want byte
		}{
			{"alice right ($7$)", userOpts(tb, "alice", "c1"), 0},
			{"bob right ($6$)", userOpts(tb, "bob", "c2"), 0},
			{"alice wrong", pahoOpts(tb, "c3").SetUsername("alice").SetPassword("bob-pw"), 4},
			{"bob wrong", pahoOpts(tb, "c4").SetUsername("bob").SetPassword("bob-pw "), 4},
			{"unknown user", pahoOpts(tb, "c5").SetUsername("mallory").SetPassword("alice-pw"), 4},
			{"alice without password", pahoOpts(tb, "c6").SetUsername("alice"), 4},
			{"anonymous", pahoOpts(tb, "anon-1"), anonCode},
			{"alice, will on home/x", userOpts(tb, "alice", "c7").SetWill("home/x", "gone", 1, false), 0},
			{"alice, will on home/secret (denied)", userOpts(tb, "alice", "c8").SetWill("home/secret", "gone", 1, false), 5},
			{"carol, will on users/carol/s (pattern)", userOpts(tb, "carol", "cid-carol").SetWill("users/carol/s", "gone", 0, false), 0},
			{"carol, will on users/bob/s (denied)", userOpts(tb, "carol", "c9").SetWill("users/bob/s", "gone", 0, false), 5},
		}
		for _, c := range cases {
			pc, tok := dialPaho(t, c.opts)
			if got := tok.ReturnCode(); got != c.want {
				t.Errorf("allow_anonymous %v, %s: CONNACK %d (err %v), want %d", allowAnon, c.name, got, tok.Error(), c.want)
			}
			if (tok.Error() == nil) != (c.want == 0) {
				t.Errorf("allow_anonymous %v, %s: connect error %v, want one only for a refusal", allowAnon, c.name, tok.Error())
			}
			if pc.IsConnectionOpen() {
				pc.Disconnect(50)
			}
		}
	}
}

// TestAccessConnectV5 checks the 5.0 CONNACK reason codes: 0x86 for bad
// credentials, 0x87 for a refused anonymous client and for a will topic the
// client may not write.
func TestAccessConnectV5(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, false, accessACL)})
	wrong := userV5("alice", "v1")
	wrong.Password = []byte("nope")
	unknown := userV5("alice", "v2")
	unknown.Username = "mallory"
	noPass := userV5("bob", "v3")
	noPass.Password, noPass.PasswordFlag = nil, false
	badWill := userV5("alice", "v4")
	badWill.WillMessage = &paho5.WillMessage{Topic: "home/secret", Payload: []byte("gone"), QoS: 1}
	goodWill := userV5("alice", "v5")
	goodWill.WillMessage = &paho5.WillMessage{Topic: "home/door", Payload: []byte("gone"), QoS: 1}
	cases := []struct {
		name string
		cp   *paho5.Connect
		want byte
	}{
		{"alice right", userV5("alice", "v0"), 0},
		{"bob right ($6$)", userV5("bob", "v6"), 0},
		{"alice wrong", wrong, 0x86},
		{"unknown user", unknown, 0x86},
		{"bob without password", noPass, 0x86},
		{"anonymous", userV5("", "v7"), 0x87},
		{"will on a denied topic", badWill, 0x87},
		{"will on a granted topic", goodWill, 0},
	}
	for _, c := range cases {
		cl, err := dialV5(t, tb, c.cp, false)
		if cl.connack == nil {
			t.Errorf("%s: no CONNACK: %v", c.name, err)
			continue
		}
		if got := cl.connack.ReasonCode; got != c.want {
			t.Errorf("%s: CONNACK reason code %#x (err %v), want %#x", c.name, got, err, c.want)
		}
		if (err == nil) != (c.want == 0) {
			t.Errorf("%s: connect error %v, want one only for a refusal", c.name, err)
		}
	}
}

// TestAccessMatrixRead subscribes every client of the matrix to "#" and
// publishes every topic: each client receives exactly the topics it may
// read.
func TestAccessMatrixRead(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	clients := make([]*pahoClient, len(accessMatrix))
	for i, u := range accessMatrix {
		clients[i] = connectPaho(t, userOpts(tb, u.user, u.clientID))
		clients[i].sub(t, "#", 1)
	}
	for _, topic := range accessTopics {
		marker(t, tb, topic, 1, "m")
	}
	for i, u := range accessMatrix {
		// devices/%c/cmd is readable by every client: a barrier.
		marker(t, tb, "devices/"+u.clientID+"/cmd", 1, "end")
		got := clients[i].col.waitFor(t, "devices/"+u.clientID+"/cmd", "end")
		if g, w := topicsWith(got, "m"), sorted(u.read); !slices.Equal(g, w) {
			t.Errorf("%q (client %s) received %v, want %v", u.user, u.clientID, g, w)
		}
	}
}

// TestAccessMatrixWrite has every client of the matrix publish every topic
// at QoS 1 and 2: each publish is acknowledged (3.1.1: a denied one is
// acknowledged and dropped, as Mosquitto does), and an observer allowed to
// read everything receives exactly the topics each client may write.
func TestAccessMatrixWrite(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	obs := connectPaho(t, userOpts(tb, "admin", "observer"))
	obs.sub(t, "#", 2)
	for _, u := range accessMatrix {
		c := connectPaho(t, userOpts(tb, u.user, u.clientID))
		for _, q := range []byte{1, 2} {
			for _, topic := range accessTopics {
				c.pub(t, topic, q, false, fmt.Sprintf("%s q%d", u.clientID, q))
			}
		}
		c.Disconnect(50)
	}
	marker(t, tb, "end/write", 2, "end")
	got := obs.col.waitFor(t, "end/write", "end")
	for _, u := range accessMatrix {
		for _, q := range []byte{1, 2} {
			if g, w := topicsWith(got, fmt.Sprintf("%s q%d", u.clientID, q)), sorted(u.write); !slices.Equal(g, w) {
				t.Errorf("%q (client %s) at QoS %d got through on %v, want %v", u.user, u.clientID, q, g, w)
			}
		}
	}
}

// TestAccessSubscribe311 checks SUBACK return codes for 3.1.1: 0x80 for a
// filter the ACL refuses (denied entirely, or sharing no topic with any
// read grant), the QoS for the others; a filter partly denied is granted
// and the denied topics are not delivered.
func TestAccessSubscribe311(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice"))
	filters := map[string]byte{"home/secret": 1, "admin/#": 1, "cmd/bob": 1, "home/#": 1, "sensors/#": 1, "devices/cid-alice/cmd": 1}
	want := map[string]byte{"home/secret": 0x80, "admin/#": 0x80, "cmd/bob": 0x80, "home/#": 1, "sensors/#": 1, "devices/cid-alice/cmd": 1}
	tok := alice.SubscribeMultiple(filters, nil)
	wait(t, "subscribe", tok)
	for f, code := range tok.(*paho.SubscribeToken).Result() {
		if code != want[f] {
			t.Errorf("SUBACK for %q: %#x, want %#x", f, code, want[f])
		}
	}
	for _, topic := range []string{"home/secret", "home/kitchen", "sensors/a/hum", "sensors/a/temp", "cmd/bob"} {
		marker(t, tb, topic, 1, "m")
	}
	marker(t, tb, "devices/cid-alice/cmd", 1, "end")
	got := alice.col.waitFor(t, "devices/cid-alice/cmd", "end")
	if g, w := topicsWith(got, "m"), []string{"home/kitchen", "sensors/a/temp"}; !slices.Equal(g, w) {
		t.Errorf("alice received %v, want %v", g, w)
	}
}

// TestAccessV5ReasonCodes checks the 5.0 reason codes: PUBACK and PUBREC
// 0x87 for a denied publish (which is dropped), SUBACK 0x87 for a refused
// filter, and delivery limited to readable topics.
func TestAccessV5ReasonCodes(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, false, accessACL)})
	obs := connectPaho(t, userOpts(tb, "admin", "observer"))
	obs.sub(t, "#", 2)
	alice := connectV5(t, tb, userV5("alice", "cid-alice"))
	for _, c := range []struct {
		topic string
		qos   byte
		want  byte
	}{{"home/secret", 1, 0x87}, {"home/secret", 2, 0x87}, {"public/news", 1, 0x87}, {"home/kitchen", 1, 0}, {"home/kitchen", 2, 0}} {
		pr := alice.publish(t, &paho5.Publish{Topic: c.topic, QoS: c.qos, Payload: []byte(fmt.Sprintf("v5 q%d", c.qos))})
		if pr.ReasonCode != c.want {
			t.Errorf("publish %s at QoS %d: reason code %#x, want %#x", c.topic, c.qos, pr.ReasonCode, c.want)
		}
	}
	// QoS 0 has no acknowledgement: a denied one is only dropped.
	alice.publish(t, &paho5.Publish{Topic: "home/secret", QoS: 0, Payload: []byte("v5 q0")})
	alice.pub(t, "home/kitchen", 1, "v5 sync") // same connection: processed after the QoS 0 one
	got := obs.col.waitFor(t, "home/kitchen", "v5 sync")
	var through []string
	for _, m := range got {
		if strings.HasPrefix(m.payload, "v5 q") {
			through = append(through, m.topic+" "+m.payload)
		}
	}
	if w := []string{"home/kitchen v5 q1", "home/kitchen v5 q2"}; !slices.Equal(through, w) {
		t.Errorf("the observer received %v from alice, want only %v", through, w)
	}

	alice.subscribe(t, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{
		{Topic: "home/secret", QoS: 1}, {Topic: "admin/#", QoS: 1}, {Topic: "home/#", QoS: 1},
		{Topic: "sensors/#", QoS: 1}, {Topic: "devices/cid-alice/cmd", QoS: 1},
	}}, 0x87, 0x87, 1, 1, 1)
	for _, topic := range []string{"home/secret", "home/kitchen", "sensors/a/hum", "sensors/a/temp", "admin/x"} {
		marker(t, tb, topic, 1, "m")
	}
	marker(t, tb, "devices/cid-alice/cmd", 1, "end")
	var recv []string
	for _, m := range alice.col.waitFor(t, "devices/cid-alice/cmd", "end") {
		if m.payload == "m" {
			recv = append(recv, m.topic)
		}
	}
	slices.Sort(recv)
	if w := []string{"home/kitchen", "sensors/a/temp"}; !slices.Equal(recv, w) {
		t.Errorf("alice (5.0) received %v, want %v", recv, w)
	}
}

// TestAccessRetained checks that a retained message is sent on subscribe
// only to a client that may read its topic.
func TestAccessRetained(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	for _, topic := range []string{"home/kitchen", "home/secret", "sensors/a/temp", "sensors/a/hum", "public/news"} {
		if err := tb.srv.Publish(topic, []byte("r"), 1, true); err != nil {
			t.Fatal(err)
		}
	}
	// The barrier topic is subscribed in a SUBSCRIBE of its own, after the
	// one whose retained messages are checked, so they were queued first.
	for _, c := range []struct {
		user, clientID string
		want           []string
	}{
		{"alice", "cid-alice", []string{"home/kitchen", "sensors/a/temp"}},
		{"bob", "cid-bob", []string{"home/kitchen", "home/secret"}},
		{"", "anon-1", []string{"public/news"}},
	} {
		// 3.1.1
		pc := connectPaho(t, userOpts(tb, c.user, c.clientID))
		wait(t, "subscribe", pc.SubscribeMultiple(map[string]byte{"home/#": 1, "sensors/#": 1, "public/#": 1}, nil))
		pc.sub(t, "devices/"+c.clientID+"/cmd", 1)
		marker(t, tb, "devices/"+c.clientID+"/cmd", 1, "end")
		var got []string
		for _, m := range pc.col.waitFor(t, "devices/"+c.clientID+"/cmd", "end") {
			if m.payload == "r" && m.retained {
				got = append(got, m.topic)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q (3.1.1) got retained %v, want %v", c.user, got, c.want)
		}
		pc.Disconnect(50)

		// 5.0
		v5 := connectV5(t, tb, userV5(c.user, c.clientID))
		var subs []paho5.SubscribeOptions
		var codes []byte
		for _, f := range []string{"home/#", "sensors/#", "public/#"} {
			code := byte(1)
			if c.user == "bob" && f != "home/#" || c.user == "" && f != "public/#" || c.user == "alice" && f == "public/#" {
				code = 0x87 // no read grant shares a topic with the filter
			}
			subs = append(subs, paho5.SubscribeOptions{Topic: f, QoS: 1})
			codes = append(codes, code)
		}
		v5.subscribe(t, &paho5.Subscribe{Subscriptions: subs}, codes...)
		v5.sub(t, "devices/"+c.clientID+"/cmd", 1)
		marker(t, tb, "devices/"+c.clientID+"/cmd", 1, "end")
		got = nil
		for _, m := range v5.col.waitFor(t, "devices/"+c.clientID+"/cmd", "end") {
			if m.payload == "r" && m.retain {
				got = append(got, m.topic)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q (5.0) got retained %v, want %v", c.user, got, c.want)
		}
		v5.bye(t, &paho5.Disconnect{})
	}
}

// TestAccessWill checks that a will is delivered only to subscribers that
// may read its topic, live and as a retained message.
func TestAccessWill(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	admin := connectPaho(t, userOpts(tb, "admin", "observer"))
	admin.sub(t, "#", 1)
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice"))
	alice.sub(t, "#", 1)
	bob := connectV5(t, tb, userV5("bob", "cid-bob"))
	bob.sub(t, "#", 1)

	conns := make(chan net.Conn, 1)
	o := userOpts(tb, "carol", "cid-carol").
		SetWill("users/carol/status", "gone", 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", u.Host, waitTime)
			if err == nil {
				conns <- c
			}
			return c, err
		})
	connectPaho(t, o)
	(<-conns).Close() // abrupt: the will is published

	admin.col.waitFor(t, "users/carol/status", "gone")
	// The will was routed once to all subscribers; markers published now
	// arrive after it at each of them.
	marker(t, tb, "devices/cid-alice/cmd", 1, "end")
	marker(t, tb, "devices/cid-bob/cmd", 1, "end")
	if got := alice.col.waitFor(t, "devices/cid-alice/cmd", "end"); len(topicsWith(got, "gone")) != 0 {
		t.Errorf("alice, who may not read users/carol/status, received the will: %v", short(got))
	}
	for _, m := range bob.col.waitFor(t, "devices/cid-bob/cmd", "end") {
		if m.payload == "gone" {
			t.Errorf("bob (5.0), who may not read users/carol/status, received the will: %v", m)
		}
	}

	// The retained will: only a client that may read it gets it on subscribe.
	late := connectPaho(t, userOpts(tb, "alice", "cid-alice2"))
	late.sub(t, "#", 1)
	late.sub(t, "users/alice/x", 1)
	marker(t, tb, "users/alice/x", 1, "end")
	if got := late.col.waitFor(t, "users/alice/x", "end"); len(topicsWith(got, "gone")) != 0 {
		t.Errorf("a late alice received the retained will: %v", short(got))
	}
	late2 := connectPaho(t, userOpts(tb, "carol", "cid-carol"))
	late2.sub(t, "users/carol/#", 1)
	if got := late2.col.waitFor(t, "users/carol/status", "gone"); !got[0].retained {
		t.Errorf("carol got her will as %v, want it retained", got[0])
	}
}

// TestAccessSetAuth replaces the access control of a running broker: a
// connected client keeps its connection and its subscription, and the new
// rules apply to it at once (a grant added, then one taken away); a user
// added to the password file can log in.
func TestAccessSetAuth(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, false, accessACL)})
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice"))
	alice.sub(t, "#", 1)
	probes := 0
	delivered := func(topic string) bool {
		t.Helper()
		probes++
		probe := fmt.Sprintf("probe %d", probes)
		marker(t, tb, topic, 1, probe)
		marker(t, tb, "devices/cid-alice/cmd", 1, "end "+probe)
		got := alice.col.waitFor(t, "devices/cid-alice/cmd", "end "+probe)
		return slices.ContainsFunc(got, func(r rcvd) bool { return r.payload == probe })
	}
	if delivered("news/today") || !delivered("home/kitchen") {
		t.Fatal("before the change: want news/today refused and home/kitchen delivered")
	}

	newACL := strings.Replace(accessACL, "user alice\ntopic readwrite home/#\n", "user alice\ntopic read news/#\n", 1)
	pw := passwordFile(t, map[string]string{"dave": "dave-pw", "alice": accessPasswords["alice"]})
	tb.srv.SetAuth(auth.NewPolicy(false, pw, parseACL(t, newACL)))

	if !delivered("news/today") {
		t.Error("after SetAuth granted news/#, alice's existing subscription did not deliver news/today")
	}
	if delivered("home/kitchen") {
		t.Error("after SetAuth took home/# away, alice still received home/kitchen")
	}
	if !alice.IsConnectionOpen() {
		t.Error("alice's connection was dropped by SetAuth")
	}
	pc, tok := dialPaho(t, pahoOpts(tb, "dave").SetUsername("dave").SetPassword("dave-pw"))
	if tok.ReturnCode() != 0 {
		t.Errorf("dave, added by SetAuth: CONNACK %d (%v)", tok.ReturnCode(), tok.Error())
	}
	pc.Disconnect(50)
	_, tok = dialPaho(t, userOpts(tb, "bob", "bob-again"))
	if tok.ReturnCode() != 4 {
		t.Errorf("bob, no longer in the password file: CONNACK %d, want 4", tok.ReturnCode())
	}
}

// TestAccessReloadDisconnects: after a reload, as in Mosquitto, a client
// whose user was removed from the password file, whose password changed, or
// who is anonymous where anonymous clients are no longer allowed is
// disconnected (5.0: DISCONNECT 0x87) and receives nothing more; a client
// whose credentials still hold keeps its connection.
func TestAccessReloadDisconnects(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, true, accessACL)})
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice")) // stays
	alice.sub(t, "users/alice/#", 1)
	bob := connectV5(t, tb, userV5("bob", "cid-bob")) // removed
	bob.sub(t, "users/bob/#", 1)
	carol := connectPaho(t, userOpts(tb, "carol", "cid-carol")) // new password
	carol.sub(t, "users/carol/#", 1)
	anon := connectV5(t, tb, userV5("", "anon-1")) // anonymous no longer allowed
	anon.sub(t, "public/#", 1)

	pw := passwordFile(t, map[string]string{"alice": accessPasswords["alice"], "carol": "carol-new", "admin": accessPasswords["admin"]})
	tb.srv.SetAuth(auth.NewPolicy(false, pw, parseACL(t, accessACL)))

	if d := bob.waitDisconnect(t); d.ReasonCode != 0x87 {
		t.Errorf("bob, removed from the password file: DISCONNECT %#x, want 0x87", d.ReasonCode)
	}
	if d := anon.waitDisconnect(t); d.ReasonCode != 0x87 {
		t.Errorf("anonymous client after allow_anonymous false: DISCONNECT %#x, want 0x87", d.ReasonCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for carol.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if carol.IsConnectionOpen() {
		t.Error("carol, whose password changed, is still connected")
	}
	marker(t, tb, "users/alice/x", 1, "still here")
	alice.col.waitFor(t, "users/alice/x", "still here")
	if !alice.IsConnectionOpen() {
		t.Error("alice, whose credentials still hold, was disconnected")
	}
	if got := tb.srv.Stats().AuthRevoked; got != 3 {
		t.Errorf("AuthRevoked = %d, want 3", got)
	}
}

// TestAccessSharedSubscription: a shared subscription is judged by its
// filter part (MQTT 5.0 §4.8.2), not by the raw "$share/g/..." string:
// admin (readwrite #) and alice (home/#) get theirs, alice is refused a
// filter her deny covers, and deliveries through the group are checked too.
func TestAccessSharedSubscription(t *testing.T) {
	tb := startBroker(t, Options{Auth: accessAuth(t, false, accessACL)})
	admin := connectV5(t, tb, userV5("admin", "admin-shared"))
	admin.subscribe(t, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "$share/g/#", QoS: 1}}}, 1)
	alice := connectV5(t, tb, userV5("alice", "cid-alice"))
	alice.subscribe(t, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{
		{Topic: "$share/h/home/#", QoS: 1}, {Topic: "$share/h/home/secret", QoS: 1}, {Topic: "$share/h/admin/#", QoS: 1},
	}}, 1, 0x87, 0x87)
	marker(t, tb, "home/secret", 1, "secret")
	marker(t, tb, "home/kitchen", 1, "kitchen")
	admin.col.waitFor(t, "home/kitchen", "kitchen")
	got := alice.col.waitFor(t, "home/kitchen", "kitchen")
	for _, m := range got {
		if m.topic == "home/secret" {
			t.Errorf("alice received home/secret through her shared subscription to home/#")
		}
	}
	if len(admin.col.find("secret")) != 1 {
		t.Errorf("admin's shared subscription to # did not deliver home/secret: %v", admin.col.all())
	}
}
