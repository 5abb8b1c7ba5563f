package logdest

import (
	"strconv"
	"time"
)

// Strftime formats t as C's strftime(3) does with format f (the
// conversions of C99 and POSIX that do not depend on the locale beyond
// English names). An unknown conversion is written as it stands.
func Strftime(f string, t time.Time) string {
	return string(appendStrftime(nil, f, t))
}

// appendStrftime appends t formatted with f to b. The date and the clock
// are computed once, not once per conversion.
func appendStrftime(b []byte, f string, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	weekday := t.Weekday()
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			b = append(b, c)
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			b = appendPadded(b, year, 4, '0')
		case 'y':
			b = appendPadded(b, year%100, 2, '0')
		case 'C':
			b = appendPadded(b, year/100, 2, '0')
		case 'm':
			b = appendPadded(b, int(month), 2, '0')
		case 'd':
			b = appendPadded(b, day, 2, '0')
		case 'e':
			b = appendPadded(b, day, 2, ' ')
		case 'H':
			b = appendPadded(b, hour, 2, '0')
		case 'I':
			b = appendPadded(b, (hour+11)%12+1, 2, '0')
		case 'M':
			b = appendPadded(b, minute, 2, '0')
		case 'S':
			b = appendPadded(b, sec, 2, '0')
		case 'j':
			b = appendPadded(b, t.YearDay(), 3, '0')
		case 'p':
			if hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'b', 'h':
			b = append(b, month.String()[:3]...)
		case 'B':
			b = append(b, month.String()...)
		case 'a':
			b = append(b, weekday.String()[:3]...)
		case 'A':
			b = append(b, weekday.String()...)
		case 'u':
			b = strconv.AppendInt(b, int64((weekday+6)%7+1), 10)
		case 'w':
			b = strconv.AppendInt(b, int64(weekday), 10)
		case 'Z':
			name, _ := t.Zone()
			b = append(b, name...)
		case 'z':
			b = t.AppendFormat(b, "-0700")
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'F':
			b = appendStrftime(b, "%Y-%m-%d", t)
		case 'T':
			b = appendStrftime(b, "%H:%M:%S", t)
		case 'R':
			b = appendStrftime(b, "%H:%M", t)
		case 'D':
			b = appendStrftime(b, "%m/%d/%y", t)
		case 'c':
			b = appendStrftime(b, "%a %b %e %H:%M:%S %Y", t)
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', f[i])
		}
	}
	return b
}

// appendPadded appends n in decimal, padded with pad on the left to width.
func appendPadded(b []byte, n, width int, pad byte) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, pad)
	}
	return append(b, s...)
}
