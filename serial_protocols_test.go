package main

// End-to-end tests of the serial protocols (serial_format dsmr and nmea):
// the built binary reads a socat pseudo-terminal into which the tests
// write smart meter telegrams and GPS sentences; mosquitto_sub is the
// subscriber. The references are the hand-read values beside the
// telegrams (board/serial/testdata/dsmr) and Debian's pynmea2 run on the
// same sentences.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// p1CRC is the P1 telegram CRC (CRC-16/ARC), bit by bit.
func p1CRC(p []byte) uint16 {
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

// p1Telegram is a telegram of board/serial/testdata/dsmr, as a meter
// sends it (CR LF), with the readings expected from it.
type p1Telegram struct {
	name     string
	telegram []byte
	want     []string // "key value"
	hasCRC   bool
}

func loadP1Telegrams(t testing.TB) []p1Telegram {
	t.Helper()
	var out []p1Telegram
	for _, name := range []string{"dsmr50", "dsmr42", "dsmr22", "emucs"} {
		base := filepath.Join("board", "serial", "testdata", "dsmr", name)
		raw, err := os.ReadFile(base + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		exp, err := os.ReadFile(base + ".expected")
		if err != nil {
			t.Fatal(err)
		}
		p := p1Telegram{name: name, telegram: bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))}
		for _, l := range strings.Split(string(exp), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				p.want = append(p.want, l)
			}
		}
		bang := bytes.LastIndexByte(p.telegram, '!')
		if f := strings.TrimSpace(string(p.telegram[bang+1:])); f != "" {
			p.hasCRC = true
			if want := fmt.Sprintf("%04X", p1CRC(p.telegram[:bang+1])); f != want {
				t.Fatalf("%s: CRC in the file %s, computed %s", name, f, want)
			}
		}
		out = append(out, p)
	}
	return out
}

// subLines returns the "topic payload" lines of sub's output whose topic
// starts with prefix, leaving out topics in skip.
func subLines(sub *proc, prefix string, skip ...string) []string {
	var out []string
	for _, l := range strings.Split(sub.stdout.String(), "\n") {
		topic, _, _ := strings.Cut(l, " ")
		if strings.HasPrefix(topic, prefix) && !slices.Contains(skip, topic) {
			out = append(out, l)
		}
	}
	return out
}

// TestSerialDSMREndToEnd writes DSMR 5.0, 4.2, 2.2 and e-MUCS telegrams
// into a pty, each good one followed by a copy with one changed digit
// (bad CRC), and checks with mosquitto_sub that exactly the expected
// values of the good ones are published, that the bad ones publish
// nothing, and that discovery makes the registers Energy dashboard
// sensors.
func TestSerialDSMREndToEnd(t *testing.T) {
	socat := requireTool(t, "socat", "socat")
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	pty := startSerialPty(t, socat, filepath.Join(t.TempDir(), "p1"))
	conf := writeConfig(t, "serial p1 "+pty.a+"\nserial_format dsmr\nserial_discovery true\n")
	gq := startGatemqOnPort(t, "-memory", "-c", conf)
	host, port, _ := net.SplitHostPort(gq.addr)
	sub := startProc(t, nil, stdbuf, "-oL", subBin, "-h", host, "-p", port, "-q", "1", "-F", "%t %p", "-W", "60",
		"-t", "serial/p1/#", "-t", "homeassistant/sensor/p1/+/config")
	waitLines(t, sub, "serial/p1/status online")

	tels := loadP1Telegrams(t)
	end := pty.end(t)
	var want []string
	write := func(b []byte) {
		t.Helper()
		if _, err := end.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range tels {
		write(p.telegram)
		for _, w := range p.want {
			want = append(want, "serial/p1/"+w)
		}
		if p.hasCRC {
			bad := slices.Clone(p.telegram)
			bad[bytes.Index(bad, []byte("1-0:1.8.1("))+12]++ // one digit of electricity_delivered_1
			write(bad)
		}
	}
	// A last good telegram: once its values are out, every bad one
	// before it has been read.
	write(tels[0].telegram)
	for _, w := range tels[0].want {
		want = append(want, "serial/p1/"+w)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := subLines(sub, "serial/p1/", "serial/p1/status")
		if len(got) >= len(want) {
			if !slices.Equal(got, want) {
				t.Fatalf("published\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s, %d of %d values:\n%s", len(got), len(want), strings.Join(got, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for key, class := range map[string]string{
		"electricity_delivered_1": `"device_class":"energy","unit_of_measurement":"kWh","state_class":"total_increasing"`,
		"electricity_returned_2":  `"device_class":"energy","unit_of_measurement":"kWh","state_class":"total_increasing"`,
		"gas_delivered":           `"device_class":"gas","unit_of_measurement":"m³","state_class":"total_increasing"`,
		"power_delivered":         `"device_class":"power","unit_of_measurement":"kW","state_class":"measurement"`,
		"voltage_l1":              `"device_class":"voltage","unit_of_measurement":"V","state_class":"measurement"`,
		"current_l1":              `"device_class":"current","unit_of_measurement":"A","state_class":"measurement"`,
	} {
		found := false
		for _, l := range subLines(sub, "homeassistant/sensor/p1/"+key+"/config") {
			found = found || strings.Contains(l, `"state_topic":"serial/p1/`+key+`"`) && strings.Contains(l, class)
		}
		if !found {
			t.Errorf("no discovery for %s with %s:\n%s", key, class, strings.Join(subLines(sub, "homeassistant/"), "\n"))
		}
	}
}

// pynmea2Script prints, as JSON, what pynmea2 reads from the GGA, RMC and
// VTG sentences of the file argv[1] whose checksum is right (check=True
// refuses a wrong or missing one), in file order.
const pynmea2Script = `
import json, sys, pynmea2
out = []
for raw in open(sys.argv[1], encoding='latin-1', newline='').read().split('\r\n'):
    try:
        m = pynmea2.parse(raw, check=True)
    except (pynmea2.ParseError, pynmea2.ChecksumError, ValueError, AttributeError):
        continue
    typ = m.sentence_type
    r = {'type': typ}
    if typ == 'GGA':
        r['time'] = m.timestamp.isoformat() if m.timestamp else None
        r['fix'] = m.gps_qual
        r['satellites'] = int(m.num_sats) if m.num_sats else None
        r['hdop'] = float(m.horizontal_dil) if m.horizontal_dil else None
        r['altitude'] = m.altitude
        if m.gps_qual and m.lat:
            r['latitude'], r['longitude'] = m.latitude, m.longitude
    elif typ == 'RMC':
        r['time'] = m.timestamp.isoformat() if m.timestamp else None
        r['date'] = m.datestamp.isoformat() if m.datestamp else None
        if m.status == 'A':
            r['latitude'], r['longitude'] = m.latitude, m.longitude
            r['knots'], r['course'] = m.spd_over_grnd, m.true_course
    elif typ == 'VTG':
        r['course'], r['kmh'], r['knots'] = m.true_track, m.spd_over_grnd_kmph, m.spd_over_grnd_kts
    else:
        continue
    out.append(r)
print(json.dumps(out, default=float))  # pynmea2 gives some values as Decimal
`

// pynmea2Python returns a python3 that can import pynmea2 (Debian's
// python3-nmea2 installs it for /usr/bin/python3), or skips loudly (fails
// under GATEMQ_REQUIRE_TOOLS=1).
func pynmea2Python(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import pynmea2").Run() == nil {
			return p
		}
	}
	msg := "python3 with pynmea2 is not installed (Debian package python3-nmea2): run `make tools`"
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
	t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	return ""
}

// nmeaRecord is one sentence as pynmea2 read it.
type nmeaRecord struct {
	Type                          string
	Time, Date                    *string
	Fix                           *int
	Satellites                    *int
	HDOP                          *float64 `json:"hdop"`
	Altitude, Latitude, Longitude *float64
	Knots, KMH, Course            *float64
}

// expectedFixes groups pynmea2's records into epochs (a new one starts
// with a new time of day; VTG, which has none, belongs to the epoch it
// follows) and returns the fix gatemq must publish for each, as the
// fields of its JSON object: positions from GGA, else from a valid RMC;
// speed in km/h from VTG, else RMC's knots times 1.852; course from RMC,
// else VTG; time from the epoch's RMC date (or the last one's, on the
// same day) and time of day.
func expectedFixes(recs []nmeaRecord) []map[string]any {
	type epoch struct {
		time string
		recs []nmeaRecord
	}
	var eps []epoch
	for _, r := range recs {
		tm := ""
		if r.Time != nil {
			tm = *r.Time
		}
		if len(eps) == 0 || tm != "" && eps[len(eps)-1].time != "" && tm != eps[len(eps)-1].time {
			eps = append(eps, epoch{})
		}
		e := &eps[len(eps)-1]
		if tm != "" {
			e.time = tm
		}
		e.recs = append(e.recs, r)
	}
	var out []map[string]any
	lastDate, lastTime := "", ""
	for _, e := range eps {
		m := map[string]any{}
		var gga, rmc, vtg *nmeaRecord
		for i := range e.recs {
			switch r := &e.recs[i]; r.Type {
			case "GGA":
				gga = r
			case "RMC":
				rmc = r
			case "VTG":
				vtg = r
			}
		}
		set := func(k string, v *float64) {
			if v != nil {
				m[k] = *v
			}
		}
		if rmc != nil {
			set("latitude", rmc.Latitude)
			set("longitude", rmc.Longitude)
			if rmc.Knots != nil {
				m["speed"] = *rmc.Knots * 1.852
			}
			set("course", rmc.Course)
		}
		if vtg != nil {
			set("speed", vtg.KMH)
			if _, ok := m["course"]; !ok {
				set("course", vtg.Course)
			}
		}
		if gga != nil {
			set("latitude", gga.Latitude)
			set("longitude", gga.Longitude)
			set("altitude", gga.Altitude)
			set("hdop", gga.HDOP)
			if gga.Fix != nil {
				m["fix"] = float64(*gga.Fix)
			}
			if gga.Satellites != nil {
				m["satellites"] = float64(*gga.Satellites)
			}
		}
		date := ""
		if rmc != nil && rmc.Date != nil {
			date, lastDate, lastTime = *rmc.Date, *rmc.Date, e.time
		} else if lastDate != "" && e.time >= lastTime {
			date = lastDate
		}
		if date != "" && e.time != "" {
			m["time"] = date + "T" + e.time + "Z"
		}
		out = append(out, m)
	}
	return out
}

// sameFix compares a published fix with the expected one: the same
// fields, numbers within what the published decimals can hold, times as
// instants.
func sameFix(got, want map[string]any) error {
	if len(got) != len(want) {
		return fmt.Errorf("fields %v, want %v", got, want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("no %s", k)
		}
		if k == "time" {
			gt, err1 := time.Parse(time.RFC3339Nano, g.(string))
			wt, err2 := time.Parse(time.RFC3339Nano, w.(string))
			if err1 != nil || err2 != nil || !gt.Equal(wt) {
				return fmt.Errorf("time %v, pynmea2 %v", g, w)
			}
			continue
		}
		tol := 1e-9
		switch k {
		case "latitude", "longitude":
			tol = 1e-7 // about a centimetre; gatemq keeps 2-3 more decimals than the minutes
		case "speed":
			tol = 5e-4 // knots converted are published with three decimals
		}
		gf, ok := g.(float64)
		if !ok || math.Abs(gf-w.(float64)) > tol {
			return fmt.Errorf("%s %v, pynmea2 %v", k, g, w)
		}
	}
	return nil
}

// TestSerialNMEAEndToEnd writes recorded-format GPS sentences (with bad
// checksums and binary noise mixed in) into a pty and checks that the
// fixes the binary publishes on BASE, and the position on BASE/latitude
// and BASE/longitude, equal what pynmea2 reads from the same sentences.
func TestSerialNMEAEndToEnd(t *testing.T) {
	socat := requireTool(t, "socat", "socat")
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	python := pynmea2Python(t)
	file := filepath.Join("board", "serial", "testdata", "nmea", "ublox-m8.nmea")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, t.TempDir(), "ref.py", pynmea2Script)
	out, err := exec.Command(python, script, file).Output()
	if err != nil {
		t.Fatalf("pynmea2: %v\n%s", err, out)
	}
	var recs []nmeaRecord
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("pynmea2 output: %v\n%s", err, out)
	}
	want := expectedFixes(recs)

	pty := startSerialPty(t, socat, filepath.Join(t.TempDir(), "gps"))
	conf := writeConfig(t, "serial gps "+pty.a+"\nserial_format nmea\nserial_topic car/gps\nserial_discovery true\n")
	gq := startGatemqOnPort(t, "-memory", "-c", conf)
	host, port, _ := net.SplitHostPort(gq.addr)
	sub := startProc(t, nil, stdbuf, "-oL", subBin, "-h", host, "-p", port, "-q", "1", "-F", "%t %p", "-W", "60",
		"-t", "car/gps", "-t", "car/gps/latitude", "-t", "car/gps/longitude", "-t", "car/gps/status",
		"-t", "homeassistant/device_tracker/gps/position/config")
	waitLines(t, sub, "car/gps/status online")
	end := pty.end(t)
	for i := 0; i < len(data); i += 50 { // as a receiver's bursts arrive: in pieces
		if _, err := end.Write(data[i:min(i+50, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	var fixes []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		fixes = fixes[:0]
		for _, l := range subLines(sub, "car/gps") {
			if p, ok := strings.CutPrefix(l, "car/gps "); ok {
				fixes = append(fixes, p)
			}
		}
		if len(fixes) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s, %d fixes of %d:\n%s", len(fixes), len(want), strings.Join(fixes, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(fixes) != len(want) {
		t.Fatalf("%d fixes, pynmea2's sentences make %d:\n%s", len(fixes), len(want), strings.Join(fixes, "\n"))
	}
	positions := 0
	for i, f := range fixes {
		var got map[string]any
		if err := json.Unmarshal([]byte(f), &got); err != nil {
			t.Fatalf("fix %d %q: %v", i, f, err)
		}
		if err := sameFix(got, want[i]); err != nil {
			t.Errorf("fix %d %s: %v", i, f, err)
		}
		if _, ok := want[i]["latitude"]; ok {
			positions++
		}
	}
	// The last position, on its own topics, is pynmea2's too.
	lat, lon := subLines(sub, "car/gps/latitude"), subLines(sub, "car/gps/longitude")
	if len(lat) != positions || len(lon) != positions || positions < 5 {
		t.Fatalf("%d positions, %d latitudes, %d longitudes", positions, len(lat), len(lon))
	}
	last := want[len(want)-1]
	for _, c := range []struct {
		line string
		want float64
	}{{lat[len(lat)-1], last["latitude"].(float64)}, {lon[len(lon)-1], last["longitude"].(float64)}} {
		_, v, _ := strings.Cut(c.line, " ")
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.Abs(f-c.want) > 1e-7 {
			t.Errorf("%s, pynmea2 %v", c.line, c.want)
		}
	}
	tracker := subLines(sub, "homeassistant/device_tracker/gps/position/config")
	if len(tracker) != 1 || !strings.Contains(tracker[0], `"json_attributes_topic":"car/gps","source_type":"gps"`) {
		t.Errorf("device tracker discovery %q", tracker)
	}
	t.Logf("%d fixes, %d with a position, equal pynmea2's reading of %d sentences", len(fixes), positions, len(recs))
}

// BenchmarkSerialDSMR measures one dsmr port of the real binary: b.N
// DSMR 5.0 telegrams (about 900 bytes, each with a new meter reading and
// its CRC) written into a socat pty as fast as it takes them, each
// counted when its electricity_delivered_1 reaches a Paho subscriber over
// TCP; then telegrams paced at 115200 baud (11520 bytes/s, the wire's
// limit) for two seconds. It reports telegrams/s and the gatemq process's
// CPU share (utime+stime from /proc) for both.
//
//	go test -run='^$' -bench=BenchmarkSerialDSMR -benchtime=2000x .
func BenchmarkSerialDSMR(b *testing.B) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		b.Skip("socat not installed")
	}
	tel := loadP1Telegrams(b)[0] // dsmr50
	dir := b.TempDir()
	link := filepath.Join(dir, "a")
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+link, "pty,raw,echo=0,link="+filepath.Join(dir, "b"))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			b.Fatal("socat links did not appear")
		}
	}
	conf := filepath.Join(dir, "gatemq.conf")
	if err := os.WriteFile(conf, []byte("serial p1 "+link+"\nserial_format dsmr\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := gatemqBinary(b)
	addr := fmt.Sprintf("127.0.0.1:%d", freePortB(b))
	_, portStr, _ := net.SplitHostPort(addr)
	gq := exec.Command(bin, "-memory", "-p", portStr, "-c", conf)
	if err := gq.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = gq.Process.Signal(syscall.SIGTERM); _ = gq.Wait() }()

	got := make(chan struct{}, 1<<16)
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("bench").SetConnectRetry(true).
		SetConnectRetryInterval(50 * time.Millisecond).SetAutoReconnect(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(50)
	if tok := c.Subscribe("serial/p1/electricity_delivered_1", 0, func(paho.Client, paho.Message) { got <- struct{}{} }); !tok.WaitTimeout(10 * time.Second) {
		b.Fatal("subscribe")
	}
	end, err := os.OpenFile(filepath.Join(dir, "b"), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer end.Close()
	// Telegram i: electricity_delivered_1 = 100000.000 + i, CRC recomputed.
	make1 := func(i int) []byte {
		s := string(tel.telegram)
		s = strings.Replace(s, "1-0:1.8.1(123456.789*kWh)", fmt.Sprintf("1-0:1.8.1(%06d.000*kWh)", 100000+i%900000), 1)
		bang := strings.LastIndexByte(s, '!')
		return fmt.Appendf(nil, "%s%04X\r\n", s[:bang+1], p1CRC([]byte(s[:bang+1])))
	}
	// Wait until the bridge has the device open: a first telegram arrives.
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, _ = end.Write(make1(0))
		select {
		case <-got:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				b.Fatal("no telegram came through")
			}
			continue
		}
		break
	}
	for len(got) > 0 {
		<-got
	}
	tels := make([][]byte, min(b.N, 1000))
	for i := range tels {
		tels[i] = make1(i + 1)
	}
	cpu := func() time.Duration {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", gq.Process.Pid))
		if err != nil {
			b.Fatal(err)
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat(5)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	recv := func(n int) {
		for range n {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatal("lost telegrams")
			}
		}
	}

	b.ResetTimer()
	cpu0, start := cpu(), time.Now()
	go func() {
		for i := range b.N {
			_, _ = end.Write(tels[i%len(tels)])
		}
	}()
	recv(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "telegrams/s")
	b.ReportMetric(100*(cpu()-cpu0).Seconds()/elapsed.Seconds(), "cpu-%")
	b.SetBytes(int64(len(tels[0])))

	// At the wire's pace: 115200 baud is 11520 bytes/s.
	gap := time.Duration(len(tels[0])) * time.Second / 11520
	n := int(2 * time.Second / gap)
	cpu0, start = cpu(), time.Now()
	next := start
	for i := range n {
		time.Sleep(time.Until(next))
		next = next.Add(gap)
		_, _ = end.Write(tels[i%len(tels)])
	}
	recv(n)
	elapsed = time.Since(start)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "paced-telegrams/s")
	b.ReportMetric(100*(cpu()-cpu0).Seconds()/elapsed.Seconds(), "paced-cpu-%")
}

func freePortB(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
