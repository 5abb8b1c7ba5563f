package serial

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestDiscoveryPayload(t *testing.T) {
	c := Config{Name: "weather", Device: "/dev/x", Format: FormatKV, Topic: "sensors/weather",
		DeviceClass: map[string]string{"temp": "temperature"}, Unit: map[string]string{"temp": "°C"}}.Normalize()
	if got := discoveryTopic(&c, "temp"); got != "homeassistant/sensor/weather/temp/config" {
		t.Fatalf("topic %s", got)
	}
	want := `{"name":"temp","unique_id":"gatemq_weather_temp","object_id":"weather_temp",` +
		`"state_topic":"sensors/weather/temp","availability_topic":"sensors/weather/status",` +
		`"payload_available":"online","payload_not_available":"offline","device_class":"temperature",` +
		`"unit_of_measurement":"°C","state_class":"measurement",` +
		`"device":{"identifiers":["gatemq_weather"],"name":"weather","manufacturer":"gatemq","model":"serial kv"}}`
	if got := string(discoveryPayload(&c, "temp", "sensors/weather/temp", "", nil)); got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	// No class, no unit, no status topic, a dotted key and a template.
	c.StatusTopic = ""
	want = `{"name":"a.b","unique_id":"gatemq_weather_a_b","object_id":"weather_a_b","state_topic":"s",` +
		`"value_template":"{{ value_json['a.b'] }}",` +
		`"device":{"identifiers":["gatemq_weather"],"name":"weather","manufacturer":"gatemq","model":"serial kv"}}`
	if got := string(discoveryPayload(&c, "a.b", "s", "{{ value_json['a.b'] }}", nil)); got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	if got := discoveryTopic(&c, "a.b"); got != "homeassistant/sensor/weather/a_b/config" {
		t.Fatalf("topic %s", got)
	}
}

func TestStaticKeys(t *testing.T) {
	units := map[string]string{"z": "x", "hum": "%"}
	cases := []struct {
		c    Config
		want []string
	}{
		{Config{Format: FormatCSV, Fields: []string{"temp", "-", "hum"}, Unit: units}, []string{"temp", "hum", "z"}},
		{Config{Format: FormatKV, Unit: units, DeviceClass: map[string]string{"a": "b"}}, []string{"a", "hum", "z"}},
		{Config{Format: FormatRaw, Unit: units}, []string{"value"}},
		{Config{Format: FormatKV}, nil},
	}
	for _, tc := range cases {
		if got := staticKeys(&tc.c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.c.Format, got, tc.want)
		}
	}
}

// TestDiscoveryStateClass: numeric values get a state class unless one is
// set; a key announced from the config before any value is announced again
// once its first value shows it numeric.
func TestDiscoveryStateClass(t *testing.T) {
	c := Config{Name: "w", Format: FormatKV, DeviceClass: map[string]string{"e": "energy", "ts": "timestamp"},
		Unit: map[string]string{"u": "x"}, StateClass: map[string]string{"n": "none", "t": "total"}}.Normalize()
	cases := []struct {
		key, value, want string
	}{
		{"temp", "22.5", "measurement"}, {"temp", "-1e3", "measurement"}, {"state", "on", ""}, {"state", "1.2.3", ""},
		{"e", "12.5", "total_increasing"}, {"ts", "1700000000", ""}, {"n", "1", ""}, {"t", "x", "total"},
		{"u", "", "measurement"}, // no value yet, but a unit
		{"plain", "", ""},
	}
	for _, tc := range cases {
		var v []byte
		if tc.value != "" {
			v = []byte(tc.value)
		}
		if got := keyMetaOf(&c, tc.key, v).stateClass; got != tc.want {
			t.Errorf("%s=%q: state class %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}

	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatCSV, Fields: []string{"temp", "mode"}, Discovery: true}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if br.retainedPayload("homeassistant/sensor/w/temp/config") == "" {
			return errors.New("not announced")
		}
		return nil
	})
	if got := br.retainedPayload("homeassistant/sensor/w/temp/config"); strings.Contains(got, "state_class") {
		t.Fatalf("announced with a state class before any value: %s", got)
	}
	dev.send(t, "21.5,eco\n")
	waitFor(t, wait, func() error {
		if got := br.retainedPayload("homeassistant/sensor/w/temp/config"); !strings.Contains(got, `"state_class":"measurement"`) {
			return fmt.Errorf("temp: %s", got)
		}
		return nil
	})
	if got := br.retainedPayload("homeassistant/sensor/w/mode/config"); strings.Contains(got, "state_class") {
		t.Fatalf("mode: %s", got)
	}
}
