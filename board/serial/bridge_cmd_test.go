package serial

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"gatemq/internal/textlog"
)

// logRecorder keeps the records of a logger.
type logRecorder struct {
	mu   sync.Mutex
	recs []textlog.Record
}

func (l *logRecorder) Enabled(textlog.Level) bool { return true }
func (l *logRecorder) Handle(r textlog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) count(level textlog.Level, substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.Contains(r.Message, substr) {
			n++
		}
	}
	return n
}

// TestCommandWhileUnplugged: a command for an absent device is dropped,
// counted and logged at Warn (then at most once every 10 s).
func TestCommandWhileUnplugged(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(false)
	rec := &logRecorder{}
	b, err := NewBridge(Config{Name: "w", Device: "/dev/fake", RetryMin: 1e6, RetryMax: 2e7}, br, textlog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	b.open = dev.open
	runBridge(t, b)
	waitStatus(t, br, "serial/w/status", StatusOffline)
	waitFor(t, wait, func() error {
		if !br.subscribed("serial/w/cmd") {
			return errors.New("not subscribed")
		}
		return nil
	})
	for range 3 {
		if err := br.Publish("serial/w/cmd", []byte("ON"), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.CmdOffline != 3 || st.CmdDropped != 3 {
		t.Fatalf("stats %+v", st)
	}
	if n := rec.count(textlog.LevelWarn, "device not connected"); n != 1 {
		t.Fatalf("%d Warn lines", n)
	}
	if n := rec.count(textlog.LevelDebug, "device not connected"); n != 2 {
		t.Fatalf("%d Debug lines", n)
	}
}
