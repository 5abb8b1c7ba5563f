package serial

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gatemq/board/serial/modbus"
	"gatemq/board/serial/modbus/modbustest"
)

// runSlaves answers what the bridge writes to dev with bus until the test
// ends. Each Write of the bridge is one whole request.
func runSlaves(t *testing.T, dev *fakeDevice, bus *modbustest.Bus) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case frame := <-dev.written:
				if ans := bus.Handle(frame); ans != nil {
					if p := dev.current(); p != nil {
						_, _ = p.w.Write(ans) // fails once the bridge closed the port
					}
				}
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

// meterSlaves are the two slaves of the tests: a meter (1) and a relay
// board (2).
func meterSlaves() map[byte]*modbustest.Slave {
	s1, s2 := modbustest.NewSlave(), modbustest.NewSlave()
	v := math.Float32bits(230.1)
	s1.Input[0], s1.Input[1] = uint16(v>>16), uint16(v) // voltage, float32 ABCD
	p := math.Float32bits(-1.5)
	s1.Input[0x0C], s1.Input[0x0D] = uint16(p), uint16(p>>16) // power, float32-ws
	s1.Input[0x0E], s1.Input[0x0F] = 0xFFFF, 0xFF85           // balance int32 = -123
	s1.Holding[0x10] = 215                                    // setpoint 21.5 °C, scale 0.1
	s1.Holding[0x11], s1.Holding[0x12] = 0x0001, 0xE240       // counter uint32 = 123456, scale 0.001
	s2.Coils[0] = true
	s2.Discrete[3] = false
	return map[byte]*modbustest.Slave{1: s1, 2: s2}
}

func meterConfig() Config {
	return Config{Format: FormatModbus, Topic: "energy/meter", JSONState: true, Discovery: true, SysInterval: time.Hour,
		Modbus: Modbus{Poll: 100 * time.Millisecond, Timeout: 30 * time.Millisecond, Retries: 1, Registers: []ModbusRegister{
			{Slave: 1, Kind: "input", Address: 0, Type: "float32", Name: "voltage", Unit: "V", Class: "voltage"},
			{Slave: 1, Kind: "input", Address: 0x0C, Type: "float32-ws", Name: "power", Unit: "W", Class: "power"},
			{Slave: 1, Kind: "input", Address: 0x0E, Type: "int32", Name: "balance"},
			{Slave: 1, Kind: "holding", Address: 0x10, Type: "uint16", Name: "setpoint", Scale: 0.1, Unit: "°C", Writable: true},
			{Slave: 1, Kind: "holding", Address: 0x11, Type: "uint32", Name: "counter", Scale: 0.001, Unit: "kWh", StateClass: "total_increasing"},
			{Slave: 2, Kind: "coil", Address: 0, Type: "bool", Name: "relay", Writable: true},
			{Slave: 2, Kind: "discrete", Address: 3, Type: "bool", Name: "door"},
		}}}
}

// lastPub returns the last payload published on topic.
func (f *fakeBroker) lastPub(topic string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.pubs) - 1; i >= 0; i-- {
		if f.pubs[i].topic == topic {
			return f.pubs[i].payload, true
		}
	}
	return "", false
}

func waitPub(t *testing.T, br *fakeBroker, topic, want string) {
	t.Helper()
	waitFor(t, wait, func() error {
		if got, _ := br.lastPub(topic); got != want {
			return fmt.Errorf("%s: last %q, want %q", topic, got, want)
		}
		return nil
	})
}

func TestModbusBridge(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	bus := modbustest.NewBus(meterSlaves())
	b := newTestBridge(t, meterConfig(), br, dev)
	runSlaves(t, dev, bus)
	runBridge(t, b)

	for topic, want := range map[string]string{
		"energy/meter/voltage": "230.1", "energy/meter/power": "-1.5", "energy/meter/balance": "-123",
		"energy/meter/setpoint": "21.5", "energy/meter/counter": "123.456", "energy/meter/relay": "ON",
		"energy/meter/door": "OFF", "energy/meter/status": "online", "energy/meter/status/1": "online",
		"energy/meter/status/2": "online",
	} {
		waitPub(t, br, topic, want)
	}
	waitPub(t, br, "energy/meter", `{"voltage":230.1,"power":-1.5,"balance":-123,"setpoint":21.5,"counter":123.456,"relay":true,"door":false}`)
	// Five reads a cycle: slave 1's holding 0x10..0x12, input 0..1, input
	// 0x0C..0x0F (not adjacent to 0..1); slave 2's coil and discrete input.
	if n := len(b.mb.reads); n != 5 {
		t.Fatalf("%d reads: %+v", n, b.mb.reads)
	}

	// Writes: scaled back and rounded (22.46 / 0.1 = 224.6 -> 225), then
	// read back and published.
	if err := br.Publish("energy/meter/setpoint/set", []byte("22.46"), 1, false); err != nil {
		t.Fatal(err)
	}
	waitPub(t, br, "energy/meter/setpoint", "22.5")
	if err := br.Publish("energy/meter/relay/set", []byte("OFF"), 1, false); err != nil {
		t.Fatal(err)
	}
	waitPub(t, br, "energy/meter/relay", "OFF")
	w := bus.Writes()
	if len(w) != 2 || w[0].Function != 6 || w[0].Values[0] != 225 || w[1].Function != 5 || w[1].Values[0] != modbus.CoilOff {
		t.Fatalf("writes %+v", w)
	}
	// Refused: not a number, out of range (6553.5 is uint16's top at 0.1).
	for _, bad := range []string{"warm", "6553.6", "-1"} {
		if err := br.Publish("energy/meter/setpoint/set", []byte(bad), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, wait, func() error {
		if ms := b.ModbusStats(); ms.WritesRefused != 3 {
			return fmt.Errorf("refused %d", ms.WritesRefused)
		}
		return nil
	})
	if len(bus.Writes()) != 2 {
		t.Fatalf("a refused write reached the bus: %+v", bus.Writes())
	}

	// Slave 2 stops answering: its status, the port's, its counters.
	bus.Do(func(s map[byte]*modbustest.Slave) { s[2].Silent = true })
	waitPub(t, br, "energy/meter/status", "slave 2 not answering")
	waitPub(t, br, "energy/meter/status/2", "offline")
	if got, _ := br.lastPub("energy/meter/status/1"); got != "online" {
		t.Fatalf("slave 1 status %q", got)
	}
	ms := b.ModbusStats()
	if len(ms.Slaves) != 2 || ms.Slaves[1].Timeouts < 2 || ms.Slaves[1].Answering || !ms.Slaves[0].Answering || ms.Slaves[0].Timeouts != 0 {
		t.Fatalf("stats %+v", ms)
	}
	// The JSON state leaves slave 2's values out.
	waitPub(t, br, "energy/meter", `{"voltage":230.1,"power":-1.5,"balance":-123,"setpoint":22.5,"counter":123.456}`)
	bus.Do(func(s map[byte]*modbustest.Slave) { s[1].Silent = true })
	waitPub(t, br, "energy/meter/status", "slaves 1,2 not answering")
	bus.Do(func(s map[byte]*modbustest.Slave) { s[1].Silent, s[2].Silent = false, false })
	waitPub(t, br, "energy/meter/status", "online")
	waitPub(t, br, "energy/meter/status/2", "online")

	// Counters under $SYS.
	b.mb.publishStats() // normally every SysInterval; the test calls it (Run is busy elsewhere: it only publishes)
	if got := br.retainedPayload("$SYS/broker/serial/w/slave/2/timeouts"); got == "" || got == "0" {
		t.Fatalf("$SYS timeouts %q", got)
	}
	if got := br.retainedPayload("$SYS/broker/serial/w/writes/done"); got != "2" {
		t.Fatalf("$SYS writes/done %q", got)
	}
}

func TestModbusDiscovery(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(false)
	b := newTestBridge(t, meterConfig(), br, dev)
	runBridge(t, b)
	var got map[string]any
	decode := func(topic string) {
		t.Helper()
		waitFor(t, wait, func() error {
			if br.retainedPayload(topic) == "" {
				return errors.New("no " + topic)
			}
			return nil
		})
		got = nil
		if err := json.Unmarshal([]byte(br.retainedPayload(topic)), &got); err != nil {
			t.Fatal(err)
		}
	}
	decode("homeassistant/sensor/w/voltage/config")
	if got["state_topic"] != "energy/meter/voltage" || got["device_class"] != "voltage" || got["unit_of_measurement"] != "V" ||
		got["state_class"] != "measurement" || got["availability_topic"] != "energy/meter/status/1" || got["command_topic"] != nil {
		t.Fatalf("voltage %v", got)
	}
	if dev := got["device"].(map[string]any); dev["name"] != "w slave 1" || dev["model"] != "serial modbus" {
		t.Fatalf("device %v", dev)
	}
	decode("homeassistant/sensor/w/counter/config")
	if got["state_class"] != "total_increasing" {
		t.Fatalf("counter %v", got)
	}
	decode("homeassistant/number/w/setpoint/config")
	if got["command_topic"] != "energy/meter/setpoint/set" || got["min"] != 0.0 || got["max"] != 6553.5 || got["step"] != 0.1 ||
		got["unit_of_measurement"] != "°C" || got["state_class"] != nil {
		t.Fatalf("setpoint %v", got)
	}
	decode("homeassistant/switch/w/relay/config")
	if got["command_topic"] != "energy/meter/relay/set" || got["availability_topic"] != "energy/meter/status/2" {
		t.Fatalf("relay %v", got)
	}
	decode("homeassistant/binary_sensor/w/door/config")
	if got["state_topic"] != "energy/meter/door" {
		t.Fatalf("door %v", got)
	}
}

// TestModbusBadWire: noise, CRC errors, answers from another slave,
// truncated and unframeable answers are counted and skipped; the values
// come through again once the wire is clean.
func TestModbusBadWire(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	bus := modbustest.NewBus(meterSlaves())
	cfg := meterConfig()
	cfg.Modbus.Retries = 0
	b := newTestBridge(t, cfg, br, dev)
	runSlaves(t, dev, bus)
	runBridge(t, b)
	waitPub(t, br, "energy/meter/status", "online")

	type fault struct {
		name  string
		fn    func(req modbus.Request, ans []byte) []byte
		count func(s ModbusSlaveStats, m ModbusStats) uint64
	}
	faults := []fault{
		{"crc", func(_ modbus.Request, a []byte) []byte { a[len(a)-1] ^= 0xFF; return a },
			func(s ModbusSlaveStats, _ ModbusStats) uint64 { return s.CRCErrors }},
		{"wrong slave", func(r modbus.Request, a []byte) []byte {
			a[0] = 9
			return append(a[:len(a)-2], byte(modbus.CRC(a[:len(a)-2])), byte(modbus.CRC(a[:len(a)-2])>>8))
		}, func(s ModbusSlaveStats, _ ModbusStats) uint64 { return s.WrongSlave }},
		{"truncated", func(_ modbus.Request, a []byte) []byte { return a[:len(a)-3] },
			func(s ModbusSlaveStats, _ ModbusStats) uint64 { return s.Malformed }},
		{"other function", func(_ modbus.Request, a []byte) []byte { a[1] = 0x2B; return a },
			func(s ModbusSlaveStats, _ ModbusStats) uint64 { return s.Malformed }},
		{"noise", func(_ modbus.Request, a []byte) []byte { return append([]byte{0x00, 0xFF, 0x13}, a...) },
			func(s ModbusSlaveStats, _ ModbusStats) uint64 { return s.Malformed + s.CRCErrors + s.WrongSlave }},
		{"junk after", func(_ modbus.Request, a []byte) []byte { return append(a, 0xAA, 0x55) },
			func(_ ModbusSlaveStats, m ModbusStats) uint64 { return m.NoiseBytes }},
		{"a flood", func(_ modbus.Request, a []byte) []byte { return slices.Repeat([]byte{0x01, 0x03}, 2000) },
			func(s ModbusSlaveStats, m ModbusStats) uint64 { return m.NoiseBytes }},
	}
	for _, f := range faults {
		before := f.count(b.ModbusStats().Slaves[0], b.ModbusStats())
		bus.SetMangle(func(req modbus.Request, ans []byte) []byte {
			if req.Slave != 1 {
				return ans
			}
			return f.fn(req, slices.Clone(ans))
		})
		waitFor(t, wait, func() error {
			ms := b.ModbusStats()
			if n := f.count(ms.Slaves[0], ms); n <= before+1 {
				return fmt.Errorf("%s: counter %d, before %d: %+v", f.name, n, before, ms)
			}
			return nil
		})
		bus.SetMangle(nil)
		waitPub(t, br, "energy/meter/status", "online")
		cycles := b.ModbusStats().Cycles
		waitFor(t, wait, func() error {
			if b.ModbusStats().Cycles < cycles+2 {
				return errors.New("no new cycle")
			}
			return nil
		})
		if got, _ := br.lastPub("energy/meter/voltage"); got != "230.1" {
			t.Fatalf("%s: voltage %q after the fault", f.name, got)
		}
	}
	// An exception: the slave answers, the value is not published.
	bus.Do(func(s map[byte]*modbustest.Slave) { delete(s[2].Discrete, 3) })
	waitFor(t, wait, func() error {
		if ms := b.ModbusStats(); ms.Slaves[1].Exceptions < 2 || !ms.Slaves[1].Answering {
			return fmt.Errorf("%+v", ms.Slaves[1])
		}
		return nil
	})
	if got, _ := br.lastPub("energy/meter/status/2"); got != "online" {
		t.Fatalf("slave 2 after an exception: %q", got)
	}
}

// TestModbusHotplug: the statuses follow the device; a write while it is
// absent is dropped, not carried out when it comes back.
func TestModbusHotplug(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	bus := modbustest.NewBus(meterSlaves())
	b := newTestBridge(t, meterConfig(), br, dev)
	runSlaves(t, dev, bus)
	stop := runBridge(t, b)
	waitPub(t, br, "energy/meter/status", "online")
	dev.unplug()
	waitPub(t, br, "energy/meter/status", "offline")
	waitPub(t, br, "energy/meter/status/1", "offline")
	waitPub(t, br, "energy/meter/status/2", "offline")
	_ = br.Publish("energy/meter/relay/set", []byte("OFF"), 1, false)
	if st := b.Stats(); st.CmdDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	dev.plug()
	waitPub(t, br, "energy/meter/status", "online")
	waitPub(t, br, "energy/meter/status/2", "online")
	waitPub(t, br, "energy/meter/relay", "ON")
	if len(bus.Writes()) != 0 {
		t.Fatalf("writes %+v", bus.Writes())
	}
	stop()
	for _, topic := range []string{"energy/meter/status", "energy/meter/status/1", "energy/meter/status/2"} {
		if got := br.retainedPayload(topic); got != "offline" {
			t.Fatalf("%s after stop: %q", topic, got)
		}
	}
}

func TestModbusWriteRequest(t *testing.T) {
	cases := []struct {
		reg     ModbusRegister
		payload string
		fn      byte
		values  []uint16
		err     string
	}{
		{ModbusRegister{Kind: "holding", Type: "uint16", Scale: 0.1}, "21.46", 6, []uint16{215}, ""},
		{ModbusRegister{Kind: "holding", Type: "uint16", Scale: 0.1}, " 21.44 ", 6, []uint16{214}, ""},
		{ModbusRegister{Kind: "holding", Type: "int16", Scale: 0.5, Offset: -10}, "-12", 6, []uint16{0xFFFC}, ""},
		{ModbusRegister{Kind: "holding", Type: "int16"}, "-2.5", 6, []uint16{0xFFFD}, ""}, // half away from zero
		{ModbusRegister{Kind: "holding", Type: "int32-ws"}, "-123", 16, []uint16{0xFF85, 0xFFFF}, ""},
		{ModbusRegister{Kind: "holding", Type: "float32"}, "230.1", 16, []uint16{0x4366, 0x199A}, ""},
		{ModbusRegister{Kind: "holding", Type: "bool"}, "ON", 6, []uint16{1}, ""},
		{ModbusRegister{Kind: "holding", Type: "uint16"}, "off", 6, []uint16{0}, ""},
		{ModbusRegister{Kind: "coil", Type: "bool"}, "on", 5, []uint16{0xFF00}, ""},
		{ModbusRegister{Kind: "coil", Type: "bool"}, "0", 5, []uint16{0}, ""},
		{ModbusRegister{Kind: "coil", Type: "bool"}, "2", 0, nil, "want ON"},
		{ModbusRegister{Kind: "holding", Type: "uint16"}, "65536", 0, nil, "outside"},
		{ModbusRegister{Kind: "holding", Type: "uint16"}, "NaN", 0, nil, "not a number"},
		{ModbusRegister{Kind: "holding", Type: "uint16"}, "", 0, nil, "not a number"},
		{ModbusRegister{Kind: "holding", Type: "float32"}, "1e39", 0, nil, "outside"},
	}
	for _, tc := range cases {
		cfg := Config{Name: "w", Device: "/d", Format: FormatModbus, Modbus: Modbus{Registers: []ModbusRegister{tc.reg}}}
		cfg.Modbus.Registers[0].Slave, cfg.Modbus.Registers[0].Name, cfg.Modbus.Registers[0].Writable = 1, "x", true
		b, err := NewBridge(cfg, newFakeBroker(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req, err := b.mb.regs[0].writeRequest(tc.payload)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v %q: got %v, want %q", tc.reg, tc.payload, err, tc.err)
			}
			continue
		}
		if err != nil || req.Function != tc.fn || !slices.Equal(req.Values, tc.values) {
			t.Errorf("%+v %q: got %+v %v", tc.reg, tc.payload, req, err)
		}
	}
}

func TestModbusValueText(t *testing.T) {
	cases := []struct {
		typ           string
		scale, offset float64
		raw           float64
		want          string
	}{
		{"uint16", 0.1, 0, 3, "0.3"},
		{"uint16", 0.1, 0, 230, "23"},
		{"int16", 0.01, 0, -1, "-0.01"},
		{"uint16", 1, -40, 65, "25"},
		{"uint16", 0.5, 0.25, 3, "1.75"},
		{"uint32", 0.001, 0, 123456789, "123456.789"},
		{"float32", 1, 0, float64(float32(230.1)), "230.1"},
		{"float32", 1000, 0, float64(float32(1.5)), "1500"},
		{"int32", 1, 0, -2147483648, "-2147483648"},
	}
	for _, tc := range cases {
		cfg := Config{Name: "w", Device: "/d", Format: FormatModbus, Modbus: Modbus{Registers: []ModbusRegister{
			{Slave: 1, Kind: "holding", Type: tc.typ, Name: "x", Scale: tc.scale, Offset: tc.offset}}}}
		br := newFakeBroker()
		b, err := NewBridge(cfg, br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.mb.publishValue(0, tc.raw)
		if got, _ := br.lastPub("serial/w/x"); got != tc.want {
			t.Errorf("%s ×%v +%v of %v: %q, want %q", tc.typ, tc.scale, tc.offset, tc.raw, got, tc.want)
		}
	}
}

func TestModbusConfigCheck(t *testing.T) {
	ok := func() Config { c := meterConfig(); c.Name, c.Device = "m", "/dev/x"; return c }
	if err := ok().Check(); err != nil {
		t.Fatal(err)
	}
	n := ok().Normalize()
	if n.CmdTopic != "" || n.Modbus.Poll != 100*time.Millisecond {
		t.Fatalf("normalized %+v", n)
	}
	if d := (Config{Format: FormatModbus}).Normalize().Modbus; d.Poll != DefaultModbusPoll || d.Timeout != DefaultModbusTimeout {
		t.Fatalf("defaults %+v", d)
	}
	reg := func(fn func(r *ModbusRegister)) func(c *Config) {
		return func(c *Config) { fn(&c.Modbus.Registers[0]) }
	}
	cases := []struct {
		name   string
		change func(c *Config)
		msg    string
	}{
		{"no registers", func(c *Config) { c.Modbus.Registers = nil }, "at least one modbus_register"},
		{"modbus on kv", func(c *Config) { c.Format = FormatKV }, "serial_format modbus only"},
		{"json state on kv", func(c *Config) { c.Format = FormatKV; c.Modbus = Modbus{} }, "serial_json_state"},
		{"cmd topic", func(c *Config) { c.CmdTopic = "x/cmd" }, "BASE/NAME/set"},
		{"poll", func(c *Config) { c.Modbus.Poll = time.Millisecond }, "modbus_poll"},
		{"timeout", func(c *Config) { c.Modbus.Timeout = 2 * time.Minute }, "modbus_timeout"},
		{"retries", func(c *Config) { c.Modbus.Retries = 11 }, "modbus_retries"},
		{"slave 0", reg(func(r *ModbusRegister) { r.Slave = 0 }), "slave must be between 1 and 247"},
		{"slave 248", reg(func(r *ModbusRegister) { r.Slave = 248 }), "slave"},
		{"kind", reg(func(r *ModbusRegister) { r.Kind = "register" }), "unknown kind"},
		{"type", reg(func(r *ModbusRegister) { r.Type = "float64" }), "unknown type"},
		{"coil uint16", func(c *Config) { c.Modbus.Registers[5].Type = "uint16" }, "its type is bool"},
		{"address", reg(func(r *ModbusRegister) { r.Address = 0xFFFF }), "does not fit"},
		{"writable input", reg(func(r *ModbusRegister) { r.Writable = true }), "cannot be written"},
		{"scale", reg(func(r *ModbusRegister) { r.Scale = math.Inf(1) }), "scale must be a finite"},
		{"state class", reg(func(r *ModbusRegister) { r.StateClass = "sometimes" }), "state_class"},
		{"class", reg(func(r *ModbusRegister) { r.Class = "a b" }), "class"},
		{"name", reg(func(r *ModbusRegister) { r.Name = "a/b" }), "name"},
		{"same name", reg(func(r *ModbusRegister) { r.Name = "power" }), "used twice"},
		{"status name", reg(func(r *ModbusRegister) { r.Name = "status" }), "same topic"},
		{"json on a key", func(c *Config) { c.KeyTopic = "{key}"; c.Modbus.Registers[0].Name = "energy" }, ""},
	}
	for _, tc := range cases {
		c := ok()
		tc.change(&c)
		err := c.Check()
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestCharTimes(t *testing.T) {
	char, t35 := charTimes(&Config{Baud: 9600, DataBits: 8, Parity: "none", StopBits: "1"})
	if char != 1041666 || t35 != 3645833 {
		t.Fatalf("9600 8N1: %v %v", char, t35)
	}
	char, _ = charTimes(&Config{Baud: 9600, DataBits: 8, Parity: "even", StopBits: "1"})
	if char != 1145833 {
		t.Fatalf("9600 8E1: %v", char)
	}
	if _, t35 := charTimes(&Config{Baud: 115200, DataBits: 8, Parity: "none", StopBits: "1"}); t35 != 1750*time.Microsecond {
		t.Fatalf("115200: %v", t35)
	}
}
