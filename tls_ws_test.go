//go:build !nossl

package main

// TLS and WebSocket listeners of the built binary (issue 7), configured as
// in mosquitto.conf: mosquitto_pub/mosquitto_sub --cafile/--cert/--key,
// Paho over ssl://, ws:// and wss://, and MQTT.js (the npm package mqtt,
// run under Node) over ws://, each cross-checked with a plain TCP client.
// Certificates are made here with crypto/x509 (ECDSA P-256). Helpers from
// cli_test.go, mosquitto_test.go, mosquitto_v5_test.go and access_test.go.

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestTLSListener: a `listener` with certfile/keyfile serves TLS.
// mosquitto_sub and mosquitto_pub with --cafile of the signing CA make a
// round trip through it, and so does Paho over ssl:// with that CA; a client
// trusting another CA, or speaking plain MQTT, is refused.
func TestTLSListener(t *testing.T) {
	pki := twNewPKI(t)
	_, ports := twStart(t, 2, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\nlistener " + p[1] + " 127.0.0.1\n" + pki.serverLines
	})
	plain, secure := ports[0], ports[1]
	m := twTLSMosq(t, secure)

	sub := m.subscribe(t, "--cafile", pki.ca.file, "-q", "1", "-t", "tls/#", "-C", "3")
	m.publish(t, "", "--cafile", pki.ca.file, "-q", "1", "-t", "tls/pub", "-m", "from mosquitto_pub")
	m.publish(t, "", "--cafile", pki.ca.file, "-V", "5", "-q", "2", "-t", "tls/pub5", "-m", "from mosquitto_pub v5")
	got := newOutputBuffer()
	pc := twMustPaho(t, "ssl://127.0.0.1:"+secure, "paho-tls", twTLS(pki.ca.pool), got)
	pahoDo(t, "Paho subscribe over TLS", pc.Subscribe("tls/#", 1, nil))
	pahoDo(t, "Paho publish over TLS", pc.Publish("tls/paho", 1, false, "from paho"))
	want := []string{"tls/pub from mosquitto_pub", "tls/pub5 from mosquitto_pub v5", "tls/paho from paho"}
	if lines := messages(t, sub); !slices.Equal(lines, want) {
		t.Errorf("mosquitto_sub over TLS got %q, want %q", lines, want)
	}
	// Paho gets what a plain TCP client publishes, over its TLS connection.
	if code, out := toolRun(t, m.pub, "-h", "127.0.0.1", "-p", plain, "-q", "1", "-t", "tls/from-tcp", "-m", "plain"); code != 0 {
		t.Fatalf("mosquitto_pub on the plain listener: exit %d\n%s", code, out)
	}
	awaitLine(t, got, "tls/from-tcp plain")

	twRefused(t, "mosquitto_pub --cafile of another CA", m.pub,
		twPubArgs(secure, "--cafile", pki.other.file, "-t", "tls/x", "-m", "x")...)
	twRefused(t, "mosquitto_sub --cafile of another CA", m.sub,
		twPubArgs(secure, "--cafile", pki.other.file, "-t", "tls/x", "-C", "1", "-W", "5")...)
	twRefused(t, "mosquitto_pub without TLS on the TLS port", m.pub, twPubArgs(secure, "-t", "tls/x", "-m", "x")...)
	if _, err := twPaho(t, "ssl://127.0.0.1:"+secure, "paho-other-ca", twTLS(pki.other.pool), nil); err == nil {
		t.Error("Paho trusting another CA connected over TLS")
	}
	if strings.Contains(got.String(), "tls/x") {
		t.Errorf("a refused client's message was delivered:\n%s", got.String())
	}
}

// TestTLSRequireCertificate: with require_certificate true only clients
// presenting a certificate signed by a CA of cafile get in, with
// mosquitto_pub/mosquitto_sub --cert/--key and with Paho.
func TestTLSRequireCertificate(t *testing.T) {
	pki := twNewPKI(t)
	_, ports := twStart(t, 1, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\ncafile " + pki.ca.file + "\n" + pki.serverLines + "require_certificate true\n"
	})
	port := ports[0]
	m := twTLSMosq(t, port)
	alice := []string{"--cafile", pki.ca.file, "--cert", pki.alice.certFile, "--key", pki.alice.keyFile}

	sub := m.subscribe(t, append(alice, "-q", "1", "-t", "mutual/#", "-C", "2")...)
	m.publish(t, "", append(alice, "-q", "1", "-t", "mutual/tool", "-m", "with a certificate")...)
	pc := twMustPaho(t, "ssl://127.0.0.1:"+port, "paho-cert", twTLS(pki.ca.pool, pki.alice.pair), nil)
	pahoDo(t, "Paho publish with a certificate", pc.Publish("mutual/paho", 1, false, "paho with a certificate"))
	want := []string{"mutual/tool with a certificate", "mutual/paho paho with a certificate"}
	if lines := messages(t, sub); !slices.Equal(lines, want) {
		t.Errorf("mosquitto_sub with a certificate got %q, want %q", lines, want)
	}

	twRefused(t, "mosquitto_pub without a client certificate", m.pub,
		twPubArgs(port, "--cafile", pki.ca.file, "-q", "1", "-t", "mutual/x", "-m", "x")...)
	twRefused(t, "mosquitto_pub with a certificate of another CA", m.pub,
		twPubArgs(port, "--cafile", pki.ca.file, "--cert", pki.stranger.certFile, "--key", pki.stranger.keyFile, "-q", "1", "-t", "mutual/x", "-m", "x")...)
	if _, err := twPaho(t, "ssl://127.0.0.1:"+port, "paho-nocert", twTLS(pki.ca.pool), nil); err == nil {
		t.Error("Paho without a client certificate connected")
	}
	if _, err := twPaho(t, "ssl://127.0.0.1:"+port, "paho-stranger", twTLS(pki.ca.pool, pki.stranger.pair), nil); err == nil {
		t.Error("Paho with a certificate of another CA connected")
	}
}

// twIdentityACL gives each certificate identity its own subtree; admin
// (with a password, on the plain listener) reads and writes everything.
const twIdentityACL = `user alice
topic readwrite a/#

user bob
topic readwrite b/#

user admin
topic readwrite #
`

// TestTLSIdentityAsUsername: with use_identity_as_username true, the
// client certificate's CN is the username the ACL sees, whatever username
// and password the CONNECT carries: alice's certificate may subscribe to
// and publish on a/# but not b/#, bob's the other way round. A password
// file and allow_anonymous false are in force, so without the certificate
// identity such clients would be refused.
func TestTLSIdentityAsUsername(t *testing.T) {
	pki := twNewPKI(t)
	bob := pki.ca.issue(t, pki.dir, "bob", "bob", false)
	pw := filepath.Join(pki.dir, "passwd")
	if code, _, errOut := runGatemq(t, "passwd", "-c", "-b", pw, "admin", "admin-pw"); code != 0 {
		t.Fatalf("gatemq passwd: %s", errOut)
	}
	acl := writeFile(t, pki.dir, "acl", twIdentityACL)
	_, ports := twStart(t, 2, func(p []string) string {
		return "password_file " + pw + "\nacl_file " + acl + "\nallow_anonymous false\n" +
			"listener " + p[0] + " 127.0.0.1\n" +
			"listener " + p[1] + " 127.0.0.1\ncafile " + pki.ca.file + "\n" + pki.serverLines +
			"require_certificate true\nuse_identity_as_username true\n"
	})
	plain, secure := ports[0], ports[1]
	m := twTLSMosq(t, secure)
	certArgs := func(l twLeaf) []string {
		return []string{"--cafile", pki.ca.file, "--cert", l.certFile, "--key", l.keyFile}
	}

	observed := newOutputBuffer()
	admin := pahoLogin(t, "127.0.0.1:"+plain, "admin-1", "admin", "admin-pw", observed)
	pahoDo(t, "admin subscribe", admin.Subscribe("#", 1, nil))

	// Subscribe: the identity's own subtree is granted, the other refused
	// (0x80). alice's CONNECT claims to be admin, with admin's password.
	subA := m.startSub(t, append(certArgs(pki.alice), "-u", "admin", "-P", "admin-pw", "-i", "sub-alice", "-q", "1", "-t", "a/#", "-t", "b/#")...)
	subB := m.startSub(t, append(certArgs(bob), "-i", "sub-bob", "-q", "1", "-t", "a/#", "-t", "b/#")...)
	subA.waitFor(t, subA.stdout, regexp.MustCompile(`(?m)^Subscribed \(mid: \d+\): 1, 128$`), accWait)
	subB.waitFor(t, subB.stdout, regexp.MustCompile(`(?m)^Subscribed \(mid: \d+\): 128, 1$`), accWait)
	pahoDo(t, "admin publish a/news", admin.Publish("a/news", 1, false, "m"))
	pahoDo(t, "admin publish b/news", admin.Publish("b/news", 1, false, "m"))
	awaitLine(t, subA.stdout, "a/news m")
	awaitLine(t, subB.stdout, "b/news m")

	// Publish (3.1.1: a refused publish is acknowledged and dropped, so
	// mosquitto_pub exits 0 either way; admin sees what got through).
	for _, c := range []struct {
		who   string
		leaf  twLeaf
		login []string
	}{{"alice", pki.alice, []string{"-u", "admin", "-P", "admin-pw"}}, {"bob", bob, []string{"-u", "mallory", "-P", "wrong"}}} {
		for _, topic := range []string{"a/w", "b/w"} {
			m.publish(t, "", append(append(certArgs(c.leaf), c.login...), "-i", "pub-"+c.who, "-q", "1", "-t", topic, "-m", c.who)...)
		}
	}
	// Barriers: each subscriber and admin get an end message after the
	// publishes above.
	pahoDo(t, "admin barrier a", admin.Publish("a/end", 1, false, "end"))
	pahoDo(t, "admin barrier b", admin.Publish("b/end", 1, false, "end"))
	awaitLine(t, observed, "b/end end")
	awaitLine(t, subA.stdout, "a/end end")
	awaitLine(t, subB.stdout, "b/end end")
	lines := strings.Split(observed.String(), "\n")
	if got, want := topicsOf(lines, "alice"), []string{"a/w"}; !slices.Equal(got, want) {
		t.Errorf("alice's certificate published on %v, want %v", got, want)
	}
	if got, want := topicsOf(lines, "bob"), []string{"b/w"}; !slices.Equal(got, want) {
		t.Errorf("bob's certificate published on %v, want %v", got, want)
	}
	for _, s := range []struct {
		p    *proc
		who  string
		want []string
	}{{subA, "alice", []string{"a/end end", "a/news m", "a/w alice"}}, {subB, "bob", []string{"b/end end", "b/news m", "b/w bob"}}} {
		if got := sortedCopy(msgLines(s.p.stdout.String())); !slices.Equal(got, s.want) {
			t.Errorf("%s's subscriber received %q, want %q", s.who, got, s.want)
		}
	}

	// Without a certificate of the CA there is no identity: refused.
	twRefused(t, "mosquitto_pub with admin's password but no certificate", m.pub,
		twPubArgs(secure, "--cafile", pki.ca.file, "-u", "admin", "-P", "admin-pw", "-t", "a/x", "-m", "x")...)
	twRefused(t, "mosquitto_pub with an 'alice' certificate of another CA", m.pub,
		twPubArgs(secure, "--cafile", pki.ca.file, "--cert", pki.stranger.certFile, "--key", pki.stranger.keyFile, "-t", "a/x", "-m", "x")...)
	// Paho with alice's certificate and no username is alice too.
	pc := twMustPaho(t, "ssl://127.0.0.1:"+secure, "paho-alice", twTLS(pki.ca.pool, pki.alice.pair), nil)
	pahoDo(t, "Paho as alice publish a/paho", pc.Publish("a/paho", 1, false, "paho-alice"))
	pahoDo(t, "Paho as alice publish b/paho", pc.Publish("b/paho", 1, false, "paho-alice"))
	pahoDo(t, "admin barrier", admin.Publish("end/paho", 1, false, "end"))
	awaitLine(t, observed, "end/paho end")
	if got, want := topicsOf(strings.Split(observed.String(), "\n"), "paho-alice"), []string{"a/paho"}; !slices.Equal(got, want) {
		t.Errorf("Paho with alice's certificate published on %v, want %v", got, want)
	}
}

// twHandshake completes a TLS handshake with addr and returns the version
// agreed.
func twHandshake(addr string, tc *tls.Config) (uint16, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: accWait}, "tcp", addr, tc)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().Version, nil
}

// TestTLSVersion13: tls_version tlsv1.3 refuses a client that speaks at
// most TLS 1.2 (Go's tls.Config MaxVersion, in a bare handshake and in
// Paho), while a listener without tls_version takes it.
func TestTLSVersion13(t *testing.T) {
	pki := twNewPKI(t)
	_, ports := twStart(t, 2, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\n" + pki.serverLines + "tls_version tlsv1.3\n" +
			"listener " + p[1] + " 127.0.0.1\n" + pki.serverLines
	})
	only13, dflt := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1]
	max12 := twTLS(pki.ca.pool)
	max12.MaxVersion = tls.VersionTLS12

	if _, err := twHandshake(only13, max12); err == nil {
		t.Error("tls_version tlsv1.3: a TLS 1.2-only handshake succeeded")
	}
	if v, err := twHandshake(only13, twTLS(pki.ca.pool)); err != nil || v != tls.VersionTLS13 {
		t.Errorf("tls_version tlsv1.3: handshake gave %s, %v; want TLS 1.3", tls.VersionName(v), err)
	}
	if v, err := twHandshake(dflt, max12); err != nil || v != tls.VersionTLS12 {
		t.Errorf("listener without tls_version: TLS 1.2-only handshake gave %s, %v; want TLS 1.2", tls.VersionName(v), err)
	}
	if _, err := twPaho(t, "ssl://"+only13, "paho-12", max12, nil); err == nil {
		t.Error("tls_version tlsv1.3: Paho limited to TLS 1.2 connected")
	}
	twMustPaho(t, "ssl://"+dflt, "paho-12-ok", max12, nil)
	twMustPaho(t, "ssl://"+only13, "paho-13", twTLS(pki.ca.pool), nil)

	// (mosquitto_pub --tls-version tlsv1.2 is no TLS 1.2-only client:
	// libmosquitto treats it as a minimum and still offers TLS 1.3.)
}

// TestTLSCertificateReloadSIGHUP replaces the server's certificate and key
// with a pair signed by a new CA and sends SIGHUP: a connection made before
// stays up and keeps getting messages; new clients trusting the new CA get
// in, those trusting only the old one no longer do. A broken key file on a
// later SIGHUP keeps the certificate in force.
func TestTLSCertificateReloadSIGHUP(t *testing.T) {
	pki := twNewPKI(t)
	b, ports := twStart(t, 1, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\n" + pki.serverLines
	})
	url := "ssl://127.0.0.1:" + ports[0]
	oldGot := newOutputBuffer()
	old := twMustPaho(t, url, "before-reload", twTLS(pki.ca.pool), oldGot)
	pahoDo(t, "subscribe before the reload", old.Subscribe("r/#", 1, nil))

	newCA := twNewCA(t, pki.dir, "new-ca")
	fresh := newCA.issue(t, t.TempDir(), "server", "gatemq reloaded server", true)
	for _, f := range [][2]string{{fresh.certFile, pki.server.certFile}, {fresh.keyFile, pki.server.keyFile}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(f[1]), filepath.Base(f[1]), string(data))
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload happens in the broker's signal loop: poll until a client
	// trusting the new CA gets in.
	var cur paho.Client
	deadline := time.Now().Add(accWait)
	for i := 0; cur == nil; i++ {
		c, err := twPaho(t, url, "after-reload-"+strconv.Itoa(i), twTLS(newCA.pool), nil)
		if err == nil {
			cur = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client trusting the new CA got in within %v of SIGHUP: %v", accWait, err)
		}
		time.Sleep(50 * time.Millisecond) // the broker gives no other sign of the reload
	}
	if _, err := twPaho(t, url, "old-ca-after-reload", twTLS(pki.ca.pool), nil); err == nil {
		t.Error("after the reload a client trusting only the old CA still got in")
	}
	pahoDo(t, "publish after the reload", cur.Publish("r/after", 1, false, "new certificate"))
	awaitLine(t, oldGot, "r/after new certificate")
	if !old.IsConnectionOpen() {
		t.Error("the connection made before the reload was dropped")
	}
	m := twTLSMosq(t, ports[0])
	m.publish(t, "", "--cafile", newCA.file, "-q", "1", "-t", "r/tool", "-m", "mosquitto_pub new CA")
	awaitLine(t, oldGot, "r/tool mosquitto_pub new CA")
	twRefused(t, "mosquitto_pub --cafile of the old CA after the reload", m.pub,
		twPubArgs(ports[0], "--cafile", pki.ca.file, "-t", "r/x", "-m", "x")...)

	// A broken key file: the reload fails, the log says so, and the
	// certificate loaded before stays in force.
	writeFile(t, filepath.Dir(pki.server.keyFile), filepath.Base(pki.server.keyFile), "not a key\n")
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, b.stderr, regexp.MustCompile(`level=ERROR msg="TLS certificate reload failed; the old certificates stay in force"`), accWait)
	twMustPaho(t, url, "after-broken-reload", twTLS(newCA.pool), nil)
	if !old.IsConnectionOpen() || !cur.IsConnectionOpen() {
		t.Error("a connection was dropped by a failed reload")
	}
}

// TestWebSocketListeners: `protocol websockets` listeners, plain and with
// certfile (wss), carry MQTT for Paho's ws:// and wss:// clients, across
// to and from a plain TCP client; a wss client trusting another CA is
// refused.
func TestWebSocketListeners(t *testing.T) {
	pki := twNewPKI(t)
	_, ports := twStart(t, 3, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\n" +
			"listener " + p[1] + " 127.0.0.1\nprotocol websockets\n" +
			"listener " + p[2] + " 127.0.0.1\nprotocol websockets\n" + pki.serverLines
	})
	tcpGot, wsGot, wssGot := newOutputBuffer(), newOutputBuffer(), newOutputBuffer()
	tcp := twMustPaho(t, "tcp://127.0.0.1:"+ports[0], "tcp-client", nil, tcpGot)
	ws := twMustPaho(t, "ws://127.0.0.1:"+ports[1]+"/mqtt", "ws-client", nil, wsGot)
	wss := twMustPaho(t, "wss://localhost:"+ports[2]+"/mqtt", "wss-client", twTLS(pki.ca.pool), wssGot)
	for _, c := range []struct {
		name string
		c    paho.Client
	}{{"tcp", tcp}, {"ws", ws}, {"wss", wss}} {
		pahoDo(t, c.name+" subscribe", c.c.Subscribe("ws/#", 1, nil))
	}
	pahoDo(t, "ws publish", ws.Publish("ws/from-ws", 1, false, "over websocket"))
	pahoDo(t, "wss publish", wss.Publish("ws/from-wss", 2, false, "over secure websocket"))
	pahoDo(t, "tcp publish", tcp.Publish("ws/from-tcp", 1, false, "over tcp"))
	want := []string{"ws/from-ws over websocket", "ws/from-wss over secure websocket", "ws/from-tcp over tcp"}
	for _, g := range []struct {
		name string
		out  *outputBuffer
	}{{"tcp", tcpGot}, {"ws", wsGot}, {"wss", wssGot}} {
		for _, w := range want {
			awaitLine(t, g.out, w)
		}
		if lines := msgLines(g.out.String()); len(lines) != len(want) {
			t.Errorf("the %s client received %q, want each of %q once", g.name, lines, want)
		}
	}
	if _, err := twPaho(t, "wss://localhost:"+ports[2]+"/mqtt", "wss-other-ca", twTLS(pki.other.pool), nil); err == nil {
		t.Error("Paho wss:// trusting another CA connected")
	}
	if _, err := twPaho(t, "ws://127.0.0.1:"+ports[0]+"/mqtt", "ws-on-tcp", nil, nil); err == nil {
		t.Error("Paho ws:// connected to a plain MQTT listener")
	}
}

// twMQTTJSScript connects MQTT.js to the URL argv[3] with protocol version
// argv[4], subscribes to js/#, publishes js/ws/VERSION and prints every
// message it receives; it ends once it received js/tcp/VERSION.
const twMQTTJSScript = `
const [mod, url, version] = process.argv.slice(2);
const mqtt = require(mod);
const timer = setTimeout(() => { console.log('timeout'); process.exit(2); }, 15000);
const c = mqtt.connect(url, {protocolVersion: Number(version), clientId: 'mqttjs-v' + version,
	reconnectPeriod: 0, connectTimeout: 5000});
c.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
c.on('message', (topic, payload) => {
	console.log('received ' + topic + ' ' + payload.toString());
	if (topic === 'js/tcp/' + version) { // end after the PUBACK, which MQTT.js sends once this returns
		setImmediate(() => c.end(false, () => { clearTimeout(timer); console.log('done'); process.exit(0); }));
	}
});
c.on('connect', () => {
	c.subscribe('js/#', {qos: 1}, (err, granted) => {
		if (err) { console.log('error ' + err.message); process.exit(1); }
		console.log('subscribed ' + granted.map((g) => g.qos).join(','));
		c.publish('js/ws/' + version, 'hello from mqtt.js', {qos: 1}, (err) => {
			if (err) { console.log('error ' + err.message); process.exit(1); }
			console.log('published');
		});
	});
});
`

// twMQTTJS returns node and the path of MQTT.js (node_modules/mqtt in
// GATEMQ_MQTTJS_DIR, else in .cache/mqttjs, where `make tools` installs
// it), or skips loudly (fails under GATEMQ_REQUIRE_TOOLS=1).
func twMQTTJS(t *testing.T) (node, module string) {
	t.Helper()
	node = requireTool(t, "node", "nodejs")
	dir := os.Getenv("GATEMQ_MQTTJS_DIR")
	if dir == "" {
		dir = filepath.Join(".cache", "mqttjs")
	}
	abs, err := filepath.Abs(filepath.Join(dir, "node_modules", "mqtt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "package.json")); err != nil {
		msg := fmt.Sprintf("MQTT.js (npm package mqtt) is not installed in %s: run `make tools` (needs node and npm)", abs)
		if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
			t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
		t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	}
	return node, abs
}

// TestMQTTJSWebSocket runs MQTT.js, as browser dashboards use it, over a
// ws:// listener with MQTT 3.1.1 and 5.0: it subscribes, publishes, and
// gets both its own message and one a TCP client publishes; the TCP client
// gets MQTT.js's message.
func TestMQTTJSWebSocket(t *testing.T) {
	node, module := twMQTTJS(t)
	script := writeFile(t, t.TempDir(), "client.js", twMQTTJSScript)
	_, ports := twStart(t, 2, func(p []string) string {
		return anonymousOK + "listener " + p[0] + " 127.0.0.1\nlistener " + p[1] + " 127.0.0.1\nprotocol websockets\n"
	})
	tcpGot := newOutputBuffer()
	tcp := twMustPaho(t, "tcp://127.0.0.1:"+ports[0], "tcp-js", nil, tcpGot)
	pahoDo(t, "tcp subscribe", tcp.Subscribe("js/ws/#", 1, nil))

	for _, v := range []string{"4", "5"} {
		js := startProc(t, nil, node, script, module, "ws://127.0.0.1:"+ports[1]+"/mqtt", v)
		js.waitFor(t, js.stdout, regexp.MustCompile(`(?m)^received js/ws/`+v+` hello from mqtt.js$`), accWait)
		awaitLine(t, tcpGot, "js/ws/"+v+" hello from mqtt.js")
		pahoDo(t, "tcp publish", tcp.Publish("js/tcp/"+v, 1, false, "hello from tcp"))
		if code := js.wait(t, accWait); code != 0 {
			t.Fatalf("MQTT.js v%s exited %d:\n%s%s", v, code, js.stdout.String(), js.stderr.String())
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(js.stdout.String()), "\n") {
			if l != "published" { // its order relative to the first message is not fixed
				lines = append(lines, l)
			}
		}
		want := []string{"subscribed 1", "received js/ws/" + v + " hello from mqtt.js", "received js/tcp/" + v + " hello from tcp", "done"}
		if !slices.Equal(lines, want) || !strings.Contains(js.stdout.String(), "published\n") {
			t.Errorf("MQTT.js v%s printed %q, want %q and 'published'", v, js.stdout.String(), want)
		}
	}
	if lines := msgLines(tcpGot.String()); len(lines) != 2 {
		t.Errorf("the TCP client received %q, want one message from each MQTT.js run", lines)
	}
}
