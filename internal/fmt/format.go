// Package fmt is the part of the standard library's fmt that gatemq uses:
// Errorf, Sprintf, Sprint, Fprintf, Fprint, Fprintln, Printf and Println.
//
// In a normal build these are the standard library's functions. In the
// -tags nossl build they are this package's own formatter (format.go),
// because there fmt would be linked only for gatemq: the standard library
// packages that need it (crypto/tls, crypto/x509) are not in that build,
// and fmt with what it drags in (reflect's printing of any value, fmtsort,
// the sorts it instantiates) costs about 80 KB more of the linux/mipsle
// binary than this formatter.
//
// The own formatter writes what fmt writes for the verbs, flags and
// argument types gatemq passes (TestFormatMatchesFmt holds it to fmt):
// %v %s %q %d %x %X %c %t %f %g %e %w, with width, precision and the
// flags - + # 0 and space, for strings, byte slices, errors, Stringers,
// booleans, integers, floats, and (for %v) slices, arrays, maps, structs
// and pointers to them. Anything else it writes as fmt writes a bad verb.
//
// In -tags nossl the formatter writes a slice, array, map, struct or
// pointer to one as fmt does only for []uint16, the one such type gatemq
// logs (composite_nossl.go; composite.go has fmt's whole walk, which
// needs reflect's code for values and types of every kind: about 30 KB
// of that binary). It writes other composite values as %!v(TYPE) and
// pointers as their address (TestNosslComposites).
package fmt

import (
	"errors"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// PrintsComposites is whether %v writes every slice, array, map, struct
// and pointer to one as fmt does: false in -tags nossl, whose formatter
// writes only the one slice type gatemq logs (composite_nossl.go).
const PrintsComposites = printsComposites

// Stringer is the standard library's fmt.Stringer.
type Stringer interface {
	String() string
}

// state is one formatting: the output, the current verb's flags, width
// and precision, and the errors of %w.
type state struct {
	buf                       []byte
	minus, plus, sharp, space bool
	zero, plusV, sharpV       bool
	wid, prec                 int
	hasWid, hasPrec           bool
	wrapped                   []error
	wrapErrs                  bool
	erroring                  bool // in badVerb: no Error or String
}

// appendf appends format with args formatted as fmt.Sprintf does.
func appendf(dst []byte, format string, args []any, wrapErrs bool) ([]byte, []error) {
	p := state{buf: dst, wrapErrs: wrapErrs}
	argNum := 0
	end := len(format)
	for i := 0; i < end; {
		lasti := i
		for i < end && format[i] != '%' {
			i++
		}
		if i > lasti {
			p.buf = append(p.buf, format[lasti:i]...)
		}
		if i >= end {
			break
		}
		i++ // skip %
		p.minus, p.plus, p.sharp, p.space, p.zero = false, false, false, false, false
		p.hasWid, p.hasPrec, p.wid, p.prec = false, false, 0, 0
	flags:
		for ; i < end; i++ {
			switch format[i] {
			case '#':
				p.sharp = true
			case '0':
				p.zero = true
			case '+':
				p.plus = true
			case '-':
				p.minus = true
			case ' ':
				p.space = true
			default:
				break flags
			}
		}
		for i < end && format[i] >= '0' && format[i] <= '9' {
			p.wid = p.wid*10 + int(format[i]-'0')
			p.hasWid = true
			i++
		}
		if i < end && format[i] == '.' {
			i++
			p.hasPrec = true
			for i < end && format[i] >= '0' && format[i] <= '9' {
				p.prec = p.prec*10 + int(format[i]-'0')
				i++
			}
		}
		if i >= end {
			p.buf = append(p.buf, "%!(NOVERB)"...)
			break
		}
		verb, size := rune(format[i]), 1
		if verb >= utf8.RuneSelf {
			verb, size = utf8.DecodeRuneInString(format[i:])
		}
		i += size
		switch {
		case verb == '%':
			p.buf = append(p.buf, '%')
		case argNum >= len(args):
			p.buf = append(p.buf, '%', '!')
			p.buf = utf8.AppendRune(p.buf, verb)
			p.buf = append(p.buf, "(MISSING)"...)
		default:
			// As fmt: '-' wins over '0', and %v takes + and # as
			// "with field names" and "Go syntax".
			if p.minus {
				p.zero = false
			}
			p.plusV, p.sharpV = false, false
			if verb == 'v' {
				p.plusV, p.plus = p.plus, false
				p.sharpV, p.sharp = p.sharp, false
			}
			p.printArg(args[argNum], verb)
			argNum++
		}
	}
	if argNum < len(args) {
		p.buf = append(p.buf, "%!(EXTRA "...)
		for k, a := range args[argNum:] {
			if k > 0 {
				p.buf = append(p.buf, ", "...)
			}
			if a == nil {
				p.buf = append(p.buf, "<nil>"...)
				continue
			}
			p.buf = append(p.buf, reflect.TypeOf(a).String()...)
			p.buf = append(p.buf, '=')
			p.clearFlags()
			p.printArg(a, 'v')
		}
		p.buf = append(p.buf, ')')
	}
	return p.buf, p.wrapped
}

// appendPrint appends args as fmt.Sprint (ln false) or fmt.Sprintln does.
func appendPrint(dst []byte, args []any, ln bool) []byte {
	p := state{buf: dst}
	prevString := false
	for k, a := range args {
		isString := a != nil && reflect.TypeOf(a).Kind() == reflect.String
		if k > 0 && (ln || !isString && !prevString) {
			p.buf = append(p.buf, ' ')
		}
		p.clearFlags()
		p.printArg(a, 'v')
		prevString = isString
	}
	if ln {
		p.buf = append(p.buf, '\n')
	}
	return p.buf
}

func (p *state) clearFlags() {
	p.minus, p.plus, p.sharp, p.space, p.zero = false, false, false, false, false
	p.plusV, p.sharpV, p.hasWid, p.hasPrec = false, false, false, false
}

// printArg formats one operand.
func (p *state) printArg(a any, verb rune) {
	if a == nil {
		switch verb {
		case 'T', 'v':
			p.pad("<nil>")
		default:
			p.badVerb(verb, nil)
		}
		return
	}
	if verb == 'w' {
		err, ok := a.(error)
		if !ok || !p.wrapErrs {
			p.badVerb(verb, a)
			return
		}
		p.wrapped = append(p.wrapped, err)
		verb = 'v'
	}
	if verb == 'T' {
		p.pad(reflect.TypeOf(a).String())
		return
	}
	if p.handleMethods(a, verb) {
		return
	}
	switch x := a.(type) {
	case bool:
		p.fmtBool(x, verb, a)
	case string:
		p.fmtString(x, verb, a)
	case []byte:
		p.fmtBytes(x, verb, a)
	case float32:
		p.fmtFloat(float64(x), 32, verb, a)
	case float64:
		p.fmtFloat(x, 64, verb, a)
	case int:
		p.fmtInteger(uint64(x), true, verb, a)
	case int8:
		p.fmtInteger(uint64(x), true, verb, a)
	case int16:
		p.fmtInteger(uint64(x), true, verb, a)
	case int32:
		p.fmtInteger(uint64(x), true, verb, a)
	case int64:
		p.fmtInteger(uint64(x), true, verb, a)
	case uint:
		p.fmtInteger(uint64(x), false, verb, a)
	case uint8:
		p.fmtInteger(uint64(x), false, verb, a)
	case uint16:
		p.fmtInteger(uint64(x), false, verb, a)
	case uint32:
		p.fmtInteger(uint64(x), false, verb, a)
	case uint64:
		p.fmtInteger(x, false, verb, a)
	case uintptr:
		p.fmtInteger(uint64(x), false, verb, a)
	default:
		p.printValue(reflect.ValueOf(a), verb, 0)
	}
}

// handleMethods writes a's Error or String for the verbs that use them
// (as fmt: %v %s %q %x %X, not %d) and reports whether it did.
func (p *state) handleMethods(a any, verb rune) bool {
	if p.sharpV || p.erroring {
		return false
	}
	switch verb {
	case 'v', 's', 'x', 'X', 'q':
	default:
		return false
	}
	switch v := a.(type) {
	case error:
		p.fmtString(p.call(func() string { return v.Error() }, a), verb, a)
		return true
	case Stringer:
		p.fmtString(p.call(func() string { return v.String() }, a), verb, a)
		return true
	}
	return false
}

// call calls f, writing a nil pointer's panic as fmt does ("<nil>").
func (p *state) call(f func() string, a any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.IsNil() {
				s = "<nil>"
				return
			}
			panic(r)
		}
	}()
	return f()
}

// badVerb writes %!verb(type=value), as fmt does for a verb that does not
// suit the operand.
func (p *state) badVerb(verb rune, a any) {
	p.buf = append(p.buf, '%', '!')
	p.buf = utf8.AppendRune(p.buf, verb)
	p.buf = append(p.buf, '(')
	if a == nil {
		p.buf = append(p.buf, "<nil>"...)
	} else {
		p.buf = append(p.buf, reflect.TypeOf(a).String()...)
		p.buf = append(p.buf, '=')
		p.clearFlags()
		p.erroring = true
		p.printArg(a, 'v')
		p.erroring = false
	}
	p.buf = append(p.buf, ')')
}

// pad appends s padded to the width with spaces (zeros with the 0 flag),
// on the left or, with -, on the right.
func (p *state) pad(s string) {
	n := 0
	if p.hasWid {
		n = p.wid - utf8.RuneCountInString(s)
	}
	if n <= 0 {
		p.buf = append(p.buf, s...)
		return
	}
	if p.minus {
		p.buf = append(p.buf, s...)
		p.buf = appendRepeat(p.buf, ' ', n)
		return
	}
	c := byte(' ')
	if p.zero {
		c = '0'
	}
	p.buf = appendRepeat(p.buf, c, n)
	p.buf = append(p.buf, s...)
}

func appendRepeat(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

func (p *state) fmtBool(v bool, verb rune, a any) {
	if verb != 't' && verb != 'v' {
		p.badVerb(verb, a)
		return
	}
	p.pad(strconv.FormatBool(v))
}

// fmtString formats a string for %v %s %q %x %X.
func (p *state) fmtString(s string, verb rune, a any) {
	switch verb {
	case 'v':
		if p.sharpV {
			p.pad(strconv.Quote(s))
			return
		}
		fallthrough
	case 's':
		if p.hasPrec {
			s = truncate(s, p.prec)
		}
		p.pad(s)
	case 'q':
		if p.hasPrec {
			s = truncate(s, p.prec)
		}
		switch {
		case p.sharp && strconv.CanBackquote(s):
			p.pad("`" + s + "`")
		case p.plus:
			p.pad(strconv.QuoteToASCII(s))
		default:
			p.pad(strconv.Quote(s))
		}
	case 'x', 'X':
		p.fmtHex(s, verb == 'X')
	default:
		p.badVerb(verb, a)
	}
}

// truncate cuts s to n runes.
func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// fmtHex writes s as hexadecimal digits (%x, %X; # adds 0x, space puts
// one between bytes).
func (p *state) fmtHex(s string, upper bool) {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if p.space && i > 0 {
			b = append(b, ' ')
		}
		if p.sharp && (p.space || i == 0) {
			b = append(b, '0', byte(digits[10]+'x'-'a'))
		}
		b = append(b, digits[s[i]>>4], digits[s[i]&0xf])
	}
	p.pad(string(b))
}

func (p *state) fmtBytes(v []byte, verb rune, a any) {
	switch verb {
	case 'v', 'd':
		if p.sharpV {
			p.printValue(reflect.ValueOf(a), verb, 0)
			return
		}
		b := []byte{'['}
		for i, c := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(c), 10)
		}
		p.pad(string(append(b, ']')))
	case 's', 'q', 'x', 'X':
		p.fmtString(string(v), verb, a)
	default:
		p.printValue(reflect.ValueOf(a), verb, 0)
	}
}

// fmtInteger formats an integer (negative if signed and the top bit is
// set) for %v %d %x %X %c %q.
func (p *state) fmtInteger(u uint64, signed bool, verb rune, a any) {
	neg := signed && int64(u) < 0
	if neg {
		u = -u
	}
	var digits []byte
	switch verb {
	case 'v', 'd':
		digits = strconv.AppendUint(nil, u, 10)
	case 'x':
		digits = strconv.AppendUint(nil, u, 16)
	case 'X':
		digits = []byte(toUpper(strconv.FormatUint(u, 16)))
	case 'c':
		p.pad(string(rune(u)))
		return
	case 'q':
		p.pad(strconv.QuoteRune(rune(u)))
		return
	default:
		p.badVerb(verb, a)
		return
	}
	if p.hasPrec {
		for len(digits) < p.prec {
			digits = append([]byte{'0'}, digits...)
		}
		if p.prec == 0 && u == 0 {
			digits = digits[:0]
		}
	}
	var prefix []byte
	switch {
	case neg:
		prefix = append(prefix, '-')
	case p.plus:
		prefix = append(prefix, '+')
	case p.space:
		prefix = append(prefix, ' ')
	}
	if p.zero && p.hasWid && !p.hasPrec {
		// As fmt: zeros to the width, less the sign (not the 0x).
		for len(prefix)+len(digits) < p.wid {
			digits = append([]byte{'0'}, digits...)
		}
	}
	if p.sharp && (verb == 'x' || verb == 'X') {
		prefix = append(prefix, '0', byte(verb))
	}
	zero := p.zero
	p.zero = false
	p.pad(string(prefix) + string(digits))
	p.zero = zero
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// fmtFloat formats a float for %v %g %f %e (%v is the shortest %g).
func (p *state) fmtFloat(v float64, size int, verb rune, a any) {
	prec := -1
	if p.hasPrec {
		prec = p.prec
	}
	switch verb {
	case 'v':
		verb = 'g'
	case 'f', 'F', 'e', 'E':
		if !p.hasPrec {
			prec = 6
		}
	case 'g', 'G':
	default:
		p.badVerb(verb, a)
		return
	}
	num := strconv.AppendFloat(nil, v, byte(verb), prec, size)
	if num[0] != '-' && num[0] != '+' {
		num = append([]byte{'+'}, num...)
	}
	if p.space && num[0] == '+' && !p.plus {
		num[0] = ' '
	}
	if num[1] == 'I' || num[1] == 'N' { // Inf, NaN: no zero padding
		if num[1] == 'N' && !p.space && !p.plus {
			num = num[1:]
		}
		zero := p.zero
		p.zero = false
		p.pad(string(num)) // as fmt, +Inf keeps its sign
		p.zero = zero
		return
	}
	if !p.plus && !p.space && num[0] == '+' {
		num = num[1:]
	}
	if p.zero && p.hasWid && p.wid > len(num) {
		sign := 0
		if num[0] == '-' || num[0] == '+' || num[0] == ' ' {
			sign = 1
		}
		z := make([]byte, 0, p.wid)
		z = append(z, num[:sign]...)
		z = appendRepeat(z, '0', p.wid-len(num))
		num = append(z, num[sign:]...)
	}
	p.pad(string(num))
}

// printValue formats what the type switch of printArg did not: named
// basic types (by their kind) and, for %v, composite values as fmt does.
func (p *state) printValue(v reflect.Value, verb rune, depth int) {
	if depth > 0 && v.IsValid() && v.CanInterface() {
		if p.handleMethods(v.Interface(), verb) {
			return
		}
	}
	switch v.Kind() {
	case reflect.Invalid:
		if depth == 0 {
			p.buf = append(p.buf, "<invalid reflect.Value>"...)
		} else if verb == 'v' {
			p.buf = append(p.buf, "<nil>"...)
		} else {
			p.badVerb(verb, nil)
		}
	case reflect.Bool:
		p.fmtBool(v.Bool(), verb, iface(v))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.fmtInteger(uint64(v.Int()), true, verb, iface(v))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.fmtInteger(v.Uint(), false, verb, iface(v))
	case reflect.Float32:
		p.fmtFloat(v.Float(), 32, verb, iface(v))
	case reflect.Float64:
		p.fmtFloat(v.Float(), 64, verb, iface(v))
	case reflect.String:
		p.fmtString(v.String(), verb, iface(v))
	case reflect.Pointer, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		if v.Kind() != reflect.Pointer || !p.printComposite(v, verb, depth) {
			p.fmtPointer(v, verb)
		}
	default:
		if !p.printComposite(v, verb, depth) {
			p.badVerb(verb, iface(v))
		}
	}
}

// iface is v's value, or nil where reflect does not let it out (an
// unexported field), for the %!verb(type=value) of a bad verb.
func iface(v reflect.Value) any {
	if v.IsValid() && v.CanInterface() {
		return v.Interface()
	}
	return nil
}

// fmtPointer writes a pointer as 0x and its address (<nil> for nil at %v).
func (p *state) fmtPointer(v reflect.Value, verb rune) {
	if verb != 'v' {
		p.badVerb(verb, iface(v))
		return
	}
	u := v.Pointer()
	if u == 0 {
		p.buf = append(p.buf, "<nil>"...)
		return
	}
	p.buf = append(p.buf, "0x"...)
	p.buf = strconv.AppendUint(p.buf, uint64(u), 16)
}

// wrapError is the error of an Errorf with one %w.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// wrapErrors is the error of an Errorf with several %w.
type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

// errorf is Errorf of the own formatter.
func errorf(format string, a []any) error {
	b, wrapped := appendf(nil, format, a, true)
	switch len(wrapped) {
	case 0:
		return errors.New(string(b))
	case 1:
		return &wrapError{string(b), wrapped[0]}
	}
	return &wrapErrors{string(b), wrapped}
}
