package serial

import (
	"errors"
	"slices"
	"strings"
	"time"

	goserial "go.bug.st/serial"

	"gatemq/internal/fmt"
)

// Format says how the lines read from a serial port become MQTT messages.
type Format string

// The line formats of a bridged port.
const (
	// FormatKV reads `key=value` (or `key:value`) tokens separated by
	// spaces, tabs, commas or semicolons and publishes each value on the
	// key's topic (BASE/key by default).
	FormatKV Format = "kv"
	// FormatJSON reads one JSON object per line. With JSONSplit each
	// top-level field is published on the key's topic (strings without
	// their quotes, other values as compact JSON); without it the line is
	// published as it is on BASE.
	FormatJSON Format = "json"
	// FormatRaw publishes each line as it is on BASE.
	FormatRaw Format = "raw"
	// FormatCSV splits a line at commas and publishes the n-th value on
	// the topic of the n-th name of Fields (no quoting).
	FormatCSV Format = "csv"
	// FormatDSMR reads P1 telegrams of Dutch and Belgian smart meters
	// (DSMR 2.2 to 5.0, e-MUCS): each telegram, from '/' to its "!CRC"
	// line, is checked and its OBIS objects are published on fixed keys
	// (electricity_delivered_1, power_delivered, gas_delivered, ...; see
	// dsmr.go). The baud rate defaults to 115200.
	FormatDSMR Format = "dsmr"
	// FormatNMEA reads NMEA 0183 sentences from a GPS receiver: GGA, RMC
	// and VTG of any talker are checked, merged per fix and published on
	// fixed keys (latitude, longitude, altitude, speed in km/h, ...) and
	// as one JSON object on BASE (see nmea.go).
	FormatNMEA Format = "nmea"
)

// Line endings for the commands written to a device.
const (
	LineEndingLF   = "lf"   // "\n" (the default)
	LineEndingCRLF = "crlf" // "\r\n"
	LineEndingCR   = "cr"   // "\r"
	LineEndingNone = "none" // nothing appended
)

// Defaults and limits of Config.
const (
	DefaultBaud       = 9600
	DefaultDSMRBaud   = 115200 // DSMR 4 and later, e-MUCS; DSMR 2.2/3.0 meters talk 9600 7E1
	DefaultMaxLine    = 4096
	DefaultDSMRMax    = 8192 // the default bound of a DSMR telegram
	MinMaxLine        = 16
	MaxMaxLine        = 1 << 20
	DefaultCmdQueue   = 64
	MaxCmdQueue       = 4096
	DefaultRetryMin   = 200 * time.Millisecond
	DefaultRetryMax   = 10 * time.Second
	DefaultDiscovery  = "homeassistant"
	DefaultKeyTopic   = "{base}/{key}"
	maxKeyLen         = 64
	maxDiscoveredKeys = 64
)

// ErrBadConfig is wrapped by the errors of Config.Check.
var ErrBadConfig error = constError("serial: bad port config")

// Config describes one serial port bridged to MQTT: a `serial NAME DEVICE`
// block of the config file. Fields hold plain strings and numbers; zero
// values mean the defaults documented on each field (see Normalize).
type Config struct {
	// Name names the port in topics, logs and discovery ids:
	// letters, digits, '_' and '-'.
	Name string
	// Device is the path of the serial device (a /dev/serial/by-id/ link
	// survives re-enumeration).
	Device string
	// Baud is the baud rate; 0 means DefaultBaud (9600), or
	// DefaultDSMRBaud (115200) for FormatDSMR.
	Baud int
	// DataBits is 5..8; 0 means 8.
	DataBits int
	// Parity is none, odd, even, mark or space; "" means none.
	Parity string
	// StopBits is "1", "1.5" or "2"; "" means "1".
	StopBits string
	// Format is the line format; "" means FormatKV.
	Format Format
	// Topic is BASE, the topic of whole-line messages and the base of the
	// others; "{name}" in it is replaced by Name. "" means serial/{name}.
	Topic string
	// KeyTopic is the topic template of per-key messages, with {base},
	// {name} and {key}; "" means DefaultKeyTopic ({base}/{key}).
	KeyTopic string
	// Fields are the names of the CSV columns (FormatCSV only); a name "-"
	// skips its column.
	Fields []string
	// QoS (0..2) and Retain apply to the readings published.
	QoS    byte
	Retain bool
	// JSONSplit publishes each field of a JSON line on its key's topic.
	JSONSplit bool
	// Discovery publishes retained Home Assistant discovery messages under
	// DiscoveryPrefix ("" means DefaultDiscovery).
	Discovery       bool
	DiscoveryPrefix string
	// DeviceClass, Unit and StateClass give Home Assistant's
	// device_class, unit_of_measurement and state_class per key; they
	// override what the dsmr and nmea formats announce by themselves. A
	// key without a state class gets "measurement" once a numeric value
	// is seen ("total_increasing" for the energy, gas and water device
	// classes); StateClass "none" announces none.
	DeviceClass map[string]string
	Unit        map[string]string
	StateClass  map[string]string
	// GatewayID names this gateway in Home Assistant unique_ids and
	// device identifiers, so that two gateways with a port of the same
	// name do not collide; "" means Start and NewBridge read it with
	// GatewayID (from /etc/machine-id, else a MAC address).
	GatewayID string
	// LineEnding is appended to every command written to the device:
	// lf, crlf, cr or none; "" means lf. Lines read may end in \n, \r\n
	// or \r whatever this is.
	LineEnding string
	// MaxLine bounds a line read (longer ones are counted and skipped),
	// a DSMR telegram, and a command's payload; 0 means DefaultMaxLine,
	// or DefaultDSMRMax for FormatDSMR.
	MaxLine int
	// CmdTopic receives the commands written to the device; "" means
	// BASE/cmd and "none" turns the reverse path off.
	CmdTopic string
	// StatusTopic gets the retained online/offline status; "" means
	// BASE/status and "none" turns it off.
	StatusTopic string
	// CmdQueue bounds the commands waiting for the device; 0 means
	// DefaultCmdQueue.
	CmdQueue int
	// RetryMin and RetryMax bound the back-off between attempts to open
	// the device; 0 means DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// Line is the config file line of the block, for messages (0 = none).
	Line int
	// Modbus holds the registers and timing of a FormatModbus port.
	Modbus Modbus
	// JSONState also publishes all the values of a Modbus poll cycle as
	// one JSON object on BASE.
	JSONState bool
	// SysInterval is how often a Modbus port's counters are published
	// under $SYS/broker/serial/NAME/; 0 means never (main passes the
	// broker's sys_interval).
	SysInterval time.Duration
}

// Normalize returns c with every default applied and {name} expanded in
// the topics. It does not check c; see Check.
func (c Config) Normalize() Config {
	if c.Baud == 0 {
		c.Baud = DefaultBaud
		if c.Format == FormatDSMR {
			c.Baud = DefaultDSMRBaud
		}
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	if c.Parity == "" {
		c.Parity = "none"
	}
	if c.StopBits == "" {
		c.StopBits = "1"
	}
	if c.Format == "" {
		c.Format = FormatKV
	}
	if c.Topic == "" {
		c.Topic = "serial/{name}"
	}
	c.Topic = strings.ReplaceAll(c.Topic, "{name}", c.Name)
	if c.KeyTopic == "" {
		c.KeyTopic = DefaultKeyTopic
	}
	c.KeyTopic = strings.NewReplacer("{name}", c.Name, "{base}", c.Topic).Replace(c.KeyTopic)
	if c.DiscoveryPrefix == "" {
		c.DiscoveryPrefix = DefaultDiscovery
	}
	if c.LineEnding == "" {
		c.LineEnding = LineEndingLF
	}
	if c.MaxLine == 0 {
		c.MaxLine = DefaultMaxLine
		if c.Format == FormatDSMR {
			c.MaxLine = DefaultDSMRMax
		}
	}
	if c.Format == FormatModbus {
		c.Modbus = c.Modbus.normalize()
		if c.CmdTopic == "" {
			c.CmdTopic = "none" // writes go to BASE/NAME/set
		}
	}
	switch c.CmdTopic {
	case "":
		c.CmdTopic = c.Topic + "/cmd"
	case "none":
		c.CmdTopic = ""
	default:
		c.CmdTopic = strings.ReplaceAll(c.CmdTopic, "{name}", c.Name)
	}
	switch c.StatusTopic {
	case "":
		c.StatusTopic = c.Topic + "/status"
	case "none":
		c.StatusTopic = ""
	default:
		c.StatusTopic = strings.ReplaceAll(c.StatusTopic, "{name}", c.Name)
	}
	if c.CmdQueue == 0 {
		c.CmdQueue = DefaultCmdQueue
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	return c
}

// Check reports the first problem of the normalized form of c as an error
// wrapping ErrBadConfig, or nil.
func (c Config) Check() error {
	n := c.Normalize()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: serial %s: %s", ErrBadConfig, c.Name, fmt.Sprintf(format, args...))
	}
	if !ValidName(c.Name) {
		return bad("the name must be letters, digits, '_' or '-' (at most %d), got %q", maxKeyLen, c.Name)
	}
	if c.Device == "" {
		return bad("no device")
	}
	if _, err := n.Mode(); err != nil {
		return bad("%v", err)
	}
	if err := checkModbusUse(&c, &n); err != nil {
		return bad("%v", err)
	}
	switch n.Format {
	case FormatModbus: // checkModbusUse
	case FormatKV, FormatJSON, FormatRaw, FormatDSMR, FormatNMEA:
		if len(c.Fields) > 0 {
			return bad("serial_fields is for serial_format csv only")
		}
	case FormatCSV:
		if len(c.Fields) == 0 {
			return bad("serial_format csv needs serial_fields NAME,NAME,...")
		}
		for _, f := range c.Fields {
			if f != "-" && !ValidKey(f) {
				return bad("field name %q: use letters, digits, '_', '-' or '.' (at most %d), or - to skip the column", f, maxKeyLen)
			}
		}
	default:
		return bad("unknown format %q (kv, json, raw, csv, dsmr, nmea or modbus)", c.Format)
	}
	if c.QoS > 2 {
		return bad("qos must be 0, 1 or 2, got %d", c.QoS)
	}
	if err := validTopicName(n.Topic); err != nil {
		return bad("topic %q: %v", n.Topic, err)
	}
	if strings.Count(n.KeyTopic, "{key}") != 1 {
		return bad("key topic %q must contain {key} once", c.KeyTopic)
	}
	if err := validTopicName(strings.ReplaceAll(n.KeyTopic, "{key}", "k")); err != nil {
		return bad("key topic %q: %v", c.KeyTopic, err)
	}
	for _, t := range []string{n.CmdTopic, n.StatusTopic} {
		if t == "" {
			continue
		}
		if err := validTopicName(t); err != nil {
			return bad("topic %q: %v", t, err)
		}
	}
	if n.CmdTopic != "" && n.CmdTopic == n.StatusTopic {
		return bad("the command and status topics are the same (%s)", n.CmdTopic)
	}
	if err := validTopicName(n.DiscoveryPrefix); err != nil {
		return bad("discovery prefix %q: %v", n.DiscoveryPrefix, err)
	}
	for _, m := range []map[string]string{c.DeviceClass, c.Unit, c.StateClass} {
		for k := range m {
			if !ValidKey(k) {
				return bad("key %q: use letters, digits, '_', '-' or '.'", k)
			}
		}
	}
	for k, v := range c.StateClass {
		if !slices.Contains(stateClasses, v) {
			return bad("state class of %s must be one of %s, got %q", k, strings.Join(stateClasses, ", "), v)
		}
	}
	if _, ok := lineEnding(n.LineEnding); !ok {
		return bad("line ending must be lf, crlf, cr or none, got %q", c.LineEnding)
	}
	if n.MaxLine < MinMaxLine || n.MaxLine > MaxMaxLine {
		return bad("max line must be between %d and %d, got %d", MinMaxLine, MaxMaxLine, n.MaxLine)
	}
	if n.CmdQueue < 1 || n.CmdQueue > MaxCmdQueue {
		return bad("command queue must be between 1 and %d, got %d", MaxCmdQueue, n.CmdQueue)
	}
	return nil
}

// stateClasses are the values of Config.StateClass: Home Assistant's
// state classes, and none.
var stateClasses = []string{"measurement", "total", "total_increasing", "none"}

// lineEnding returns the bytes written after a command for the LineEnding
// name, and whether the name is one. A switch rather than a map: a map
// literal is built by code at init.
func lineEnding(name string) (string, bool) {
	switch name {
	case LineEndingLF:
		return "\n", true
	case LineEndingCRLF:
		return "\r\n", true
	case LineEndingCR:
		return "\r", true
	case LineEndingNone:
		return "", true
	}
	return "", false
}

// Mode returns the go.bug.st/serial Mode of the normalized c, or an error
// for a bad baud rate, data bits, parity or stop bits.
func (c Config) Mode() (*goserial.Mode, error) {
	m := &goserial.Mode{BaudRate: c.Baud, DataBits: c.DataBits}
	if c.Baud < 50 || c.Baud > 4000000 {
		return nil, fmt.Errorf("baud rate must be between 50 and 4000000, got %d", c.Baud)
	}
	if c.DataBits < 5 || c.DataBits > 8 {
		return nil, fmt.Errorf("data bits must be 5, 6, 7 or 8, got %d", c.DataBits)
	}
	switch c.Parity {
	case "none":
		m.Parity = goserial.NoParity
	case "odd":
		m.Parity = goserial.OddParity
	case "even":
		m.Parity = goserial.EvenParity
	case "mark":
		m.Parity = goserial.MarkParity
	case "space":
		m.Parity = goserial.SpaceParity
	default:
		return nil, fmt.Errorf("parity must be none, odd, even, mark or space, got %q", c.Parity)
	}
	switch c.StopBits {
	case "1":
		m.StopBits = goserial.OneStopBit
	case "1.5":
		m.StopBits = goserial.OnePointFiveStopBits
	case "2":
		m.StopBits = goserial.TwoStopBits
	default:
		return nil, fmt.Errorf("stop bits must be 1, 1.5 or 2, got %q", c.StopBits)
	}
	return m, nil
}

// ValidName reports whether s can name a port: 1..64 letters, digits, '_'
// or '-'.
func ValidName(s string) bool {
	if s == "" || len(s) > maxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidKey reports whether s can be a reading's key (and so a topic
// level): 1..64 letters, digits, '_', '-' or '.'.
func ValidKey(s string) bool { return validKeyBytes([]byte(s)) }

func validKeyBytes(s []byte) bool {
	if len(s) == 0 || len(s) > maxKeyLen {
		return false
	}
	for _, c := range s {
		if !isNameByte(c) && c != '.' {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// validTopicName checks an MQTT topic name: non-empty, valid UTF-8 without
// NUL, no wildcards, at most 65535 bytes.
func validTopicName(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case len(t) > 65535:
		return errors.New("topic longer than 65535 bytes")
	case strings.ContainsAny(t, "+#"):
		return errors.New("wildcards + and # are not allowed in a topic name")
	case strings.ContainsRune(t, 0):
		return errors.New("NUL in topic")
	case strings.Contains(t, "{") || strings.Contains(t, "}"):
		return errors.New("unknown {placeholder} (only {name}, {base} and {key})")
	case !validUTF8String(t):
		return errors.New("invalid UTF-8")
	}
	return nil
}
