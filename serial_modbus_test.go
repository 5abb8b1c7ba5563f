package main

// Tests of serial_format modbus: the config lines, and the real binary
// polling a third-party slave (Debian's pymodbus, testdata/modbus_slave.py)
// over a socat pseudo-terminal pair.

import (
	"errors"
	"reflect"
	"strings"
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
