package textlog

import (
	"encoding"
	"io"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gatemq/internal/fmt"
)

// Replace, when not nil, is called on each top-level attribute before it
// is written, the built-in time, level and msg too (as slog's
// HandlerOptions.ReplaceAttr, without groups): it returns the value to
// write, and keep false to leave the attribute out.
type Replace func(key string, value any) (v any, keep bool)

// AppendText appends r as slog's TextHandler writes it, without the final
// newline: time=... (when r.Time is not zero) level=... msg=... and the
// attributes, With's first. rep may be nil.
func (r Record) AppendText(dst []byte, rep Replace) []byte {
	start := len(dst)
	if !r.Time.IsZero() {
		dst = appendAttr(dst, start, "time", r.Time.Round(0), rep)
	}
	dst = appendAttr(dst, start, "level", r.Level, rep)
	dst = appendAttr(dst, start, "msg", r.Message, rep)
	return r.appendAttrs(dst, rep)
}

// appendAttrs appends " key=value" for each attribute, With's first.
func (r Record) appendAttrs(dst []byte, rep Replace) []byte {
	for i := 0; i+1 < len(r.with); i += 2 {
		dst = appendAttr(dst, -1, r.with[i].(string), r.with[i+1], rep)
	}
	for args := r.args; len(args) > 0; {
		var k string
		var v any
		k, v, args = nextAttr(args)
		dst = appendAttr(dst, -1, k, v, rep)
	}
	return dst
}

// appendAttr appends key=value, after a space unless dst is still at start.
func appendAttr(dst []byte, start int, key string, v any, rep Replace) []byte {
	if rep != nil {
		var keep bool
		if v, keep = rep(key, v); !keep {
			return dst
		}
	}
	if key == "" && v == nil { // slog's empty Attr
		return dst
	}
	if len(dst) != start {
		dst = append(dst, ' ')
	}
	dst = appendString(dst, key)
	dst = append(dst, '=')
	return appendValue(dst, v)
}

// appendString appends s, quoted with strconv.Quote when slog's text
// handler quotes it.
func appendString(dst []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(dst, s)
	}
	return append(dst, s...)
}

// needsQuoting reports whether slog's text handler quotes s: when it is
// empty or has a space, '=', '"', an ASCII control character but DEL,
// invalid UTF-8 or a rune that is a space or not printable.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b <= ' ' || b == '=' || b == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendValue appends v as slog's text handler does (slog.AnyValue's
// kinds, then TextMarshaler, byte slices and fmt's %+v).
func appendValue(dst []byte, v any) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
				out = appendString(dst, "<nil>")
				return
			}
			out = appendString(dst, fmt.Sprintf("!PANIC: %v", r))
		}
	}()
	switch x := v.(type) {
	case string:
		return appendString(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10)
	case int16:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case uintptr:
		return strconv.AppendUint(dst, uint64(x), 10)
	case float32:
		return strconv.AppendFloat(dst, float64(x), 'g', -1, 64)
	case float64:
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(dst, x)
	case time.Duration:
		return append(dst, x.String()...)
	case time.Time:
		return appendRFC3339Millis(dst, x)
	case Level: // slog.Level is a TextMarshaler
		return appendString(dst, x.String())
	case encoding.TextMarshaler:
		data, err := x.MarshalText()
		if err != nil {
			return appendString(dst, fmt.Sprintf("!ERROR:%v", err))
		}
		return appendString(dst, string(data))
	case []byte:
		return strconv.AppendQuote(dst, string(x))
	}
	if t := reflect.TypeOf(v); t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return strconv.AppendQuote(dst, string(reflect.ValueOf(v).Bytes()))
	}
	return appendString(dst, fmt.Sprintf("%+v", v))
}

// appendRFC3339Millis appends t as slog does: RFC 3339 with exactly three
// digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// TextHandler writes records as slog.NewTextHandler does, one line each.
type TextHandler struct {
	mu    sync.Mutex
	w     io.Writer
	level Level
	buf   []byte
}

// NewTextHandler returns a TextHandler that writes records of level and
// above to w.
func NewTextHandler(w io.Writer, level Level) *TextHandler {
	return &TextHandler{w: w, level: level}
}

// Enabled reports whether level is at least the handler's.
func (h *TextHandler) Enabled(level Level) bool { return level >= h.level }

// Handle writes r with one Write.
func (h *TextHandler) Handle(r Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf = append(r.AppendText(h.buf[:0], nil), '\n')
	_, err := h.w.Write(h.buf)
	return err
}
