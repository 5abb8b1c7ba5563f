//go:build nossl

package main

import (
	"strings"
	"testing"
)

// TestBridgeNoSSL: built without TLS, a TLS bridge is refused at start by
// name; a plain one is built.
func TestBridgeNoSSL(t *testing.T) {
	c, err := parseConfText(t, "connection plain\naddress h\ntopic t\nconnection secure\naddress h\ntopic t\nbridge_cafile /ca.pem\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bridgeConfigs(c)
	if err == nil || !strings.HasPrefix(err.Error(), "test.conf:4: bridge secure: this build has no TLS support") {
		t.Errorf("bridgeConfigs = %v, want the TLS bridge refused", err)
	}
	c.Bridges = c.Bridges[:1]
	if bs, err := bridgeConfigs(c); err != nil || len(bs) != 1 || bs[0].Dial == nil {
		t.Errorf("plain bridge: %v, %v", bs, err)
	}
}
