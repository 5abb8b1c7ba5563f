package serial

import (
	"bytes"
)

// reading is one value of a parsed line. key is nil for a whole-line
// reading (raw, or JSON without split), which goes to BASE. Both slices
// point into the line or into the parser's scratch buffer and are valid
// until the next parse.
type reading struct {
	key, value []byte
}

// Errors of the line parsers (counted as parse errors by the bridge).
var (
	errKVToken   error = constError("serial: kv token is not key=value")
	errKVKey     error = constError("serial: kv key must be letters, digits, '_', '-' or '.'")
	errKVEmpty   error = constError("serial: kv line has no key=value token")
	errJSONLine  error = constError("serial: line is not one JSON object")
	errJSONKey   error = constError("serial: JSON key must be letters, digits, '_', '-' or '.'")
	errCSVFields error = constError("serial: csv line has a different number of values than serial_fields")
)

// lineParser turns a line into readings. It reuses its buffers, so one
// parser serves one goroutine.
type lineParser struct {
	format  Format
	split   bool     // JSON: one reading per field
	fields  [][]byte // CSV column names; "-" skips
	out     []reading
	scratch []byte // JSON values
}

func newLineParser(c Config) *lineParser {
	p := &lineParser{format: c.Format, split: c.JSONSplit}
	for _, f := range c.Fields {
		p.fields = append(p.fields, []byte(f))
	}
	return p
}

// parse returns the readings of line, in line order. The result and the
// slices in it are valid until the next call. A line that does not parse
// as a whole gives an error and no reading.
func (p *lineParser) parse(line []byte) ([]reading, error) {
	p.out = p.out[:0]
	var err error
	switch p.format {
	case FormatKV:
		err = p.parseKV(line)
	case FormatJSON:
		err = p.parseJSON(line)
	case FormatCSV:
		err = p.parseCSV(line)
	default:
		p.out = append(p.out, reading{value: line})
	}
	if err != nil {
		p.out = p.out[:0]
		return nil, err
	}
	return p.out, nil
}

func isKVSep(c byte) bool { return c == ' ' || c == '\t' || c == ',' || c == ';' }

// parseKV reads `key=value` or `key:value` tokens separated by spaces,
// tabs, commas or semicolons.
func (p *lineParser) parseKV(line []byte) error {
	for i := 0; i < len(line); {
		if isKVSep(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && !isKVSep(line[j]) {
			j++
		}
		tok := line[i:j]
		i = j
		k := bytes.IndexAny(tok, "=:")
		if k <= 0 || k == len(tok)-1 {
			return errKVToken
		}
		if !validKeyBytes(tok[:k]) {
			return errKVKey
		}
		p.out = append(p.out, reading{key: tok[:k], value: tok[k+1:]})
	}
	if len(p.out) == 0 {
		return errKVEmpty
	}
	return nil
}

// parseCSV splits at commas, trims spaces and tabs around each value, and
// skips empty values and columns named "-".
func (p *lineParser) parseCSV(line []byte) error {
	n := 0
	for rest := line; ; n++ {
		i := bytes.IndexByte(rest, ',')
		v := rest
		if i >= 0 {
			v = rest[:i]
		}
		if n >= len(p.fields) {
			return errCSVFields
		}
		v = bytes.Trim(v, " \t")
		if len(v) > 0 && string(p.fields[n]) != "-" {
			p.out = append(p.out, reading{key: p.fields[n], value: v})
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if n+1 != len(p.fields) {
		return errCSVFields
	}
	return nil
}

// parseJSON checks that line is exactly one JSON object. Without split the
// whole line is one reading; with split each top-level field is one (a
// string without its quotes, any other value as compact JSON).
func (p *lineParser) parseJSON(line []byte) error {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' || !jsonValid(trimmed) {
		return errJSONLine
	}
	if !p.split {
		p.out = append(p.out, reading{value: line})
		return nil
	}
	// Keys and values go to scratch first (slices into it would move while
	// it grows), then become readings.
	p.scratch = p.scratch[:0]
	type span struct{ k0, k1, v0, v1 int }
	var spans [16]span
	sp := spans[:0]
	var err error
	jsonMembers(trimmed, func(key, value []byte) bool {
		s := span{k0: len(p.scratch)}
		p.scratch = appendJSONString(p.scratch, key)
		s.k1 = len(p.scratch)
		if !validKeyBytes(p.scratch[s.k0:s.k1]) {
			err = errJSONKey
			return false
		}
		s.v0 = s.k1
		if value[0] == '"' {
			p.scratch = appendJSONString(p.scratch, value)
		} else {
			p.scratch = appendJSONCompact(p.scratch, value)
		}
		s.v1 = len(p.scratch)
		sp = append(sp, s)
		return true
	})
	if err != nil {
		return err
	}
	for _, s := range sp {
		p.out = append(p.out, reading{key: p.scratch[s.k0:s.k1], value: p.scratch[s.v0:s.v1]})
	}
	return nil
}
