package textlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	ifmt "gatemq/internal/fmt"
)

// namedBytes is a named byte slice, which slog quotes as a []byte.
type namedBytes []byte

// point is a struct, which slog writes with %+v.
type point struct{ X, Y int }

// failingText is a TextMarshaler that fails.
type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

// panicky panics in String, on a nil pointer too.
type panicky struct{ s string }

func (p *panicky) String() string { return p.s }

// sampleValues are values of every kind slog formats its own way.
func sampleValues() []any {
	var nilIP *netip.Addr
	var nilPanicky *panicky
	var nilErr error
	return []any{
		"", "plain", "with space", "a=b", `quo"te`, `back\slash`, "tab\there", "new\nline", "del\x7f", "nul\x00",
		"é", "\u00a0nbsp", "\u2028", "zero\u200bwidth", "bad\xffutf8", "\xed\xa0\x80", "emoji 🙂", "emoji🙂",
		0, -1, int8(-8), int16(16), int32(-32), int64(math.MinInt64), uint(7), uint8(255), uint16(65535), uint32(1 << 31),
		uint64(math.MaxUint64), uintptr(42), float32(0.1), 3.14, math.Inf(-1), math.NaN(), 1e21, 1e-7, true, false,
		1500 * time.Millisecond, time.Duration(0), -time.Minute,
		time.Date(2026, 12, 7, 10, 0, 0, 999_999_999, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("X", 3600+1800)),
		errors.New("boom: it broke"), fmt.Errorf("wrapped: %w", net.ErrClosed), nilErr, nil,
		[]byte("bytes \x01"), []byte(nil), namedBytes("named"), point{1, 2}, &point{3, 4}, map[string]int{"b": 2, "a": 1},
		[]string{"x", "y z"}, net.IPv4(192, 168, 1, 1), netip.MustParseAddrPort("[::1]:1883"), nilIP, failingText{},
		nilPanicky, &panicky{"fine"}, LevelNotice(), Level(-2), Level(13), slog.Level(2),
	}
}

// composite is whether slog writes v with fmt's %+v walk of a slice,
// array, map, struct or pointer to one (byte slices aside), which
// internal/fmt does only if PrintsComposites.
func composite(v any) bool {
	t := reflect.TypeOf(v)
	if t == nil {
		return false
	}
	if _, ok := v.(interface{ MarshalText() ([]byte, error) }); ok {
		return false
	}
	switch t.Kind() {
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	case reflect.Array, reflect.Map, reflect.Struct:
		return true
	case reflect.Pointer:
		return t.Elem().Kind() == reflect.Struct && !reflect.ValueOf(v).IsNil()
	}
	return false
}

// LevelNotice is logdest's level between Info and Warn, written "INFO+2".
func LevelNotice() Level { return 2 }

// slogArg converts our Level (not slog's) into slog's for the reference.
func slogArg(v any) any {
	if l, ok := v.(Level); ok {
		return slog.Level(l)
	}
	return v
}

func slogArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = slogArg(a)
	}
	return out
}

// reference formats a record with slog's TextHandler.
func reference(t *testing.T, rep func([]string, slog.Attr) slog.Attr, with [][]any, tm time.Time, level Level, msg string, args []any) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: rep})
	lg := slog.New(h)
	for _, w := range with {
		lg = lg.With(slogArgs(w)...)
	}
	r := slog.NewRecord(tm, slog.Level(level), msg, 0)
	r.Add(slogArgs(args)...)
	if err := lg.Handler().Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// ours formats the same record through a Logger's With and AppendText.
func ours(rep Replace, with [][]any, tm time.Time, level Level, msg string, args []any) string {
	lg := New(DiscardHandler{})
	for _, w := range with {
		lg = lg.With(w...)
	}
	r := Record{Time: tm, Level: level, Message: msg, with: lg.with, args: args}
	return string(r.AppendText(nil, rep))
}

// TestAppendTextMatchesSlog: every kind of value, key and message, with
// and without With, written exactly as slog's TextHandler writes it.
func TestAppendTextMatchesSlog(t *testing.T) {
	tm := time.Date(2026, 12, 7, 9, 8, 7, 654_321_000, time.FixedZone("CET", 3600))
	vals := sampleValues()
	for i, v := range vals {
		if !ifmt.PrintsComposites && composite(v) {
			continue // -tags nossl: %!v(TYPE), see internal/fmt's TestNosslComposites
		}
		for _, key := range []string{"k", "", "with space", "a=b", "é"} {
			args := []any{key, v}
			want := reference(t, nil, nil, tm, LevelInfo, "m", args)
			if got := ours(nil, nil, tm, LevelInfo, "m", args); got != want {
				t.Errorf("value %d (%T) key %q:\n got %s\nwant %s", i, v, key, got, want)
			}
		}
		if s, ok := v.(string); ok {
			want := reference(t, nil, nil, time.Time{}, LevelWarn, s, nil)
			if got := ours(nil, nil, time.Time{}, LevelWarn, s, nil); got != want {
				t.Errorf("message %q:\n got %s\nwant %s", s, got, want)
			}
		}
	}
	for _, c := range []struct {
		with [][]any
		args []any
	}{
		{nil, []any{"a"}},
		{nil, []any{1, "b", 2, "c"}},
		{nil, []any{"", nil, "k", "v"}},
		{[][]any{{"component", "flashstore"}}, []any{"file", "/data/x.seg", "bytes", 12}},
		{[][]any{{"serial", "w", "device", "/dev/ttyUSB0"}, {"odd"}}, []any{"err", errors.New("x")}},
		{[][]any{{42}, {"k", "v", "dangling"}}, []any{"k", "again"}},
		{[][]any{{"", nil}}, nil},
	} {
		for _, lv := range []Level{LevelDebug, LevelDebug - 1, LevelInfo, 2, LevelWarn, LevelError, LevelError + 5} {
			want := reference(t, nil, c.with, tm, lv, "msg here", c.args)
			if got := ours(nil, c.with, tm, lv, "msg here", c.args); got != want {
				t.Errorf("with %v args %v level %d:\n got %s\nwant %s", c.with, c.args, lv, got, want)
			}
		}
	}
}

// TestReplaceMatchesSlog: Replace acts as slog's ReplaceAttr without
// groups, on the built-in attributes too (logdest drops time and names
// level 2 NOTICE).
func TestReplaceMatchesSlog(t *testing.T) {
	slogRep := func(groups []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey, "drop":
			return slog.Attr{}
		case slog.LevelKey:
			if lv, ok := a.Value.Any().(slog.Level); ok && lv == 2 {
				return slog.String(slog.LevelKey, "NOTICE")
			}
		case "up":
			return slog.String("up", strings.ToUpper(a.Value.String()))
		}
		return a
	}
	ourRep := func(key string, v any) (any, bool) {
		switch key {
		case "time", "drop":
			return nil, false
		case "level":
			if lv, ok := v.(Level); ok && lv == 2 {
				return "NOTICE", true
			}
		case "up":
			return strings.ToUpper(v.(string)), true
		}
		return v, true
	}
	tm := time.Date(2026, 12, 7, 9, 8, 7, 0, time.UTC)
	for _, lv := range []Level{LevelInfo, 2, LevelWarn} {
		with := [][]any{{"drop", 1, "component", "x"}}
		args := []any{"up", "shout", "drop", "me", "time", "user time", "level", Level(2), "n", 3}
		want := reference(t, slogRep, with, tm, lv, "hello there", args)
		if got := ours(ourRep, with, tm, lv, "hello there", args); got != want {
			t.Errorf("level %d:\n got %s\nwant %s", lv, got, want)
		}
	}
}

// TestLevelString: level names as slog's.
func TestLevelString(t *testing.T) {
	for l := Level(-12); l <= 20; l++ {
		if got, want := l.String(), slog.Level(l).String(); got != want {
			t.Errorf("Level(%d) = %q, slog says %q", l, got, want)
		}
	}
}

// TestTextHandlerMatchesSlog: a Logger with a TextHandler writes the lines
// of slog.New(slog.NewTextHandler(...)), time aside, and filters levels
// the same way.
func TestTextHandlerMatchesSlog(t *testing.T) {
	var a, b bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&a, &slog.HandlerOptions{Level: slog.LevelInfo})).With("component", "test")
	tl := New(NewTextHandler(&b, LevelInfo)).With("component", "test")
	for _, lg := range []func(string, ...any){sl.Debug, tl.Debug, sl.Info, tl.Info, sl.Warn, tl.Warn, sl.Error, tl.Error} {
		lg("a message", "n", 1, "err", errors.New("x y"))
	}
	sl.Log(context.Background(), 2, "notice")
	tl.Log(context.Background(), 2, "notice")
	if sl.Enabled(context.Background(), slog.LevelDebug) != tl.Enabled(context.Background(), LevelDebug) {
		t.Error("Enabled differs")
	}
	strip := func(s string) string {
		var out []string
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, " level="); strings.HasPrefix(line, "time=") && i > 0 {
				line = line[i+1:]
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	if strip(a.String()) != strip(b.String()) {
		t.Errorf("lines differ:\n%s\nslog:\n%s", b.String(), a.String())
	}
	if !strings.HasPrefix(b.String(), "time=") || strings.Count(b.String(), "\n") != 4 {
		t.Errorf("want 4 lines with time=:\n%s", b.String())
	}
}

// TestDefaultMatchesSlog: Default writes through package log as
// slog.Default does.
func TestDefaultMatchesSlog(t *testing.T) {
	var buf bytes.Buffer
	flags, out := log.Flags(), log.Writer()
	log.SetFlags(0)
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetFlags(flags); log.SetOutput(out) })
	args := []any{"k", "v w", "n", 2, "odd"}
	slog.Default().Debug("hidden", args...)
	slog.Default().Info("a message", args...)
	slog.Default().With("c", 1).Error("e", args...)
	want := buf.String()
	buf.Reset()
	Default().Debug("hidden", args...)
	Default().Info("a message", args...)
	Default().With("c", 1).Error("e", args...)
	if got := buf.String(); got != want || want == "" {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}

// TestAttrs: Record.Attrs gives the call's own attributes, not With's.
func TestAttrs(t *testing.T) {
	var got []string
	h := &recorder{fn: func(r Record) {
		r.Attrs(func(k string, v any) bool {
			got = append(got, fmt.Sprint(k, "=", v))
			return k != "stop"
		})
	}}
	New(h).With("w", 1).Info("m", "a", 1, 2, "stop", 3, "after", 4)
	if want := "a=1 !BADKEY=2 stop=3"; strings.Join(got, " ") != want {
		t.Errorf("Attrs: %q, want %q", strings.Join(got, " "), want)
	}
}

// recorder is a Handler that calls fn.
type recorder struct{ fn func(Record) }

func (*recorder) Enabled(Level) bool      { return true }
func (h *recorder) Handle(r Record) error { h.fn(r); return nil }

// FuzzAppendText holds AppendText to slog's TextHandler for any key,
// message and string or byte values.
func FuzzAppendText(f *testing.F) {
	for _, v := range sampleValues() {
		if s, ok := v.(string); ok {
			f.Add(s, s, s)
		}
	}
	f.Fuzz(func(t *testing.T, key, msg, val string) {
		args := []any{key, val, "b", []byte(val), val}
		want := reference(t, nil, [][]any{{key, msg}}, time.Time{}, LevelInfo, msg, args)
		if got := ours(nil, [][]any{{key, msg}}, time.Time{}, LevelInfo, msg, args); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
