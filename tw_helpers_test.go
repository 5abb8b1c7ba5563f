package main

// Helpers of the tests of the built binary's listeners (tls_ws_test.go and
// others): a certificate authority and certificates made for one test with
// crypto/x509 (ECDSA P-256), a broker started on fresh ports, and Paho
// clients over tcp://, ssl://, ws:// and wss://. Not behind the nossl tag:
// plain and WebSocket tests use them in both builds.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// twCA is a certificate authority made for one test, with its certificate
// in a PEM file.
type twCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // trusts this CA only
	file string         // PEM certificate
}

// twSerial returns a random certificate serial number.
func twSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// twNewCA makes a self-signed CA called name and writes its certificate to
// dir/name.pem.
func twNewCA(t *testing.T, dir, name string) *twCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          twSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	file := writeFile(t, dir, name+".pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return &twCA{cert: cert, key: key, pool: pool, file: file}
}

// twLeaf is a certificate signed by a twCA, on disk and in memory.
type twLeaf struct {
	certFile, keyFile string
	pair              tls.Certificate
}

// issue signs a certificate for cn and writes it to dir/base.pem and
// dir/base.key: a server certificate (valid for 127.0.0.1 and localhost)
// or a client one.
func (ca *twCA) issue(t *testing.T, dir, base, cn string, server bool) twLeaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: twSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return twLeaf{
		certFile: writeFile(t, dir, base+".pem", string(certPEM)),
		keyFile:  writeFile(t, dir, base+".key", string(keyPEM)),
		pair:     pair,
	}
}

// twPKI is what the TLS tests use: a CA, the server's certificate for
// 127.0.0.1/localhost and a client certificate for "alice" signed by it,
// and a second, unrelated CA with a client certificate of its own.
type twPKI struct {
	dir         string
	ca, other   *twCA
	server      twLeaf
	alice       twLeaf // CN alice, signed by ca
	stranger    twLeaf // CN alice too, signed by other
	serverLines string // certfile and keyfile config lines
}

func twNewPKI(t *testing.T) *twPKI {
	t.Helper()
	dir := t.TempDir()
	p := &twPKI{dir: dir, ca: twNewCA(t, dir, "ca"), other: twNewCA(t, dir, "other-ca")}
	p.server = p.ca.issue(t, dir, "server", "gatemq test server", true)
	p.alice = p.ca.issue(t, dir, "alice", "alice", false)
	p.stranger = p.other.issue(t, dir, "stranger", "alice", false)
	p.serverLines = "certfile " + p.server.certFile + "\nkeyfile " + p.server.keyFile + "\n"
	return p
}

// twTLS is a client TLS configuration trusting roots and presenting certs.
// anonymousOK lets the tests' anonymous clients in: any listener in a
// config file makes allow_anonymous default to false, as in Mosquitto 2.
const anonymousOK = "allow_anonymous true\n"

func twTLS(roots *x509.CertPool, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}
}

// twStart starts the binary with the config conf(ports) for n free
// loopback ports (retrying with others if one was taken meanwhile) and
// returns it with the ports.
func twStart(t *testing.T, n int, conf func(ports []string) string) (*broker, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var ports []string
		for len(ports) < n {
			if p := strconv.Itoa(freePort(t)); !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
		b, err := tryStartGatemq(t, "-c", writeConfig(t, conf(ports)), "-memory")
		if err != nil {
			if attempt < 5 && strings.Contains(err.Error(), "address already in use") {
				continue
			}
			t.Fatal(err)
		}
		return b, ports
	}
}

// twPaho connects a Paho 3.1.1 client to url (tcp://, ssl://, ws:// or
// wss://) with tc as its TLS configuration and returns it, or the error
// that refused it. received, when not nil, gets "topic payload\n" for each
// message. login is an optional username and password. A connected client
// is disconnected when the test ends.
func twPaho(t *testing.T, url, id string, tc *tls.Config, received *outputBuffer, login ...string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).SetTLSConfig(tc).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(accWait).SetOrderMatters(true)
	if len(login) == 2 {
		o.SetUsername(login[0]).SetPassword(login[1])
	}
	if received != nil {
		o.SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			fmt.Fprintf(received, "%s %s\n", msg.Topic(), msg.Payload())
		})
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(accWait + 5*time.Second) {
		return nil, fmt.Errorf("Paho %s: no answer to CONNECT", url)
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() {
		if c.IsConnectionOpen() {
			c.Disconnect(50)
		}
	})
	return c, nil
}

// twMustPaho is twPaho failing the test when the client is refused.
func twMustPaho(t *testing.T, url, id string, tc *tls.Config, received *outputBuffer, login ...string) paho.Client {
	t.Helper()
	c, err := twPaho(t, url, id, tc, received, login...)
	if err != nil {
		t.Fatalf("Paho %s (%s): %v", url, id, err)
	}
	return c
}

// twRefused fails the test unless the client tool exited non-zero.
func twRefused(t *testing.T, what, path string, args ...string) {
	t.Helper()
	if code, out := toolRun(t, path, args...); code == 0 {
		t.Errorf("%s: succeeded, want it refused:\n%s", what, out)
	}
}

// twTLSMosq returns mosquitto_pub/mosquitto_sub pointed at localhost:port.
func twTLSMosq(t *testing.T, port string) *mosq {
	t.Helper()
	m := mosqTools(t)
	m.host, m.port, m.addr = "localhost", port, "localhost:"+port
	return m
}

// twPubArgs are mosquitto_pub arguments for localhost:port plus args.
func twPubArgs(port string, args ...string) []string {
	return append([]string{"-h", "localhost", "-p", port}, args...)
}
