package packet

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
)

// Byte-building helpers for the case table.

// pk builds a whole packet: first byte, minimal Remaining Length, then the concatenated body parts.
func pk(first byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(appendVarint([]byte{first}, len(body)), body...)
}

// hdr builds a packet whose Remaining Length is given explicitly (for truncated and odd encodings).
func hdr(first byte, remaining []byte, parts ...[]byte) []byte {
	return append(append([]byte{first}, remaining...), bytes.Join(parts, nil)...)
}

// str is a UTF-8 string / binary field: two-byte length and the bytes.
func str(s string) []byte { return appendBinary(nil, []byte(s)) }

// u16 is a Two Byte Integer.
func u16(v uint16) []byte { return appendUint16(nil, v) }

// u32 is a Four Byte Integer.
func u32(v uint32) []byte { return appendUint32(nil, v) }

// vbi is a minimal Variable Byte Integer.
func vbi(v int) []byte { return appendVarint(nil, v) }

// by is raw bytes.
func by(b ...byte) []byte { return b }

// props builds a 5.0 property section: Property Length and the properties.
func props(parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(vbi(len(body)), body...)
}

// bs is shorthand for []byte(s).
func bs(s string) []byte { return []byte(s) }

// equalPacket compares two packets field by field. A nil slice equals an empty one, except for the byte
// slices of Properties: there nil means absent and empty means present with zero length, and Append
// writes the two differently.
func equalPacket(a, b *Packet) bool {
	return equalValue(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), false)
}

var (
	bytesType     = reflect.TypeOf([]byte(nil))
	propsType     = reflect.TypeOf(Properties{})
	userPropsType = reflect.TypeOf(UserProperties{})
	subsType      = reflect.TypeOf(Subscriptions{})
	filtersType   = reflect.TypeOf(TopicFilters{})
)

func equalValue(a, b reflect.Value, inProps bool) bool {
	switch a.Type() {
	case userPropsType:
		return a.Interface().(UserProperties).Equal(b.Interface().(UserProperties))
	case subsType:
		return a.Interface().(Subscriptions).Equal(b.Interface().(Subscriptions))
	case filtersType:
		return a.Interface().(TopicFilters).Equal(b.Interface().(TopicFilters))
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		if a.Type() == bytesType {
			return (!inProps || a.IsNil() == b.IsNil()) && bytes.Equal(a.Bytes(), b.Bytes())
		}
		for i := 0; i < a.Len(); i++ {
			if !equalValue(a.Index(i), b.Index(i), inProps) {
				return false
			}
		}
		return true
	case reflect.Struct:
		inProps = inProps || a.Type() == propsType
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				continue // bookkeeping (Packet.wide), not the packet
			}
			if !equalValue(a.Field(i), b.Field(i), inProps) {
				return false
			}
		}
		return true
	default:
		return a.Equal(b)
	}
}

// dump renders the non-zero fields of a packet readably, byte slices quoted.
func dump(p *Packet) string {
	var sb strings.Builder
	dumpValue(&sb, "", reflect.ValueOf(p).Elem())
	return sb.String()
}

func dumpValue(sb *strings.Builder, path string, v reflect.Value) {
	switch {
	case v.Type() == userPropsType:
		for i, u := range v.Interface().(UserProperties).Slice() {
			fmt.Fprintf(sb, " %s[%d]=%q:%q", path, i, u.Key, u.Value)
		}
	case v.Type() == subsType:
		dumpValue(sb, path, reflect.ValueOf(v.Interface().(Subscriptions).Slice()))
	case v.Type() == filtersType:
		dumpValue(sb, path, reflect.ValueOf(v.Interface().(TopicFilters).Slice()))
	case v.Type() == bytesType:
		if v.Len() > 0 || !v.IsNil() {
			fmt.Fprintf(sb, " %s=%q", path, v.Bytes())
		}
	case v.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			dumpValue(sb, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			name := v.Type().Field(i).Name
			if path != "" {
				name = path + "." + name
			}
			dumpValue(sb, name, v.Field(i))
		}
	default:
		if !v.IsZero() {
			fmt.Fprintf(sb, " %s=%v", path, v.Interface())
		}
	}
}
