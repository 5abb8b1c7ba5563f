package serial

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// refParseJSON is parseJSON as it was with encoding/json, the reference
// that the hand-written one must agree with.
func refParseJSON(line []byte, split bool) ([]reading, error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, errJSONLine
	}
	if !split {
		return []reading{{value: line}}, nil
	}
	var out []reading
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, errJSONLine
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errJSONLine
		}
		key, ok := t.(string)
		if !ok {
			return nil, errJSONLine
		}
		if !ValidKey(key) {
			return nil, errJSONKey
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errJSONLine
		}
		var value []byte
		if raw[0] == '"' {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return nil, errJSONLine
			}
			value = []byte(str)
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return nil, errJSONLine
			}
			value = buf.Bytes()
		}
		out = append(out, reading{key: []byte(key), value: value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, errJSONLine
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errJSONLine
	}
	return out, nil
}

// jsonSeeds are lines at the edges of the grammar and of unquoting.
var jsonSeeds = []string{
	`{"temp":22.5,"hum":41}`, ` { "a" : 1 } `, "\t{\"a\":[1,{\"b\":null}]}\r\n", `{}`, `{ }`, `[]`, `[1,2]`, `"s"`, `1`, ``,
	`{"a":1,}`, `{"a" 1}`, `{,"a":1}`, `{"a":1}{"b":2}`, `{"a":1} x`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b":1,}}`,
	`{"n":-0,"m":0.5e+10,"k":1E-3,"j":-12.25e7}`, `{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1e}`, `{"n":+1}`, `{"n":1e+}`,
	`{"b":true,"f":false,"z":null}`, `{"b":tru}`, `{"b":nul}`, `{"b":True}`,
	`{"s":"a\"b\\c\/d\b\f\n\r\t"}`, `{"s":"\u00b0C \u20AC"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\ud83d"}`, `{"s":"\ude00\ud83d"}`,
	`{"s":"\ud83d\u0041"}`, `{"s":"\ud83dx"}`, `{"s":"\uDFFF\uDBFF"}`, `{"s":"\u0000"}`, `{"s":"\x"}`, `{"s":"\u12"}`, `{"s":"\u12G4"}`,
	"{\"s\":\"\xff\xfe\xc3\xa9\xed\xa0\x80\"}", "{\"s\":\"tab\there\"}", "{\"s\":\"\x01\"}", "{\"\xc3\xa9\":1}",
	`{"\u0074emp":1}`, `{"a b":1}`, `{"":1}`, `{"ok":1,"bad/key":2}`, `{"a":1,"a":2}`, `{"o":{ "a" : [1, 2] },"s":" x "}`,
	"{\"a\":1}\v", "\u00a0{\"a\":1}", `{"big":12345678901234567890.10}`, `{"a":"\u00"}`, `{"a":"`, `{"a`, `{`, `}`,
}

// FuzzParseJSON holds the hand-written JSON to encoding/json: jsonValid
// to json.Valid, appendJSONCompact to json.Compact, appendJSONString to
// json.Unmarshal into a string, and parseJSON, with and without split, to
// the encoding/json implementation it replaced (readings and errors).
func FuzzParseJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	for _, tc := range parseCases {
		f.Add([]byte(tc.line))
	}
	whole := newLineParser(Config{Format: FormatJSON})
	split := newLineParser(Config{Format: FormatJSON, JSONSplit: true})
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := jsonValid(b)
		if valid != json.Valid(b) {
			t.Fatalf("jsonValid(%q) = %v, json.Valid says %v", b, valid, !valid)
		}
		if valid {
			var want bytes.Buffer
			if err := json.Compact(&want, b); err != nil {
				t.Fatal(err)
			}
			if got := appendJSONCompact(nil, b); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("appendJSONCompact(%q) = %q, json.Compact gives %q", b, got, want.Bytes())
			}
			if s := bytes.TrimSpace(b); s[0] == '"' {
				var want string
				if err := json.Unmarshal(s, &want); err != nil {
					t.Fatal(err)
				}
				if got := appendJSONString(nil, s); string(got) != want {
					t.Fatalf("appendJSONString(%q) = %q, json.Unmarshal gives %q", s, got, want)
				}
			}
		}
		for _, p := range []*lineParser{whole, split} {
			got, err := p.parse(b)
			want, wantErr := refParseJSON(b, p.split)
			if err != wantErr || len(got) != len(want) {
				t.Fatalf("split %v, line %q: %q, %v; encoding/json gives %q, %v", p.split, b, readingStrings(got), err, readingStrings(want), wantErr)
			}
			for i := range got {
				if !bytes.Equal(got[i].key, want[i].key) || !bytes.Equal(got[i].value, want[i].value) {
					t.Fatalf("split %v, line %q: %q; encoding/json gives %q", p.split, b, readingStrings(got), readingStrings(want))
				}
			}
		}
	})
}

// TestJSONDepth: nesting is limited as in encoding/json, and a deep line
// neither overflows nor is cut short.
func TestJSONDepth(t *testing.T) {
	for _, depth := range []int{jsonMaxDepth - 1, jsonMaxDepth, jsonMaxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closer := map[string]string{"[": "]", `{"a":`: "}"}[open]
			b := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closer, depth))
			if got, want := jsonValid(b), json.Valid(b); got != want {
				t.Errorf("depth %d of %s: jsonValid %v, json.Valid %v", depth, open, got, want)
			}
			empty := []byte(strings.Repeat(open, depth-1) + "[]" + strings.Repeat(closer, depth-1))
			if got, want := jsonValid(empty), json.Valid(empty); got != want {
				t.Errorf("depth %d of %s ending in []: jsonValid %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}
