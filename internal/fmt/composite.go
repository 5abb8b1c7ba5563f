//go:build !nossl

package fmt

import "reflect"

// printsComposites is whether this formatter writes any slice, array,
// map, struct and pointer to them as fmt does (see composite_nossl.go).
const printsComposites = true

// printComposite writes v, an interface, slice, array, map, struct or
// pointer, as fmt does, and reports whether it did (false: another
// kind, or a pointer not to be followed).
func (p *state) printComposite(v reflect.Value, verb rune, depth int) bool {
	switch v.Kind() {
	case reflect.Interface:
		if e := v.Elem(); e.IsValid() {
			p.printValue(e, verb, depth+1)
		} else {
			p.buf = append(p.buf, "<nil>"...)
		}
	case reflect.Slice, reflect.Array:
		if verb != 'v' {
			p.badVerb(verb, iface(v))
			return true
		}
		p.buf = append(p.buf, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			p.printValue(v.Index(i), verb, depth+1)
		}
		p.buf = append(p.buf, ']')
	case reflect.Map:
		if verb != 'v' {
			p.badVerb(verb, iface(v))
			return true
		}
		p.buf = append(p.buf, "map["...)
		keys := v.MapKeys()
		sortKeys(keys)
		for i, k := range keys {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			p.printValue(k, verb, depth+1)
			p.buf = append(p.buf, ':')
			p.printValue(v.MapIndex(k), verb, depth+1)
		}
		p.buf = append(p.buf, ']')
	case reflect.Struct:
		if verb != 'v' {
			p.badVerb(verb, iface(v))
			return true
		}
		p.buf = append(p.buf, '{')
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			if p.plusV {
				p.buf = append(p.buf, t.Field(i).Name...)
				p.buf = append(p.buf, ':')
			}
			p.printValue(v.Field(i), verb, depth+1)
		}
		p.buf = append(p.buf, '}')
	case reflect.Pointer:
		if depth == 0 && !v.IsNil() {
			switch e := v.Elem(); e.Kind() {
			case reflect.Array, reflect.Slice, reflect.Struct, reflect.Map:
				p.buf = append(p.buf, '&')
				p.printValue(e, verb, depth+1)
				return true
			}
		}
		return false
	default:
		return false
	}
	return true
}

// sortKeys orders map keys as fmt does for the kinds it compares:
// numbers by value, strings and the rest by their text.
func sortKeys(keys []reflect.Value) {
	less := func(a, b reflect.Value) bool {
		switch a.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return a.Int() < b.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return a.Uint() < b.Uint()
		case reflect.Float32, reflect.Float64:
			return a.Float() < b.Float()
		case reflect.String:
			return a.String() < b.String()
		case reflect.Bool:
			return !a.Bool() && b.Bool()
		}
		return false
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}
