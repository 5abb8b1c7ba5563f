//go:build !nossl

package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test (ECDSA P-256).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

// newSerial returns a random certificate serial number.
func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
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
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue returns a leaf certificate signed by ca, for a server (valid for
// 127.0.0.1 and localhost) or a client, as PEM cert and key and as a
// tls.Certificate.
func (ca *testCA) issue(t testing.TB, cn string, server bool) (certPEM, keyPEM []byte, c tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
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
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	c, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, c
}

// testPKI is a CA, a server certificate and key on disk, and a client
// certificate, plus a second CA that nobody trusts.
type testPKI struct {
	ca, other                 *testCA
	caFile, certFile, keyFile string
	otherCAFile               string
	clientCert, clientKey     string          // files of client
	client, stranger          tls.Certificate // signed by ca / by other
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{
		ca:       newCA(t, "gatemq test CA"),
		other:    newCA(t, "unrelated CA"),
		caFile:   filepath.Join(dir, "ca.crt"),
		certFile: filepath.Join(dir, "server.crt"),
		keyFile:  filepath.Join(dir, "server.key"),

		otherCAFile: filepath.Join(dir, "other-ca.crt"),
		clientCert:  filepath.Join(dir, "client.crt"),
		clientKey:   filepath.Join(dir, "client.key"),
	}
	writeFile(t, p.caFile, p.ca.pem)
	writeFile(t, p.otherCAFile, p.other.pem)
	p.writeServer(t, p.ca, "server-1")
	var certPEM, keyPEM []byte
	certPEM, keyPEM, p.client = p.ca.issue(t, "device-1", false)
	writeFile(t, p.clientCert, certPEM)
	writeFile(t, p.clientKey, keyPEM)
	_, _, p.stranger = p.other.issue(t, "intruder", false)
	return p
}

// writeServer (re)writes the server certificate and key files, signed by ca.
func (p *testPKI) writeServer(t testing.TB, ca *testCA, cn string) {
	t.Helper()
	certPEM, keyPEM, _ := ca.issue(t, cn, true)
	writeFile(t, p.certFile, certPEM)
	writeFile(t, p.keyFile, keyPEM)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientConfig trusts roots and presents certs.
func clientConfig(roots *x509.CertPool, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: roots, Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
