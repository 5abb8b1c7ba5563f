package serial

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// The JSON of Home Assistant's discovery messages, without encoding/json:
// json.Marshal is the only user of its encoder (reflection over struct
// tags, its own sorts), which costs more flash than these few fields.
// appendJSONQuote and appendJSONFloat write what json.Marshal writes for
// a string and a float64, and the appendJSON methods of haDevice, haSensor
// and haModbusEntity what it writes for the struct with their json tags;
// TestDiscoveryJSONMatchesMarshal and FuzzAppendJSONQuote hold them to
// encoding/json.

// jsonHex are the digits of a \u00XX escape, lower case as encoding/json's.
const jsonHex = "0123456789abcdef"

// appendJSONQuote appends s as a JSON string, escaped as json.Marshal does:
// '<', '>' and '&' (HTML escaping), U+2028 and U+2029 as \u escapes, each
// byte of invalid UTF-8 as \ufffd.
func appendJSONQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONFloat appends the finite f as json.Marshal writes a float64:
// the shortest decimal that reads back as f, in exponent form (e-7, not
// e-07) below 1e-6 and from 1e21. It returns false for NaN and the
// infinities, which JSON has no number for.
func appendJSONFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// appendJSONField appends ,"key":"value" (without the comma for the first
// field, right after the '{').
func appendJSONField(dst []byte, key, value string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONQuote(dst, value)
}

// appendJSONOmit is appendJSONField for a field tagged omitempty: an empty
// value leaves it out.
func appendJSONOmit(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	return appendJSONField(dst, key, value)
}

// appendJSONNumber appends ,"key":f; ok is false when f is not finite.
func appendJSONNumber(dst []byte, key string, f float64) (_ []byte, ok bool) {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONFloat(dst, f)
}

// appendJSON appends d as json.Marshal does.
func (d *haDevice) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"identifiers":`...)
	if d.Identifiers == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, id := range d.Identifiers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONQuote(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = appendJSONField(dst, "name", d.Name)
	dst = appendJSONField(dst, "manufacturer", d.Manufacturer)
	dst = appendJSONOmit(dst, "model", d.Model)
	return append(dst, '}')
}

// appendJSON appends s as json.Marshal does.
func (s *haSensor) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	dst = appendJSONField(dst, "name", s.Name)
	dst = appendJSONField(dst, "unique_id", s.UniqueID)
	dst = appendJSONField(dst, "object_id", s.ObjectID)
	dst = appendJSONOmit(dst, "state_topic", s.StateTopic)
	dst = appendJSONOmit(dst, "json_attributes_topic", s.JSONAttributes)
	dst = appendJSONOmit(dst, "source_type", s.SourceType)
	dst = appendJSONOmit(dst, "value_template", s.ValueTemplate)
	dst = appendJSONOmit(dst, "availability_topic", s.AvailabilityTopic)
	dst = appendJSONOmit(dst, "payload_available", s.PayloadAvailable)
	dst = appendJSONOmit(dst, "payload_not_available", s.PayloadNotAvail)
	dst = appendJSONOmit(dst, "device_class", s.DeviceClass)
	dst = appendJSONOmit(dst, "unit_of_measurement", s.Unit)
	dst = appendJSONOmit(dst, "state_class", s.StateClass)
	dst = append(dst, `,"device":`...)
	dst = s.Device.appendJSON(dst)
	return append(dst, '}')
}

// appendJSON appends e as json.Marshal does; ok is false when one of its
// numbers is not finite (json.Marshal's error).
func (e *haModbusEntity) appendJSON(dst []byte) (_ []byte, ok bool) {
	dst = append(dst, '{')
	dst = appendJSONField(dst, "name", e.Name)
	dst = appendJSONField(dst, "unique_id", e.UniqueID)
	dst = appendJSONField(dst, "object_id", e.ObjectID)
	dst = appendJSONField(dst, "state_topic", e.StateTopic)
	dst = appendJSONOmit(dst, "command_topic", e.CommandTopic)
	dst = appendJSONOmit(dst, "availability_topic", e.AvailabilityTopic)
	dst = appendJSONOmit(dst, "payload_available", e.PayloadAvailable)
	dst = appendJSONOmit(dst, "payload_not_available", e.PayloadNotAvail)
	dst = appendJSONOmit(dst, "device_class", e.DeviceClass)
	dst = appendJSONOmit(dst, "unit_of_measurement", e.Unit)
	dst = appendJSONOmit(dst, "state_class", e.StateClass)
	ok = true
	if e.Min != nil {
		dst, ok = appendJSONNumber(dst, "min", *e.Min)
	}
	if e.Max != nil && ok {
		dst, ok = appendJSONNumber(dst, "max", *e.Max)
	}
	if e.Step != 0 && ok {
		dst, ok = appendJSONNumber(dst, "step", e.Step)
	}
	if !ok {
		return dst, false
	}
	dst = appendJSONOmit(dst, "mode", e.Mode)
	dst = append(dst, `,"device":`...)
	dst = e.Device.appendJSON(dst)
	return append(dst, '}'), true
}
