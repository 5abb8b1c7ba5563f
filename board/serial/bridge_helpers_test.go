package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goserial "go.bug.st/serial"

	"gatemq/internal/textlog"
)

// pub is one message a fakeBroker received.
type pub struct {
	topic, payload string
	qos            byte
	retain         bool
}

func (p pub) String() string {
	return fmt.Sprintf("%s %q q%d r%v", p.topic, p.payload, p.qos, p.retain)
}

// fakeBroker records publishes and keeps exact-topic subscriptions and
// retained messages, enough for the bridge.
type fakeBroker struct {
	mu       sync.Mutex
	pubs     []pub
	subs     map[string]func(string, []byte, bool)
	retained map[string][]byte
	fail     error // returned by Publish when set
}

func newFakeBroker() *fakeBroker {
	return &fakeBroker{subs: map[string]func(string, []byte, bool){}, retained: map[string][]byte{}}
}

func (f *fakeBroker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	f.mu.Lock()
	if f.fail != nil {
		f.mu.Unlock()
		return f.fail
	}
	f.pubs = append(f.pubs, pub{topic, string(payload), qos, retain})
	if retain {
		f.retained[topic] = slices.Clone(payload)
	}
	fn := f.subs[topic]
	f.mu.Unlock()
	if fn != nil {
		fn(topic, payload, false)
	}
	return nil
}

func (f *fakeBroker) Subscribe(filter string, fn func(string, []byte, bool)) (func(), error) {
	f.mu.Lock()
	f.subs[filter] = fn
	ret, ok := f.retained[filter]
	f.mu.Unlock()
	if ok {
		fn(filter, ret, true)
	}
	return func() {
		f.mu.Lock()
		delete(f.subs, filter)
		f.mu.Unlock()
	}, nil
}

func (f *fakeBroker) subscribed(filter string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs[filter] != nil
}

// published returns the messages so far, leaving out the topics starting
// with any of skip.
func (f *fakeBroker) published(skip ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
next:
	for _, p := range f.pubs {
		for _, s := range skip {
			if strings.HasPrefix(p.topic, s) {
				continue next
			}
		}
		out = append(out, p.String())
	}
	return out
}

func (f *fakeBroker) retainedPayload(topic string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.retained[topic])
}

// fakeDevice stands for a serial device that can be plugged and unplugged.
// Each open gives a fakePort; the test writes the device's output with
// send and reads what the bridge wrote from written.
type fakeDevice struct {
	mu      sync.Mutex
	present bool
	port    *fakePort
	opens   int
	written chan []byte
	block   chan struct{} // when not nil, Write waits for it to be closed
}

type fakePort struct {
	dev    *fakeDevice
	r      *io.PipeReader
	w      *io.PipeWriter
	closed chan struct{}
	once   sync.Once
}

func newFakeDevice(present bool) *fakeDevice {
	return &fakeDevice{present: present, written: make(chan []byte, 100)}
}

func (d *fakeDevice) open(string, *goserial.Mode) (io.ReadWriteCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.present {
		return nil, errors.New("fake: no such device")
	}
	r, w := io.Pipe()
	d.port = &fakePort{dev: d, r: r, w: w, closed: make(chan struct{})}
	d.opens++
	return d.port, nil
}

func (p *fakePort) Read(b []byte) (int, error) { return p.r.Read(b) }

func (p *fakePort) Write(b []byte) (int, error) {
	p.dev.mu.Lock()
	block := p.dev.block
	p.dev.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-p.closed:
			return 0, errors.New("fake: closed")
		}
	}
	select {
	case <-p.closed:
		return 0, errors.New("fake: write after close")
	default:
	}
	p.dev.written <- slices.Clone(b)
	return len(b), nil
}

func (p *fakePort) Close() error {
	p.once.Do(func() {
		close(p.closed)
		p.r.CloseWithError(goserial.PortError{})
	})
	return nil
}

// current returns the open port (nil before the first open).
func (d *fakeDevice) current() *fakePort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.port
}

// send writes s as the device's output; it blocks until the bridge read it.
func (d *fakeDevice) send(t *testing.T, s string) {
	t.Helper()
	if _, err := d.current().w.Write([]byte(s)); err != nil {
		t.Fatalf("device send: %v", err)
	}
}

// unplug makes the device absent and ends the open port's reads.
func (d *fakeDevice) unplug() {
	d.mu.Lock()
	d.present = false
	p := d.port
	d.mu.Unlock()
	if p != nil {
		p.w.CloseWithError(errors.New("fake: unplugged"))
	}
}

func (d *fakeDevice) plug() {
	d.mu.Lock()
	d.present = true
	d.mu.Unlock()
}

func (d *fakeDevice) openCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens
}

// waitFor polls cond every few milliseconds until it returns nil or the
// timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testLogger logs to the test's output when -v is given.
func testLogger(t *testing.T) *textlog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return textlog.New(textlog.NewTextHandler(os.Stderr, textlog.LevelDebug))
}

// runBridge starts b.Run and stops it at cleanup, checking it returned.
func runBridge(t *testing.T, b *Bridge) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// newTestBridge makes a bridge on a fake device with fast retries.
func newTestBridge(t *testing.T, cfg Config, br Broker, dev *fakeDevice) *Bridge {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "w"
	}
	if cfg.Device == "" {
		cfg.Device = "/dev/fake"
	}
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	b, err := NewBridge(cfg, br, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if dev != nil {
		b.open = dev.open
	}
	return b
}
