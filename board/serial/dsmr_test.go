package serial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// crc16Bitwise is CRC-16/ARC computed bit by bit, as the P1 companion
// standard describes it (polynomial x^16+x^15+x^2+1, least significant bit
// first, no initial or final XOR): the reference for the table-driven
// crc16.
func crc16Bitwise(p []byte) uint16 {
	var c uint16
	for _, b := range p {
		c ^= uint16(b)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
	}
	return c
}

func TestCRC16(t *testing.T) {
	// The catalogued check value of CRC-16/ARC.
	if got := crc16([]byte("123456789")); got != 0xBB3D {
		t.Fatalf("crc16(123456789) = %04X, want BB3D", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		if a, b := crc16(p), crc16Bitwise(p); a != b {
			t.Fatalf("len %d: table %04X, bitwise %04X", n, a, b)
		}
	}
}

// dsmrCase is a telegram of testdata/dsmr with its expected readings.
type dsmrCase struct {
	name     string
	telegram []byte // CR LF line ends, as a meter sends it
	want     []string
	hasCRC   bool
}

// dsmrCases loads testdata/dsmr: NAME.txt with LF line ends (turned into
// CR LF) and NAME.expected, "key value" lines. It checks each CRC with the
// bitwise reference before anything else reads the telegram.
func dsmrCases(t testing.TB) []dsmrCase {
	t.Helper()
	files, err := filepath.Glob("testdata/dsmr/*.txt")
	if err != nil || len(files) < 4 {
		t.Fatalf("testdata/dsmr: %v %v", files, err)
	}
	var cases []dsmrCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tc := dsmrCase{name: strings.TrimSuffix(filepath.Base(f), ".txt")}
		tc.telegram = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
		exp, err := os.ReadFile(strings.TrimSuffix(f, ".txt") + ".expected")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(exp), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				tc.want = append(tc.want, l)
			}
		}
		bang := bytes.LastIndexByte(tc.telegram, '!')
		field := strings.TrimSpace(string(tc.telegram[bang+1:]))
		if field != "" {
			tc.hasCRC = true
			want, err := strconv.ParseUint(field, 16, 16)
			if err != nil {
				t.Fatalf("%s: CRC field %q", f, field)
			}
			if got := crc16Bitwise(tc.telegram[:bang+1]); uint64(got) != want {
				t.Fatalf("%s: the file's CRC is %s, the telegram's is %04X", f, field, got)
			}
		}
		cases = append(cases, tc)
	}
	return cases
}

func readingLines(rs []reading) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.key)+" "+string(r.value))
	}
	return out
}

// TestDSMRTelegrams decodes the standard-format telegrams and compares
// every reading with the values read by hand from the telegram text.
func TestDSMRTelegrams(t *testing.T) {
	var d dsmrDecoder
	for _, tc := range dsmrCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			// As the framer emits it: without the last line end.
			rs, err := d.decode(bytes.TrimRight(tc.telegram, "\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := readingLines(rs); !slices.Equal(got, tc.want) {
				t.Fatalf("readings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestDSMRBadTelegrams: one changed digit, a missing CRC on DSMR 4 and
// later, a malformed line without a CRC, and a telegram of nothing known
// publish nothing.
func TestDSMRBadTelegrams(t *testing.T) {
	var d dsmrDecoder
	for _, tc := range dsmrCases(t) {
		tel := bytes.TrimRight(tc.telegram, "\r\n")
		i := bytes.Index(tel, []byte("1-0:1.8.1("))
		bad := slices.Clone(tel)
		bad[i+12]++ // one digit of electricity_delivered_1
		rs, err := d.decode(bad)
		if tc.hasCRC {
			if !errors.Is(err, errDSMRCRC) || rs != nil {
				t.Errorf("%s with a changed digit: %v %q", tc.name, err, readingLines(rs))
			}
			noCRC := tel[:bytes.LastIndexByte(tel, '!')+1]
			if _, err := d.decode(noCRC); !errors.Is(err, errDSMRNoCRC) {
				t.Errorf("%s without its CRC: %v", tc.name, err)
			}
			lower := bytes.ToLower(tel[len(tel)-4:])
			if _, err := d.decode(append(slices.Clone(tel[:len(tel)-4]), lower...)); err != nil {
				t.Errorf("%s with a lower-case CRC: %v", tc.name, err)
			}
			if _, err := d.decode(append(slices.Clone(tel), 'X')); !errors.Is(err, errDSMRCRCField) {
				t.Errorf("%s with a 5-letter CRC: %v", tc.name, err)
			}
		} else {
			// Without a CRC a changed digit cannot be seen, but a broken
			// line can.
			broken := bytes.Replace(tel, []byte("1-0:1.8.2("), []byte("1-0:1.8.2"), 1)
			if _, err := d.decode(broken); !errors.Is(err, errDSMRFormat) {
				t.Errorf("%s with a broken line: %v", tc.name, err)
			}
			noisy := bytes.Replace(tel, []byte("1-0:1.8.2("), []byte("1-0:1.8.2(\x80"), 1)
			if _, err := d.decode(noisy); !errors.Is(err, errDSMRFormat) {
				t.Errorf("%s with a binary byte: %v", tc.name, err)
			}
		}
	}
	if _, err := d.decode([]byte("/ABC5\r\n\r\n0-0:96.13.0()\r\n!")); !errors.Is(err, errDSMREmpty) {
		t.Errorf("telegram of nothing known: %v", err)
	}
	// DSMR 3.0 declares no version either: accepted without a CRC.
	v3 := "/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(12345.678*kWh)\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n!"
	rs, err := d.decode([]byte(v3))
	if want := []string{"electricity_delivered_1 12345.678", "gas_delivered 1.001", "gas_timestamp 2009-02-12T16:00:00+01:00"}; err != nil || !slices.Equal(readingLines(rs), want) {
		t.Errorf("DSMR 3.0: %q %v", readingLines(rs), err)
	}
}

// TestDSMRUnits: Wh and W are scaled to kWh and kW, other units skipped.
func TestDSMRUnits(t *testing.T) {
	body := "/EST5\\253710000_A\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(005017120*Wh)\r\n1-0:1.7.0(000000286*W)\r\n" +
		"1-0:2.8.1(000001.5*kvarh)\r\n1-0:32.7.0(230.1*kV)\r\n0-1:24.2.1(200512134558S)(00001.000*GJ)\r\n!"
	tel := fmt.Appendf(nil, "%s%04X", body, crc16([]byte(body)))
	var d dsmrDecoder
	rs, err := d.decode(tel)
	if want := []string{"electricity_delivered_1 5017.120", "power_delivered 0.286"}; err != nil || !slices.Equal(readingLines(rs), want) {
		t.Fatalf("got %q %v", readingLines(rs), err)
	}
}

func TestAppendDecimal(t *testing.T) {
	cases := []struct {
		in    string
		shift int
		want  string
	}{
		{"001581.123", 0, "1581.123"}, {"000.000", 0, "0.000"}, {"0", 0, "0"}, {"0002", 0, "2"},
		{"005017120", 3, "5017.120"}, {"000000286", 3, "0.286"}, {"7", 3, "0.007"}, {"12.5", 3, "0.0125"},
		{"-01.5", 0, "-1.5"}, {"-0.000", 0, "0.000"},
		{"", 0, ""}, {"1.", 0, ""}, {".5", 0, ""}, {"1.2.3", 0, ""}, {"1e3", 0, ""}, {"--1", 0, ""}, {"12a", 0, ""},
	}
	for _, tc := range cases {
		got, ok := appendDecimal(nil, []byte(tc.in), tc.shift)
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("appendDecimal(%q, %d) = %q %v, want %q", tc.in, tc.shift, got, ok, tc.want)
		}
	}
}

func TestP1Time(t *testing.T) {
	cases := []struct{ in, want string }{
		{"101209113020W", "2010-12-09T11:30:20+01:00"},
		{"170612143015S", "2017-06-12T14:30:15+02:00"},
		// No letter (DSMR 2.2, 3.0): the EU rule. 2024: 31 March, 27 October.
		{"240331015959", "2024-03-31T01:59:59+01:00"},
		{"240331030000", "2024-03-31T03:00:00+02:00"},
		{"240330120000", "2024-03-30T12:00:00+01:00"},
		{"241027015959", "2024-10-27T01:59:59+02:00"},
		{"241027030000", "2024-10-27T03:00:00+01:00"},
		{"240715120000", "2024-07-15T12:00:00+02:00"},
		{"240229000000", "2024-02-29T00:00:00+01:00"},
		{"230229000000", ""}, {"241301000000W", ""}, {"240101250000W", ""}, {"240101000000X", ""}, {"2401010000", ""},
	}
	for _, tc := range cases {
		got, ok := appendP1Time(nil, []byte(tc.in))
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("appendP1Time(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
}

// framed feeds stream to a new framer in chunks of n bytes (all at once
// for n <= 0) and returns the telegrams and the counts.
func framed(stream []byte, max, n int) (tels []string, tooLong int, bad []string, partial bool) {
	f := newDSMRFramer(max, func(kind string) { bad = append(bad, kind) })
	emit := func(t []byte) { tels = append(tels, string(t)) }
	if n <= 0 {
		n = len(stream) + 1
	}
	for i := 0; i < len(stream); i += n {
		tooLong += f.feed(stream[i:min(i+n, len(stream))], emit)
		if cap(f.buf) != max {
			panic("framer buffer grew")
		}
	}
	return tels, tooLong, bad, f.reset()
}

func TestDSMRFramer(t *testing.T) {
	a := "/AAA5 one\r\n\r\n1-0:1.8.1(1*kWh)\r\n!ABCD"
	b := "/BBB5 two\r\n\r\n!"
	long := "/CCC5" + strings.Repeat("x", 300) + "\r\n!1234"
	stream := "tail of a telegram!1234\r\n" + // joined mid-telegram: not noise
		a + "\r\n" + b + "\r\n" +
		"\x00\xff noise\r\n" + a + "\r\n" + // noise: counted once
		"/DDD5 cut" + a + "\r\n" + // cut short by the next '/'
		long + "\r\n" + a + "\r\n" + // too long, skipped to the next '/'
		"/EEE5\r\n!12345678901234567890\r\n" + // CRC line too long
		a + "/FFF5 unfinished"
	want := []string{a, b, a, a, a, a}
	for _, n := range []int{0, 1, 2, 3, 7, 64} {
		tels, tooLong, bad, partial := framed([]byte(stream), 128, n)
		if !slices.Equal(tels, want) || tooLong != 2 || !slices.Equal(bad, []string{"noise", "partial"}) || !partial {
			t.Fatalf("chunks of %d: telegrams %q\ntoo long %d, bad %q, partial %v", n, tels, tooLong, bad, partial)
		}
	}
	// A meter that does not end the CRC line.
	tels, _, _, _ := framed([]byte(a+a+"\n"), 128, 0)
	if !slices.Equal(tels, []string{a, a}) {
		t.Fatalf("no line end after the CRC: %q", tels)
	}
}

// TestDSMRCrossCheck reads the telegrams with two npm P1 parsers,
// p1-reader (DSMR 2.2 to 5.0 and e-MUCS) and dsmr-parser (DSMR 4 and
// later; it checks the CRC with the npm package crc), and compares their
// values with gatemq's. Known differences, each checked to be what it
// is, are listed in the test.
func TestDSMRCrossCheck(t *testing.T) {
	node, dir := dsmrJS(t)
	cases := dsmrCases(t)
	tmp := t.TempDir()
	var args []string
	for _, tc := range cases {
		p := filepath.Join(tmp, tc.name+".txt")
		if err := os.WriteFile(p, tc.telegram, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
		if tc.hasCRC { // and a copy with one digit changed
			bad := slices.Clone(tc.telegram)
			bad[bytes.Index(bad, []byte("1-0:1.8.1("))+12]++
			p := filepath.Join(tmp, tc.name+"-bad.txt")
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, p)
		}
	}
	script := filepath.Join(tmp, "cross.js")
	if err := os.WriteFile(script, []byte(dsmrCrossScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{script, dir}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res map[string]struct {
		P1Reader   map[string]any `json:"p1reader"`
		DSMRParser map[string]any `json:"dsmrparser"`
		Error      string         `json:"dsmrparserError"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var d dsmrDecoder
	for _, tc := range cases {
		rs, err := d.decode(bytes.TrimRight(tc.telegram, "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		ours := map[string]string{}
		for _, r := range rs {
			ours[string(r.key)] = string(r.value)
		}
		r := res[tc.name]
		// Both npm parsers take the first 0-n:24.2.1 for gas: in the
		// e-MUCS telegram that is channel 2, the water meter (device type
		// 007); gatemq reads gas from channel 1's 24.2.3.
		skip := map[string]bool{}
		if tc.name == "emucs" {
			skip["gas_delivered"], skip["gas_timestamp"] = true, true
			if r.P1Reader["gas_delivered"] != 872.234 || r.DSMRParser["gas_delivered"] != 872.234 {
				t.Errorf("emucs: the npm parsers' gas is %v and %v, expected the water meter's 872.234",
					r.P1Reader["gas_delivered"], r.DSMRParser["gas_delivered"])
			}
		}
		compared := 0
		for who, theirs := range map[string]map[string]any{"p1-reader": r.P1Reader, "dsmr-parser": r.DSMRParser} {
			for k, v := range theirs {
				if skip[k] {
					continue
				}
				mine, ok := ours[k]
				if !ok {
					t.Errorf("%s: %s has %s=%v, gatemq none", tc.name, who, k, v)
					continue
				}
				compared++
				switch v := v.(type) {
				case string: // a time stamp, as wall-clock time
					if !strings.HasPrefix(mine, v) {
						t.Errorf("%s: %s=%s, %s says %s", tc.name, k, mine, who, v)
					}
				case float64:
					f, err := strconv.ParseFloat(mine, 64)
					// p1-reader reads volts and amperes with parseInt.
					if who == "p1-reader" && (strings.HasPrefix(k, "voltage_l") || strings.HasPrefix(k, "current_l")) {
						f = math.Trunc(f)
					}
					if err != nil || math.Abs(f-v) > 1e-9 {
						t.Errorf("%s: %s=%s, %s says %v", tc.name, k, mine, who, v)
					}
				}
			}
		}
		if compared < 8 {
			t.Errorf("%s: only %d values compared: %+v", tc.name, compared, r)
		}
		if tc.hasCRC {
			if r.Error != "" || len(r.DSMRParser) == 0 {
				t.Errorf("%s: dsmr-parser refused it: %s", tc.name, r.Error)
			}
			if e := res[tc.name+"-bad"].Error; e != "CHECKSUM_MISMATCH" {
				t.Errorf("%s with a changed digit: dsmr-parser says %q, want CHECKSUM_MISMATCH", tc.name, e)
			}
		}
		t.Logf("%s: %d values equal gatemq's", tc.name, compared)
	}
}

// dsmrCrossScript prints, for each telegram file argv[3:], what p1-reader
// and dsmr-parser (both in node_modules of argv[2]) read, under gatemq's
// key names; time stamps as wall-clock time YYYY-MM-DDThh:mm:ss.
const dsmrCrossScript = `
const path = require('path'), fs = require('fs');
const dir = process.argv[2];
const p1 = require(path.join(dir, 'node_modules/p1-reader/lib/parsePacket.js'));
const dp = require(path.join(dir, 'node_modules/dsmr-parser'));
const wall = (d) => d.toISOString().slice(0, 19); // TZ=UTC: local = UTC
const out = {};
const put = (o, k, v) => { if (v !== null && v !== undefined && !Number.isNaN(v)) o[k] = v; };
for (const f of process.argv.slice(3)) {
	const text = fs.readFileSync(f, 'latin1');
	const r = {p1reader: {}, dsmrparser: {}};
	// p1-reader reports lines it does not know on stderr, and builds time
	// stamps by setting the fields of new Date() one by one, which rolls
	// over on the 31st of a month: give it the 1st of January 2000.
	const origError = console.error, RealDate = Date;
	console.error = () => {};
	global.Date = class extends RealDate { constructor(...a) { if (a.length === 0) super(946684800000); else super(...a); } };
	const a = p1(text);
	console.error = origError;
	global.Date = RealDate;
	const e = a.electricity, o = r.p1reader;
	put(o, 'electricity_delivered_1', e.received.tariff1.reading);
	put(o, 'electricity_delivered_2', e.received.tariff2.reading);
	put(o, 'electricity_returned_1', e.delivered.tariff1.reading);
	put(o, 'electricity_returned_2', e.delivered.tariff2.reading);
	put(o, 'electricity_tariff', e.tariffIndicator);
	put(o, 'power_delivered', e.received.actual.reading);
	put(o, 'power_returned', e.delivered.actual.reading);
	for (const n of [1, 2, 3]) {
		const L = 'L' + n;
		put(o, 'voltage_l' + n, e.instantaneous.voltage[L].reading);
		put(o, 'current_l' + n, e.instantaneous.current[L].reading);
		put(o, 'power_delivered_l' + n, e.instantaneous.power.positive[L].reading);
		put(o, 'power_returned_l' + n, e.instantaneous.power.negative[L].reading);
	}
	put(o, 'current_average_demand', e.demand.positiveActiveDemand.currentDemandPeriod.reading);
	put(o, 'maximum_demand_current_month', e.demand.positiveActiveDemand.maximumDemand.reading);
	put(o, 'gas_delivered', a.gas.reading);
	if (a.gas.timestamp) put(o, 'gas_timestamp', a.gas.timestamp.slice(0, 19));
	if (a.version !== '22') put(o, 'timestamp', a.timestamp && a.timestamp.slice(0, 19)); // 2.2: p1-reader puts the clock's time
	try {
		const t = dp.parse(text).objects, q = r.dsmrparser;
		put(q, 'electricity_delivered_1', t['electricity delivered tariff 1']);
		put(q, 'electricity_delivered_2', t['electricity delivered tariff 2']);
		put(q, 'electricity_returned_1', t['electricity received tariff 1']);
		put(q, 'electricity_returned_2', t['electricity received tariff 2']);
		put(q, 'electricity_tariff', t['tariff indicator electricity']);
		put(q, 'power_delivered', t['actual electricity power delivered']);
		put(q, 'power_returned', t['actual electricity power received']);
		for (const n of [1, 2, 3]) {
			put(q, 'voltage_l' + n, t['instantaneous voltage L' + n]);
			put(q, 'current_l' + n, t['instantaneous current L' + n]);
			put(q, 'power_delivered_l' + n, t['instantaneous active power L' + n + ' delivered']);
			put(q, 'power_returned_l' + n, t['instantaneous active power L' + n + ' received']);
		}
		put(q, 'gas_delivered', t['gas delivered']);
		if (t['gas timestamp']) put(q, 'gas_timestamp', wall(t['gas timestamp']));
		if (t.timestamp) put(q, 'timestamp', wall(t.timestamp));
	} catch (err) {
		r.dsmrparserError = err.message;
	}
	out[path.basename(f, '.txt')] = r;
}
console.log(JSON.stringify(out));
`

// dsmrJS returns node and the folder holding the npm DSMR parsers
// (GATEMQ_DSMRJS_DIR, else .cache/dsmrjs at the module root, where `make
// tools` installs them), or skips loudly (fails under
// GATEMQ_REQUIRE_TOOLS=1).
func dsmrJS(t *testing.T) (node, dir string) {
	t.Helper()
	node = requireTool(t, "node")
	dir = os.Getenv("GATEMQ_DSMRJS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "dsmrjs")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"p1-reader", "dsmr-parser"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			msg := fmt.Sprintf("npm package %s is not installed in %s: run `make tools`: %s NOT RUN", m, dir, t.Name())
			if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
				t.Fatal(msg)
			}
			fmt.Fprintln(os.Stderr, "SKIP:", msg)
			t.Skip(msg)
		}
	}
	return node, dir
}

// FuzzDSMRTelegram feeds arbitrary bytes through the framer (whole and in
// small reads) and the decoder: no panic, the buffer never grows, the same
// telegrams whatever the reads, and every reading has a known key and a
// value that is a decimal number or a time stamp.
func FuzzDSMRTelegram(f *testing.F) {
	for _, tc := range dsmrCases(f) {
		f.Add(tc.telegram)
		bad := slices.Clone(tc.telegram)
		bad[len(bad)/2] ^= 1
		f.Add(bad)
		f.Add(tc.telegram[:len(tc.telegram)/2])
	}
	f.Add([]byte("/X\r\n1-0:1.8.1(1*Wh)\r\n(\r\n)(0-1:24.3.0(\r\n!\r\n/"))
	keys := map[string]bool{}
	for _, o := range dsmrObjects {
		keys[o.key] = true
	}
	for _, k := range []string{"gas_delivered", "gas_timestamp", "water_delivered", "water_timestamp"} {
		keys[k] = true
	}
	const max = 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		var d dsmrDecoder
		check := func(tel []byte) {
			rs, err := d.decode(tel)
			if err != nil {
				if rs != nil {
					t.Fatalf("readings with error %v", err)
				}
				return
			}
			for _, r := range rs {
				k, v := string(r.key), string(r.value)
				if !keys[k] || v == "" {
					t.Fatalf("reading %q=%q", k, v)
				}
				if strings.HasSuffix(k, "timestamp") {
					if len(v) != 25 || v[10] != 'T' {
						t.Fatalf("time stamp %q=%q", k, v)
					}
				} else if !isNumeric(r.value) {
					t.Fatalf("value %q=%q", k, v)
				}
			}
		}
		whole, _, _, _ := framed(data, max, 0)
		split, _, _, _ := framed(data, max, 3)
		if !slices.Equal(whole, split) {
			t.Fatalf("telegrams differ with small reads: %q vs %q", whole, split)
		}
		for _, tel := range whole {
			if len(tel) > max || tel[0] != '/' {
				t.Fatalf("telegram %q", tel)
			}
			check([]byte(tel))
		}
		check(data)
	})
}
