package serial

// DSMR P1 telegrams (serial_format dsmr).
//
// A smart meter's P1 port sends a telegram every ten seconds (DSMR 2.2 to
// 4.2) or every second (DSMR 5.0, e-MUCS):
//
//	/ISk5\2MT382-1000          identification line
//	                           empty line
//	1-3:0.2.8(50)              OBIS reference, then values in parentheses
//	0-0:1.0.0(101209113020W)   YYMMDDhhmmss, W winter time, S summer time
//	1-0:1.8.1(123456.789*kWh)  value*unit
//	...
//	!EF2F                      CRC-16 of everything from '/' to '!'
//
// The CRC is CRC-16/ARC (polynomial 0x8005 reflected, i.e. 0xA001, initial
// value 0, no final XOR) written as four hexadecimal digits; DSMR 2.2 and
// 3.0 meters send a bare "!" instead. dsmrFramer cuts the byte stream into
// telegrams with a bounded buffer; dsmrDecoder checks one and turns the
// objects it knows into readings.

import (
	"bytes"
	"strconv"
	"time"
)

// Errors of the telegram decoder (counted by the bridge).
var (
	errDSMRCRC      error = constError("serial: DSMR telegram CRC mismatch")
	errDSMRCRCField error = constError("serial: DSMR telegram CRC is not four hexadecimal digits")
	errDSMRNoCRC    error = constError("serial: DSMR 4 or later telegram without a CRC")
	errDSMRFormat   error = constError("serial: DSMR telegram without a CRC has a malformed line")
	errDSMREmpty    error = constError("serial: DSMR telegram has no object gatemq knows")
)

// dsmrKind says how an object's values become a reading.
type dsmrKind uint8

const (
	dsmrEnergy    dsmrKind = iota + 1 // (v*kWh) or (v*Wh)
	dsmrPower                         // (v*kW) or (v*W)
	dsmrVoltage                       // (v*V)
	dsmrCurrent                       // (v*A)
	dsmrInteger                       // (0002): leading zeros dropped
	dsmrTimestamp                     // (YYMMDDhhmmssX)
	dsmrVersion                       // 1-3:0.2.8(50): not published
	dsmrEMUCS                         // 0-0:96.1.4(50217): e-MUCS version, not published
	dsmrMBusType                      // 0-n:24.1.0(003): the device type of channel n
	dsmrMBus                          // 0-n:24.2.1(TST)(v*m3), and e-MUCS 24.2.3
	dsmrMBusOld                       // DSMR 2.2/3.0 0-n:24.3.0(TST)(..)(..)(..)(obis)(unit)(v)
	dsmrMaxDemand                     // e-MUCS 1-0:1.6.0(TST)(v*kW)
)

// dsmrObject is a known OBIS reference: A-B:C.D.E, where B is the M-Bus
// channel for dsmrMBus* kinds (any 1..4) and 0 otherwise.
type dsmrObject struct {
	a, c, d, e uint8
	kind       dsmrKind
	key        string
}

// dsmrObjects are the OBIS references gatemq publishes, with their keys
// (the names the Home Assistant DSMR integration uses where it has one).
var dsmrObjects = [...]dsmrObject{
	{1, 0, 2, 8, dsmrVersion, ""},
	{0, 96, 1, 4, dsmrEMUCS, ""},
	{0, 1, 0, 0, dsmrTimestamp, "timestamp"},
	{1, 1, 8, 1, dsmrEnergy, "electricity_delivered_1"},
	{1, 1, 8, 2, dsmrEnergy, "electricity_delivered_2"},
	{1, 2, 8, 1, dsmrEnergy, "electricity_returned_1"},
	{1, 2, 8, 2, dsmrEnergy, "electricity_returned_2"},
	{0, 96, 14, 0, dsmrInteger, "electricity_tariff"},
	{1, 1, 7, 0, dsmrPower, "power_delivered"},
	{1, 2, 7, 0, dsmrPower, "power_returned"},
	{1, 32, 7, 0, dsmrVoltage, "voltage_l1"},
	{1, 52, 7, 0, dsmrVoltage, "voltage_l2"},
	{1, 72, 7, 0, dsmrVoltage, "voltage_l3"},
	{1, 31, 7, 0, dsmrCurrent, "current_l1"},
	{1, 51, 7, 0, dsmrCurrent, "current_l2"},
	{1, 71, 7, 0, dsmrCurrent, "current_l3"},
	{1, 21, 7, 0, dsmrPower, "power_delivered_l1"},
	{1, 41, 7, 0, dsmrPower, "power_delivered_l2"},
	{1, 61, 7, 0, dsmrPower, "power_delivered_l3"},
	{1, 22, 7, 0, dsmrPower, "power_returned_l1"},
	{1, 42, 7, 0, dsmrPower, "power_returned_l2"},
	{1, 62, 7, 0, dsmrPower, "power_returned_l3"},
	{1, 1, 4, 0, dsmrPower, "current_average_demand"},
	{1, 1, 6, 0, dsmrMaxDemand, "maximum_demand_current_month"},
	{0, 24, 1, 0, dsmrMBusType, ""},
	{0, 24, 2, 1, dsmrMBus, ""},
	{0, 24, 2, 3, dsmrMBus, ""},
	{0, 24, 3, 0, dsmrMBusOld, ""},
}

// M-Bus device types (0-n:24.1.0) gatemq publishes.
const (
	mbusGas   = 3
	mbusWater = 7
)

// obis is a parsed OBIS reference A-B:C.D.E.
type obis struct{ a, b, c, d, e uint8 }

// lookup returns the known object of o, or nil.
func (o obis) lookup() *dsmrObject {
	for i := range dsmrObjects {
		x := &dsmrObjects[i]
		if x.a != o.a || x.c != o.c || x.d != o.d || x.e != o.e {
			continue
		}
		switch x.kind {
		case dsmrVersion:
			if o.b != 3 {
				continue
			}
		case dsmrMBusType, dsmrMBus, dsmrMBusOld:
			if o.b < 1 || o.b > 4 {
				continue
			}
		default:
			if o.b != 0 {
				continue
			}
		}
		return x
	}
	return nil
}

// dsmrLine is one object of a telegram: its OBIS reference and the spans
// of its values (without parentheses) in groups[g0:g1].
type dsmrLine struct {
	o      obis
	obj    *dsmrObject
	g0, g1 int
}

// dsmrDecoder turns one telegram into readings. It reuses its buffers, so
// one decoder serves one goroutine.
type dsmrDecoder struct {
	tele    []byte // the telegram being decoded
	lines   []dsmrLine
	groups  [][2]int // value spans in the telegram
	out     []reading
	scratch []byte
	spans   []dsmrSpan
}

// dsmrSpan is a reading whose value is scratch[v0:v1].
type dsmrSpan struct {
	key    string
	v0, v1 int
}

// decode checks telegram (from '/' to the end of its CRC line, as
// dsmrFramer emits it) and returns its readings in telegram order. The
// result and the slices in it are valid until the next call.
//
// A telegram whose CRC does not match gives errDSMRCRC. One without a CRC
// (DSMR 2.2 and 3.0 send a bare "!") is accepted only if it does not say
// it is DSMR 4 or later, and only if every line is well formed, since
// nothing else protects it. In a telegram with a good CRC, lines gatemq
// does not understand are skipped.
func (d *dsmrDecoder) decode(telegram []byte) ([]reading, error) {
	d.out, d.lines, d.groups, d.scratch, d.spans = d.out[:0], d.lines[:0], d.groups[:0], d.scratch[:0], d.spans[:0]
	bang := bytes.LastIndexByte(telegram, '!')
	if len(telegram) == 0 || telegram[0] != '/' || bang < 0 {
		return nil, errDSMRFormat
	}
	field := bytes.TrimRight(telegram[bang+1:], " \t\r\n")
	hasCRC := len(field) > 0
	if hasCRC {
		want, ok := parseHex16(field)
		if !ok {
			return nil, errDSMRCRCField
		}
		if crc16(telegram[:bang+1]) != want {
			return nil, errDSMRCRC
		}
	}
	malformed := d.split(telegram[:bang])
	if !hasCRC {
		if malformed || !isP1Text(telegram[:bang]) {
			return nil, errDSMRFormat
		}
		for _, l := range d.lines {
			if l.obj == nil {
				continue
			}
			switch l.obj.kind {
			case dsmrEMUCS:
				return nil, errDSMRNoCRC
			case dsmrVersion:
				if l.g1 > l.g0 {
					if v, err := strconv.Atoi(string(d.group(l.g0))); err != nil || v >= 40 {
						return nil, errDSMRNoCRC
					}
				}
			}
		}
	}
	d.readings()
	if len(d.spans) == 0 {
		return nil, errDSMREmpty
	}
	for _, s := range d.spans {
		d.out = append(d.out, reading{key: []byte(s.key), value: d.scratch[s.v0:s.v1]})
	}
	return d.out, nil
}

// split parses the lines after the identification line into d.lines and
// d.groups and reports whether any was malformed. A line that starts with
// '(' continues the object before it (DSMR 2.2 and 3.0 put the gas reading
// on a line of its own).
func (d *dsmrDecoder) split(body []byte) (malformed bool) {
	d.tele = body
	pos := bytes.IndexByte(body, '\n') // the identification line is not parsed
	if pos < 0 {
		return false
	}
	pos++
	for pos < len(body) {
		end := bytes.IndexByte(body[pos:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += pos
		}
		line := body[pos:end]
		start := pos
		pos = end + 1
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var o obis
		i := 0
		if line[0] != '(' {
			var ok bool
			o, i, ok = parseOBIS(line)
			if !ok {
				malformed = true
				continue
			}
		} else if len(d.lines) == 0 {
			malformed = true
			continue
		}
		g0 := len(d.groups)
		for i < len(line) {
			if line[i] != '(' {
				malformed = true
				break
			}
			j := bytes.IndexByte(line[i+1:], ')')
			if j < 0 || bytes.IndexByte(line[i+1:i+1+j], '(') >= 0 {
				malformed = true
				break
			}
			d.groups = append(d.groups, [2]int{start + i + 1, start + i + 1 + j})
			i += j + 2
		}
		if line[0] == '(' {
			d.lines[len(d.lines)-1].g1 = len(d.groups)
			continue
		}
		d.lines = append(d.lines, dsmrLine{o: o, obj: o.lookup(), g0: g0, g1: len(d.groups)})
	}
	return malformed
}

// group returns the text of value group g.
func (d *dsmrDecoder) group(g int) []byte { return d.tele[d.groups[g][0]:d.groups[g][1]] }

// readings turns the known objects of d.lines into d.spans.
func (d *dsmrDecoder) readings() {
	var mbusType [5]int // by channel; 0 unknown
	for _, l := range d.lines {
		if l.obj != nil && l.obj.kind == dsmrMBusType && l.g1 > l.g0 {
			if v, err := strconv.Atoi(string(d.group(l.g0))); err == nil {
				mbusType[l.o.b] = v
			}
		}
	}
	var gasDone, waterDone bool
	for _, l := range d.lines {
		if l.obj == nil {
			continue
		}
		n := l.g1 - l.g0
		switch l.obj.kind {
		case dsmrEnergy, dsmrPower, dsmrVoltage, dsmrCurrent:
			if n == 1 {
				d.quantity(l.obj.key, l.obj.kind, d.group(l.g0))
			}
		case dsmrInteger:
			if n == 1 {
				d.integer(l.obj.key, d.group(l.g0))
			}
		case dsmrTimestamp:
			if n == 1 {
				d.timestamp(l.obj.key, d.group(l.g0))
			}
		case dsmrMaxDemand:
			if n == 2 {
				d.quantity(l.obj.key, dsmrPower, d.group(l.g0+1))
			}
		case dsmrMBus, dsmrMBusOld:
			var key, tsKey string
			switch t := mbusType[l.o.b]; {
			case (t == mbusGas || t == 0) && !gasDone:
				key, tsKey, gasDone = "gas_delivered", "gas_timestamp", true
			case t == mbusWater && !waterDone:
				key, tsKey, waterDone = "water_delivered", "water_timestamp", true
			default:
				continue
			}
			ts, val := -1, -1
			var unit []byte
			if l.obj.kind == dsmrMBus && n == 2 {
				ts, val = l.g0, l.g0+1
			} else if l.obj.kind == dsmrMBusOld && n >= 7 {
				ts, val, unit = l.g0, l.g1-1, d.group(l.g0+5)
			} else {
				continue
			}
			if d.volume(key, d.group(val), unit) {
				d.timestamp(tsKey, d.group(ts))
			}
		}
	}
}

// quantity appends a reading of value "v*unit" in kWh, kW, V or A (Wh and
// W are scaled to kWh and kW). It returns false, appending nothing, when
// the value or unit does not fit the kind.
func (d *dsmrDecoder) quantity(key string, kind dsmrKind, g []byte) bool {
	num, unit, ok := bytes.Cut(g, []byte("*"))
	if !ok {
		return false
	}
	shift := 0
	switch kind {
	case dsmrEnergy:
		switch {
		case equalFold(unit, "kWh"):
		case equalFold(unit, "Wh"):
			shift = 3
		default:
			return false
		}
	case dsmrPower:
		switch {
		case equalFold(unit, "kW"):
		case equalFold(unit, "W"):
			shift = 3
		default:
			return false
		}
	case dsmrVoltage:
		if !equalFold(unit, "V") {
			return false
		}
	case dsmrCurrent:
		if !equalFold(unit, "A") {
			return false
		}
	}
	return d.number(key, num, shift)
}

// volume appends a gas or water reading in m³: "v*m3" (DSMR 4 and later),
// or v with the unit in its own group (DSMR 2.2 and 3.0).
func (d *dsmrDecoder) volume(key string, g, unit []byte) bool {
	if unit == nil {
		var ok bool
		g, unit, ok = bytes.Cut(g, []byte("*"))
		if !ok {
			return false
		}
	}
	if !equalFold(unit, "m3") {
		return false
	}
	return d.number(key, g, 0)
}

// number appends a reading of the decimal num divided by 10^shift, with
// leading zeros dropped.
func (d *dsmrDecoder) number(key string, num []byte, shift int) bool {
	v0 := len(d.scratch)
	var ok bool
	d.scratch, ok = appendDecimal(d.scratch, num, shift)
	if !ok {
		d.scratch = d.scratch[:v0]
		return false
	}
	d.spans = append(d.spans, dsmrSpan{key, v0, len(d.scratch)})
	return true
}

// integer appends a reading of an unsigned integer without its leading
// zeros.
func (d *dsmrDecoder) integer(key string, g []byte) bool {
	if len(g) == 0 || len(g) > 10 {
		return false
	}
	for _, c := range g {
		if c < '0' || c > '9' {
			return false
		}
	}
	return d.number(key, g, 0)
}

// timestamp appends a reading of a P1 time stamp as RFC 3339 local time
// with its UTC offset.
func (d *dsmrDecoder) timestamp(key string, g []byte) bool {
	v0 := len(d.scratch)
	var ok bool
	d.scratch, ok = appendP1Time(d.scratch, g)
	if !ok {
		d.scratch = d.scratch[:v0]
		return false
	}
	d.spans = append(d.spans, dsmrSpan{key, v0, len(d.scratch)})
	return true
}

// parseOBIS reads "A-B:C.D.E" (optionally followed by "*F", the OBIS
// billing period that some meters add) at the start of line and returns it
// with the index of the byte after it.
func parseOBIS(line []byte) (o obis, n int, ok bool) {
	var v [5]uint8
	seps := [...]byte{'-', ':', '.', '.'}
	i := 0
	for k := range 5 {
		start, x := i, 0
		for i < len(line) && line[i] >= '0' && line[i] <= '9' && i-start < 3 {
			x = x*10 + int(line[i]-'0')
			i++
		}
		if i == start || x > 255 {
			return o, 0, false
		}
		v[k] = uint8(x)
		if k < 4 {
			if i >= len(line) || line[i] != seps[k] {
				return o, 0, false
			}
			i++
		}
	}
	if i < len(line) && line[i] == '*' {
		i++
		for i < len(line) && line[i] >= '0' && line[i] <= '9' {
			i++
		}
	}
	return obis{v[0], v[1], v[2], v[3], v[4]}, i, true
}

// parseHex16 reads four hexadecimal digits.
func parseHex16(s []byte) (uint16, bool) {
	if len(s) != 4 {
		return 0, false
	}
	var v uint16
	for _, c := range s {
		var x byte
		switch {
		case c >= '0' && c <= '9':
			x = c - '0'
		case c >= 'A' && c <= 'F':
			x = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			x = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(x)
	}
	return v, true
}

// appendDecimal appends the decimal number s ([-]digits[.digits]) divided
// by 10^shift, without superfluous leading zeros, keeping its fractional
// digits (so "001581.123" gives "1581.123" and "005017120" with shift 3
// gives "5017.120").
func appendDecimal(dst, s []byte, shift int) ([]byte, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	ip, fp, dot := bytes.Cut(s, []byte("."))
	if len(ip) == 0 || dot && len(fp) == 0 || len(ip)+len(fp) > 32 {
		return dst, false
	}
	for _, c := range ip {
		if c < '0' || c > '9' {
			return dst, false
		}
	}
	for _, c := range fp {
		if c < '0' || c > '9' {
			return dst, false
		}
	}
	// digits = ip+fp with the point after len(ip)-shift of them.
	var digits [40]byte
	n := copy(digits[:], ip)
	n += copy(digits[n:], fp)
	point := len(ip) - shift
	for point < 1 { // pad with zeros in front
		copy(digits[1:n+1], digits[:n])
		digits[0] = '0'
		n++
		point++
	}
	intPart, frac := digits[:point], digits[point:n]
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if neg && !(len(intPart) == 1 && intPart[0] == '0' && allZero(frac)) {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	if len(frac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	return dst, true
}

// isNumeric reports whether v is a decimal number: an optional sign,
// digits with at most one point, and an optional exponent.
func isNumeric(v []byte) bool {
	i := 0
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		i++
	}
	digits, point := 0, false
mantissa:
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point:
			point = true
		default:
			break mantissa
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '-' || v[i] == '+') {
			i++
		}
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(v)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// appendP1Time appends the P1 time stamp g (YYMMDDhhmmss followed by W for
// winter time or S for summer time; DSMR 2.2 and 3.0 leave the letter out)
// as RFC 3339 with the UTC offset of Dutch and Belgian time: +01:00 in
// winter, +02:00 in summer. Without the letter the offset follows the EU
// rule (summer time from the last Sunday of March, 02:00, to the last
// Sunday of October, 03:00; the repeated hour counts as winter time).
func appendP1Time(dst, g []byte) ([]byte, bool) {
	if len(g) != 12 && len(g) != 13 {
		return dst, false
	}
	var f [6]int
	for k := range 6 {
		a, b := g[2*k], g[2*k+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return dst, false
		}
		f[k] = int(a-'0')*10 + int(b-'0')
	}
	year, month, day, hour, minute, sec := 2000+f[0], f[1], f[2], f[3], f[4], f[5]
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return dst, false
	}
	var summer bool
	if len(g) == 13 {
		switch g[12] {
		case 'S', 's':
			summer = true
		case 'W', 'w':
		default:
			return dst, false
		}
	} else {
		summer = euSummerTime(year, month, day, hour)
	}
	dst = strconv.AppendInt(dst, int64(year), 10)
	for k, sep := range [...]byte{'-', '-', 'T', ':', ':'} {
		dst = append(dst, sep, g[2*k+2], g[2*k+3])
	}
	if summer {
		return append(dst, "+02:00"...), true
	}
	return append(dst, "+01:00"...), true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// euSummerTime reports whether the local wall-clock time is in Central
// European Summer Time.
func euSummerTime(year, month, day, hour int) bool {
	lastSunday := func(m int) int {
		last := daysIn(year, m)
		return last - int(time.Date(year, time.Month(m), last, 0, 0, 0, 0, time.UTC).Weekday())
	}
	switch {
	case month > 3 && month < 10:
		return true
	case month == 3:
		s := lastSunday(3)
		return day > s || day == s && hour >= 2
	case month == 10:
		s := lastSunday(10)
		return day < s || day == s && hour < 2
	}
	return false
}

// isP1Text reports whether a telegram holds only printable ASCII and line
// ends, as the P1 standard requires.
func isP1Text(p []byte) bool {
	for _, c := range p {
		if (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// equalFold reports whether b is s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}
