package serial

import (
	"encoding/json"
	"math"
	"testing"
)

// jsonQuoteSeeds are strings whose escaping differs between JSON encoders.
var jsonQuoteSeeds = []string{
	"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "é ü ß €", "line\u2028sep\u2029par", "bad \xff utf-8 \xe2\x82", "\xed\xa0\x80 surrogate",
	"{{ value_json['a.b'] }}", "°C", "m³",
}

// FuzzAppendJSONQuote holds appendJSONQuote to json.Marshal of a string.
func FuzzAppendJSONQuote(f *testing.F) {
	for _, s := range jsonQuoteSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONQuote([]byte("x"), s); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("appendJSONQuote(%q) = %s, json.Marshal gives %s", s, got[1:], want)
		}
	})
}

// FuzzAppendJSONFloat holds appendJSONFloat to json.Marshal of a float64.
func FuzzAppendJSONFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.001, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789e15,
		-math.MaxFloat32, math.MaxFloat32, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2, 65535 * 0.1, math.Inf(1), math.NaN()} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		want, err := json.Marshal(v)
		got, ok := appendJSONFloat(nil, v)
		if ok != (err == nil) {
			t.Fatalf("appendJSONFloat(%v): ok %v, json.Marshal: %v", v, ok, err)
		}
		if ok && string(got) != string(want) {
			t.Fatalf("appendJSONFloat(%v) = %s, json.Marshal gives %s", v, got, want)
		}
	})
}

// TestDiscoveryJSONMatchesMarshal: the discovery payloads are byte for
// byte what json.Marshal made of the same structs, fields left out or not.
func TestDiscoveryJSONMatchesMarshal(t *testing.T) {
	lo, hi := -3.5e-9, 1e22
	devs := []haDevice{
		{},
		{Identifiers: []string{}, Name: "n"},
		{Identifiers: []string{"gatemq_gw_<node>", "b"}, Name: "a \"q\" & b", Manufacturer: "gatemq", Model: "serial nmea"},
	}
	for _, d := range devs {
		for _, s := range []haSensor{
			{Device: d},
			{Name: "temp", UniqueID: "u", ObjectID: "o", StateTopic: "s/t", ValueTemplate: "{{ value_json['a.b'] }}",
				AvailabilityTopic: "a", PayloadAvailable: StatusOnline, PayloadNotAvail: StatusOffline,
				DeviceClass: "temperature", Unit: "°C", StateClass: "measurement", Device: d},
			{Name: "position", JSONAttributes: "gps/base", SourceType: "gps", Device: d},
		} {
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.appendJSON(nil); string(got) != string(want) {
				t.Errorf("haSensor:\n got %s\nwant %s", got, want)
			}
		}
		for _, e := range []haModbusEntity{
			{Device: d},
			{Name: "relay", UniqueID: "u", ObjectID: "o", StateTopic: "s", CommandTopic: "s/set", AvailabilityTopic: "a",
				PayloadAvailable: "online", PayloadNotAvail: "offline", DeviceClass: "power", Unit: "W", StateClass: "total",
				Min: &lo, Max: &hi, Step: 0.001, Mode: "box", Device: d},
			{Name: "n", Min: &hi, Step: 1},
			{Name: "n", Max: &lo},
		} {
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := e.appendJSON(nil); !ok || string(got) != string(want) {
				t.Errorf("haModbusEntity:\n got %s (%v)\nwant %s", got, ok, want)
			}
		}
	}
	nan := math.NaN()
	for _, e := range []haModbusEntity{{Min: &nan}, {Max: &nan}, {Step: math.Inf(-1)}} {
		if _, err := json.Marshal(e); err == nil {
			t.Fatal("json.Marshal took a NaN")
		}
		if _, ok := e.appendJSON(nil); ok {
			t.Errorf("appendJSON(%+v) took a number JSON has not", e)
		}
	}
}
