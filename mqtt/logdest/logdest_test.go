package logdest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatemq/internal/textlog"
)

func TestParseTypes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Type
	}{
		{nil, DefaultTypes},
		{[]string{"error"}, TypeError},
		{[]string{"error", "subscribe"}, TypeError | TypeSubscribe},
		{[]string{"all"}, AllTypes},
		{[]string{"all", "none"}, 0},
		{[]string{"none", "debug"}, TypeDebug},
	} {
		got, err := ParseTypes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTypes(%q) = %b, %v; want %b", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseTypes([]string{"verbose"}); err == nil {
		t.Error("ParseTypes(verbose) did not fail")
	}
}

// syncBuf is a bytes.Buffer safe for the publisher goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDestinationsAndTypes(t *testing.T) {
	var out, errOut syncBuf
	path := filepath.Join(t.TempDir(), "broker.log")
	lg, err := Open(Options{Dests: []string{"stdout", "file " + path, "topic"}, Types: TypeError | TypeNotice | TypeSubscribe,
		Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	type pubd struct{ topic, payload string }
	got := make(chan pubd, 10)
	lg.SetPublish(func(topic string, payload []byte) { got <- pubd{topic, string(payload)} })
	log := textlog.New(lg.Handler()).With("component", "test")
	log.Info("not logged: information is off")
	log.Debug("not logged: debug is off")
	log.Log(nil, LevelNotice, "New client connected")
	log.Error("broken")
	log.Info("c1 1 a/#", TypeKey, "subscribe")
	log.Info("c1 a/#", TypeKey, "unsubscribe")
	lg.Close()

	text := out.String()
	if errOut.String() != "" {
		t.Errorf("stderr got %q, want nothing (not a destination)", errOut.String())
	}
	for _, want := range []string{`level=NOTICE msg="New client connected" component=test`, `level=ERROR msg=broken`, `msg="c1 1 a/#" component=test log_type=subscribe`} {
		if !strings.Contains(text, want) {
			t.Errorf("stdout lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "not logged") || strings.Contains(text, "unsubscribe") || strings.Contains(text, "time=") {
		t.Errorf("stdout has lines of types that are off, or a time:\n%s", text)
	}
	file, _ := os.ReadFile(path)
	if string(file) != text {
		t.Errorf("file %q differs from stdout %q", file, text)
	}
	close(got)
	var topics []string
	for p := range got {
		topics = append(topics, p.topic)
		if !strings.Contains(p.payload, "msg=") || strings.HasSuffix(p.payload, "\n") {
			t.Errorf("payload %q", p.payload)
		}
	}
	want := []string{"$SYS/broker/log/N", "$SYS/broker/log/E", "$SYS/broker/log/M/subscribe"}
	if strings.Join(topics, " ") != strings.Join(want, " ") {
		t.Errorf("published on %q, want %q", topics, want)
	}
}

func TestTimestampFormat(t *testing.T) {
	var out syncBuf
	lg, err := Open(Options{Dests: []string{"stdout"}, Types: AllTypes, Timestamp: true, TimestampFormat: "%Y-%m-%dT%H:%M:%S", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	textlog.New(lg.Handler()).Info("hello")
	if !strings.HasPrefix(out.String(), "time="+time.Now().Format("2006-01-02T")) || !strings.Contains(out.String(), " level=INFO msg=hello") {
		t.Errorf("line %q", out.String())
	}
	tm := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	if got := Strftime("%Y/%m/%d %H:%M:%S %j %b %a %s %% %e|%I%p", tm); got != "2024/03/05 07:08:09 065 Mar Tue 1709622489 %  5|07AM" {
		t.Errorf("Strftime = %q", got)
	}
	// The rest of the conversions, in the afternoon, east of UTC, on the
	// 100th day of a leap year, a Sunday, and midnight and noon for %I.
	tm = time.Date(2024, 4, 9, 0, 5, 6, 0, time.FixedZone("CEST", 2*3600)).AddDate(0, 0, -2).Add(19 * time.Hour)
	if got := Strftime("%C %y %B %A %u %w %Z %z|%F %T %R %D|%c|%h%n%t%q%", tm); got != "20 24 April Sunday 7 0 CEST +0200|2024-04-07 19:05:06 19:05 04/07/24|Sun Apr  7 19:05:06 2024|Apr\n\t%q%" {
		t.Errorf("Strftime = %q", got)
	}
	for h, want := range map[int]string{0: "12AM", 11: "11AM", 12: "12PM", 13: "01PM"} {
		if got := Strftime("%I%p", time.Date(2024, 1, 1, h, 0, 0, 0, time.UTC)); got != want {
			t.Errorf("%%I%%p at %d:00 = %q, want %q", h, got, want)
		}
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.log")
	lg, err := Open(Options{Dests: []string{"file " + path}, Types: AllTypes})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	log := textlog.New(lg.Handler())
	log.Info("one")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("two")
	if err := lg.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("three")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "msg=two") || !strings.Contains(string(cur), "msg=three") || strings.Contains(string(cur), "msg=two") {
		t.Errorf("rotated %q, current %q", old, cur)
	}
}

func TestSyslog(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", addr)
	if err != nil {
		t.Skipf("no unixgram sockets: %v", err)
	}
	defer pc.Close()
	lg, err := Open(Options{Dests: []string{"syslog"}, Types: DefaultTypes, Facility: 3, SyslogNetwork: "unixgram", SyslogAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	textlog.New(lg.Handler()).Warn("disk almost full")
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	// local3 (19) * 8 + warning (4) = 156.
	if msg := string(buf[:n]); !strings.HasPrefix(msg, "<156>") || !strings.Contains(msg, `msg="disk almost full"`) || strings.Contains(msg, "time=") {
		t.Errorf("syslog got %q", msg)
	}
}

// TestLinesMatchSlog pins the lines to what the Logger wrote when it
// formatted them with log/slog's TextHandler (time dropped, level 2 named
// NOTICE, the ReplaceAttr below): the same bytes, With's attributes and
// every kind of value included.
func TestLinesMatchSlog(t *testing.T) {
	var out syncBuf
	lg, err := Open(Options{Dests: []string{"stdout"}, Types: AllTypes, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	var ref bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&ref, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.TimeKey:
			return slog.Attr{}
		case slog.LevelKey:
			if lv, ok := a.Value.Any().(slog.Level); ok && lv == slog.Level(LevelNotice) {
				return slog.String(slog.LevelKey, "NOTICE")
			}
		}
		return a
	}})).With("component", "broker")
	tl := textlog.New(lg.Handler()).With("component", "broker")
	args := []any{"client", "c 1", "err", errors.New("read tcp: connection reset"), "n", 42, "d", 1500 * time.Millisecond,
		"addr", netip.MustParseAddrPort("192.0.2.1:1883"), "topic", `a/"b"`, "time", "user's", "ok", true, "odd"}
	for _, lv := range []int{-4, 0, 2, 4, 8} {
		sl.Log(context.Background(), slog.Level(lv), "a message", args...)
		tl.Log(context.Background(), textlog.Level(lv), "a message", args...)
	}
	sl.Info("subscribe line", TypeKey, "subscribe")
	tl.Info("subscribe line", TypeKey, "subscribe")
	if got, want := out.String(), ref.String(); got != want {
		t.Errorf("lines:\n%s\nslog wrote:\n%s", got, want)
	}
}
