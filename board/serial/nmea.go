package serial

// NMEA 0183 from a GPS receiver (serial_format nmea).
//
// A receiver sends a burst of sentences per fix (an epoch), typically once
// a second:
//
//	$GNRMC,123519.00,A,4807.03800,N,01131.00000,E,0.022,84.4,230394,,,A*6B
//	$GNVTG,84.4,T,,M,0.022,N,0.041,K,A*2B
//	$GNGGA,123519.00,4807.03800,N,01131.00000,E,1,08,0.9,545.4,M,46.9,M,,*5C
//
// Each sentence ends in '*' and the XOR of the bytes between '$' and '*'
// as two hexadecimal digits; a sentence whose checksum does not match, or
// that has none, is counted and skipped. GGA, RMC and VTG of any talker
// (GP GPS, GL GLONASS, GA Galileo, GB/BD BeiDou, GN several) are read;
// other sentences are skipped without complaint.
//
// The sentences of one epoch are merged into one fix (GGA gives altitude,
// fix quality, satellites and HDOP; RMC the date, speed and course; VTG
// the speed in km/h and the course), which is published once: when a
// sentence with a new time of day arrives, or, once the receiver's set of
// sentences per epoch is known, as soon as the epoch holds all of them.

import (
	"bytes"
	"math"
	"strconv"
)

// Errors of the sentence parser (counted by the bridge).
var (
	errNMEANoSentence error = constError("serial: not an NMEA sentence (no '$')")
	errNMEAChecksum   error = constError("serial: NMEA sentence checksum missing or wrong")
	errNMEAField      error = constError("serial: NMEA sentence has a malformed field")
	errNMEAText       error = constError("serial: NMEA sentence has bytes that are not printable ASCII")
)

// Sentence types read, as bits of nmeaFix.types.
const (
	nmeaGGA uint8 = 1 << iota
	nmeaRMC
	nmeaVTG
)

// knotKmh is one knot in km/h.
const knotKmh = 1.852

// nmeaFix is what the sentences of one epoch said. Empty strings are
// absent values; numbers are decimal text ready to publish.
type nmeaFix struct {
	_               [0]func() // not comparable: no generated == function (flash size)
	types           uint8
	time            string // hhmmss[.ss] as sent
	date            string // ddmmyy (RMC)
	lat, lon        string // decimal degrees; set only from a valid fix
	altitude        string // m above mean sea level (GGA)
	speedKmh        string // VTG
	speedKn         string // RMC, used without VTG
	course          string // degrees true (RMC, else VTG)
	fix, satellites string // GGA quality indicator and satellites used
	hdop            string
}

// nmeaState merges sentences into fixes. It reuses its buffers, so one
// state serves one goroutine.
type nmeaState struct {
	cur     nmeaFix
	known   uint8 // sentence types of a whole epoch, learned
	learned int   // epochs ended by a new time of day (known is used from 2)
	misses  int   // epochs in a row that ended without all of known
	// The date of the last RMC and its time of day, for fixes without RMC.
	lastDate, lastTime string

	out     []reading
	scratch []byte
	spans   []nmeaSpan
}

type nmeaSpan struct {
	key    string // "" for the JSON object on BASE
	v0, v1 int
}

// feed reads one line holding a sentence and calls emit with the readings
// of every fix it completes (at most two: the one a new time of day ends,
// and the new one if it is complete at once). The readings are valid only
// until emit returns. Lines of other sentence types give no error and no
// readings.
func (s *nmeaState) feed(line []byte, emit func([]reading)) error {
	fields, err := nmeaFields(line)
	if err != nil {
		return err
	}
	var typ uint8
	addr := fields[0]
	if len(addr) == 5 && addr[0] != 'P' {
		switch string(addr[2:]) {
		case "GGA":
			typ = nmeaGGA
		case "RMC":
			typ = nmeaRMC
		case "VTG":
			typ = nmeaVTG
		}
	}
	if typ == 0 {
		return nil
	}
	var f nmeaFix
	switch typ {
	case nmeaGGA:
		err = parseGGA(fields, &f)
	case nmeaRMC:
		err = parseRMC(fields, &f)
	case nmeaVTG:
		err = parseVTG(fields, &f)
	}
	if err != nil {
		return err
	}
	f.types = typ
	c := &s.cur
	newTime := f.time != "" && c.time != "" && f.time != c.time
	if c.types != 0 && (newTime || typ == nmeaVTG && c.types&nmeaVTG != 0) {
		if newTime {
			s.learn(c.types)
		}
		s.flush(emit)
	}
	c.merge(&f)
	if s.learned >= 2 && c.types&s.known == s.known {
		s.misses = 0
		s.flush(emit)
	}
	return nil
}

// learn updates the set of sentence types a whole epoch holds from one
// that a new time of day ended: the union of the first ones, then,
// if epochs keep ending without some of them, the set they do hold.
func (s *nmeaState) learn(types uint8) {
	if s.learned < 2 {
		s.known |= types
		s.learned++
		return
	}
	if types&s.known != s.known {
		if s.misses++; s.misses >= 3 {
			s.known, s.misses = types, 0
		}
	}
}

// merge adds what one sentence said to the fix.
func (c *nmeaFix) merge(f *nmeaFix) {
	c.types |= f.types
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.time, f.time)
	set(&c.date, f.date)
	if f.lat != "" && (c.lat == "" || f.types == nmeaGGA) { // GGA's position wins
		c.lat, c.lon = f.lat, f.lon
	}
	set(&c.altitude, f.altitude)
	set(&c.speedKmh, f.speedKmh)
	set(&c.speedKn, f.speedKn)
	if f.course != "" && (c.course == "" || f.types == nmeaRMC) {
		c.course = f.course
	}
	set(&c.fix, f.fix)
	set(&c.satellites, f.satellites)
	set(&c.hdop, f.hdop)
}

// flush publishes the current fix, if it says anything, and starts a new
// one.
func (s *nmeaState) flush(emit func([]reading)) {
	c := s.cur
	s.cur = nmeaFix{}
	s.out, s.scratch, s.spans = s.out[:0], s.scratch[:0], s.spans[:0]
	add := func(key, v string) {
		if v == "" {
			return
		}
		v0 := len(s.scratch)
		s.scratch = append(s.scratch, v...)
		s.spans = append(s.spans, nmeaSpan{key, v0, len(s.scratch)})
	}
	speed := c.speedKmh
	if speed == "" && c.speedKn != "" {
		kn, err := strconv.ParseFloat(c.speedKn, 64)
		if err == nil {
			speed = strconv.FormatFloat(kn*knotKmh, 'f', 3, 64)
		}
	}
	ts := s.timestamp(&c)
	add("latitude", c.lat)
	add("longitude", c.lon)
	add("altitude", c.altitude)
	add("speed", speed)
	add("course", c.course)
	add("fix", c.fix)
	add("satellites", c.satellites)
	add("hdop", c.hdop)
	add("time", ts)
	if len(s.spans) == 0 {
		return
	}
	// The JSON object on BASE: the same values, numbers as numbers.
	v0 := len(s.scratch)
	s.scratch = append(s.scratch, '{')
	for i, sp := range s.spans {
		if i > 0 {
			s.scratch = append(s.scratch, ',')
		}
		s.scratch = append(s.scratch, '"')
		s.scratch = append(s.scratch, sp.key...)
		s.scratch = append(s.scratch, '"', ':')
		if sp.key == "time" {
			s.scratch = append(s.scratch, '"')
			s.scratch = append(s.scratch, s.scratch[sp.v0:sp.v1]...)
			s.scratch = append(s.scratch, '"')
		} else {
			s.scratch = append(s.scratch, s.scratch[sp.v0:sp.v1]...)
		}
	}
	s.scratch = append(s.scratch, '}')
	s.spans = append(s.spans, nmeaSpan{"", v0, len(s.scratch)})
	for _, sp := range s.spans {
		r := reading{value: s.scratch[sp.v0:sp.v1]}
		if sp.key != "" {
			r.key = []byte(sp.key)
		}
		s.out = append(s.out, r)
	}
	emit(s.out)
}

// timestamp returns the fix's time as RFC 3339 UTC: with the fix's own
// date (RMC), or with the last RMC's date while the time of day has not
// passed midnight since; "" without a date.
func (s *nmeaState) timestamp(c *nmeaFix) string {
	if c.time == "" {
		return ""
	}
	date := c.date
	if date != "" {
		s.lastDate, s.lastTime = c.date, c.time
	} else if s.lastDate != "" && c.time[:6] >= s.lastTime[:6] {
		date = s.lastDate
	}
	if date == "" {
		return ""
	}
	year := 2000 + int(date[4]-'0')*10 + int(date[5]-'0')
	if year >= 2080 { // a two-digit year: 80..99 are 1980..1999
		year -= 100
	}
	t := c.time
	b := make([]byte, 0, 32)
	b = strconv.AppendInt(b, int64(year), 10)
	b = append(b, '-', date[2], date[3], '-', date[0], date[1], 'T', t[0], t[1], ':', t[2], t[3], ':')
	b = append(b, t[4:]...)
	return string(append(b, 'Z'))
}

// nmeaFields checks the sentence in line (from its last '$'; what comes
// before it is ignored) and returns its comma-separated fields, the
// address field first, without the checksum. The fields point into line.
func nmeaFields(line []byte) ([][]byte, error) {
	i := bytes.LastIndexByte(line, '$')
	if i < 0 {
		return nil, errNMEANoSentence
	}
	sent := bytes.TrimRight(line[i+1:], " \t")
	star := bytes.LastIndexByte(sent, '*')
	if star < 0 || len(sent)-star != 3 {
		return nil, errNMEAChecksum
	}
	for _, c := range sent {
		if c < 0x20 || c > 0x7e {
			return nil, errNMEAText
		}
	}
	want, ok := parseHex8(sent[star+1:])
	if !ok {
		return nil, errNMEAChecksum
	}
	var sum byte
	for _, c := range sent[:star] {
		sum ^= c
	}
	if sum != want {
		return nil, errNMEAChecksum
	}
	return bytes.Split(sent[:star], []byte(",")), nil
}

// parseHex8 reads two hexadecimal digits.
func parseHex8(s []byte) (byte, bool) {
	if len(s) != 2 {
		return 0, false
	}
	v, ok := parseHex16([]byte{'0', '0', s[0], s[1]})
	return byte(v), ok
}

// field returns fields[i], or nil past the end.
func field(fields [][]byte, i int) []byte {
	if i < len(fields) {
		return fields[i]
	}
	return nil
}

// parseGGA reads $--GGA,time,lat,N,lon,E,quality,sats,hdop,alt,M,...
func parseGGA(fs [][]byte, f *nmeaFix) error {
	if len(fs) < 10 {
		return errNMEAField
	}
	var err error
	if f.time, err = nmeaTime(fs[1]); err != nil {
		return err
	}
	if f.fix, err = nmeaInt(fs[6]); err != nil {
		return err
	}
	if f.satellites, err = nmeaInt(fs[7]); err != nil {
		return err
	}
	if f.hdop, err = nmeaNumber(fs[8]); err != nil {
		return err
	}
	if f.altitude, err = nmeaNumber(fs[9]); err != nil {
		return err
	}
	if u := field(fs, 10); f.altitude != "" && len(u) > 0 && string(u) != "M" {
		return errNMEAField
	}
	if f.fix == "0" {
		return nil // no position
	}
	f.lat, f.lon, err = nmeaPosition(fs[2], fs[3], fs[4], fs[5])
	return err
}

// parseRMC reads $--RMC,time,status,lat,N,lon,E,knots,course,date,magvar,E[,mode[,navstatus]].
func parseRMC(fs [][]byte, f *nmeaFix) error {
	if len(fs) < 10 {
		return errNMEAField
	}
	var err error
	if f.time, err = nmeaTime(fs[1]); err != nil {
		return err
	}
	if d := fs[9]; len(d) > 0 {
		if !nmeaDate(d) {
			return errNMEAField
		}
		f.date = string(d)
	}
	if f.speedKn, err = nmeaNumber(fs[7]); err != nil {
		return err
	}
	if f.course, err = nmeaNumber(fs[8]); err != nil {
		return err
	}
	valid := string(fs[2]) == "A"
	if m := field(fs, 12); len(m) > 0 && m[0] == 'N' {
		valid = false // NMEA 2.3 mode indicator: data not valid
	}
	if !valid {
		f.speedKn, f.course = "", ""
		return nil
	}
	f.lat, f.lon, err = nmeaPosition(fs[3], fs[4], fs[5], fs[6])
	return err
}

// parseVTG reads $--VTG,course,T,course,M,knots,N,kmh,K[,mode], or the
// pre-2.0 form $--VTG,course,course,knots,kmh.
func parseVTG(fs [][]byte, f *nmeaFix) error {
	var course, kn, kmh []byte
	switch {
	case len(fs) >= 9:
		course, kn, kmh = fs[1], fs[5], fs[7]
		if m := field(fs, 9); len(m) > 0 && m[0] == 'N' {
			return nil // data not valid
		}
	case len(fs) == 5:
		course, kn, kmh = fs[1], fs[3], fs[4]
	default:
		return errNMEAField
	}
	var err error
	if f.course, err = nmeaNumber(course); err != nil {
		return err
	}
	if f.speedKmh, err = nmeaNumber(kmh); err != nil {
		return err
	}
	if f.speedKmh == "" {
		if f.speedKn, err = nmeaNumber(kn); err != nil {
			return err
		}
	}
	return nil
}

// nmeaTime checks hhmmss[.s...]; "" for an empty field.
func nmeaTime(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	if len(b) < 6 || len(b) > 16 || len(b) > 6 && (b[6] != '.' || len(b) == 7) {
		return "", errNMEAField
	}
	for i, c := range b {
		if i != 6 && (c < '0' || c > '9') {
			return "", errNMEAField
		}
	}
	if b[0] > '2' || b[0] == '2' && b[1] > '3' || b[2] > '5' || b[4] > '5' {
		return "", errNMEAField
	}
	return string(b), nil
}

// nmeaDate checks ddmmyy.
func nmeaDate(b []byte) bool {
	if len(b) != 6 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	day, month := int(b[0]-'0')*10+int(b[1]-'0'), int(b[2]-'0')*10+int(b[3]-'0')
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

// nmeaInt checks an unsigned integer and drops its leading zeros; "" for
// an empty field.
func nmeaInt(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	if len(b) > 4 || bytes.IndexByte(b, '.') >= 0 || b[0] == '-' {
		return "", errNMEAField
	}
	return nmeaNumber(b)
}

// nmeaNumber checks a decimal number and drops its leading zeros; "" for
// an empty field.
func nmeaNumber(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	var buf [40]byte
	out, ok := appendDecimal(buf[:0], b, 0)
	if !ok {
		return "", errNMEAField
	}
	return string(out), nil
}

// nmeaPosition converts ddmm.mmmm,N and dddmm.mmmm,E into signed decimal
// degrees, with two or three more decimals than the minutes had (at least
// six), so no precision the receiver sent is lost. Empty fields give no
// position and no error.
func nmeaPosition(lat, ns, lon, ew []byte) (string, string, error) {
	if len(lat) == 0 && len(lon) == 0 {
		return "", "", nil
	}
	la, ok1 := nmeaDegrees(lat, ns, 'N', 'S', 90)
	lo, ok2 := nmeaDegrees(lon, ew, 'E', 'W', 180)
	if !ok1 || !ok2 {
		return "", "", errNMEAField
	}
	return la, lo, nil
}

func nmeaDegrees(v, hemi []byte, pos, neg byte, limit float64) (string, bool) {
	if len(hemi) != 1 || hemi[0] != pos && hemi[0] != neg {
		return "", false
	}
	ip, fp, _ := bytes.Cut(v, []byte("."))
	if len(ip) < 3 || len(ip) > 5 || len(fp) > 10 {
		return "", false
	}
	for _, c := range v {
		if (c < '0' || c > '9') && c != '.' {
			return "", false
		}
	}
	deg, err1 := strconv.Atoi(string(ip[:len(ip)-2]))
	minutes, err2 := strconv.ParseFloat(string(v[len(ip)-2:]), 64)
	if err1 != nil || err2 != nil || minutes >= 60 {
		return "", false
	}
	d := float64(deg) + minutes/60
	if d > limit {
		return "", false
	}
	if hemi[0] == neg {
		d = -d
	}
	decimals := max(len(fp)+3, 6)
	if d == 0 || math.Abs(d) < math.Pow(10, -float64(decimals)) {
		d = 0 // no "-0"
	}
	return strconv.FormatFloat(d, 'f', decimals, 64), true
}
