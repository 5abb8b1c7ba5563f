package main

// Tests of the serial bridge's config blocks, and an end-to-end test of the
// built binary: socat pseudo-terminal pairs stand for the sensors, Debian's
// mosquitto_sub and mosquitto_pub are the MQTT clients.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatemq/board/serial"
	"gatemq/mqtt"
)

// The adapter is what main hands to the bridges.
var _ serial.Broker = serialBroker{}

func TestSerialConfig(t *testing.T) {
	text := `# sensors
serial weather /dev/ttyUSB0     # serial NAME DEVICE
serial_baud 115200
serial_databits 7
serial_parity even
serial_stopbits 2
serial_format kv
serial_topic sensors/weather
serial_qos 1
serial_retain true
serial_discovery true
serial_device_class temp temperature
serial_unit temp °C
serial_unit wind km / h
serial_state_class wind none
serial_line_ending crlf
serial_max_line 256
serial_cmd_topic sensors/weather/command
serial_status_topic none
serial_cmd_queue 8
listener 1884
serial meter /dev/serial/by-id/usb-FTDI-if00
serial_format csv
serial_fields time, -, power
serial_json_split false
serial_key_topic meters/{key}/{name}
serial_discovery_prefix ha
serial p1 /dev/ttyUSB1
serial_format dsmr
serial gps /dev/ttyACM0
serial_format nmea
serial_baud 4800
`
	cfg, err := parseConfig(strings.NewReader(text), "t.conf", defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []serial.Config{
		{Name: "weather", Device: "/dev/ttyUSB0", Baud: 115200, DataBits: 7, Parity: "even", StopBits: "2",
			Format: serial.FormatKV, Topic: "sensors/weather", QoS: 1, Retain: true, Discovery: true,
			DeviceClass: map[string]string{"temp": "temperature"}, Unit: map[string]string{"temp": "°C", "wind": "km / h"},
			StateClass: map[string]string{"wind": "none"},
			LineEnding: "crlf", MaxLine: 256, CmdTopic: "sensors/weather/command", StatusTopic: "none", CmdQueue: 8, Line: 2},
		{Name: "meter", Device: "/dev/serial/by-id/usb-FTDI-if00", Format: serial.FormatCSV,
			Fields: []string{"time", "-", "power"}, KeyTopic: "meters/{key}/{name}", DiscoveryPrefix: "ha", Line: 22},
		{Name: "p1", Device: "/dev/ttyUSB1", Format: serial.FormatDSMR, Line: 28},
		{Name: "gps", Device: "/dev/ttyACM0", Format: serial.FormatNMEA, Baud: 4800, Line: 30},
	}
	if !reflect.DeepEqual(cfg.Serial.Ports, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg.Serial.Ports, want)
	}
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].Port != 1884 {
		t.Fatalf("listeners %+v", cfg.Listeners)
	}

	// A second file on top keeps the first one's ports and does not touch
	// the slice it was given.
	before := slices.Clone(cfg.Serial.Ports)
	cfg2, err := parseConfig(strings.NewReader("serial third /dev/ttyS1\n"), "2.conf", cfg)
	if err != nil || len(cfg2.Serial.Ports) != 5 || cfg2.Serial.Ports[4].Name != "third" {
		t.Fatalf("second file: %+v %v", cfg2.Serial.Ports, err)
	}
	if _, err := parseConfig(strings.NewReader("serial fourth /dev/ttyS2\nserial_baud x\n"), "3.conf", cfg); err == nil {
		t.Fatal("bad second file accepted")
	}
	if !reflect.DeepEqual(cfg.Serial.Ports, before) {
		t.Fatal("ParseConfig changed the Config it was given")
	}
}

func TestSerialConfigErrors(t *testing.T) {
	cases := []struct {
		text string
		line int
		msg  string
	}{
		{"serial_baud 9600\n", 1, "outside a serial block"},
		{"serial a\n", 1, "serial NAME DEVICE"},
		{"serial a /dev/x extra\n", 1, "serial NAME DEVICE"},
		{"serial a.b /dev/x\n", 1, "name"},
		{"serial a /dev/x\nserial a /dev/y\n", 2, "defined twice (first on line 1)"},
		{"serial a /dev/x\nserial b /dev/x\n", 2, "already used by serial port a"},
		{"serial a /dev/x\nserial_baud fast\n", 2, "serial_baud must be a whole number"},
		{"serial a /dev/x\nserial_baud 10\n", 2, "between 50 and"},
		{"serial a /dev/x\nserial_baud 9600\nserial_baud 9600\n", 3, "duplicate serial_baud in serial port a (first on line 2)"},
		{"serial a /dev/x\nserial_parity maybe\n", 2, "serial_parity must be one of none, odd, even, mark, space"},
		{"serial a /dev/x\nserial_stopbits 3\n", 2, "serial_stopbits"},
		{"serial a /dev/x\nserial_format xml\n", 2, "kv, json, raw, csv, dsmr, nmea"},
		{"serial a /dev/x\nserial_state_class t sum\n", 2, "measurement, total, total_increasing or none"},
		{"serial a /dev/x\nserial_state_class t\n", 2, "needs a key and a value"},
		{"serial a /dev/x\nserial_retain yes\n", 2, "true or false"},
		{"serial a /dev/x\nserial_qos 3\n", 2, "between 0 and 2"},
		{"serial a /dev/x\nserial_unit temp\n", 2, "needs a key and a value"},
		{"serial a /dev/x\nserial_unit a/b C\n", 2, "key"},
		{"serial a /dev/x\nserial_line_ending lfcr\n", 2, "lf, crlf, cr, none"},
		{"serial a /dev/x\nserial_max_line 1\n", 2, "serial_max_line"},
		{"serial a /dev/x\nserial_fromat kv\n", 2, "did you mean serial_format?"},
		{"serial a /dev/x\nserial_format csv\n", 1, "serial_format csv needs serial_fields"},
		{"serial a /dev/x\nserial_format csv\nserial b /dev/y\n", 1, "needs serial_fields"},
		{"serial a /dev/x\nserial_fields a,b\n", 1, "csv only"},
		{"serial a /dev/x\nserial_topic a/#\n", 1, "wildcards"},
		{"serial a /dev/x\nserial_topic a/{nom}\n", 1, "placeholder"},
		{"serial a /dev/x\nserial_cmd_topic s\nserial_status_topic s\n", 1, "same"},
	}
	for _, tc := range cases {
		_, err := parseConfig(strings.NewReader(tc.text), "t.conf", defaultConfig())
		var ce *configError
		if !errors.As(err, &ce) || ce.Line != tc.line || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%q: got %v, want line %d with %q", tc.text, err, tc.line, tc.msg)
		}
	}
}

// TestSerialBrokerAdapter checks the adapter against the real broker: a
// reading published through it reaches a subscription made through it.
func TestSerialBrokerAdapter(t *testing.T) {
	s := mqtt.NewServer(mqtt.Options{})
	b := serialBroker{s}
	got := make(chan string, 4)
	cancel, err := b.Subscribe("a/+", func(topic string, payload []byte, retained bool) {
		got <- fmt.Sprintf("%s %s %v", topic, payload, retained)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := b.Publish("a/b", []byte("x"), 1, false); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "a/b x false" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}

func TestSerialListFlag(t *testing.T) {
	code, stdout, stderr := runGatemq(t, "-list-serial")
	if code != 0 || !(strings.Contains(stdout, "no serial ports found") || strings.Contains(stdout, "/dev/")) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// serialPty is a socat process joining two pseudo-terminals linked at
// DIR/a (gatemq's end) and DIR/b (the test's end).
type serialPty struct {
	socat, dir, a, b string
	proc             *proc
}

// startSerialPty starts socat in dir (made if needed) and waits for both
// links.
func startSerialPty(t *testing.T, socat, dir string) *serialPty {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &serialPty{socat: socat, dir: dir, a: filepath.Join(dir, "a"), b: filepath.Join(dir, "b")}
	p.proc = startProc(t, nil, socat, "-d", "-d", "pty,raw,echo=0,link="+p.a, "pty,raw,echo=0,link="+p.b)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ea := os.Stat(p.a)
		_, eb := os.Stat(p.b)
		if ea == nil && eb == nil {
			return p
		}
		if time.Now().After(deadline) || p.proc.exited() {
			t.Fatalf("socat links in %s did not appear: %v %v\n%s", dir, ea, eb, p.proc.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unplug ends socat by its pid; the device disappears.
func (p *serialPty) unplug(t *testing.T) {
	t.Helper()
	_ = p.proc.cmd.Process.Signal(syscall.SIGTERM)
	p.proc.wait(t, 10*time.Second)
}

// end opens the test's end of the pair.
func (p *serialPty) end(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(p.b, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// send writes s into the test's end (as the sensor would).
func (p *serialPty) send(t *testing.T, s string) {
	t.Helper()
	f := p.end(t)
	if _, err := f.WriteString(s); err != nil {
		t.Fatalf("writing to %s: %v", p.b, err)
	}
}

// expectBytes reads len(want) bytes from f (the device side) and compares.
func expectBytes(t *testing.T, f *os.File, want string) {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("pty deadline: %v", err)
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 256)
	for len(got) < len(want) {
		n, err := f.Read(buf[:min(len(buf), len(want)-len(got))])
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("device got %q, want %q: %v", got, want, err)
		}
	}
	if string(got) != want {
		t.Fatalf("device got %q, want %q", got, want)
	}
}

// waitLines waits until every line of want appears, whole, in the output
// of p (n times when a line is listed n times).
func waitLines(t *testing.T, p *proc, want ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`(?s)(?:^|\n)`)
	for i, l := range want {
		if i > 0 {
			b.WriteString(`(?:.*\n)?`)
		}
		b.WriteString(regexp.QuoteMeta(l) + `\n`)
	}
	// Order matters only within a call; callers list lines in the order
	// the broker must deliver them.
	p.waitFor(t, p.stdout, regexp.MustCompile(b.String()), 15*time.Second)
}

// countLines returns how many times line appears whole in the output.
func countLines(p *proc, line string) int {
	n := 0
	for _, l := range strings.Split(p.stdout.String(), "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// TestSerialEndToEnd runs the gatemq binary with a serial block per format,
// each on its own socat pair, and checks with mosquitto_sub and
// mosquitto_pub: the exact topics, payloads, QoS and retain flags of every
// format, discovery, commands byte-exact in order, unplug and replug, and
// offline statuses on shutdown.
func TestSerialEndToEnd(t *testing.T) {
	socat := requireTool(t, "socat", "socat")
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	pubBin := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	dir := t.TempDir()
	pty := map[string]*serialPty{}
	for _, n := range []string{"kv", "json", "jsplit", "raw", "csv"} {
		pty[n] = startSerialPty(t, socat, filepath.Join(dir, n))
	}
	conf := writeConfig(t, fmt.Sprintf(`
serial kv %s
serial_format kv
serial_topic sensors/weather
serial_qos 1
serial_retain true
serial_discovery true
serial_device_class temp temperature
serial_unit temp °C

serial json %s
serial_format json
serial_json_split false

serial jsplit %s
serial_format json
serial_json_split true
serial_topic j/{name}
serial_qos 2

serial raw %s
serial_format raw
serial_line_ending crlf

serial csv %s
serial_baud 115200
serial_format csv
serial_fields temp,-,hum
`, pty["kv"].a, pty["json"].a, pty["jsplit"].a, pty["raw"].a, pty["csv"].a))
	data := t.TempDir()
	gq := startGatemqOnPort(t, "-data", data, "-c", conf)
	host, port, _ := net.SplitHostPort(gq.addr)
	sub := func(args ...string) *proc {
		all := append([]string{"-oL", subBin, "-h", host, "-p", port, "-q", "2", "-F", "%t %q %r %p", "-W", "60"}, args...)
		return startProc(t, nil, stdbuf, all...)
	}
	pub := func(stdin string, args ...string) {
		t.Helper()
		p := startProc(t, strings.NewReader(stdin), pubBin, append([]string{"-h", host, "-p", port, "-q", "1"}, args...)...)
		if code := p.wait(t, 15*time.Second); code != 0 {
			t.Fatalf("mosquitto_pub %v exited %d: %s", args, code, p.stderr.String())
		}
	}

	live := sub("-t", "#")
	statusRE := regexp.MustCompile(`(?s)sensors/weather/status 1 [01] online\n.*`)
	live.waitFor(t, live.stdout, statusRE, 15*time.Second)
	for _, s := range []string{"serial/json/status", "j/jsplit/status", "serial/raw/status", "serial/csv/status"} {
		live.waitFor(t, live.stdout, regexp.MustCompile(regexp.QuoteMeta(s)+` 1 [01] online\n`), 15*time.Second)
	}

	// Every format: exact topics, payloads, QoS, and retain (live
	// subscribers see retain 0, as MQTT-3.3.1-9 requires).
	pty["kv"].send(t, "temp=22.5 hum=41\r\n")
	waitLines(t, live, "sensors/weather/temp 1 0 22.5", "sensors/weather/hum 1 0 41")
	pty["json"].send(t, "{\"temp\":22.5,\"hum\":41}\n")
	waitLines(t, live, `serial/json 0 0 {"temp":22.5,"hum":41}`)
	pty["jsplit"].send(t, "{\"temp\":22.5,\"state\":\"ok go\",\"o\":{ \"a\" : 1 }}\n")
	waitLines(t, live, "j/jsplit/temp 2 0 22.5", "j/jsplit/state 2 0 ok go", `j/jsplit/o 2 0 {"a":1}`)
	pty["raw"].send(t, "hello world\n\x00\xff binary\nafter\n")
	waitLines(t, live, "serial/raw 0 0 hello world", "serial/raw 0 0 after")
	pty["csv"].send(t, "22.5,skip,41\n1,2\n23.0,x,40\n")
	waitLines(t, live, "serial/csv/temp 0 0 22.5", "serial/csv/hum 0 0 41", "serial/csv/temp 0 0 23.0", "serial/csv/hum 0 0 40")
	if n := countLines(live, "serial/csv/temp 0 0 1"); n != 0 {
		t.Fatal("a csv line with the wrong number of values was published")
	}

	// Retained readings and discovery, as a new subscriber sees them.
	ret := sub("-C", "4", "-t", "sensors/weather/temp", "-t", "sensors/weather/hum",
		"-t", "homeassistant/sensor/kv/temp/config", "-t", "homeassistant/sensor/kv/hum/config")
	// unique_ids and the device carry this machine's gateway id; hum,
	// numeric, gets a state class without a unit.
	id := "gatemq_kv"
	if gw, _ := serial.GatewayID(serial.IDSource{}); gw != "" {
		id = "gatemq_" + gw + "_kv"
	}
	dev := `"device":{"identifiers":["` + id + `"],"name":"kv","manufacturer":"gatemq","model":"serial kv"}}`
	avail := `"availability_topic":"sensors/weather/status","payload_available":"online","payload_not_available":"offline"`
	waitLines(t, ret, "sensors/weather/temp 1 1 22.5")
	waitLines(t, ret, "sensors/weather/hum 1 1 41")
	waitLines(t, ret, `homeassistant/sensor/kv/temp/config 1 1 {"name":"temp","unique_id":"`+id+`_temp","object_id":"kv_temp",`+
		`"state_topic":"sensors/weather/temp",`+avail+`,"device_class":"temperature","unit_of_measurement":"°C","state_class":"measurement",`+dev)
	waitLines(t, ret, `homeassistant/sensor/kv/hum/config 1 1 {"name":"hum","unique_id":"`+id+`_hum","object_id":"kv_hum",`+
		`"state_topic":"sensors/weather/hum",`+avail+`,"state_class":"measurement",`+dev)

	// Commands: byte-exact, in order, with each port's line ending.
	kvEnd := pty["kv"].end(t)
	pub("", "-t", "sensors/weather/cmd", "-m", "LED ON")
	expectBytes(t, kvEnd, "LED ON\n")
	pub("c1\nc2\nc3\n", "-t", "sensors/weather/cmd", "-l")
	expectBytes(t, kvEnd, "c1\nc2\nc3\n")
	bin := filepath.Join(dir, "cmd.bin")
	if err := os.WriteFile(bin, []byte("\x00\x01\xff\r\nend"), 0o644); err != nil {
		t.Fatal(err)
	}
	pub("", "-t", "sensors/weather/cmd", "-f", bin)
	expectBytes(t, kvEnd, "\x00\x01\xff\r\nend\n")
	rawEnd := pty["raw"].end(t)
	pub("", "-t", "serial/raw/cmd", "-m", "PING")
	expectBytes(t, rawEnd, "PING\r\n")

	// Unplug and replug the kv device: offline, online, readings again.
	pty["kv"].unplug(t)
	waitLines(t, live, "sensors/weather/status 1 0 offline")
	pty["kv"] = startSerialPty(t, socat, pty["kv"].dir)
	waitLines(t, live, "sensors/weather/status 1 0 offline", "sensors/weather/status 1 0 online")
	pty["kv"].send(t, "temp=23\n")
	waitLines(t, live, "sensors/weather/status 1 0 online", "sensors/weather/temp 1 0 23")
	kvEnd = pty["kv"].end(t)
	pub("", "-t", "sensors/weather/cmd", "-m", "AGAIN")
	expectBytes(t, kvEnd, "AGAIN\n")

	// Clean shutdown: every port's status goes offline before the broker
	// closes the connections.
	if err := gq.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := gq.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("gatemq exited %d", code)
	}
	// The broker closes connections without draining their queues, so a
	// live subscriber may miss some; the retained statuses are what
	// counts: a broker started on the same data folder, without serial
	// blocks, hands out offline for every port.
	gq2 := startGatemqOnPort(t, "-data", data)
	host, port, _ = net.SplitHostPort(gq2.addr)
	after := sub("-C", "5", "-t", "+/+/status")
	for _, s := range []string{"sensors/weather/status", "serial/json/status", "j/jsplit/status", "serial/raw/status", "serial/csv/status"} {
		waitLines(t, after, s+" 1 1 offline")
	}
}

// TestSerialShutdownWithoutDevice: a configured device that does not exist
// is retried in the background; the broker starts and stops normally.
func TestSerialShutdownWithoutDevice(t *testing.T) {
	conf := writeConfig(t, "serial ghost "+filepath.Join(t.TempDir(), "none")+"\n")
	gq := startGatemqOnPort(t, "-memory", "-v", "-c", conf)
	// A retry (logged at debug level) comes well after the signal handler
	// is installed.
	if _, err := gq.await(gq.stderr, regexp.MustCompile(`serial device still not available`), 15*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = gq.cmd.Process.Signal(syscall.SIGTERM)
	if code := gq.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// BenchmarkSerialPty measures one port end to end in-process: lines written
// into a socat pty, read by the bridge through go.bug.st/serial, published
// into the real broker, received by an in-process subscriber. It reports
// lines/s flat out, and at 115200 baud pace (11520 bytes/s) the latency
// from the newline's write to the subscriber (p50/p99) and the CPU share of
// this process (broker + bridge + the test's writer).
//
//	go test -run='^$' -bench=BenchmarkSerialPty -benchtime=2000x .
func BenchmarkSerialPty(b *testing.B) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		b.Skip("socat not installed")
	}
	dir := b.TempDir()
	cmd := exec.Command(socat, "pty,raw,echo=0,link="+filepath.Join(dir, "a"), "pty,raw,echo=0,link="+filepath.Join(dir, "b"))
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
	s := mqtt.NewServer(mqtt.Options{})
	br, err := serial.NewBridge(serial.Config{Name: "bench", Device: filepath.Join(dir, "a"), Baud: 115200,
		StatusTopic: "none"}, serialBroker{s}, nil)
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan time.Time, 1<<16)
	cancelSub, err := s.Subscribe("serial/bench/seq", func(string, []byte, bool) { got <- time.Now() })
	if err != nil {
		b.Fatal(err)
	}
	defer cancelSub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = br.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	end, err := os.OpenFile(filepath.Join(dir, "b"), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer end.Close()
	for br.Stats().Opens == 0 {
		time.Sleep(time.Millisecond)
	}
	line := func(i int) []byte { return fmt.Appendf(nil, "seq=%08d t=22.51 h=41.2\n", i) }
	recv := func(n int) {
		for range n {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				b.Fatalf("lost lines: %+v", br.Stats())
			}
		}
	}

	// Flat out: the writer goes as fast as the pty takes bytes.
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := range b.N {
			_, _ = end.Write(line(i))
		}
	}()
	recv(b.N)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
	b.StopTimer()

	// 115200 baud pace: 11520 bytes/s.
	n := min(b.N, 1000)
	lat := make([]time.Duration, 0, n)
	gap := time.Duration(len(line(0))) * time.Second / 11520
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	wall := time.Now()
	next := time.Now()
	for i := range n {
		time.Sleep(time.Until(next))
		next = next.Add(gap)
		sent := time.Now()
		_, _ = end.Write(line(i))
		select {
		case at := <-got:
			lat = append(lat, at.Sub(sent))
		case <-time.After(10 * time.Second):
			b.Fatal("lost a line")
		}
	}
	elapsed := time.Since(wall)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "paced-lines/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu-%")
}
