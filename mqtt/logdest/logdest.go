package logdest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatemq/internal/fmt"
	"gatemq/internal/textlog"
)

// LevelNotice is Mosquitto's notice level, between Info and Warn
// (connections and disconnections, the broker starting and stopping).
const LevelNotice = textlog.Level(2)

// TypeKey is the attribute that puts a record in one of Mosquitto's log
// types that are not levels; its value is "subscribe", "unsubscribe" or
// "websockets".
const TypeKey = "log_type"

// Type is a set of Mosquitto log types (log_type).
type Type uint16

// The log types.
const (
	TypeError Type = 1 << iota
	TypeWarning
	TypeNotice
	TypeInformation
	TypeSubscribe
	TypeUnsubscribe
	TypeWebsockets
	TypeDebug

	// DefaultTypes are Mosquitto's default: error, warning, notice and
	// information.
	DefaultTypes = TypeError | TypeWarning | TypeNotice | TypeInformation
	// AllTypes is log_type all.
	AllTypes = TypeDebug<<1 - 1
)

// typeNames are log_type's names; "internal" is Mosquitto's and accepted
// as debug.
var typeNames = map[string]Type{
	"error": TypeError, "warning": TypeWarning, "notice": TypeNotice, "information": TypeInformation,
	"subscribe": TypeSubscribe, "unsubscribe": TypeUnsubscribe, "websockets": TypeWebsockets,
	"debug": TypeDebug, "internal": TypeDebug, "all": AllTypes, "none": 0,
}

// ParseTypes turns log_type values into a set; none of them gives
// DefaultTypes. "none" clears what came before it, as in Mosquitto.
func ParseTypes(names []string) (Type, error) {
	if len(names) == 0 {
		return DefaultTypes, nil
	}
	var t Type
	for _, n := range names {
		v, ok := typeNames[n]
		if !ok {
			return 0, fmt.Errorf("logdest: unknown log type %q", n)
		}
		if n == "none" {
			t = 0
		}
		t |= v
	}
	return t, nil
}

// Options say where a Logger writes and what.
type Options struct {
	// Dests are log_dest values: "stdout", "stderr", "syslog", "topic",
	// "none" or "file PATH". Empty means stderr (Mosquitto's default);
	// "none" alone means nowhere.
	Dests []string
	// Types are the log types written (see ParseTypes).
	Types Type
	// Timestamp starts each line with time=...; TimestampFormat, when
	// set, is a strftime(3) format for it (else RFC 3339 with
	// milliseconds, slog's).
	Timestamp       bool
	TimestampFormat string
	// Facility is syslog's localN facility (0..7); negative means daemon.
	Facility int
	// Stdout and Stderr are the writers of "stdout" and "stderr"
	// (default os.Stdout and os.Stderr).
	Stdout, Stderr io.Writer
	// SyslogNetwork and SyslogAddress, when set, are where syslog lines
	// go (for tests: a unixgram socket); empty means the local syslog.
	SyslogNetwork, SyslogAddress string
	// Tag is syslog's tag (default "gatemq").
	Tag string
}

// SyslogRetry is how often a syslog that could not be reached is tried
// again while lines are logged.
const SyslogRetry = 10 * time.Second

// SyslogError returns why syslog could not be reached when it was last
// tried, nil when it was (or is not a destination).
func (l *Logger) SyslogError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syslogErr
}

// TopicQueue is how many log lines may wait for the topic destination's
// publisher; more are dropped (a log line must never block the broker).
const TopicQueue = 256

// Logger owns the destinations. Its methods are safe for concurrent use.
type Logger struct {
	opts Options

	mu       sync.Mutex
	buf      []byte // the line being formatted (under mu)
	stdout   io.Writer
	stderr   io.Writer
	filePath string
	file     *os.File
	syslog   *syslogWriter
	// wantSyslog is log_dest syslog; syslogErr is why syslog could not
	// be reached at syslogTried (retried every SyslogRetry).
	wantSyslog  bool
	syslogErr   error
	syslogTried time.Time
	topic       bool
	pub         func(topic string, payload []byte)
	queue       chan topicLine
	done        chan struct{}
}

// topicLine is one line waiting for the publisher.
type topicLine struct {
	topic string
	line  []byte
}

// Open opens the destinations of o: it creates or appends to the log
// file and connects to syslog. An error names the destination.
func Open(o Options) (*Logger, error) {
	l := &Logger{opts: o, stdout: o.Stdout, stderr: o.Stderr}
	if l.stdout == nil {
		l.stdout = os.Stdout
	}
	if l.stderr == nil {
		l.stderr = os.Stderr
	}
	dests := o.Dests
	if len(dests) == 0 {
		dests = []string{"stderr"}
	}
	var use []string
	for _, d := range dests {
		switch {
		case d == "stdout", d == "stderr", d == "none":
			use = append(use, d)
		case d == "topic":
			l.topic = true
		case d == "syslog":
			// As openlog(3), which Mosquitto uses, a syslog that is not
			// there yet is no error: lines are sent once it answers.
			l.wantSyslog = true
			l.syslog, l.syslogErr = l.dialSyslog()
			l.syslogTried = time.Now()
		case strings.HasPrefix(d, "file "):
			l.filePath = strings.TrimSpace(strings.TrimPrefix(d, "file "))
			f, err := openFile(l.filePath)
			if err != nil {
				l.Close()
				return nil, fmt.Errorf("logdest: log_dest file: %w", err)
			}
			l.file = f
		default:
			l.Close()
			return nil, fmt.Errorf("logdest: unknown log_dest %q", d)
		}
	}
	keep := func(name string) bool {
		for _, u := range use {
			if u == name {
				return true
			}
		}
		return false
	}
	if !keep("stdout") {
		l.stdout = nil
	}
	if !keep("stderr") {
		l.stderr = nil
	}
	return l, nil
}

// openFile opens path for appending, creating it (mode 0644 before the
// umask) when missing.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// dialSyslog connects to syslog with the facility of o.
func (l *Logger) dialSyslog() (*syslogWriter, error) {
	fac := sysDaemon
	if l.opts.Facility >= 0 && l.opts.Facility <= 7 {
		fac = sysLocal0 + l.opts.Facility<<3
	}
	tag := l.opts.Tag
	if tag == "" {
		tag = "gatemq"
	}
	if l.opts.SyslogAddress != "" {
		return dialSyslogWriter(l.opts.SyslogNetwork, l.opts.SyslogAddress, fac, tag)
	}
	return dialSyslogWriter("", "", fac, tag)
}

// replaceAttr drops the record's time=... (the Logger writes its own) and
// names LevelNotice.
func replaceAttr(key string, v any) (any, bool) {
	switch key {
	case "time":
		return nil, false
	case "level":
		if lv, ok := v.(textlog.Level); ok && lv == LevelNotice {
			return "NOTICE", true
		}
	}
	return v, true
}

// File returns the log file's path ("" when there is none) and its open
// file, for the caller to give to the user it switches to.
func (l *Logger) File() (string, *os.File) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.filePath, l.file
}

// Reopen closes and reopens the log file (after log rotation moved it).
// When the file cannot be opened, logging to the old one goes on and the
// error is returned.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.filePath == "" {
		return nil
	}
	f, err := openFile(l.filePath)
	if err != nil {
		return fmt.Errorf("logdest: reopening %s: %w", l.filePath, err)
	}
	l.file.Close()
	l.file = f
	return nil
}

// SetPublish starts the topic destination (when log_dest topic is set):
// from now on lines are published through fn, from a goroutine of the
// Logger, on Mosquitto's topics. Lines logged before are not published.
func (l *Logger) SetPublish(fn func(topic string, payload []byte)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.topic || l.pub != nil {
		return
	}
	l.pub = fn
	l.queue = make(chan topicLine, TopicQueue)
	l.done = make(chan struct{})
	go func(q <-chan topicLine, done chan<- struct{}) {
		defer close(done)
		for tl := range q {
			fn(tl.topic, tl.line)
		}
	}(l.queue, l.done)
}

// Close stops the topic publisher and closes the file and syslog.
func (l *Logger) Close() error {
	l.mu.Lock()
	q, done := l.queue, l.done
	l.queue = nil
	l.mu.Unlock()
	if q != nil {
		close(q)
		<-done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if l.file != nil {
		errs = append(errs, l.file.Close())
		l.file = nil
	}
	if l.syslog != nil {
		errs = append(errs, l.syslog.Close())
		l.syslog = nil
	}
	return errors.Join(errs...)
}

// Handler returns the textlog.Handler that writes through l: each record
// as a line of slog's text format (without time=, level NOTICE named),
// after time=... when Options.Timestamp is set.
func (l *Logger) Handler() textlog.Handler { return &handler{l: l} }

// Enabled reports whether records of level (of a level's own type) are
// written; the types that are not levels are decided per record.
func (l *Logger) enabled(t Type) bool { return l.opts.Types&t != 0 }

// levelType is the log type of a record of level lv without TypeKey.
func levelType(lv textlog.Level) Type {
	switch {
	case lv >= textlog.LevelError:
		return TypeError
	case lv >= textlog.LevelWarn:
		return TypeWarning
	case lv >= LevelNotice:
		return TypeNotice
	case lv >= textlog.LevelInfo:
		return TypeInformation
	}
	return TypeDebug
}

// handler is the textlog.Handler of a Logger.
type handler struct {
	l *Logger
}

func (h *handler) Enabled(lv textlog.Level) bool {
	// Subscribe, unsubscribe and websockets lines are logged at Info or
	// Debug; their type decides in Handle.
	return h.l.opts.Types&(levelType(lv)|TypeSubscribe|TypeUnsubscribe|TypeWebsockets) != 0
}

// recordType is the log type of r: its TypeKey attribute, else its level's.
func recordType(r textlog.Record) Type {
	t := levelType(r.Level)
	r.Attrs(func(key string, v any) bool {
		if key != TypeKey {
			return true
		}
		switch fmt.Sprint(v) {
		case "subscribe":
			t = TypeSubscribe
		case "unsubscribe":
			t = TypeUnsubscribe
		case "websockets":
			t = TypeWebsockets
		}
		return false
	})
	return t
}

// topicOf is Mosquitto's $SYS/broker/log topic for a type ("" for debug,
// which is never published).
func topicOf(t Type) string {
	switch t {
	case TypeError:
		return "$SYS/broker/log/E"
	case TypeWarning:
		return "$SYS/broker/log/W"
	case TypeNotice:
		return "$SYS/broker/log/N"
	case TypeInformation:
		return "$SYS/broker/log/I"
	case TypeSubscribe:
		return "$SYS/broker/log/M/subscribe"
	case TypeUnsubscribe:
		return "$SYS/broker/log/M/unsubscribe"
	case TypeWebsockets:
		return "$SYS/broker/log/WS"
	}
	return ""
}

func (h *handler) Handle(r textlog.Record) error {
	l := h.l
	t := recordType(r)
	if !l.enabled(t) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = r.AppendText(l.buf[:0], replaceAttr)
	body := l.buf
	var line []byte
	if l.opts.Timestamp {
		line = append(line, "time="...)
		line = appendTime(line, r.Time, l.opts.TimestampFormat)
		line = append(line, ' ')
	}
	line = append(line, body...)
	line = append(line, '\n')
	var errs []error
	for _, w := range []io.Writer{l.stdout, l.stderr} {
		if w != nil {
			_, err := w.Write(line)
			errs = append(errs, err)
		}
	}
	if l.file != nil {
		_, err := l.file.Write(line)
		errs = append(errs, err)
	}
	if l.wantSyslog && l.syslog == nil && time.Since(l.syslogTried) >= SyslogRetry {
		l.syslog, l.syslogErr = l.dialSyslog()
		l.syslogTried = time.Now()
	}
	if l.syslog != nil {
		errs = append(errs, writeSyslog(l.syslog, r.Level, string(body)))
	}
	if l.queue != nil {
		if tp := topicOf(t); tp != "" {
			select {
			case l.queue <- topicLine{tp, bytes.TrimSuffix(line, []byte("\n"))}:
			default: // the publisher is behind: drop rather than block
			}
		}
	}
	return errors.Join(errs...)
}

// writeSyslog sends msg with the severity of lv.
func writeSyslog(w *syslogWriter, lv textlog.Level, msg string) error {
	switch levelType(lv) {
	case TypeError:
		return w.write(sysErr, msg)
	case TypeWarning:
		return w.write(sysWarning, msg)
	case TypeNotice:
		return w.write(sysNotice, msg)
	case TypeInformation:
		return w.write(sysInfo, msg)
	}
	return w.write(sysDebug, msg)
}

// appendTime appends t as slog did (RFC 3339 with milliseconds), or with
// the strftime format f, quoted when the result has a space.
func appendTime(b []byte, t time.Time, f string) []byte {
	if f == "" {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	s := Strftime(f, t)
	if strings.ContainsAny(s, " \t\"=") {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}
