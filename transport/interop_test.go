//go:build !nossl

package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Interoperability of the TLS and WebSocket listeners with real MQTT
// clients (mosquitto_pub, Paho, MQTT.js), each talking to a minimal fake
// broker: the handshakes, subprotocol and framing are what is tested here;
// the broker's own behaviour is tested in package mqtt.

// requireTool returns the path of an external program, or skips the test
// loudly (fails under GATEMQ_REQUIRE_TOOLS=1) when it is not installed.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (%s)", name, pkg)
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
	}
	t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	return ""
}

// published is what the fake broker saw: a PUBLISH's topic and payload,
// and the connection's PeerCN.
type published struct{ topic, payload, peerCN string }

// fakeBroker answers CONNECT (3.1.1 or 5.0) with success and PINGREQ with
// PINGRESP, reports each QoS 0 PUBLISH on got, and stops at DISCONNECT.
func fakeBroker(got chan<- published) Handler {
	return func(ctx context.Context, c net.Conn, info ConnInfo) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			typ, err := br.ReadByte()
			if err != nil {
				return
			}
			n, err := binary.ReadUvarint(br) // MQTT's remaining length is the same 7-bit encoding
			if err != nil || n > 1<<20 {
				return
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			switch typ >> 4 {
			case 1: // CONNECT: protocol name (2+4 bytes), then the level
				ack := []byte{0x20, 2, 0, 0}
				if len(body) > 6 && body[6] == 5 {
					ack = []byte{0x20, 3, 0, 0, 0}
				}
				if _, err := c.Write(ack); err != nil {
					return
				}
			case 3: // PUBLISH, QoS 0: topic length, topic, payload
				if len(body) < 2 {
					return
				}
				tl := int(binary.BigEndian.Uint16(body))
				if len(body) < 2+tl {
					return
				}
				payload := body[2+tl:]
				if len(payload) > 0 && payload[0] == 0 { // 5.0: empty property list
					payload = payload[1:]
				}
				got <- published{string(body[2 : 2+tl]), string(payload), info.PeerCN}
			case 12: // PINGREQ
				_, _ = c.Write([]byte{0xd0, 0})
			case 14: // DISCONNECT
				return
			}
		}
	}
}

// expectPublish waits for one PUBLISH.
func expectPublish(t *testing.T, got <-chan published, want published) {
	t.Helper()
	select {
	case p := <-got:
		if p != want {
			t.Fatalf("got %+v, want %+v", p, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no PUBLISH %q arrived", want.topic)
	}
}

func runClient(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func TestInteropMosquittoPubTLS(t *testing.T) {
	pub := requireTool(t, "mosquitto_pub", "Debian package mosquitto-clients")
	pki := newPKI(t)
	got := make(chan published, 4)
	s := newServer(t, fakeBroker(got), 0)
	plain := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}})
	mutual := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", TLS: &TLSOptions{
		CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, RequireCertificate: true,
	}})
	port := func(a net.Addr) string { return fmt.Sprint(a.(*net.TCPAddr).Port) }

	for _, v := range []string{"mqttv311", "mqttv5"} {
		out, err := runClient(t, pub, "-h", "127.0.0.1", "-p", port(plain), "--cafile", pki.caFile, "-V", v, "-t", "t/tls", "-m", v)
		if err != nil {
			t.Fatalf("mosquitto_pub %s --cafile: %v\n%s", v, err, out)
		}
		expectPublish(t, got, published{"t/tls", v, ""})
	}
	if out, err := runClient(t, pub, "-h", "127.0.0.1", "-p", port(plain), "--cafile", pki.otherCAFile, "-t", "t/x", "-m", "x"); err == nil {
		t.Fatalf("mosquitto_pub trusting another CA succeeded: %s", out)
	}
	out, err := runClient(t, pub, "-h", "127.0.0.1", "-p", port(mutual), "--cafile", pki.caFile,
		"--cert", pki.clientCert, "--key", pki.clientKey, "-t", "t/mutual", "-m", "m")
	if err != nil {
		t.Fatalf("mosquitto_pub with a client certificate: %v\n%s", err, out)
	}
	expectPublish(t, got, published{"t/mutual", "m", "device-1"})
	if out, err := runClient(t, pub, "-h", "127.0.0.1", "-p", port(mutual), "--cafile", pki.caFile, "-t", "t/x", "-m", "x"); err == nil {
		t.Fatalf("mosquitto_pub without a client certificate got through: %s", out)
	}
	select {
	case p := <-got:
		t.Fatalf("a refused client published %+v", p)
	default:
	}
}

func TestInteropPahoWebSocket(t *testing.T) {
	pki := newPKI(t)
	got := make(chan published, 4)
	s := newServer(t, fakeBroker(got), 0)
	ws := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true})
	wss := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, TLS: &TLSOptions{
		CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, RequireCertificate: true,
	}})
	for _, c := range []struct {
		url string
		cn  string
	}{
		{"ws://" + ws.String() + "/mqtt", ""},
		{"wss://" + wss.String() + "/mqtt", "device-1"},
	} {
		o := paho.NewClientOptions().AddBroker(c.url).SetClientID("paho-ws").SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second).SetTLSConfig(clientConfig(pki.ca.pool, pki.client))
		cl := paho.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("paho connect %s: %v", c.url, tok.Error())
		}
		if tok := cl.Publish("t/paho", 0, false, "over websocket"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("paho publish: %v", tok.Error())
		}
		expectPublish(t, got, published{"t/paho", "over websocket", c.cn})
		cl.Disconnect(250)
	}
}

// mqttJSDir returns a folder whose node_modules holds MQTT.js (the npm
// package mqtt), from GATEMQ_MQTTJS_DIR, or skips.
func mqttJSDir(t *testing.T) (node, dir string) {
	t.Helper()
	node = requireTool(t, "node", "Debian package nodejs")
	dir = os.Getenv("GATEMQ_MQTTJS_DIR")
	if dir == "" {
		if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
			t.Fatal("GATEMQ_REQUIRE_TOOLS=1 but GATEMQ_MQTTJS_DIR is not set (a folder where `npm install mqtt` ran)")
		}
		t.Skip("SKIPPED, NOT TESTED: set GATEMQ_MQTTJS_DIR to a folder where `npm install mqtt` ran")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mqtt")); err != nil {
		t.Fatalf("GATEMQ_MQTTJS_DIR=%s: %v", dir, err)
	}
	return node, dir
}

// TestInteropMQTTJS connects MQTT.js (as browsers use it, over WebSocket)
// to ws and wss listeners and publishes.
func TestInteropMQTTJS(t *testing.T) {
	node, dir := mqttJSDir(t)
	pki := newPKI(t)
	got := make(chan published, 4)
	s := newServer(t, fakeBroker(got), 0)
	ws := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true})
	wss := listen(t, s, ListenerConfig{Address: "127.0.0.1:0", WebSocket: true, TLS: &TLSOptions{CertFile: pki.certFile, KeyFile: pki.keyFile}})
	script := `
const fs = require('fs');
const mqtt = require('mqtt');
const [url, ca, version] = process.argv.slice(1);
const c = mqtt.connect(url, {protocolVersion: Number(version), reconnectPeriod: 0, connectTimeout: 5000, ca: fs.readFileSync(ca)});
c.on('connect', () => c.publish('t/js', 'mqtt.js ' + url.split(':')[0] + ' v' + version, {qos: 0}, (err) => {
	if (err) { console.error(err.message); process.exit(1); }
	c.end(false, () => process.exit(0));
}));
c.on('error', (e) => { console.error('error: ' + e.message); process.exit(1); });
`
	for _, c := range []struct{ url, scheme, version string }{
		{"ws://" + ws.String() + "/mqtt", "ws", "4"},
		{"ws://" + ws.String() + "/mqtt", "ws", "5"},
		{"wss://localhost:" + fmt.Sprint(wss.(*net.TCPAddr).Port) + "/mqtt", "wss", "4"},
	} {
		cmd := exec.Command(node, "-e", script, c.url, pki.caFile, c.version)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
		done := make(chan error, 1)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		expectPublish(t, got, published{"t/js", "mqtt.js " + c.scheme + " v" + c.version, ""})
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal(errors.New("MQTT.js did not finish"))
		}
	}
}
