package mqtt

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gatemq/flashstore"
	"gatemq/internal/textlog"
)

// Shared helpers of the write-ahead tests (wal_*_test.go): a broker on a
// real flashstore.Log in a t.TempDir(), behind a Store wrapper that can
// hold or fail commits, which can be stopped and started again on the same
// folder (or on a copy of it taken while it ran) to see what the log
// promised; and readers of the log's live records.

// tPINGRESP is the PINGRESP packet type (rawconn_test.go has the others).
const tPINGRESP = 13

// pingPkt is a PINGREQ.
var pingPkt = []byte{tPINGREQ << 4, 0}

// disconnectPkt is a 3.1.1 DISCONNECT.
var disconnectPkt = []byte{tDISCONNECT << 4, 0}

// errTestEnded is what a commit still held when the test ends returns.
var errTestEnded = errors.New("test ended while the commit was held")

// walStore is the broker's Store: a flashstore.Log behind a hook that a
// test sets to hold a commit until it says so, or to fail it.
type walStore struct {
	log *flashstore.Log

	mu   sync.Mutex
	hook func(b *flashstore.Batch) error // nil: commit at once
	// getHook, when set, may fail a read of a value (a corrupt record).
	getHook func(kind flashstore.Kind, key []byte) error
	// ended is closed when the broker stops: held commits give up.
	ended chan struct{}
}

// Commit runs the hook (which may block or refuse), then commits to the log.
func (s *walStore) Commit(b *flashstore.Batch) error {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h != nil {
		if err := h(b); err != nil {
			return err
		}
	}
	return s.log.Commit(b)
}

// Range reads the log.
func (s *walStore) Range(fn func(kind flashstore.Kind, key, value []byte) error) error {
	return s.log.Range(fn)
}

// RangeKinds reads the log.
func (s *walStore) RangeKinds(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key, value []byte) error) error {
	return s.log.RangeKinds(kinds, fn)
}

// RangeKeys reads the log's keys.
func (s *walStore) RangeKeys(kinds []flashstore.Kind, fn func(kind flashstore.Kind, key []byte) error) error {
	return s.log.RangeKeys(kinds, fn)
}

// GetAppend reads one value, unless getHook (when set) fails it.
func (s *walStore) GetAppend(dst []byte, kind flashstore.Kind, key []byte) ([]byte, error) {
	s.mu.Lock()
	h := s.getHook
	s.mu.Unlock()
	if h != nil {
		if err := h(kind, key); err != nil {
			return dst, err
		}
	}
	return s.log.GetAppend(dst, kind, key)
}

// setHook installs h for every later Commit (nil: none).
func (s *walStore) setHook(h func(b *flashstore.Batch) error) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// commitGate holds every commit of a walStore until the test lets it go.
type commitGate struct {
	st      *walStore
	entered chan int   // one value (the batch's record count) per held commit
	verdict chan error // one value per commit: nil lets it through, else it fails
}

// hold makes every later commit wait at the gate.
func (s *walStore) hold() *commitGate {
	g := &commitGate{st: s, entered: make(chan int, 1024), verdict: make(chan error)}
	ended := s.ended
	s.setHook(func(b *flashstore.Batch) error {
		g.entered <- b.Len()
		select {
		case err := <-g.verdict:
			return err
		case <-ended:
			return errTestEnded
		}
	})
	return g
}

// waitEntered waits for the next commit to reach the gate and returns its
// record count.
func (g *commitGate) waitEntered(t testing.TB) int {
	t.Helper()
	select {
	case n := <-g.entered:
		return n
	case <-time.After(waitTime):
		t.Fatalf("no commit reached the store within %v", waitTime)
		return 0
	}
}

// pass lets one held commit through.
func (g *commitGate) pass(t testing.TB) { g.decide(t, nil) }

// fail makes one held commit fail with err.
func (g *commitGate) fail(t testing.TB, err error) { g.decide(t, err) }

func (g *commitGate) decide(t testing.TB, err error) {
	t.Helper()
	select {
	case g.verdict <- err:
	case <-time.After(waitTime):
		t.Fatalf("no commit waiting at the gate")
	}
}

// open removes the gate: later commits go straight through. A commit
// already held still needs pass or fail.
func (g *commitGate) open() { g.st.setHook(nil) }

// openAll is open, and it also lets through every commit already held
// and not decided yet (until the test ends): for a test that decides the
// commits it waited for but where another one, whose timing it does not
// control (a lazy removal riding on a subscriber's acknowledgement), may
// have reached the gate too and would otherwise wait there for ever.
func (g *commitGate) openAll() {
	g.open()
	ended := g.st.ended
	go func() {
		for {
			select {
			case g.verdict <- nil:
			case <-ended:
				return
			}
		}
	}()
}

// expectNoCommit fails the test if a commit reaches the gate within
// quietFor.
func (g *commitGate) expectNoCommit(t testing.TB, why string) {
	t.Helper()
	select {
	case n := <-g.entered:
		t.Fatalf("%s: a commit of %d records reached the store", why, n)
	case <-time.After(quietFor):
	}
}

// failNext makes the next commit fail with err and the later ones pass.
func (s *walStore) failNext(err error) {
	var once sync.Once
	s.setHook(func(*flashstore.Batch) error {
		fail := false
		once.Do(func() { fail = true })
		if fail {
			return err
		}
		return nil
	})
}

// walBroker is a broker whose Store is a flashstore.Log in dir.
type walBroker struct {
	t    testing.TB
	dir  string
	fo   flashstore.Options
	opts Options

	log *flashstore.Log
	st  *walStore
	srv *Server
	tb  *testBroker
	rs  RecoveryStats // what Recover rebuilt at the last start
	rep flashstore.RecoveryReport

	stopServe func()
	stopped   bool
	// conns are the test's connections to the running broker; stop
	// closes them after the broker's Shutdown (see dial).
	conns []net.Conn
}

// startWAL opens a log in a new temporary folder (fo.Dir is ignored) and
// serves a broker on it; it stops when the test ends.
func startWAL(t testing.TB, opts Options, fo flashstore.Options) *walBroker {
	t.Helper()
	fo.Dir = t.TempDir()
	w := &walBroker{t: t, fo: fo, opts: opts}
	w.start(fo.Dir)
	t.Cleanup(w.stop)
	return w
}

// start opens the log in dir, runs Recover and serves on a new port.
func (w *walBroker) start(dir string) {
	t := w.t
	t.Helper()
	fo := w.fo
	fo.Dir = dir
	l, rep, err := flashstore.Open(fo)
	if err != nil {
		t.Fatalf("flashstore.Open(%s): %v", dir, err)
	}
	w.dir, w.log, w.rep = dir, l, rep
	w.st = &walStore{log: l, ended: make(chan struct{})}
	opts := w.opts
	opts.Store = w.st
	if opts.Logger == nil {
		out := io.Discard
		if os.Getenv("GATEMQ_TEST_LOG") != "" {
			out = os.Stderr
		}
		opts.Logger = textlog.New(textlog.NewTextHandler(out, textlog.LevelDebug))
	}
	w.srv = NewServer(opts)
	if w.rs, err = w.srv.Recover(); err != nil {
		l.Close()
		t.Fatalf("Recover: %v", err)
	}
	w.srv.Start()
	w.tb, w.stopServe = serveOn(t, w.srv)
	w.stopped = false
}

// stop shuts the broker down (connections closed, their pipelines
// committed) and closes the log. Commits still held at a gate fail.
func (w *walBroker) stop() {
	if w.stopped {
		return
	}
	w.stopped = true
	close(w.st.ended)
	w.stopServe()
	for _, c := range w.conns {
		c.Close()
	}
	w.conns = nil
	if err := w.log.Close(); err != nil && !errors.Is(err, flashstore.ErrClosed) {
		w.t.Errorf("closing the log: %v", err)
	}
}

// restart stops the broker cleanly and starts a new one on the same log.
func (w *walBroker) restart() RecoveryStats {
	w.t.Helper()
	w.stop()
	w.start(w.dir)
	return w.rs
}

// abandon copies the log's files as they are at this moment, while the
// broker runs and the log stays open (what a power cut leaves behind),
// stops the running broker without letting it write anything more, and
// starts a new broker on the copy.
func (w *walBroker) abandon() RecoveryStats {
	w.t.Helper()
	cp := filepath.Join(w.t.TempDir(), "abandoned")
	copyLogDir(w.t, w.dir, cp)
	// The old broker must not write to the copy, and it cannot: it keeps
	// its own folder. Its later writes (shutdown, lazy removals) go there.
	w.stop()
	w.start(cp)
	return w.rs
}

// copyLogDir copies every file of a log folder but its lock.
func copyLogDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dial opens a raw connection to the running broker. Unlike dialRaw's
// connections, it is closed by the broker's stop, after Shutdown: a
// connection ending by itself while Shutdown runs meets a data race in
// detach (see TestWALBugDetachRace).
func (w *walBroker) dial() *rawConn {
	w.t.Helper()
	c, err := net.DialTimeout("tcp", w.tb.addr, waitTime)
	if err != nil {
		w.t.Fatal(err)
	}
	w.conns = append(w.conns, c)
	return &rawConn{t: w.t, c: c, br: bufio.NewReader(c)}
}

// walState is the live content of a log, decoded.
type walState struct {
	sessions map[string]flashstore.Session
	subs     []flashstore.Subscription
	msgs     map[uint64]flashstore.Message
	routes   []flashstore.Route // by Seq
	inbound  []flashstore.Inbound
	retained map[string]flashstore.Retained
	other    int // records of an unknown kind
}

// durable reads what the store holds now.
func durable(t testing.TB, st Store) walState {
	t.Helper()
	ws, err := durableState(st)
	if err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	return ws
}

// durableState reads what the store holds now.
func durableState(st Store) (walState, error) {
	ws := walState{sessions: map[string]flashstore.Session{}, msgs: map[uint64]flashstore.Message{}, retained: map[string]flashstore.Retained{}}
	var routeKeys, inboundKeys [][]byte // filled in once the sessions are known
	err := st.Range(func(kind flashstore.Kind, key, value []byte) error {
		var err error
		switch kind {
		case flashstore.KindSession:
			var r flashstore.Session
			_, err = r.UnmarshalMsg(value)
			ws.sessions[r.ClientID] = r
		case flashstore.KindSubscription:
			var r flashstore.Subscription
			_, err = r.UnmarshalMsg(value)
			ws.subs = append(ws.subs, r)
		case flashstore.KindMessage:
			var r flashstore.Message
			_, err = r.UnmarshalMsg(value)
			ws.msgs[r.ID] = r
		case flashstore.KindRoute:
			var r flashstore.Route
			_, err = r.UnmarshalMsg(value)
			ws.routes = append(ws.routes, r)
			routeKeys = append(routeKeys, bytes.Clone(key))
		case flashstore.KindInbound:
			var r flashstore.Inbound
			_, err = r.UnmarshalMsg(value)
			ws.inbound = append(ws.inbound, r)
			inboundKeys = append(inboundKeys, bytes.Clone(key))
		case flashstore.KindRetained:
			var r flashstore.Retained
			_, err = r.UnmarshalMsg(value)
			ws.retained[r.Topic] = r
		default:
			ws.other++
		}
		if err != nil {
			return fmt.Errorf("record %s %q: %w", kind, key, err)
		}
		return nil
	})
	for i := range ws.routes {
		ws.fillRoute(routeKeys[i], &ws.routes[i])
	}
	for i := range ws.inbound {
		ws.fillInbound(inboundKeys[i], &ws.inbound[i])
	}
	slices.SortFunc(ws.routes, func(a, b flashstore.Route) int { return cmp.Compare(a.Seq, b.Seq) })
	return ws, err
}

// fillRoute completes a route read back under key: a numbered key
// (store.go) says the session and the message, which the value leaves out.
func (ws walState) fillRoute(key []byte, r *flashstore.Route) {
	if num, rest, ok := parseNumKey(key); ok && len(rest) == 8 {
		r.ClientID, r.MsgID = ws.clientOf(num), binary.BigEndian.Uint64(rest)
	}
}

// fillInbound completes an inbound id read back under key, as fillRoute.
func (ws walState) fillInbound(key []byte, r *flashstore.Inbound) {
	if num, rest, ok := parseNumKey(key); ok && len(rest) == 2 {
		r.ClientID, r.PacketID = ws.clientOf(num), binary.BigEndian.Uint16(rest)
	}
}

// clientOf is the client ID of the session numbered num ("#num" when no
// session has it).
func (ws walState) clientOf(num uint32) string {
	for id, s := range ws.sessions {
		if s.Num == num {
			return id
		}
	}
	return fmt.Sprintf("#%d", num)
}

// decodeRawPublish decodes a 3.1.1 PUBLISH without a testing.TB (for
// goroutines other than the test's).
func decodeRawPublish(p rawPkt) (rawPub, error) {
	r := rawPub{qos: p.flags >> 1 & 3, dup: p.flags&8 != 0, retain: p.flags&1 != 0}
	b := p.body
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return r, fmt.Errorf("PUBLISH body % x: topic overruns", p.body)
	}
	n := int(binary.BigEndian.Uint16(b))
	r.topic, b = string(b[2:2+n]), b[2+n:]
	if r.qos > 0 {
		if len(b) < 2 {
			return r, fmt.Errorf("PUBLISH body % x: no packet id", p.body)
		}
		r.id, b = binary.BigEndian.Uint16(b), b[2:]
	}
	r.payload = string(b)
	return r, nil
}

// routesOf returns the routes of one session, by Seq.
func (ws walState) routesOf(client string) []flashstore.Route {
	var out []flashstore.Route
	for _, r := range ws.routes {
		if r.ClientID == client {
			out = append(out, r)
		}
	}
	return out
}

// routeOf returns the route of client whose message has payload p.
func (ws walState) routeOf(t testing.TB, client, payload string) flashstore.Route {
	t.Helper()
	for _, r := range ws.routesOf(client) {
		if string(ws.msgs[r.MsgID].Payload) == payload {
			return r
		}
	}
	t.Fatalf("no durable route of %s for %q; routes: %s", client, payload, ws.describeRoutes())
	return flashstore.Route{}
}

// payloadsOf returns the payloads of client's routes, by Seq.
func (ws walState) payloadsOf(client string) []string {
	var out []string
	for _, r := range ws.routesOf(client) {
		out = append(out, string(ws.msgs[r.MsgID].Payload))
	}
	return out
}

// inboundOf returns the QoS 2 packet ids of client awaiting PUBREL.
func (ws walState) inboundOf(client string) []uint16 {
	var out []uint16
	for _, r := range ws.inbound {
		if r.ClientID == client {
			out = append(out, r.PacketID)
		}
	}
	slices.Sort(out)
	return out
}

// describeRoutes formats the routes for failure messages.
func (ws walState) describeRoutes() string {
	s := ""
	for _, r := range ws.routes {
		s += fmt.Sprintf("[%s %q q%d id=%d stage=%s seq=%d] ", r.ClientID, ws.msgs[r.MsgID].Payload, r.QoS, r.PacketID, stageName(r.Stage), r.Seq)
	}
	return s
}

// stageName names a route stage.
func stageName(s uint8) string {
	switch s {
	case flashstore.RouteQueued:
		return "queued"
	case flashstore.RouteSent:
		return "sent"
	case flashstore.RouteReleased:
		return "released"
	}
	return fmt.Sprint(s)
}

// ping sends PINGREQ and expects PINGRESP as the very next packet: every
// packet the broker had queued for this connection before it read the
// PINGREQ, and every acknowledgement it had sent, comes before it.
func (r *rawConn) ping(why string) {
	r.t.Helper()
	r.send(pingPkt)
	p := r.read()
	if p.typ != tPINGRESP {
		r.t.Fatalf("%s: got packet type %d flags %#x body % x before PINGRESP", why, p.typ, p.flags, p.body)
	}
}

// silent checks that the broker sends nothing for a while: used while a
// commit is held, when nothing that commit justifies may leave. (PINGREQ
// cannot probe this: its PINGRESP keeps its place behind the
// acknowledgements still due.)
func (r *rawConn) silent(why string) {
	r.t.Helper()
	if p, err := r.readPkt(150 * time.Millisecond); err == nil {
		r.t.Fatalf("%s: got packet type %d flags %#x body % x, want nothing yet", why, p.typ, p.flags, p.body)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		r.t.Fatalf("%s: %v", why, err)
	}
}

// expectPub reads a PUBLISH and checks its payload and QoS; it returns it.
func (r *rawConn) expectPub(payload string, qos byte) rawPub {
	r.t.Helper()
	p := r.read().publish(r.t)
	if p.payload != payload || p.qos != qos {
		r.t.Fatalf("got PUBLISH %s=%q q%d dup=%v id=%d, want %q at QoS %d", p.topic, p.payload, p.qos, p.dup, p.id, payload, qos)
	}
	return p
}

// complete acknowledges a received PUBLISH (QoS 1: PUBACK; QoS 2: PUBREC,
// PUBREL expected, PUBCOMP).
func (r *rawConn) complete(p rawPub) {
	r.t.Helper()
	switch p.qos {
	case 1:
		r.send(ackPkt(tPUBACK, p.id))
	case 2:
		r.send(ackPkt(tPUBREC, p.id))
		r.expectAck(tPUBREL, p.id)
		r.send(ackPkt(tPUBCOMP, p.id))
	}
}

// persistentSub connects a CleanSession 0 raw subscriber with filters at
// qos (SUBACK awaited, so the subscriptions are durable).
func (w *walBroker) persistentSub(id string, qos byte, filters ...string) *rawConn {
	w.t.Helper()
	r := w.dial()
	r.connect(id, false, 0, nil, false)
	for i, f := range filters {
		r.subscribe(uint16(i+1), f, qos)
	}
	return r
}

// leave sends DISCONNECT and waits for the broker to close the socket.
func (r *rawConn) leave() {
	r.t.Helper()
	r.send(disconnectPkt)
	r.expectClosed()
}

// waitOfflineN waits until n sessions of w's broker have no connection.
func (w *walBroker) waitOfflineN(n int64) {
	w.t.Helper()
	waitOffline(w.t, w.tb, n)
}
