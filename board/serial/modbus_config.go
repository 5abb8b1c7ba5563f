package serial

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatemq/board/serial/modbus"
	"gatemq/internal/fmt"
)

// FormatModbus makes the port a Modbus RTU master: it polls the registers
// of Config.Modbus on one or more slaves and publishes each value on its
// key's topic (BASE/NAME by default), and writes values published on
// BASE/NAME/set to the registers marked writable.
const FormatModbus Format = "modbus"

// Defaults and limits of the Modbus part of a Config.
const (
	DefaultModbusPoll    = 10 * time.Second
	DefaultModbusTimeout = time.Second
	MinModbusPoll        = 100 * time.Millisecond
	MaxModbusPoll        = 24 * time.Hour
	MinModbusTimeout     = 10 * time.Millisecond
	MaxModbusTimeout     = time.Minute
	MaxModbusRetries     = 10
	MaxModbusRegisters   = 1024
)

// ModbusStateClasses are the Home Assistant state classes a register may
// name; "none" announces none.
var ModbusStateClasses = []string{"measurement", "total", "total_increasing", "none"}

// Modbus is the Modbus RTU part of a port's config (FormatModbus only):
// the `modbus_*` lines of a serial block.
type Modbus struct {
	// Poll is the time between the starts of two poll cycles; 0 means
	// DefaultModbusPoll. A cycle that takes longer delays the next one.
	Poll time.Duration
	// Timeout is how long a slave may take to start answering once the
	// request is on the wire; 0 means DefaultModbusTimeout.
	Timeout time.Duration
	// Retries is how many times a request that got no valid answer is
	// sent again (0: never).
	Retries int
	// Registers are the values polled, in config order.
	Registers []ModbusRegister
}

// ModbusRegister is one `modbus_register SLAVE KIND ADDRESS TYPE NAME
// [options]` line: a value of a slave published on the topic of key Name.
type ModbusRegister struct {
	_       [0]func() // not comparable: no generated == function (flash size)
	Slave   int       // 1..247
	Kind    string    // coil, discrete, holding or input (modbus.KindNames)
	Address int       // 0..65535, the protocol address (register 40001 is holding 0)
	Type    string    // bool, int16, uint16, int32, uint32, float32, 32-bit ones with -ws, -bs or -le (modbus.TypeNames)
	Name    string    // its key: letters, digits, '_', '-' or '.'
	// Scale and Offset turn the register's number n into the value
	// published, n*Scale + Offset; a Scale of 0 means 1.
	Scale, Offset float64
	// Unit, Class and StateClass are Home Assistant's
	// unit_of_measurement, device_class and state_class ("" means
	// measurement for a number that is not writable; "none" announces no
	// state class). Unit and Class default to the port's Unit and
	// DeviceClass of Name.
	Unit, Class, StateClass string
	// Writable subscribes to the register's topic + "/set" (coils and
	// holding registers only).
	Writable bool
	// Line is the config file line, for messages (0 = none).
	Line int
}

// isZero reports whether m holds nothing at all.
func (m *Modbus) isZero() bool {
	return m.Poll == 0 && m.Timeout == 0 && m.Retries == 0 && len(m.Registers) == 0
}

// normalize applies the defaults.
func (m Modbus) normalize() Modbus {
	if m.Poll == 0 {
		m.Poll = DefaultModbusPoll
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultModbusTimeout
	}
	return m
}

// checkModbusUse rejects the Modbus settings on a port of another format,
// and the settings that do not apply to a Modbus port. c is the config as
// given, n its normalized form.
func checkModbusUse(c, n *Config) error {
	if n.Format != FormatModbus {
		switch {
		case !c.Modbus.isZero():
			return errors.New("modbus_* directives are for serial_format modbus only")
		case c.JSONState:
			return errors.New("serial_json_state is for serial_format modbus only")
		}
		return nil
	}
	if len(c.Fields) > 0 {
		return errors.New("serial_fields is for serial_format csv only")
	}
	if c.CmdTopic != "" && c.CmdTopic != "none" {
		return errors.New("serial_cmd_topic does not apply to serial_format modbus: values are written on BASE/NAME/set")
	}
	return n.checkModbus()
}

// checkModbus checks the Modbus part of the normalized c.
func (c *Config) checkModbus() error {
	m := &c.Modbus
	switch {
	case m.Poll < MinModbusPoll || m.Poll > MaxModbusPoll:
		return fmt.Errorf("modbus_poll must be between %v and %v, got %v", MinModbusPoll, MaxModbusPoll, m.Poll)
	case m.Timeout < MinModbusTimeout || m.Timeout > MaxModbusTimeout:
		return fmt.Errorf("modbus_timeout must be between %v and %v, got %v", MinModbusTimeout, MaxModbusTimeout, m.Timeout)
	case m.Retries < 0 || m.Retries > MaxModbusRetries:
		return fmt.Errorf("modbus_retries must be between 0 and %d, got %d", MaxModbusRetries, m.Retries)
	case len(m.Registers) == 0:
		return errors.New("serial_format modbus needs at least one modbus_register")
	case len(m.Registers) > MaxModbusRegisters:
		return fmt.Errorf("at most %d modbus_register lines per port, got %d", MaxModbusRegisters, len(m.Registers))
	}
	// Every topic the port publishes or subscribes to must be its own.
	topics := map[string]string{}
	claim := func(t, what string) error {
		if t == "" {
			return nil
		}
		if err := validTopicName(t); err != nil {
			return fmt.Errorf("topic %q of %s: %v", t, what, err)
		}
		if other, ok := topics[t]; ok {
			return fmt.Errorf("%s and %s have the same topic %s", other, what, t)
		}
		topics[t] = what
		return nil
	}
	if err := claim(c.StatusTopic, "the status"); err != nil {
		return err
	}
	if c.JSONState {
		if err := claim(c.Topic, "the JSON state"); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	slaves := map[int]bool{}
	for i := range m.Registers {
		r := &m.Registers[i]
		if err := r.Check(); err != nil {
			return fmt.Errorf("modbus_register %s: %w", r.Name, err)
		}
		if names[r.Name] {
			return fmt.Errorf("modbus_register %s: the name is used twice", r.Name)
		}
		names[r.Name] = true
		topic := c.keyTopic(r.Name)
		if err := claim(topic, "register "+r.Name); err != nil {
			return err
		}
		if r.Writable {
			if err := claim(topic+"/set", "the set topic of "+r.Name); err != nil {
				return err
			}
		}
		if !slaves[r.Slave] && c.StatusTopic != "" {
			slaves[r.Slave] = true
			if err := claim(c.slaveStatusTopic(r.Slave), "the status of slave "+strconv.Itoa(r.Slave)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check reports the first problem of one register line on its own (the
// port's Check also compares the lines), or nil.
func (r *ModbusRegister) Check() error {
	if !ValidKey(r.Name) {
		return fmt.Errorf("name %q: use letters, digits, '_', '-' or '.' (at most %d)", r.Name, maxKeyLen)
	}
	if r.Slave < modbus.MinSlave || r.Slave > modbus.MaxSlave {
		return fmt.Errorf("slave must be between %d and %d, got %d", modbus.MinSlave, modbus.MaxSlave, r.Slave)
	}
	kind, err := modbus.ParseKind(r.Kind)
	if err != nil {
		return err
	}
	typ, err := modbus.ParseType(r.Type)
	if err != nil {
		return err
	}
	if kind.IsBit() && !typ.IsBool() {
		return fmt.Errorf("a %s is a bit: its type is bool, not %s", kind, typ)
	}
	if r.Address < 0 || r.Address+typ.Words()-1 > 0xFFFF {
		return fmt.Errorf("address %d: a %s there does not fit below 65536", r.Address, typ)
	}
	if r.Writable && !kind.Writable() {
		return fmt.Errorf("a %s register cannot be written (only coil and holding)", kind)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"scale", r.Scale}, {"offset", r.Offset}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s must be a finite number", f.name)
		}
	}
	if r.StateClass != "" && !slices.Contains(ModbusStateClasses, r.StateClass) {
		return fmt.Errorf("state_class must be measurement, total, total_increasing or none, got %q", r.StateClass)
	}
	if r.Class != "" && !ValidName(r.Class) {
		return fmt.Errorf("class %q: use letters, digits and '_'", r.Class)
	}
	if !validUTF8String(r.Unit) || hasControl(r.Unit) {
		return fmt.Errorf("unit %q: printable UTF-8 only", r.Unit)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// keyTopic is the topic of key on the port of the normalized c.
func (c *Config) keyTopic(key string) string {
	pre, suf, _ := strings.Cut(c.KeyTopic, "{key}")
	return pre + key + suf
}

// slaveStatusTopic is the retained online/offline topic of one slave of the
// normalized c: the port's status topic + "/" + the slave address.
func (c *Config) slaveStatusTopic(slave int) string {
	return c.StatusTopic + "/" + strconv.Itoa(slave)
}
