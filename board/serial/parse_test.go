package serial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// parseCase is one row of the parser table; it also seeds the fuzz target.
type parseCase struct {
	name   string
	format Format
	split  bool
	fields []string
	line   string
	want   []string // "key=value", or "=value" for a whole-line reading
	err    error
}

var parseCases = []parseCase{
	{"kv issue example", FormatKV, false, nil, "temp=22.5 hum=41", []string{"temp=22.5", "hum=41"}, nil},
	{"kv colon", FormatKV, false, nil, "temp:22.5", []string{"temp=22.5"}, nil},
	{"kv commas and semicolons", FormatKV, false, nil, "a=1,b=2;c=3\td=4", []string{"a=1", "b=2", "c=3", "d=4"}, nil},
	{"kv extra separators", FormatKV, false, nil, "  a=1 ,, b=2  ", []string{"a=1", "b=2"}, nil},
	{"kv value with = and :", FormatKV, false, nil, "t=12:30 x=a=b", []string{"t=12:30", "x=a=b"}, nil},
	{"kv string value", FormatKV, false, nil, "door=open", []string{"door=open"}, nil},
	{"kv key chars", FormatKV, false, nil, "Temp_1.avg-x=3", []string{"Temp_1.avg-x=3"}, nil},
	{"kv unicode value", FormatKV, false, nil, "unit=°C", []string{"unit=°C"}, nil},
	{"kv bare word", FormatKV, false, nil, "temp=1 hello", nil, errKVToken},
	{"kv empty value", FormatKV, false, nil, "temp= hum=41", nil, errKVToken},
	{"kv empty key", FormatKV, false, nil, "=5", nil, errKVToken},
	{"kv slash in key", FormatKV, false, nil, "a/b=1", nil, errKVKey},
	{"kv wildcard in key", FormatKV, false, nil, "a+=1", nil, errKVKey},
	{"kv only separators", FormatKV, false, nil, " , ", nil, errKVEmpty},

	{"json whole", FormatJSON, false, nil, `{"temp":22.5,"hum":41}`, []string{`={"temp":22.5,"hum":41}`}, nil},
	{"json whole keeps spaces", FormatJSON, false, nil, ` { "a" : 1 } `, []string{`= { "a" : 1 } `}, nil},
	{"json split", FormatJSON, true, nil, `{"temp":22.5,"hum":41}`, []string{"temp=22.5", "hum=41"}, nil},
	{"json split types", FormatJSON, true, nil, `{"s":"on \"x\"","n":-1e3,"b":true,"z":null,"o":{ "a" : [1, 2] }}`,
		[]string{`s=on "x"`, "n=-1e3", "b=true", "z=null", `o={"a":[1,2]}`}, nil},
	{"json split unicode escape", FormatJSON, true, nil, `{"u":"\u00b0C"}`, []string{"u=°C"}, nil},
	{"json split keeps number text", FormatJSON, true, nil, `{"big":12345678901234567890.10}`, []string{"big=12345678901234567890.10"}, nil},
	{"json split empty object", FormatJSON, true, nil, `{}`, nil, nil},
	{"json split bad key", FormatJSON, true, nil, `{"a b":1}`, nil, errJSONKey},
	{"json array", FormatJSON, false, nil, `[1,2]`, nil, errJSONLine},
	{"json two objects", FormatJSON, true, nil, `{"a":1}{"b":2}`, nil, errJSONLine},
	{"json two objects whole", FormatJSON, false, nil, `{"a":1}{"b":2}`, nil, errJSONLine},
	{"json truncated", FormatJSON, true, nil, `{"a":1`, nil, errJSONLine},
	{"json not json", FormatJSON, false, nil, `temp=1`, nil, errJSONLine},

	{"raw", FormatRaw, false, nil, "anything at all: {x}", []string{"=anything at all: {x}"}, nil},

	{"csv", FormatCSV, false, []string{"temp", "hum"}, "22.5,41", []string{"temp=22.5", "hum=41"}, nil},
	{"csv spaces", FormatCSV, false, []string{"temp", "hum"}, " 22.5 ,\t41 ", []string{"temp=22.5", "hum=41"}, nil},
	{"csv skip column", FormatCSV, false, []string{"-", "hum"}, "12:00,41", []string{"hum=41"}, nil},
	{"csv empty value skipped", FormatCSV, false, []string{"temp", "hum"}, ",41", []string{"hum=41"}, nil},
	{"csv too few", FormatCSV, false, []string{"temp", "hum"}, "22.5", nil, errCSVFields},
	{"csv too many", FormatCSV, false, []string{"temp", "hum"}, "1,2,3", nil, errCSVFields},
	{"csv trailing comma", FormatCSV, false, []string{"temp", "hum"}, "1,2,", nil, errCSVFields},
}

func parserFor(tc parseCase) *lineParser {
	return newLineParser(Config{Format: tc.format, JSONSplit: tc.split, Fields: tc.fields})
}

func readingStrings(rs []reading) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.key)+"="+string(r.value))
	}
	return out
}

func TestLineParser(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := parserFor(tc).parse([]byte(tc.line))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if got := readingStrings(rs); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLineParserReuse parses twice with one parser: the second call must
// not be disturbed by the first (the parser reuses its buffers).
func TestLineParserReuse(t *testing.T) {
	p := newLineParser(Config{Format: FormatJSON, JSONSplit: true})
	if _, err := p.parse([]byte(`{"long_key_name":"a long string value here","x":1}`)); err != nil {
		t.Fatal(err)
	}
	rs, err := p.parse([]byte(`{"t":"v"}`))
	if err != nil || !slices.Equal(readingStrings(rs), []string{"t=v"}) {
		t.Fatalf("got %q %v", readingStrings(rs), err)
	}
	if _, err := p.parse([]byte(`{"t":`)); err == nil {
		t.Fatal("bad line parsed")
	}
}

// FuzzLineParser feeds arbitrary bytes through the splitter, the text check
// and each format's parser: no panic, no line over the limit, keys valid,
// JSON values valid, and the lines independent of how reads are cut.
func FuzzLineParser(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.line + "\n"))
	}
	f.Add([]byte("temp=22.5 hum=41\r\n\x00\xff\xfe garbage\rnext=1\n{\"a\":\"\\ud800\"}\n"))
	f.Add(bytes.Repeat([]byte("x"), 300))
	const max = 64
	parsers := []*lineParser{
		newLineParser(Config{Format: FormatKV}),
		newLineParser(Config{Format: FormatJSON}),
		newLineParser(Config{Format: FormatJSON, JSONSplit: true}),
		newLineParser(Config{Format: FormatRaw}),
		newLineParser(Config{Format: FormatCSV, Fields: []string{"a", "-", "c"}}),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole []string
		s := newLineSplitter(max)
		s.feed(data, func(line []byte) {
			whole = append(whole, string(line))
			if len(line) == 0 || len(line) > max || bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("bad line %q", line)
			}
			if !isText(line) {
				return
			}
			for _, p := range parsers {
				rs, err := p.parse(line)
				if err != nil {
					continue
				}
				for _, r := range rs {
					checkReading(t, p, line, r)
				}
			}
		})
		// The same bytes one at a time give the same lines.
		var split []string
		s2 := newLineSplitter(max)
		for i := range data {
			s2.feed(data[i:i+1], func(line []byte) { split = append(split, string(line)) })
		}
		if !slices.Equal(whole, split) {
			t.Fatalf("lines differ when read byte by byte: %q vs %q", whole, split)
		}
	})
}

func checkReading(t *testing.T, p *lineParser, line []byte, r reading) {
	t.Helper()
	where := fmt.Sprintf("format %s split %v line %q reading %q=%q", p.format, p.split, line, r.key, r.value)
	if r.key == nil {
		if (p.format != FormatRaw && p.format != FormatJSON) || !bytes.Equal(r.value, line) {
			t.Fatalf("whole-line reading: %s", where)
		}
		return
	}
	if !validKeyBytes(r.key) {
		t.Fatalf("invalid key: %s", where)
	}
	switch p.format {
	case FormatKV:
		if len(r.value) == 0 || bytes.ContainsAny(r.value, " \t,;") {
			t.Fatalf("kv value: %s", where)
		}
	case FormatCSV:
		if len(r.value) == 0 || bytes.ContainsRune(r.value, ',') || string(r.key) == "-" {
			t.Fatalf("csv value: %s", where)
		}
	case FormatJSON:
		var v any
		if json.Unmarshal(r.value, &v) != nil {
			// Not JSON, so it must have been a string.
			var m map[string]json.RawMessage
			if json.Unmarshal(line, &m) != nil || len(m[string(r.key)]) == 0 || m[string(r.key)][0] != '"' {
				t.Fatalf("json value: %s", where)
			}
		}
	}
}
