//go:build !nossl

package main

// The drop-in's TLS directives (capath, crlfile, use_subject_as_username):
// only a build with TLS has them.

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestTLSCapathCRLSubject checks capath (the CA in a folder), crlfile (a
// revoked client certificate is refused) and use_subject_as_username
// (the certificate's subject is the username the connection message and
// the ACL see).
func TestTLSCapathCRLSubject(t *testing.T) {
	t.Parallel()
	pki := twNewPKI(t)
	bob := pki.ca.issue(t, pki.dir, "bob", "bob", false)
	capath := filepath.Join(pki.dir, "cas")
	if err := os.Mkdir(capath, 0o755); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(pki.ca.file)
	writeFile(t, capath, "ca.crt", string(caPEM))
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: bob.pair.Leaf.SerialNumber, RevocationTime: time.Now()}},
	}, pki.ca.cert, pki.ca.key)
	if err != nil {
		t.Fatal(err)
	}
	crl := writeFile(t, pki.dir, "crl.pem", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER})))
	acl := writeFile(t, pki.dir, "acl", "user CN=alice\ntopic readwrite a/#\n")
	b, ports := twStart(t, 1, func(p []string) string {
		return "allow_anonymous false\nacl_file " + acl + "\nlistener " + p[0] + " 127.0.0.1\n" + pki.serverLines +
			"capath " + capath + "\ncrlfile " + crl + "\nrequire_certificate true\nuse_subject_as_username true\n"
	})
	url := "ssl://127.0.0.1:" + ports[0]
	received := newOutputBuffer()
	alice := twMustPaho(t, url, "alice-1", twTLS(pki.ca.pool, pki.alice.pair), received)
	b.waitFor(t, b.stderr, regexp.MustCompile(`as alice-1 \(p2, c1, k30, u'CN=alice'\)`), 10*time.Second)
	pahoDo(t, "subscribe", alice.Subscribe("#", 1, nil))
	pahoDo(t, "publish a/x", alice.Publish("a/x", 1, false, "mine"))
	awaitLine(t, received, "a/x mine")
	if _, err := twPaho(t, url, "bob-1", twTLS(pki.ca.pool, bob.pair), nil); err == nil {
		t.Error("a revoked certificate was admitted")
	}
	if _, err := twPaho(t, url, "stranger", twTLS(pki.ca.pool, pki.stranger.pair), nil); err == nil {
		t.Error("a certificate of another CA was admitted")
	}
}
