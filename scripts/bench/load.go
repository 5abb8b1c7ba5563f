package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// loadConfig bounds one load run.
type loadConfig struct {
	pubs        int           // publishers
	subs        int           // subscribers
	qos         byte          // publish and subscription QoS
	msgs        int           // most messages per publisher
	duration    time.Duration // most time publishing
	window      int           // most unfinished publish tokens per publisher
	payload     int           // payload bytes (>= 9)
	drainStall  time.Duration // stop waiting for deliveries after this long without progress
	drainMax    time.Duration // stop waiting for deliveries after this long in all
	connTimeout time.Duration
	persistent  bool // clients connect with CleanSession false; their sessions are removed at the end
}

// loadResult is what one load run measured.
type loadResult struct {
	sent      int64         // publishes whose token completed without error
	pubErrors int64         // publishes whose token failed or timed out
	expected  int64         // sent × subscribers
	received  int64         // distinct deliveries over all subscribers
	dups      int64         // deliveries of a message a subscriber already had
	elapsed   time.Duration // first publish to last delivery
}

// rate returns distinct deliveries per second.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.received) / r.elapsed.Seconds()
}

// lost returns expected deliveries that never arrived.
func (r loadResult) lost() int64 {
	return max(r.expected-r.received, 0)
}

// runLoad connects cfg.subs subscribers and cfg.pubs publishers to addr with
// Paho, publishes on one topic, and counts what arrives. Client ids are
// fixed per role and runID. Once every client is connected and subscribed
// it calls beforePublish (if not nil). Once deliveries are done (or stalled) it calls
// afterDrain (if not nil) with the time draining ended, while every client
// is still connected. Every client is disconnected before it returns, and
// with cfg.persistent every client id then connects once more with a clean
// session, so the broker drops the sessions; a failure there is an error.
func runLoad(addr, runID string, cfg loadConfig, beforePublish func() error, afterDrain func(drained time.Time) error) (res loadResult, err error) {
	topic := "bench/" + runID
	var lastRecv atomic.Int64 // unix nanoseconds of the latest delivery
	trackers := make([]*seqTracker, cfg.subs)
	var clients []paho.Client
	var ids []string
	defer func() {
		for _, c := range clients {
			c.Disconnect(50)
		}
		if cfg.persistent {
			if cerr := removeSessions(addr, ids, cfg.connTimeout); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	open := func(id string) (paho.Client, error) {
		ids = append(ids, id)
		c, err := connect(addr, id, !cfg.persistent, cfg.connTimeout)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		return c, nil
	}

	for i := range trackers {
		tr := newSeqTracker(cfg.pubs, cfg.msgs)
		trackers[i] = tr
		c, err := open(fmt.Sprintf("%s-sub%d", runID, i))
		if err != nil {
			return loadResult{}, err
		}
		tok := c.Subscribe(topic, cfg.qos, func(_ paho.Client, m paho.Message) {
			tr.add(m.Payload())
			lastRecv.Store(time.Now().UnixNano())
		})
		if !tok.WaitTimeout(cfg.connTimeout) || tok.Error() != nil {
			return loadResult{}, fmt.Errorf("subscribe: %v", tokenErr(tok))
		}
	}
	pubs := make([]paho.Client, cfg.pubs)
	for i := range pubs {
		c, err := open(fmt.Sprintf("%s-pub%d", runID, i))
		if err != nil {
			return loadResult{}, err
		}
		pubs[i] = c
	}

	if beforePublish != nil {
		if err := beforePublish(); err != nil {
			return loadResult{}, err
		}
	}
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, failed := publishLoop(c, topic, byte(i), cfg, deadline)
			atomic.AddInt64(&res.sent, sent)
			atomic.AddInt64(&res.pubErrors, failed)
		}()
	}
	wg.Wait()
	res.expected = res.sent * int64(cfg.subs)

	// Wait for deliveries to catch up, to stall, or for drainMax.
	count := func() (n int64) {
		for _, tr := range trackers {
			n += tr.distinct()
		}
		return n
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	drainEnd := time.Now().Add(cfg.drainMax)
	last, lastChange := count(), time.Now()
	for last < res.expected && time.Since(lastChange) < cfg.drainStall && time.Now().Before(drainEnd) {
		<-tick.C
		if n := count(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	for _, tr := range trackers {
		res.received += tr.distinct()
		res.dups += tr.duplicates()
	}
	if l := lastRecv.Load(); l > 0 {
		res.elapsed = time.Unix(0, l).Sub(start)
	}
	if afterDrain != nil {
		if err := afterDrain(time.Now()); err != nil {
			return res, err
		}
	}
	return res, nil
}

// removeSessions connects each client id once with a clean session and
// disconnects, so the broker discards what it kept for them.
func removeSessions(addr string, ids []string, timeout time.Duration) error {
	for _, id := range ids {
		c, err := connect(addr, id, true, timeout)
		if err != nil {
			return fmt.Errorf("removing the session: %w", err)
		}
		c.Disconnect(50)
	}
	return nil
}

// publishLoop publishes up to cfg.msgs messages until deadline, keeping at
// most cfg.window tokens unfinished, and returns how many completed and
// how many failed.
func publishLoop(c paho.Client, topic string, pub byte, cfg loadConfig, deadline time.Time) (sent, failed int64) {
	window := make([]paho.Token, cfg.window)
	settle := func(tok paho.Token) {
		if tok == nil {
			return
		}
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			sent++
		} else {
			failed++
		}
	}
	for seq := 0; seq < cfg.msgs; seq++ {
		if seq%64 == 0 && time.Now().After(deadline) {
			break
		}
		slot := seq % cfg.window
		settle(window[slot])
		window[slot] = c.Publish(topic, cfg.qos, false, makePayload(cfg.payload, pub, uint64(seq)))
	}
	for _, tok := range window {
		settle(tok)
	}
	return sent, failed
}

// makePayload returns a payload of n bytes: the publisher's index, the
// sequence number (8 bytes big-endian), then filler.
func makePayload(n int, pub byte, seq uint64) []byte {
	p := make([]byte, n)
	p[0] = pub
	binary.BigEndian.PutUint64(p[1:9], seq)
	for i := 9; i < n; i++ {
		p[i] = 'x'
	}
	return p
}

// connect opens a Paho MQTT 3.1.1 client without reconnects; clean is its
// CleanSession flag.
func connect(addr, id string, clean bool, timeout time.Duration) (paho.Client, error) {
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetProtocolVersion(4).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(60 * time.Second).
		SetConnectTimeout(timeout).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetCustomOpenConnectionFn(dialBuffered)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(timeout) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", id, tokenErr(tok))
	}
	return c, nil
}

// dialBuffered opens the client's TCP connection with a buffered reader.
// Paho reads each packet with several small reads (type byte, each length
// byte, body); without the buffer, the subscriber's syscalls rather than the
// broker would set the pace.
func dialBuffered(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", uri.Host, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10)}, nil
}

// bufferedConn is a net.Conn whose reads go through a bufio.Reader.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads from the buffer.
func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tokenErr returns a token's error, or a timeout error if it never finished.
func tokenErr(t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	default:
		return errors.New("timed out")
	}
}

// seqTracker counts distinct and duplicate deliveries by (publisher, seq).
type seqTracker struct {
	mu    sync.Mutex
	seen  [][]uint64 // bitset per publisher
	msgs  uint64     // sequence numbers run 0..msgs-1
	n     int64
	dups  int64
	bogus int64 // payloads that are not ours
}

func newSeqTracker(pubs, msgs int) *seqTracker {
	t := &seqTracker{seen: make([][]uint64, pubs), msgs: uint64(msgs)}
	for i := range t.seen {
		t.seen[i] = make([]uint64, (msgs+63)/64)
	}
	return t
}

// add records one delivered payload.
func (t *seqTracker) add(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) < 9 || int(p[0]) >= len(t.seen) {
		t.bogus++
		return
	}
	bits := t.seen[p[0]]
	seq := binary.BigEndian.Uint64(p[1:9])
	if seq >= t.msgs {
		t.bogus++
		return
	}
	w, b := seq/64, uint64(1)<<(seq%64)
	if bits[w]&b != 0 {
		t.dups++
		return
	}
	bits[w] |= b
	t.n++
}

func (t *seqTracker) distinct() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *seqTracker) duplicates() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dups + t.bogus
}
