package main

// Tests of serial_format modbus: the config lines, and the real binary
// polling a third-party slave (Debian's pymodbus, testdata/modbus_slave.py)
// over a socat pseudo-terminal pair.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatemq/board/serial"
)

func TestSerialModbusConfig(t *testing.T) {
	text := `serial meter /dev/ttyUSB0
serial_baud 9600
serial_parity none
serial_format modbus
serial_topic energy/meter
serial_json_state true
modbus_poll 5s                                  # default 10s
modbus_timeout 300ms                            # response timeout; default 1s
modbus_retries 2
# modbus_register SLAVE KIND ADDRESS TYPE NAME [scale=F] [offset=F] [unit=U] [class=C] [writable]
modbus_register 1 input 0x0000 float32 voltage unit=V class=voltage
modbus_register 1 input 0x000C float32-ws power unit=W class=power
modbus_register 1 holding 0x0010 uint16 setpoint scale=0.1 unit=°C writable
modbus_register 1 holding 17 int16 offset offset=-40 scale=0.5 state_class=none
modbus_register 1 input 0x0020 uint32-le energy scale=0.001 unit=kWh class=energy state_class=total_increasing
modbus_register 2 coil 0 bool relay writable
`
	cfg, err := parseConfig(strings.NewReader(text), "t.conf", defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []serial.Config{{Name: "meter", Device: "/dev/ttyUSB0", Baud: 9600, Parity: "none", Format: serial.FormatModbus,
		Topic: "energy/meter", JSONState: true, Line: 1,
		Modbus: serial.Modbus{Poll: 5 * time.Second, Timeout: 300 * time.Millisecond, Retries: 2, Registers: []serial.ModbusRegister{
			{Slave: 1, Kind: "input", Address: 0, Type: "float32", Name: "voltage", Unit: "V", Class: "voltage", Line: 11},
			{Slave: 1, Kind: "input", Address: 12, Type: "float32-ws", Name: "power", Unit: "W", Class: "power", Line: 12},
			{Slave: 1, Kind: "holding", Address: 16, Type: "uint16", Name: "setpoint", Scale: 0.1, Unit: "°C", Writable: true, Line: 13},
			{Slave: 1, Kind: "holding", Address: 17, Type: "int16", Name: "offset", Scale: 0.5, Offset: -40, StateClass: "none", Line: 14},
			{Slave: 1, Kind: "input", Address: 32, Type: "uint32-le", Name: "energy", Scale: 0.001, Unit: "kWh", Class: "energy",
				StateClass: "total_increasing", Line: 15},
			{Slave: 2, Kind: "coil", Address: 0, Type: "bool", Name: "relay", Writable: true, Line: 16},
		}}}}
	if !reflect.DeepEqual(cfg.Serial.Ports, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg.Serial.Ports, want)
	}
	if ports := cfg.Serial.withSys(7 * time.Second); ports[0].SysInterval != 7*time.Second || cfg.Serial.Ports[0].SysInterval != 0 {
		t.Fatal("withSys")
	}
}

func TestSerialModbusConfigErrors(t *testing.T) {
	const head = "serial m /dev/x\nserial_format modbus\n"
	const reg = "modbus_register 1 input 0 uint16 v\n"
	cases := []struct {
		text string
		line int
		msg  string
	}{
		{head, 1, "needs at least one modbus_register"},
		{"serial m /dev/x\n" + reg, 1, "serial_format modbus only"},
		{"serial m /dev/x\nserial_json_state true\n", 1, "serial_json_state is for serial_format modbus only"},
		{"modbus_poll 1s\n", 1, "outside a serial block"},
		{head + "modbus_poll 5\n", 3, "modbus_poll must be a duration with its unit, like 300ms, 5s or 2m"},
		{head + "modbus_poll 10ms\n", 3, "modbus_poll must be between 100ms and 24h0m0s"},
		{head + "modbus_timeout 2m\n", 3, "modbus_timeout must be between"},
		{head + "modbus_timeout 1s\nmodbus_timeout 1s\n", 4, "duplicate modbus_timeout"},
		{head + "modbus_retries many\n", 3, "modbus_retries must be a whole number"},
		{head + "modbus_retries 11\n", 3, "between 0 and 10"},
		{head + "modbus_register 1 input 0 uint16\n", 3, "needs SLAVE KIND ADDRESS TYPE NAME"},
		{head + "modbus_register 0 input 0 uint16 v\n", 3, "modbus_register SLAVE must be between 1 and 247"},
		{head + "modbus_register x input 0 uint16 v\n", 3, "modbus_register SLAVE must be a whole number"},
		{head + "modbus_register 1 inputs 0 uint16 v\n", 3, "modbus_register KIND must be one of coil, discrete, holding, input"},
		{head + "modbus_register 1 input 0x10000 uint16 v\n", 3, "ADDRESS must be 0..65535"},
		{head + "modbus_register 1 input 010z uint16 v\n", 3, "ADDRESS"},
		{head + "modbus_register 1 input 0 float64 v\n", 3, "modbus_register TYPE must be one of bool, int16"},
		{head + "modbus_register 1 input 0 uint16 v/w\n", 3, "modbus_register v/w: name"},
		{head + "modbus_register 1 input 0 uint16 v scale=0\n", 3, "scale must not be 0"},
		{head + "modbus_register 1 input 0 uint16 v scale=x\n", 3, "scale must be a finite number"},
		{head + "modbus_register 1 input 0 uint16 v offset=NaN\n", 3, "offset must be a finite number"},
		{head + "modbus_register 1 input 0 uint16 v unit=V unit=W\n", 3, "option unit given twice"},
		{head + "modbus_register 1 input 0 uint16 v colour=red\n", 3, `unknown option "colour=red"`},
		{head + "modbus_register 1 input 0 uint16 v writable=yes\n", 3, "unknown option"},
		{head + "modbus_register 1 input 0 uint16 v state_class=sum\n", 3, "state_class must be one of"},
		{head + "modbus_register 1 input 0 uint16 v writable\n", 3, "cannot be written"},
		{head + "modbus_register 1 coil 0 uint16 v\n", 3, "its type is bool"},
		{head + "modbus_register 1 input 65535 float32 v\n", 3, "does not fit"},
		{head + reg + reg, 1, "modbus_register v: the name is used twice"},
		{head + reg + "serial_cmd_topic x/cmd\n", 1, "BASE/NAME/set"},
		{head + "modbus_register 1 input 0 uint16 status\n", 1, "same topic"},
		{head + "modbus_regster 1\n", 3, "did you mean modbus_register?"},
	}
	for _, tc := range cases {
		_, err := parseConfig(strings.NewReader(tc.text), "t.conf", defaultConfig())
		var ce *configError
		if !errors.As(err, &ce) || ce.Line != tc.line || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%q: got %v, want line %d with %q", tc.text, err, tc.line, tc.msg)
		}
	}
}

// requirePymodbus returns a python3 that imports Debian's pymodbus and
// serial_asyncio (/usr/bin/python3 first: a python3 earlier on PATH may not
// see Debian's packages), or skips loudly (fails under
// GATEMQ_REQUIRE_TOOLS=1).
func requirePymodbus(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import pymodbus, serial_asyncio").Run() == nil {
			return path
		}
	}
	const pkgs = "python3-pymodbus python3-serial-asyncio"
	msg := "python3 with pymodbus is not installed (Debian packages " + pkgs + "): run `make tools` or `apt-get install " + pkgs + "`"
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
	t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	return ""
}

// modbusValue is one value of testdata/modbus_slave.py's SPEC file.
type modbusValue struct {
	Slave   int     `json:"slave"`
	Kind    string  `json:"kind"`
	Address int     `json:"address"`
	Type    string  `json:"type"`
	Value   float64 `json:"value"`
}

// modbusSlave is testdata/modbus_slave.py serving SPEC on a pty.
type modbusSlave struct {
	*proc
	stdin *os.File
}

// startModbusSlave starts the slave script on device with values and waits
// until it serves.
func startModbusSlave(t *testing.T, python, device string, values []modbusValue) *modbusSlave {
	t.Helper()
	spec, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	// An *os.File as stdin goes to the child as it is: no copying
	// goroutine that Wait would wait for.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	s := &modbusSlave{proc: startProc(t, pr, python, "testdata/modbus_slave.py", device, path), stdin: pw}
	s.waitFor(t, s.stdout, regexp.MustCompile(`(?m)^READY$`), 15*time.Second)
	return s
}

// command sends one command line to the slave and waits for the line that
// answers it (matching re).
func (s *modbusSlave) command(t *testing.T, cmd string, re string) []string {
	t.Helper()
	if _, err := io.WriteString(s.stdin, cmd+"\n"); err != nil {
		t.Fatalf("slave command %q: %v", cmd, err)
	}
	return s.waitFor(t, s.stdout, regexp.MustCompile(re), 10*time.Second)
}

// waitRetained is waitLines for retained topics, whose retain flag a live
// subscriber sees as 0 or 1 depending on whether it subscribed before or
// after the publish: "?" in a line stands for that flag.
func waitRetained(t *testing.T, p *proc, want ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`(?s)(?:^|\n)`)
	for i, l := range want {
		if i > 0 {
			b.WriteString(`(?:.*\n)?`)
		}
		b.WriteString(strings.Replace(regexp.QuoteMeta(l), ` \?`, ` [01]`, 1) + `\n`)
	}
	p.waitFor(t, p.stdout, regexp.MustCompile(b.String()), 15*time.Second)
}

// TestSerialModbusEndToEnd runs the gatemq binary as the Modbus RTU master
// of two slaves served by pymodbus (a third-party implementation: it builds
// the registers of every type and byte order itself) on a socat pty pair,
// and checks with mosquitto_sub and mosquitto_pub: every value and type,
// the JSON state, discovery, writes landing in the slave's registers with
// scaling and rounding, a slave that stops answering, a dead bus, an
// unplugged adapter, and the counters under $SYS.
func TestSerialModbusEndToEnd(t *testing.T) {
	socat := requireTool(t, "socat", "socat")
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	pubBin := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	python := requirePymodbus(t)
	dir := t.TempDir()
	pty := startSerialPty(t, socat, filepath.Join(dir, "bus"))
	values := []modbusValue{
		{1, "input", 0x00, "float32", 230.1},
		{1, "input", 0x02, "float32-ws", -1.5},
		{1, "input", 0x04, "float32-le", 49.98},
		{1, "input", 0x06, "float32-bs", 0.25},
		{1, "input", 0x0C, "int32", -123456},
		{1, "input", 0x0E, "uint32-ws", 4000000000},
		{1, "holding", 0x10, "uint16", 215},
		{1, "holding", 0x11, "int16", -20},
		{1, "holding", 0x14, "float32-ws", 7.5},
		{2, "coil", 0, "bool", 1},
		{2, "coil", 1, "bool", 0},
		{2, "discrete", 5, "bool", 1},
		{2, "input", 3, "int16", -7},
	}
	slave := startModbusSlave(t, python, pty.b, values)
	conf := writeConfig(t, fmt.Sprintf(`sys_interval 1
serial meter %s
serial_baud 9600
serial_parity none
serial_format modbus
serial_topic energy/meter
serial_json_state true
serial_discovery true
modbus_poll 300ms
modbus_timeout 200ms
modbus_retries 1
modbus_register 1 input 0x0000 float32 voltage unit=V class=voltage
modbus_register 1 input 0x0002 float32-ws power unit=W class=power
modbus_register 1 input 0x0004 float32-le frequency unit=Hz class=frequency
modbus_register 1 input 0x0006 float32-bs pf class=power_factor
modbus_register 1 input 0x000C int32 balance
modbus_register 1 input 0x000E uint32-ws energy scale=0.001 unit=kWh class=energy state_class=total_increasing
modbus_register 1 holding 0x0010 uint16 setpoint scale=0.1 unit=°C writable
modbus_register 1 holding 0x0011 int16 trim scale=0.5 offset=-40 writable
modbus_register 1 holding 0x0014 float32-ws limit unit=A writable
modbus_register 2 coil 0 bool relay writable
modbus_register 2 coil 1 bool fan
modbus_register 2 discrete 5 bool door
modbus_register 2 input 3 int16 temp scale=0.1 unit=°C class=temperature
`, pty.a))
	gq := startGatemqOnPort(t, "-memory", "-c", conf)
	host, port, _ := net.SplitHostPort(gq.addr)
	sub := func(args ...string) *proc {
		all := append([]string{"-oL", subBin, "-h", host, "-p", port, "-q", "1", "-F", "%t %r %p", "-W", "90"}, args...)
		return startProc(t, nil, stdbuf, all...)
	}
	pub := func(topic, msg string) {
		t.Helper()
		p := startProc(t, nil, pubBin, "-h", host, "-p", port, "-q", "1", "-t", topic, "-m", msg)
		if code := p.wait(t, 15*time.Second); code != 0 {
			t.Fatalf("mosquitto_pub %s %s exited %d: %s", topic, msg, code, p.stderr.String())
		}
	}
	live := sub("-t", "energy/#")

	// Every value, type and byte order, as pymodbus wrote them.
	waitRetained(t, live, "energy/meter/status ? online")
	waitRetained(t, live, "energy/meter/status/1 ? online")
	waitRetained(t, live, "energy/meter/status/2 ? online")
	for _, l := range []string{
		"energy/meter/voltage 0 230.1", "energy/meter/power 0 -1.5", "energy/meter/frequency 0 49.98",
		"energy/meter/pf 0 0.25", "energy/meter/balance 0 -123456", "energy/meter/energy 0 4000000",
		"energy/meter/setpoint 0 21.5", "energy/meter/trim 0 -50", "energy/meter/limit 0 7.5",
		"energy/meter/relay 0 ON", "energy/meter/fan 0 OFF", "energy/meter/door 0 ON", "energy/meter/temp 0 -0.7",
		`energy/meter 0 {"voltage":230.1,"power":-1.5,"frequency":49.98,"pf":0.25,"balance":-123456,"energy":4000000,` +
			`"setpoint":21.5,"trim":-50,"limit":7.5,"relay":true,"fan":false,"door":true,"temp":-0.7}`,
	} {
		waitLines(t, live, l)
	}

	// Discovery: a sensor, a number and a switch, as a new subscriber sees
	// them.
	disc := sub("-C", "3", "-t", "homeassistant/sensor/meter/energy/config", "-t", "homeassistant/number/meter/trim/config",
		"-t", "homeassistant/switch/meter/relay/config")
	// unique_ids and devices carry this machine's gateway id.
	id := "gatemq_meter"
	if gw, _ := serial.GatewayID(serial.IDSource{}); gw != "" {
		id = "gatemq_" + gw + "_meter"
	}
	disc.waitFor(t, disc.stdout, regexp.MustCompile(`homeassistant/sensor/meter/energy/config 1 \{"name":"energy",`+
		`"unique_id":"`+id+`_energy","object_id":"meter_energy","state_topic":"energy/meter/energy",`+
		`"availability_topic":"energy/meter/status/1","payload_available":"online","payload_not_available":"offline",`+
		`"device_class":"energy","unit_of_measurement":"kWh","state_class":"total_increasing",`+
		`"device":\{"identifiers":\["`+id+`_1"\],"name":"meter slave 1","manufacturer":"gatemq","model":"serial modbus"\}\}\n`), 15*time.Second)
	disc.waitFor(t, disc.stdout, regexp.MustCompile(`homeassistant/number/meter/trim/config 1 \{[^\n]*"command_topic":"energy/meter/trim/set"`+
		`[^\n]*"min":-16424,"max":16343.5,"step":0.5,"mode":"box"`), 15*time.Second)
	disc.waitFor(t, disc.stdout, regexp.MustCompile(`homeassistant/switch/meter/relay/config 1 \{[^\n]*"state_topic":"energy/meter/relay",`+
		`"command_topic":"energy/meter/relay/set","availability_topic":"energy/meter/status/2"`), 15*time.Second)

	// Writes land in the slave's registers, scaled back and rounded, and
	// the value read back is published.
	pub("energy/meter/setpoint/set", "22.46") // 224.6 -> 225
	slave.waitFor(t, slave.stdout, regexp.MustCompile(`(?m)^WRITE 1 holding 16 225$`), 10*time.Second)
	waitLines(t, live, "energy/meter/setpoint 0 22.5")
	pub("energy/meter/setpoint/set", "22.44") // 224.4 -> 224
	slave.waitFor(t, slave.stdout, regexp.MustCompile(`(?m)^WRITE 1 holding 16 224$`), 10*time.Second)
	waitLines(t, live, "energy/meter/setpoint 0 22.4")
	pub("energy/meter/trim/set", "-45.3") // (-45.3+40)/0.5 = -10.6 -> -11
	slave.waitFor(t, slave.stdout, regexp.MustCompile(`(?m)^WRITE 1 holding 17 65525$`), 10*time.Second)
	slave.command(t, "decode 1 holding 17 int16", `(?m)^DECODED 1 holding 17 int16 -11$`)
	waitLines(t, live, "energy/meter/trim 0 -45.5")
	pub("energy/meter/limit/set", "12.5") // float32 word-swapped, function 16
	slave.waitFor(t, slave.stdout, regexp.MustCompile(`(?m)^WRITE 1 holding 20 0 16712$`), 10*time.Second)
	slave.command(t, "decode 1 holding 20 float32-ws", `(?m)^DECODED 1 holding 20 float32-ws 12.5$`)
	waitLines(t, live, "energy/meter/limit 0 12.5")
	pub("energy/meter/relay/set", "OFF")
	slave.waitFor(t, slave.stdout, regexp.MustCompile(`(?m)^WRITE 2 coil 0 0$`), 10*time.Second)
	slave.command(t, "get 2 coil 0 1", `(?m)^VALUES 2 coil 0 0$`)
	waitLines(t, live, "energy/meter/relay 0 OFF")
	// Refused: out of range, not a number, not writable (no subscription).
	pub("energy/meter/setpoint/set", "7000")
	pub("energy/meter/setpoint/set", "warm")
	pub("energy/meter/voltage/set", "1")
	sys := sub("-t", "$SYS/broker/serial/meter/#")
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/writes/refused [01] 2\n`), 15*time.Second)
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/writes/done [01] 5\n`), 15*time.Second)
	slave.command(t, "get 1 holding 16 1", `(?m)^VALUES 1 holding 16 224$`)

	// Slave 2 stops answering: the port's status names it, its own goes
	// offline, its timeouts count; slave 1 goes on.
	slave.command(t, "silence 2", `(?m)^SILENCED 2$`)
	waitRetained(t, live, "energy/meter/status ? slave 2 not answering")
	waitRetained(t, live, "energy/meter/status/2 ? online", "energy/meter/status/2 ? offline")
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/slave/2/timeouts [01] [1-9]\d*\n`), 15*time.Second)
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/slave/2/state [01] not answering\n`), 15*time.Second)
	n := countLines(live, "energy/meter/voltage 0 230.1")
	waitLines(t, live, slices.Repeat([]string{"energy/meter/voltage 0 230.1"}, n+1)...)
	slave.command(t, "answer 2", `(?m)^ANSWERING 2$`)
	waitRetained(t, live, "energy/meter/status ? slave 2 not answering", "energy/meter/status ? online")
	waitRetained(t, live, "energy/meter/status/2 ? offline", "energy/meter/status/2 ? online")

	// The slave process dies: nobody answers.
	relayOff := countLines(live, "energy/meter/relay 0 OFF")
	_ = slave.cmd.Process.Kill()
	slave.wait(t, 10*time.Second)
	waitRetained(t, live, "energy/meter/status ? slaves 1,2 not answering")
	waitRetained(t, live, "energy/meter/status/1 ? online", "energy/meter/status/1 ? offline")

	// The adapter is unplugged: offline; a write meanwhile is dropped.
	pty.unplug(t)
	waitRetained(t, live, "energy/meter/status ? slaves 1,2 not answering", "energy/meter/status ? offline")
	pub("energy/meter/relay/set", "ON")
	// Plugged in again with its slaves: online, and the dropped write was
	// not carried out later (the relay is still OFF).
	pty = startSerialPty(t, socat, pty.dir)
	values[9].Value = 0 // the relay as the slave had it
	slave = startModbusSlave(t, python, pty.b, values)
	waitRetained(t, live, "energy/meter/status ? offline", "energy/meter/status ? online")
	waitLines(t, live, slices.Repeat([]string{"energy/meter/relay 0 OFF"}, relayOff+1)...)
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/writes/dropped [01] 1\n`), 15*time.Second)
	sys.waitFor(t, sys.stdout, regexp.MustCompile(`\$SYS/broker/serial/meter/opens [01] 2\n`), 15*time.Second)
	if strings.Contains(slave.stdout.String(), "WRITE") {
		t.Fatalf("a write made while unplugged reached the slave:\n%s", slave.stdout.String())
	}

	if err := gq.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := gq.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("gatemq exited %d", code)
	}
	if strings.Contains(gq.stderr.String(), "panic") {
		t.Fatalf("gatemq panicked:\n%s", gq.stderr.String())
	}
}

// pacedRelay joins two pty ends as an RS-485 line at baud would: the bytes
// of each chunk are handed on once they would have crossed the wire, and
// the two directions share the line (half duplex).
func pacedRelay(t *testing.T, x, y string, char time.Duration) {
	t.Helper()
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	fx, fy := open(x), open(y)
	var mu sync.Mutex
	var free time.Time // when the line is free again
	done := make(chan struct{}, 2)
	move := func(from, to *os.File) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 512)
		for {
			n, err := from.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			start := time.Now()
			if free.After(start) {
				start = free
			}
			free = start.Add(time.Duration(n) * char)
			end := free
			mu.Unlock()
			time.Sleep(time.Until(end))
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go move(fx, fy)
	go move(fy, fx)
	t.Cleanup(func() { fx.Close(); fy.Close(); <-done; <-done })
}

// measureRegisters is the 50-register layout of the measurement: a meter
// (slave 1: 24 float32 inputs in a row, 6 holding registers in a row) and
// an I/O module (slave 2: 10 inputs in a row, 5 holding registers with
// gaps, 5 coils) — 9 reads a cycle.
func measureRegisters() (values []modbusValue, conf string) {
	var b strings.Builder
	add := func(slave int, kind string, addr int, typ string, v float64) {
		values = append(values, modbusValue{slave, kind, addr, typ, v})
		fmt.Fprintf(&b, "modbus_register %d %s %d %s r%d\n", slave, kind, addr, typ, len(values))
	}
	for i := range 24 {
		add(1, "input", 2*i, "float32", 230+float64(i))
	}
	for i := range 6 {
		add(1, "holding", 0x100+i, "uint16", float64(i))
	}
	for i := range 10 {
		add(2, "input", i, "int16", float64(-i))
	}
	for i := range 5 {
		add(2, "holding", 0x20+2*i, "uint16", float64(i))
	}
	for i := range 5 {
		add(2, "coil", i, "bool", float64(i%2))
	}
	return values, b.String()
}

// TestSerialModbusMeasure measures one poll cycle of 50 registers over two
// slaves at 9600 baud (through pacedRelay) against the line's theoretical
// minimum, and the broker's CPU while it polls them every second. It takes
// about a minute, so it runs only with GATEMQ_MODBUS_MEASURE=1:
//
//	GATEMQ_MODBUS_MEASURE=1 go test -run TestSerialModbusMeasure -v .
func TestSerialModbusMeasure(t *testing.T) {
	if os.Getenv("GATEMQ_MODBUS_MEASURE") != "1" {
		t.Skip("a measurement, not a test: run with GATEMQ_MODBUS_MEASURE=1")
	}
	socat := requireTool(t, "socat", "socat")
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := requireTool(t, "stdbuf", "coreutils")
	python := requirePymodbus(t)
	values, regs := measureRegisters()
	const baud = 9600
	char := 10 * time.Second / baud // 8N1
	master := startSerialPty(t, socat, filepath.Join(t.TempDir(), "master"))
	slaveSide := startSerialPty(t, socat, filepath.Join(t.TempDir(), "slave"))
	pacedRelay(t, master.b, slaveSide.a, char)
	startModbusSlave(t, python, slaveSide.b, values)

	run := func(poll string, seconds time.Duration) (cycles []int, cpu float64) {
		conf := writeConfig(t, fmt.Sprintf("sys_interval 1\nserial m %s\nserial_format modbus\nserial_baud %d\n"+
			"modbus_poll %s\nmodbus_timeout 500ms\n%s", master.a, baud, poll, regs))
		gq := startGatemqOnPort(t, "-memory", "-c", conf)
		host, port, _ := net.SplitHostPort(gq.addr)
		sub := startProc(t, nil, stdbuf, "-oL", subBin, "-h", host, "-p", port, "-v", "-t", "$SYS/broker/serial/m/poll_us",
			"-t", "$SYS/broker/serial/m/slave/+/timeouts", "-W", "120")
		ticks := func() int64 {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", gq.cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
			u, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
			s, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
			return u + s
		}
		sub.waitFor(t, sub.stdout, regexp.MustCompile(`poll_us [1-9]`), 15*time.Second)
		t0, w0 := ticks(), time.Now()
		time.Sleep(seconds)
		used := float64(ticks()-t0) / 100 // CLK_TCK is 100 on Linux
		cpu = 100 * used / time.Since(w0).Seconds()
		for _, m := range regexp.MustCompile(`poll_us (\d+)`).FindAllStringSubmatch(sub.stdout.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			cycles = append(cycles, n)
		}
		if strings.Contains(sub.stdout.String(), "timeouts 1") {
			t.Errorf("timeouts while measuring:\n%s", sub.stdout.String())
		}
		_ = gq.cmd.Process.Signal(syscall.SIGTERM)
		gq.wait(t, 15*time.Second)
		return cycles, cpu
	}

	// The line's minimum: every request and answer at 10 bits a byte, and
	// the 3.5-character silence before each of them.
	reads, onWire := 0, 0
	for _, r := range []struct{ n, size int }{{1, 24 * 4}, {1, 6 * 2}, {1, 10 * 2}, {5, 2}, {1, 1}} {
		reads += r.n
		onWire += r.n * (8 + 5 + r.size)
	}
	theory := time.Duration(onWire)*char + time.Duration(2*reads)*(35*char/10)
	cycles, _ := run("2s", 8*time.Second)
	slices.Sort(cycles)
	med := time.Duration(cycles[len(cycles)/2]) * time.Microsecond
	t.Logf("one cycle of 50 registers, 2 slaves, %d reads, %d bytes at %d baud: median %v (of %d cycles, min %v max %v); "+
		"line minimum %v (%v of bytes + %d silences of 3.5 characters); ratio %.2f",
		reads, onWire, baud, med, len(cycles), time.Duration(cycles[0])*time.Microsecond,
		time.Duration(cycles[len(cycles)-1])*time.Microsecond, theory, time.Duration(onWire)*char, 2*reads,
		float64(med)/float64(theory))
	_, cpu := run("1s", 30*time.Second)
	t.Logf("broker CPU while polling the 50 registers every second, over 30 s: %.2f%% of one core", cpu)
}
