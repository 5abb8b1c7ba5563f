package serial

import (
	"slices"
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
	if got := string(discoveryPayload(&c, "temp", "sensors/weather/temp", "")); got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	// No class, no unit, no status topic, a dotted key and a template.
	c.StatusTopic = ""
	want = `{"name":"a.b","unique_id":"gatemq_weather_a_b","object_id":"weather_a_b","state_topic":"s",` +
		`"value_template":"{{ value_json['a.b'] }}",` +
		`"device":{"identifiers":["gatemq_weather"],"name":"weather","manufacturer":"gatemq","model":"serial kv"}}`
	if got := string(discoveryPayload(&c, "a.b", "s", "{{ value_json['a.b'] }}")); got != want {
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
