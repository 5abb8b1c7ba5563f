package serial

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON of json lines, without encoding/json: whose decoder (reflection,
// Unmarshaler methods kept alive in every type) cost more flash than all of
// this. jsonValid accepts what json.Valid accepts, jsonMembers splits an
// object the way json.Decoder tokens do, and appendJSONString and
// appendJSONCompact give what json.Unmarshal into a string and
// json.Compact give; FuzzParseJSON holds them to encoding/json.

// jsonMaxDepth is encoding/json's limit on nested arrays and objects.
const jsonMaxDepth = 10000

// isJSONSpace reports whether c is JSON whitespace.
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipJSONSpace returns the index of the first byte at or after i that is
// not JSON whitespace.
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// jsonValid reports whether b is exactly one JSON value, with whitespace
// around it allowed (as json.Valid: strings may hold any bytes but control
// characters, invalid UTF-8 included; at most jsonMaxDepth levels).
func jsonValid(b []byte) bool {
	var stack []byte // the open '{' and '['
	i := skipJSONSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		ok := true
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= jsonMaxDepth {
				return false
			}
			i = skipJSONSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' or ']', empty
				i++
				break
			}
			stack = append(stack, c)
			if c == '{' {
				if i, ok = jsonKey(b, i); !ok {
					return false
				}
			}
			continue
		case '"':
			i, ok = jsonStringEnd(b, i)
		case 't':
			i, ok = jsonLiteral(b, i, "true")
		case 'f':
			i, ok = jsonLiteral(b, i, "false")
		case 'n':
			i, ok = jsonLiteral(b, i, "null")
		default:
			i, ok = jsonNumberEnd(b, i)
		}
		if !ok {
			return false
		}
		// After a value: a separator, the end of containers, or the end.
		for {
			i = skipJSONSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = skipJSONSpace(b, i+1)
			if top == '{' {
				if i, ok = jsonKey(b, i); !ok {
					return false
				}
			}
			break
		}
	}
}

// jsonKey reads `"key" :` and the whitespace after it from i, and returns
// where the member's value starts.
func jsonKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := jsonStringEnd(b, i)
	if !ok {
		return i, false
	}
	i = skipJSONSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipJSONSpace(b, i+1), true
}

// jsonStringEnd returns the index after the string that starts with the
// quote at b[i].
func jsonStringEnd(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if jsonHex4(b[i+2:]) < 0 {
					return i, false
				}
				i += 5
			default:
				return i, false
			}
		}
	}
	return i, false
}

// jsonHex4 returns the value of the 4 hex digits that start b, or -1.
func jsonHex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// jsonLiteral returns the index after lit, which must start at b[i].
func jsonLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// jsonNumberEnd returns the index after the number that starts at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumberEnd(b []byte, i int) (int, bool) {
	digits := func() bool {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		digits()
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}

// jsonValueEnd returns the index after the value that starts at b[i] of a
// valid JSON text.
func jsonValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		i, _ = jsonStringEnd(b, i)
		return i
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i, _ = jsonStringEnd(b, i)
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && !isJSONSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}

// jsonMembers calls fn with the key (still quoted and escaped) and the
// value (as written) of each member of the object obj, a valid JSON text
// that is an object, in order; it stops early when fn returns false.
func jsonMembers(obj []byte, fn func(key, value []byte) bool) {
	i := skipJSONSpace(obj, 0) + 1 // after '{'
	for {
		i = skipJSONSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return
		}
		if obj[i] == ',' {
			i = skipJSONSpace(obj, i+1)
		}
		k0 := i
		k1, _ := jsonStringEnd(obj, i)
		v0, _ := jsonKey(obj, k0)
		v1 := jsonValueEnd(obj, v0)
		if !fn(obj[k0:k1], obj[v0:v1]) {
			return
		}
		i = v1
	}
}

// appendJSONString appends the text of the valid JSON string s (quotes
// included) to dst, as json.Unmarshal decodes it: escapes resolved, a
// \u surrogate without its pair and every byte of invalid UTF-8 replaced
// by U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := jsonHex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = jsonHex4(s[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// appendJSONCompact appends the valid JSON value v to dst without the
// whitespace outside its strings, as json.Compact does.
func appendJSONCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			end, _ := jsonStringEnd(v, i)
			dst = append(dst, v[i:end]...)
			i = end
		case isJSONSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}
