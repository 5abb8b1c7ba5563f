// Package textlog is gatemq's structured logger: the part of log/slog that
// gatemq uses, with the lines of slog's TextHandler byte for byte.
//
// Linking log/slog at all links encoding/json (its default handler can
// write JSON, and its init installs that handler), about 200 KB of a
// router's flash for a format gatemq never writes. A Logger has the
// methods of *slog.Logger that gatemq calls, with the same signatures, so
// call sites read the same:
//
//	log := textlog.New(textlog.NewTextHandler(os.Stderr, textlog.LevelInfo))
//	log = log.With("component", "flashstore")
//	log.Warn("flashstore: truncating torn tail", "file", path, "bytes", n)
//	// time=2026-12-07T10:00:00.000+01:00 level=WARN msg="flashstore: truncating torn tail" component=flashstore file=... bytes=12
//
// Arguments are key-value pairs as slog takes them ("!BADKEY" for a value
// without a key); values are formatted as slog's TextHandler does. Groups,
// slog.Attr arguments and LogValuer are not supported: gatemq uses none.
package textlog

import (
	"context"
	"log"
	"strconv"
	"time"
)

// Level is a record's importance; the levels and their names are slog's.
type Level int

// The levels, with slog's values.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// String names l as slog.Level.String does: DEBUG, INFO, WARN or ERROR,
// followed by the offset from it when there is one ("INFO+2").
func (l Level) String() string {
	name, base := "ERROR", LevelError
	switch {
	case l < LevelInfo:
		name, base = "DEBUG", LevelDebug
	case l < LevelWarn:
		name, base = "INFO", LevelInfo
	case l < LevelError:
		name, base = "WARN", LevelWarn
	}
	if l == base {
		return name
	}
	if l > base {
		return name + "+" + strconv.Itoa(int(l-base))
	}
	return name + strconv.Itoa(int(l-base))
}

// A Handler writes a Logger's records. Its methods may be called
// concurrently.
type Handler interface {
	// Enabled reports whether records of level are wanted; a Logger
	// builds no Record otherwise.
	Enabled(level Level) bool
	// Handle writes r. The Record is only valid during the call.
	Handle(r Record) error
}

// Record is one log event.
type Record struct {
	// Time is when the event was logged.
	Time time.Time
	// Level is the event's level.
	Level Level
	// Message is the log message.
	Message string
	// with are the key-value pairs of the Logger's With calls (complete
	// pairs); args are the call's own arguments, as given.
	with, args []any
}

// NewRecord returns a record of the key-value arguments args, as a Logger
// makes it (for tests of a Handler).
func NewRecord(t time.Time, level Level, msg string, args ...any) Record {
	return Record{Time: t, Level: level, Message: msg, args: args}
}

// badKey is slog's key for an argument where a key was expected.
const badKey = "!BADKEY"

// nextAttr splits the first attribute off args as slog does: a string key
// and its value, or a lone value under badKey.
func nextAttr(args []any) (key string, value any, rest []any) {
	if k, ok := args[0].(string); ok {
		if len(args) == 1 {
			return badKey, k, nil
		}
		return k, args[1], args[2:]
	}
	return badKey, args[0], args[1:]
}

// Attrs calls f on each attribute of the log call that made r (not those
// of With), in order, until f returns false.
func (r Record) Attrs(f func(key string, value any) bool) {
	for args := r.args; len(args) > 0; {
		var k string
		var v any
		k, v, args = nextAttr(args)
		if !f(k, v) {
			return
		}
	}
}

// Logger writes records through a Handler. Its methods are safe for
// concurrent use.
type Logger struct {
	h    Handler
	with []any // key-value pairs, complete
}

// New returns a Logger that writes through h, which must not be nil.
func New(h Handler) *Logger {
	if h == nil {
		panic("textlog: nil Handler")
	}
	return &Logger{h: h}
}

// Handler returns l's Handler.
func (l *Logger) Handler() Handler { return l.h }

// With returns a Logger that adds the key-value pairs args to each record,
// after the message and before the call's own attributes.
func (l *Logger) With(args ...any) *Logger {
	if len(args) == 0 {
		return l
	}
	c := &Logger{h: l.h, with: l.with[:len(l.with):len(l.with)]}
	for len(args) > 0 {
		var k string
		var v any
		k, v, args = nextAttr(args)
		c.with = append(c.with, k, v)
	}
	return c
}

// Enabled reports whether l writes records of level.
func (l *Logger) Enabled(_ context.Context, level Level) bool { return l.h.Enabled(level) }

// Log writes a record of level with the key-value pairs args.
func (l *Logger) Log(_ context.Context, level Level, msg string, args ...any) {
	l.log(level, msg, args)
}

// Debug logs at LevelDebug.
func (l *Logger) Debug(msg string, args ...any) { l.log(LevelDebug, msg, args) }

// Info logs at LevelInfo.
func (l *Logger) Info(msg string, args ...any) { l.log(LevelInfo, msg, args) }

// Warn logs at LevelWarn.
func (l *Logger) Warn(msg string, args ...any) { l.log(LevelWarn, msg, args) }

// Error logs at LevelError.
func (l *Logger) Error(msg string, args ...any) { l.log(LevelError, msg, args) }

func (l *Logger) log(level Level, msg string, args []any) {
	if !l.h.Enabled(level) {
		return
	}
	_ = l.h.Handle(Record{Time: time.Now(), Level: level, Message: msg, with: l.with, args: args})
}

// DiscardHandler writes nothing; Enabled is false for every level.
type DiscardHandler struct{}

// Enabled returns false.
func (DiscardHandler) Enabled(Level) bool { return false }

// Handle does nothing.
func (DiscardHandler) Handle(Record) error { return nil }

// StdHandler writes through the standard library's log package, as
// slog.Default's handler does before slog.SetDefault: "LEVEL message
// key=value ...", after log's date and time, for LevelInfo and above.
type StdHandler struct{}

// Enabled reports whether level is LevelInfo or above.
func (StdHandler) Enabled(level Level) bool { return level >= LevelInfo }

// Handle writes r with log.Output.
func (StdHandler) Handle(r Record) error {
	b := append([]byte(r.Level.String()), ' ')
	b = append(b, r.Message...)
	b = r.appendAttrs(b, nil)
	return log.Output(3, string(b))
}

// Default returns the Logger of slog.Default: a StdHandler.
func Default() *Logger { return New(StdHandler{}) }
