package serial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// nmea appends the checksum to the sentence body (between '$' and '*').
func nmea(body string) string {
	var x byte
	for i := 0; i < len(body); i++ {
		x ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X", body, x)
}

func TestNMEAFields(t *testing.T) {
	ok := []string{
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
		"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
		"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48",
		"\xb5b\x01 binary before $GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48",
		"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48  ",
	}
	for _, l := range ok {
		if _, err := nmeaFields([]byte(l)); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
	bad := []struct {
		line string
		err  error
	}{
		{"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*46", errNMEAChecksum},
		{"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", errNMEAChecksum},
		{"$GPGGA,123519*4", errNMEAChecksum},
		{"$GPGGA,123519*4G", errNMEAChecksum},
		{"GPGGA,123519*47", errNMEANoSentence},
		{"$GPGGA,12\x0019*47", errNMEAText},
	}
	for _, tc := range bad {
		if _, err := nmeaFields([]byte(tc.line)); !errors.Is(err, tc.err) {
			t.Errorf("%q: %v, want %v", tc.line, err, tc.err)
		}
	}
}

// feedAll feeds lines to s and returns the JSON objects published on
// BASE, and the readings of the last fix.
func feedAll(t *testing.T, s *nmeaState, lines ...string) (objs []string, last []string, errs []error) {
	t.Helper()
	for _, l := range lines {
		err := s.feed([]byte(l), func(rs []reading) {
			last = nil
			for _, r := range rs {
				if r.key == nil {
					if !json.Valid(r.value) {
						t.Fatalf("invalid JSON %s", r.value)
					}
					objs = append(objs, string(r.value))
					continue
				}
				last = append(last, string(r.key)+" "+string(r.value))
			}
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return objs, last, errs
}

// TestNMEAFix: the classic example sentences make one fix, published when
// the next epoch starts; values as read by hand (48°07.038' = 48.1173°,
// 11°31.000' = 11.516667°; RMC's course wins over VTG's, VTG's km/h over
// RMC's knots).
func TestNMEAFix(t *testing.T) {
	var s nmeaState
	objs, last, errs := feedAll(t, &s,
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
		"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
		"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48",
		"$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75",
		nmea("GPGGA,123520,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
	want := `{"latitude":48.117300,"longitude":11.516667,"altitude":545.4,"speed":10.2,"course":84.4,` +
		`"fix":1,"satellites":8,"hdop":0.9,"time":"1994-03-23T12:35:19Z"}`
	if len(errs) != 0 || !slices.Equal(objs, []string{want}) {
		t.Fatalf("errors %v\nobjects %q\nwant %s", errs, objs, want)
	}
	wantLast := []string{"latitude 48.117300", "longitude 11.516667", "altitude 545.4", "speed 10.2", "course 84.4",
		"fix 1", "satellites 8", "hdop 0.9", "time 1994-03-23T12:35:19Z"}
	if !slices.Equal(last, wantLast) {
		t.Fatalf("readings %q", last)
	}

	// Southern and western hemispheres; RMC alone: speed from knots; a
	// fix without RMC takes the last RMC's date.
	s = nmeaState{}
	objs, _, errs = feedAll(t, &s,
		nmea("GNRMC,000001.50,A,3352.12800,S,15112.55000,W,10.0,,010125,,,A"),
		nmea("GNGGA,000002.50,3352.12800,S,15112.55000,W,2,12,0.7,-3.0,M,,,,"),
		nmea("GNGGA,000003.50,,,,,0,00,,,,,,,"),
	)
	want1 := `{"latitude":-33.86880000,"longitude":-151.20916667,"speed":18.520,"time":"2025-01-01T00:00:01.50Z"}`
	want2 := `{"latitude":-33.86880000,"longitude":-151.20916667,"altitude":-3.0,"fix":2,"satellites":12,"hdop":0.7,"time":"2025-01-01T00:00:02.50Z"}`
	if len(errs) != 0 || !slices.Equal(objs, []string{want1, want2}) {
		t.Fatalf("errors %v\nobjects %q", errs, objs)
	}

	// Invalid fixes publish no position.
	s = nmeaState{}
	objs, _, _ = feedAll(t, &s,
		nmea("GPRMC,120000,V,4807.038,N,01131.000,E,,,230394,,"),
		nmea("GPGGA,120000,4807.038,N,01131.000,E,0,03,9.9,,,,,,"),
		nmea("GPRMC,120001,V,,,,,,,230394,,"))
	if want := `{"fix":0,"satellites":3,"hdop":9.9,"time":"1994-03-23T12:00:00Z"}`; !slices.Equal(objs, []string{want}) {
		t.Fatalf("objects %q", objs)
	}
}

// TestNMEAEpochLearning: once two epochs were seen whole, a fix is
// published as soon as its epoch holds every sentence type, without
// waiting for the next one; a missing sentence delays it to the next
// epoch; a receiver that stops sending a type is followed.
func TestNMEAEpochLearning(t *testing.T) {
	epoch := func(sec int, types ...string) []string {
		var out []string
		for _, typ := range types {
			tm := fmt.Sprintf("1200%02d", sec)
			switch typ {
			case "RMC":
				out = append(out, nmea("GNRMC,"+tm+",A,4807.038,N,01131.000,E,1.0,10.0,230394,,,A"))
			case "VTG":
				out = append(out, nmea("GNVTG,10.0,T,,M,1.0,N,1.9,K,A"))
			case "GGA":
				out = append(out, nmea("GNGGA,"+tm+",4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"))
			}
		}
		return out
	}
	var s nmeaState
	count := func(lines []string) int {
		objs, _, errs := feedAll(t, &s, lines...)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		return len(objs)
	}
	all := []string{"RMC", "VTG", "GGA"}
	if n := count(epoch(0, all...)); n != 0 {
		t.Fatalf("epoch 0: %d fixes", n)
	}
	// Epoch 1 ends 0; 2 ends 1 and, now learned, itself; 3 and 4 end
	// themselves.
	for sec, want := range []int{1, 2, 1, 1} {
		if n := count(epoch(sec+1, all...)); n != want {
			t.Fatalf("epoch %d: %d fixes, want %d", sec+1, n, want)
		}
	}
	if n := count(epoch(5, "RMC", "VTG")); n != 0 { // GGA lost: waits
		t.Fatalf("incomplete epoch published at once")
	}
	if n := count(epoch(6, all...)); n != 2 {
		t.Fatalf("epoch 6: %d", n)
	}
	// The receiver stops sending VTG: after three epochs it is no longer
	// waited for.
	got := 0
	for sec := 7; sec < 12; sec++ {
		got += count(epoch(sec, "RMC", "GGA"))
	}
	if got != 5 || s.known != nmeaRMC|nmeaGGA {
		t.Fatalf("fixes %d, known %b", got, s.known)
	}
}

// FuzzNMEASentence feeds arbitrary lines to the parser: no panic; a line
// accepted has a matching checksum; every fix is valid JSON with numeric
// values and an RFC 3339 time.
func FuzzNMEASentence(f *testing.F) {
	data, err := os.ReadFile("testdata/nmea/ublox-m8.nmea")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\r\n") {
		f.Add([]byte(l))
	}
	f.Add([]byte(nmea("GPVTG,054.7,034.4,005.5,010.2")))
	f.Add([]byte(nmea("GPGGA,235959.999,9000.000,N,18000.000,W,8,99,99.9,-9999.9,M,,,,")))
	f.Fuzz(func(t *testing.T, line []byte) {
		var s nmeaState
		for range 3 { // three epochs of the same sentence
			err := s.feed(line, func(rs []reading) {
				for _, r := range rs {
					switch {
					case r.key == nil:
						var m map[string]any
						if err := json.Unmarshal(r.value, &m); err != nil {
							t.Fatalf("JSON %s: %v", r.value, err)
						}
					case string(r.key) == "time":
						if !bytes.HasSuffix(r.value, []byte("Z")) || r.value[10] != 'T' {
							t.Fatalf("time %q", r.value)
						}
					case !isNumeric(r.value):
						t.Fatalf("%s=%q", r.key, r.value)
					}
				}
			})
			if err == nil && bytes.IndexByte(line, '$') >= 0 {
				if _, err := nmeaFields(line); err != nil {
					t.Fatal("accepted a line nmeaFields refuses")
				}
			}
		}
	})
}
