package main

// The serial sensor bridge's config blocks and their wiring:
//
//	serial weather /dev/ttyUSB0     # serial NAME DEVICE starts a block
//	serial_baud 9600                # the serial_* lines below belong to it
//	serial_format kv                # kv | json | raw | csv | dsmr | nmea
//	serial_topic sensors/weather    # BASE; default serial/NAME
//
//	serial meter /dev/ttyUSB1       # a Modbus RTU master
//	serial_format modbus
//	modbus_poll 5s
//	modbus_register 1 input 0x0000 float32 voltage unit=V class=voltage
//
// See serialDirectives for every directive and serial.config for what
// each one means.

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatemq/board/serial"
	"gatemq/board/serial/modbus"
	"gatemq/internal/fmt"
	"gatemq/mqtt"
)

// serialConfigs is the serial part of config: the ports of the `serial
// NAME DEVICE` blocks, in file order.
type serialConfigs struct {
	Ports []serial.Config

	// cur is 1 + the index in Ports of the block that serial_* lines of the
	// file being parsed belong to; 0 outside a block.
	cur  int
	seen map[string]int // directive -> line, in the current block
}

// serialDirectives are the directives of a serial block, with their syntax.
var serialDirectives = []struct{ key, syntax string }{
	{"serial", "serial NAME DEVICE"},
	{"serial_baud", "serial_baud N (default 9600; dsmr: 115200)"},
	{"serial_databits", "serial_databits 5|6|7|8 (default 8)"},
	{"serial_parity", "serial_parity none|odd|even|mark|space"},
	{"serial_stopbits", "serial_stopbits 1|1.5|2"},
	{"serial_format", "serial_format kv|json|raw|csv|dsmr|nmea|modbus (default kv)"},
	{"serial_topic", "serial_topic BASE (default serial/{name})"},
	{"serial_key_topic", "serial_key_topic TEMPLATE (default {base}/{key})"},
	{"serial_fields", "serial_fields NAME,NAME,... (csv; - skips a column)"},
	{"serial_qos", "serial_qos 0|1|2"},
	{"serial_retain", "serial_retain true|false"},
	{"serial_json_split", "serial_json_split true|false (json: one message per field)"},
	{"serial_discovery", "serial_discovery true|false (Home Assistant)"},
	{"serial_discovery_prefix", "serial_discovery_prefix PREFIX (default homeassistant)"},
	{"serial_device_class", "serial_device_class KEY CLASS"},
	{"serial_unit", "serial_unit KEY UNIT"},
	{"serial_state_class", "serial_state_class KEY measurement|total|total_increasing|none"},
	{"serial_line_ending", "serial_line_ending lf|crlf|cr|none (commands written)"},
	{"serial_max_line", "serial_max_line BYTES (default 4096; dsmr: 8192, a telegram)"},
	{"serial_cmd_topic", "serial_cmd_topic TOPIC|none (default BASE/cmd)"},
	{"serial_status_topic", "serial_status_topic TOPIC|none (default BASE/status)"},
	{"serial_cmd_queue", "serial_cmd_queue N (default 64)"},
	{"serial_json_state", "serial_json_state true|false (modbus: all values as one JSON object on BASE)"},
	{"modbus_poll", "modbus_poll DURATION (e.g. 5s; default 10s)"},
	{"modbus_timeout", "modbus_timeout DURATION (response timeout, e.g. 300ms; default 1s)"},
	{"modbus_retries", "modbus_retries N (default 0)"},
	{"modbus_register", "modbus_register SLAVE coil|discrete|holding|input ADDRESS TYPE NAME [scale=F] [offset=F] [unit=U] [class=C] [state_class=S] [writable]"},
}

// serial handles a serial directive for parseConfig; handled is false for
// other directives. Its values are read with the parser's argument helpers,
// so serial_* lines say what is wrong in the same words as every other
// directive, followed by the directive's syntax.
func (p *confParser) serial(key string, args []string) (handled bool, err error) {
	if key != "serial" && !strings.HasPrefix(key, "serial_") && !strings.HasPrefix(key, "modbus_") {
		return false, nil
	}
	cfg := &p.cfg.Serial
	syntax := ""
	for _, d := range serialDirectives {
		if d.key == key {
			syntax = d.syntax
		}
	}
	if syntax == "" {
		msg := fmt.Sprintf("unknown serial directive %q", key)
		if s := serialSuggest(key); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return true, p.errf("%s", msg)
	}
	if key == "serial" {
		if err := p.serialFinish(); err != nil {
			return true, err
		}
		if len(args) != 2 {
			return true, p.errf("want %s, got %d values", syntax, len(args))
		}
		for _, c := range cfg.Ports {
			if c.Name == args[0] {
				return true, p.errf("serial port %s is defined twice (first on line %d)", c.Name, c.Line)
			}
			if c.Device == args[1] {
				return true, p.errf("device %s is already used by serial port %s (line %d)", c.Device, c.Name, c.Line)
			}
		}
		if !serial.ValidName(args[0]) {
			return true, p.errf("serial port name must be 1-64 letters, digits, '_' or '-', got %q", args[0])
		}
		// Clip: the caller's Ports must not see this parse's blocks.
		cfg.Ports = append(slices.Clip(cfg.Ports), serial.Config{Name: args[0], Device: args[1], Line: p.line})
		cfg.cur = len(cfg.Ports)
		cfg.seen = map[string]int{}
		return true, nil
	}
	if cfg.cur == 0 {
		return true, p.errf("%s outside a serial block (start one with: serial NAME DEVICE)", key)
	}
	c := &cfg.Ports[cfg.cur-1]
	repeatable := key == "serial_device_class" || key == "serial_unit" || key == "serial_state_class" || key == "modbus_register"
	if first, ok := cfg.seen[key]; ok && !repeatable {
		return true, p.errf("duplicate %s in serial port %s (first on line %d)", key, c.Name, first)
	}
	cfg.seen[key] = p.line
	if err := p.applySerial(c, key, args); err != nil {
		err.Msg += "; want " + syntax
		return true, err
	}
	return true, nil
}

// applySerial sets one serial_* or modbus_* directive on c.
func (p *confParser) applySerial(c *serial.Config, key string, args []string) *configError {
	if strings.HasPrefix(key, "modbus_") {
		return p.applyModbus(c, key, args)
	}
	perKey := func(m *map[string]string) *configError {
		if len(args) < 2 {
			return p.errf("%s needs a key and a value", key)
		}
		if !serial.ValidKey(args[0]) {
			return p.errf("%s: key %q must be letters, digits, '_', '-' or '.'", key, args[0])
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[args[0]] = strings.Join(args[1:], " ")
		return nil
	}
	var err error
	var n int
	var s string
	switch key {
	case "serial_baud":
		c.Baud, err = p.intArg(key, args, 50, 4000000)
	case "serial_databits":
		c.DataBits, err = p.intArg(key, args, 5, 8)
	case "serial_parity":
		c.Parity, err = p.choiceArg(key, args, "none", "odd", "even", "mark", "space")
	case "serial_stopbits":
		c.StopBits, err = p.choiceArg(key, args, "1", "1.5", "2")
	case "serial_format":
		s, err = p.choiceArg(key, args, string(serial.FormatKV), string(serial.FormatJSON), string(serial.FormatRaw), string(serial.FormatCSV),
			string(serial.FormatDSMR), string(serial.FormatNMEA), string(serial.FormatModbus))
		c.Format = serial.Format(s)
	case "serial_topic":
		c.Topic, err = p.oneArg(key, args)
	case "serial_key_topic":
		c.KeyTopic, err = p.oneArg(key, args)
	case "serial_fields":
		if len(args) == 0 {
			return p.errf("%s needs at least one name", key)
		}
		c.Fields = strings.Split(strings.Join(args, ""), ",")
	case "serial_qos":
		n, err = p.intArg(key, args, 0, 2)
		c.QoS = byte(n)
	case "serial_retain":
		c.Retain, err = p.boolArg(key, args)
	case "serial_json_split":
		c.JSONSplit, err = p.boolArg(key, args)
	case "serial_discovery":
		c.Discovery, err = p.boolArg(key, args)
	case "serial_discovery_prefix":
		c.DiscoveryPrefix, err = p.oneArg(key, args)
	case "serial_device_class":
		return perKey(&c.DeviceClass)
	case "serial_unit":
		return perKey(&c.Unit)
	case "serial_state_class":
		if len(args) == 2 && !slices.Contains([]string{"measurement", "total", "total_increasing", "none"}, args[1]) {
			return p.errf("%s %s: the state class must be measurement, total, total_increasing or none, got %q", key, args[0], args[1])
		}
		return perKey(&c.StateClass)
	case "serial_line_ending":
		c.LineEnding, err = p.choiceArg(key, args, serial.LineEndingLF, serial.LineEndingCRLF, serial.LineEndingCR, serial.LineEndingNone)
	case "serial_max_line":
		c.MaxLine, err = p.intArg(key, args, serial.MinMaxLine, serial.MaxMaxLine)
	case "serial_cmd_topic":
		c.CmdTopic, err = p.oneArg(key, args)
	case "serial_status_topic":
		c.StatusTopic, err = p.oneArg(key, args)
	case "serial_cmd_queue":
		c.CmdQueue, err = p.intArg(key, args, 1, serial.MaxCmdQueue)
	case "serial_json_state":
		c.JSONState, err = p.boolArg(key, args)
	}
	if err != nil {
		return err.(*configError)
	}
	return nil
}

// applyModbus sets one modbus_* directive on c.
func (p *confParser) applyModbus(c *serial.Config, key string, args []string) *configError {
	var err error
	switch key {
	case "modbus_poll":
		c.Modbus.Poll, err = p.durationArg(key, args, serial.MinModbusPoll, serial.MaxModbusPoll)
	case "modbus_timeout":
		c.Modbus.Timeout, err = p.durationArg(key, args, serial.MinModbusTimeout, serial.MaxModbusTimeout)
	case "modbus_retries":
		c.Modbus.Retries, err = p.intArg(key, args, 0, serial.MaxModbusRetries)
	case "modbus_register":
		var r serial.ModbusRegister
		if r, err = p.modbusRegister(args); err == nil {
			c.Modbus.Registers = append(c.Modbus.Registers, r)
		}
	}
	if err != nil {
		return err.(*configError)
	}
	return nil
}

// modbusRegister parses `modbus_register SLAVE KIND ADDRESS TYPE NAME
// [options]`. ADDRESS is decimal or 0x-prefixed hexadecimal.
func (p *confParser) modbusRegister(args []string) (serial.ModbusRegister, error) {
	const key = "modbus_register"
	r := serial.ModbusRegister{Line: p.line}
	if len(args) < 5 {
		return r, p.errf("%s needs SLAVE KIND ADDRESS TYPE NAME, got %d values", key, len(args))
	}
	var err error
	if r.Slave, err = p.intArg(key+" SLAVE", args[0:1], modbus.MinSlave, modbus.MaxSlave); err != nil {
		return r, err
	}
	if r.Kind, err = p.choiceArg(key+" KIND", args[1:2], modbus.KindNames...); err != nil {
		return r, err
	}
	digits, base := args[2], 10
	if h, ok := strings.CutPrefix(strings.ToLower(digits), "0x"); ok {
		digits, base = h, 16
	}
	addr, aerr := strconv.ParseUint(digits, base, 16)
	if aerr != nil {
		return r, p.errf("%s ADDRESS must be 0..65535, decimal or 0x hexadecimal, got %q", key, args[2])
	}
	r.Address = int(addr)
	if r.Type, err = p.choiceArg(key+" TYPE", args[3:4], modbus.TypeNames()...); err != nil {
		return r, err
	}
	r.Name = args[4]
	seen := map[string]bool{}
	for _, opt := range args[5:] {
		name, v, hasValue := strings.Cut(opt, "=")
		if seen[name] {
			return r, p.errf("%s: option %s given twice", key, name)
		}
		seen[name] = true
		if !hasValue && name != "writable" || hasValue && (name == "writable" || v == "") {
			name = "?"
		}
		switch name {
		case "writable":
			r.Writable = true
		case "scale", "offset":
			f, ferr := strconv.ParseFloat(v, 64)
			switch {
			case ferr != nil || math.IsNaN(f) || math.IsInf(f, 0):
				return r, p.errf("%s: %s must be a finite number, got %q", key, name, v)
			case name == "scale" && f == 0:
				return r, p.errf("%s: scale must not be 0", key)
			}
			if name == "scale" {
				r.Scale = f
			} else {
				r.Offset = f
			}
		case "unit":
			r.Unit = v
		case "class":
			r.Class = v
		case "state_class":
			if r.StateClass, err = p.choiceArg(key+" state_class", []string{v}, serial.ModbusStateClasses...); err != nil {
				return r, err
			}
		default:
			return r, p.errf("%s: unknown option %q (scale=F, offset=F, unit=U, class=C, state_class=S, writable)", key, opt)
		}
	}
	if cerr := r.Check(); cerr != nil {
		return r, p.errf("%s %s: %v", key, r.Name, cerr)
	}
	return r, nil
}

// serialFinish checks the serial block being parsed, if any, and ends it;
// parseConfig's finish calls it for the file's last block. Its error is at
// the block's `serial` line.
func (p *confParser) serialFinish() error {
	cfg := &p.cfg.Serial
	if cfg.cur == 0 {
		return nil
	}
	c := cfg.Ports[cfg.cur-1]
	cfg.cur, cfg.seen = 0, nil
	if err := c.Check(); err != nil {
		msg := strings.TrimPrefix(err.Error(), serial.ErrBadConfig.Error()+": ")
		return &configError{Name: p.name, Line: c.Line, Msg: msg}
	}
	return nil
}

// withSys returns the ports with SysInterval set: a Modbus port publishes
// its counters under $SYS as often as the broker publishes its own.
func (s serialConfigs) withSys(interval time.Duration) []serial.Config {
	ports := slices.Clone(s.Ports)
	for i := range ports {
		ports[i].SysInterval = interval
	}
	return ports
}

// serialSuggest returns the serial directive closest to key when it is
// within two edits, else "".
func serialSuggest(key string) string {
	best, bestDist := "", 3
	for _, d := range serialDirectives {
		if dist := confEditDistance(key, d.key); dist < bestDist {
			best, bestDist = d.key, dist
		}
	}
	return best
}

// serialBroker adapts *mqtt.Server to serial.Broker: the server's Subscribe
// takes the named type mqtt.LocalHandler, which Go does not accept for the
// interface's func parameter.
type serialBroker struct{ s *mqtt.Server }

var _ serial.Broker = serialBroker{}

// Publish publishes from the broker itself.
func (b serialBroker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	return b.s.Publish(topic, payload, qos, retain)
}

// Subscribe makes an in-process subscription.
func (b serialBroker) Subscribe(filter string, fn func(topic string, payload []byte, retained bool)) (func(), error) {
	return b.s.Subscribe(filter, fn)
}
