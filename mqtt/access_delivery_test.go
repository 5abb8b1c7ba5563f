package mqtt

// Read access is checked at every delivery, not only when a message is
// routed: after a restart (the session's owner comes back from the flash
// log), for messages queued for a session that another user resumes, and
// for queued and in-flight messages after a reload took a right away.

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatemq/flashstore"
	"gatemq/mqtt/auth"
)

// startDurable starts a broker on a flash log in dir, recovered from it,
// on a loopback listener; stop shuts it down and closes the log (it runs
// at the end of the test too, once).
func startDurable(t *testing.T, dir string, opts Options) (tb *testBroker, stop func()) {
	t.Helper()
	st, _, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	srv := NewServer(opts)
	if _, err := srv.Recover(); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	tb, serveStop := serveOn(t, srv)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			serveStop()
			st.Close()
		})
	}
	t.Cleanup(stop)
	return tb, stop
}

// received returns the sorted topics of the messages c got with payload.
func received(c *collector, payload string) []string {
	var out []string
	for _, m := range c.all() {
		if m.payload == payload {
			out = append(out, m.topic)
		}
	}
	slices.Sort(out)
	return out
}

// TestAccessAfterRestart: bob's persistent session subscribed to '#' comes
// back from the flash log with bob as its owner, so a message bob may not
// read, published while he is away after the restart, is neither queued
// for him nor delivered; one he may read is.
func TestAccessAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Auth: accessAuth(t, false, accessACL)}
	tb, stop := startDurable(t, dir, opts)
	bob := connectPaho(t, userOpts(tb, "bob", "cid-bob").SetCleanSession(false))
	bob.sub(t, "#", 1)
	bob.Disconnect(50)
	stop()

	tb, _ = startDurable(t, dir, opts)
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice"))
	alice.pub(t, "users/alice/x", 1, false, "m")
	alice.pub(t, "home/kitchen", 1, false, "m")
	if q := tb.srv.Stats().Queued; q != 1 {
		t.Errorf("queued for offline bob: %d messages, want 1 (home/kitchen only)", q)
	}
	bob = connectPaho(t, userOpts(tb, "bob", "cid-bob").SetCleanSession(false))
	marker(t, tb, "users/bob/x", 1, "end")
	bob.col.waitFor(t, "users/bob/x", "end")
	if got, want := received(bob.col, "m"), []string{"home/kitchen"}; !slices.Equal(got, want) {
		t.Errorf("bob received %v after the restart, want %v", got, want)
	}
}

// TestAccessResumedByAnotherUser: bob resumes alice's persistent session
// (her client id, clean session 0) and gets only the queued messages bob
// may read; the rest are dropped and counted.
func TestAccessResumedByAnotherUser(t *testing.T) {
	tb, _ := startDurable(t, t.TempDir(), Options{Auth: accessAuth(t, false, accessACL)})
	alice := connectPaho(t, userOpts(tb, "alice", "cid-alice").SetCleanSession(false))
	alice.sub(t, "users/alice/#", 1)
	alice.sub(t, "home/#", 1)
	alice.Disconnect(50)
	marker(t, tb, "users/alice/x", 1, "m")
	marker(t, tb, "home/kitchen", 1, "m")

	bob := connectPaho(t, userOpts(tb, "bob", "cid-alice").SetCleanSession(false))
	if !bob.sessionPresent {
		t.Fatal("bob did not resume the session")
	}
	bob.sub(t, "users/bob/#", 1)
	marker(t, tb, "users/bob/x", 1, "end")
	bob.col.waitFor(t, "users/bob/x", "end")
	if got, want := received(bob.col, "m"), []string{"home/kitchen"}; !slices.Equal(got, want) {
		t.Errorf("bob received %v from alice's session, want %v", got, want)
	}
	if d := tb.srv.Stats().DeliveriesDenied; d != 1 {
		t.Errorf("DeliveriesDenied = %d, want 1", d)
	}
}

// TestAccessRevokedBeforeDelivery: a reload takes home/# away from bob
// while a message is queued for his offline session and another is in
// flight (QoS 2, PUBLISH sent, no PUBREC yet): on resume bob gets neither
// payload; the in-flight one is released with PUBREL so its packet id is
// freed, and nothing else arrives.
func TestAccessRevokedBeforeDelivery(t *testing.T) {
	tb, _ := startDurable(t, t.TempDir(), Options{Auth: accessAuth(t, false, accessACL)})
	r := dialRaw(t, tb)
	r.send(connectPktUser("cid-bob", "bob", accessPasswords["bob"]))
	r.expectConnack(false, 0)
	r.subscribe(1, "home/#", 2)
	r.subscribe(2, "users/bob/#", 0)
	marker(t, tb, "home/kitchen", 2, "in flight")
	inflight := r.expect(tPUBLISH, 0x04).publish(t) // QoS 2, no DUP
	r.c.Close()
	time.Sleep(50 * time.Millisecond) // the broker notices the close
	marker(t, tb, "home/hall", 2, "queued")

	revoked := parseACL(t, strings.Replace(accessACL, "user bob\ntopic read home/#\n", "user bob\n", 1))
	tb.srv.SetAuth(auth.NewPolicy(false, passwordFile(t, accessPasswords), revoked))

	r = dialRaw(t, tb)
	r.send(connectPktUser("cid-bob", "bob", accessPasswords["bob"]))
	r.expectConnack(true, 0)
	r.expectAck(tPUBREL, inflight.id)
	r.send(ackPkt(tPUBCOMP, inflight.id))
	marker(t, tb, "users/bob/x", 0, "end") // bob's own pattern: still readable
	if p := r.read(); p.typ != tPUBLISH || !strings.Contains(string(p.body), "end") {
		t.Fatalf("after the PUBREL bob got type %d body %q, want only the end marker", p.typ, p.body)
	}
}

// connectPktUser encodes a 3.1.1 CONNECT with clean session 0, a username
// and a password.
func connectPktUser(id, user, password string) []byte {
	return mkPkt(tCONNECT<<4, str("MQTT"), []byte{4, 0xC0}, u16(30), str(id), str(user), str(password))
}

// TestAccessAfterRestartPerListener: with per_listener_settings, bob's
// session comes back from the flash log judged by the policy of the
// listener he connected through (its ACL lets him read home/# only), not
// by the broker's own (which lets him read everything): after the
// restart, only what that listener's ACL allows is queued for him.
func TestAccessAfterRestartPerListener(t *testing.T) {
	dir := t.TempDir()
	start := func() (*testBroker, func()) {
		st, _, err := flashstore.Open(flashstore.Options{Dir: dir, Sync: flashstore.SyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		srv := NewServer(Options{Store: st, Auth: accessAuth(t, false, "user bob\ntopic read #\nuser alice\ntopic readwrite #\n")})
		srv.SetListenerAuth(map[string]*auth.Policy{"strict": accessAuth(t, false, accessACL)})
		if _, err := srv.Recover(); err != nil {
			t.Fatal(err)
		}
		srv.Start()
		tb, stop := serveListenerOn(t, srv, ListenerOptions{Name: "strict"})
		var once sync.Once
		end := func() { once.Do(func() { stop(); st.Close() }) }
		t.Cleanup(end)
		return tb, end
	}
	tb, stop := start()
	bob := connectPaho(t, userOpts(tb, "bob", "cid-bob").SetCleanSession(false))
	bob.sub(t, "#", 1)
	bob.Disconnect(50)
	waitOffline(t, tb, 1)
	stop()

	tb, _ = start()
	global, stopGlobal := serveOn(t, tb.srv) // alice publishes through the broker's own listener
	t.Cleanup(stopGlobal)
	alice := connectPaho(t, userOpts(global, "alice", "cid-alice"))
	alice.pub(t, "users/x", 1, false, "m")
	alice.pub(t, "home/kitchen", 1, false, "m")
	if q := tb.srv.Stats().Queued; q != 1 {
		t.Errorf("queued for offline bob: %d messages, want 1 (home/kitchen only, as the strict listener's ACL says)", q)
	}
}
