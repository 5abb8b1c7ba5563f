//go:build nossl

package fmt

import (
	"reflect"
	"strconv"
	"unicode/utf8"
)

// printsComposites is whether this formatter writes any slice, array,
// map, struct and pointer to them as fmt does: in -tags nossl only the
// slice type below, the one gatemq logs.
const printsComposites = false

// printComposite writes the slices gatemq logs ([]uint16: a modbus
// write's values) as fmt does, and any other slice, array, map or
// struct as %!v(TYPE); pointers it leaves to fmtPointer (0x and the
// address, where fmt writes &{...} for a pointer to a struct).
func (p *state) printComposite(v reflect.Value, verb rune, depth int) bool {
	if v.Kind() == reflect.Pointer {
		return false
	}
	if x, ok := iface(v).([]uint16); ok && verb == 'v' {
		p.buf = append(p.buf, '[')
		for i, e := range x {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			p.buf = strconv.AppendUint(p.buf, uint64(e), 10)
		}
		p.buf = append(p.buf, ']')
		return true
	}
	p.buf = append(p.buf, '%', '!')
	p.buf = utf8.AppendRune(p.buf, verb)
	p.buf = append(p.buf, '(')
	p.buf = append(p.buf, v.Type().String()...)
	p.buf = append(p.buf, ')')
	return true
}
