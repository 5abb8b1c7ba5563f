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

func waitOpen(t *testing.T, dev *fakeDevice) {
	t.Helper()
	waitFor(t, wait, func() error {
		if dev.current() == nil {
			return errors.New("not opened")
		}
		return nil
	})
}

// readingsOf returns the "key value" lines published under prefix+"/",
// leaving out status and discovery.
func readingsOf(br *fakeBroker, prefix string) []string {
	var out []string
	br.mu.Lock()
	defer br.mu.Unlock()
	for _, p := range br.pubs {
		if k, ok := strings.CutPrefix(p.topic, prefix+"/"); ok && k != "status" {
			out = append(out, k+" "+p.payload)
		}
	}
	return out
}

// TestBridgeDSMR runs telegrams through the bridge in small reads, with a
// bad CRC, noise and an endless telegram among them: the good ones are
// published with their discovery, the rest counted, the buffer bounded.
func TestBridgeDSMR(t *testing.T) {
	cases := dsmrCases(t)
	byName := map[string]dsmrCase{}
	for _, tc := range cases {
		byName[tc.name] = tc
	}
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatDSMR, Topic: "meter", Discovery: true, GatewayID: "gw1"}, br, dev)
	if b.cfg.Baud != 115200 || b.cfg.MaxLine != DefaultDSMRMax {
		t.Fatalf("dsmr defaults: %+v", b.cfg)
	}
	stop := runBridge(t, b)
	waitOpen(t, dev)

	bad := slices.Clone(byName["dsmr42"].telegram)
	bad[bytes.Index(bad, []byte("1-0:1.8.1("))+12]++
	stream := slices.Concat([]byte("8.789*kWh)\r\n!1234\r\n"), // the end of a telegram: joined mid-way
		byName["dsmr50"].telegram, bad, []byte("\x00\xfe\xff noise\r\n"),
		[]byte("/XYZ5"), bytes.Repeat([]byte("1-0:1.8.1(000001.000*kWh)\r\n"), 400), // no '!' within 8 KiB
		byName["emucs"].telegram)
	for i := 0; i < len(stream); i += 100 {
		dev.send(t, string(stream[i:min(i+100, len(stream))]))
	}
	want := slices.Concat(byName["dsmr50"].want, byName["emucs"].want)
	waitFor(t, wait, func() error {
		if got := readingsOf(br, "meter"); !slices.Equal(got, want) {
			return fmt.Errorf("readings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
	waitFor(t, wait, func() error {
		if st := b.Stats(); st.Lines != 2 || st.ChecksumErrors != 1 || st.Garbage != 1 || st.TooLong != 1 || st.Partial != 0 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	for key, want := range map[string]string{
		"electricity_delivered_1": `"device_class":"energy","unit_of_measurement":"kWh","state_class":"total_increasing"`,
		"power_delivered":         `"device_class":"power","unit_of_measurement":"kW","state_class":"measurement"`,
		"voltage_l1":              `"device_class":"voltage","unit_of_measurement":"V","state_class":"measurement"`,
		"current_l2":              `"device_class":"current","unit_of_measurement":"A","state_class":"measurement"`,
		"gas_delivered":           `"device_class":"gas","unit_of_measurement":"m³","state_class":"total_increasing"`,
		"water_delivered":         `"device_class":"water","unit_of_measurement":"m³","state_class":"total_increasing"`,
		"timestamp":               `"device_class":"timestamp","device":`,
		"electricity_tariff":      `"payload_not_available":"offline","device":`,
	} {
		got := br.retainedPayload("homeassistant/sensor/w/" + key + "/config")
		if !strings.Contains(got, want) || !strings.Contains(got, `"unique_id":"gatemq_gw1_w_`+key+`"`) ||
			!strings.Contains(got, `"state_topic":"meter/`+key+`"`) || !strings.Contains(got, `"identifiers":["gatemq_gw1_w"]`) {
			t.Errorf("discovery of %s: %s\nwant %s", key, got, want)
		}
	}
	stop()
	if c := cap(b.frame.(*dsmrFramer).buf); c != DefaultDSMRMax {
		t.Fatalf("telegram buffer grew to %d", c)
	}
}

// TestBridgeNMEA runs the recorded sentences through the bridge: one JSON
// fix per epoch on BASE, the readings on BASE/key, the device tracker
// announced, bad sentences counted.
func TestBridgeNMEA(t *testing.T) {
	data, err := os.ReadFile("testdata/nmea/ublox-m8.nmea")
	if err != nil {
		t.Fatal(err)
	}
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatNMEA, Topic: "car/gps", Discovery: true, GatewayID: "gw1"}, br, dev)
	runBridge(t, b)
	waitOpen(t, dev)
	for i := 0; i < len(data); i += 37 {
		dev.send(t, string(data[i:min(i+37, len(data))]))
	}
	var fixes []string
	waitFor(t, wait, func() error {
		fixes = fixes[:0]
		br.mu.Lock()
		for _, p := range br.pubs {
			if p.topic == "car/gps" {
				fixes = append(fixes, p.payload)
			}
		}
		br.mu.Unlock()
		if len(fixes) != 8 {
			return fmt.Errorf("%d fixes: %q", len(fixes), fixes)
		}
		return nil
	})
	if st := b.Stats(); st.ChecksumErrors != 3 || st.Garbage != 1 || st.Lines != 8 || st.ParseErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The last fix, by hand from the last epoch's RMC, VTG and GGA:
	// 52°05.47663' = 52 + 5.47663/60, 5°07.46341' = 5 + 7.46341/60.
	want := `{"latitude":52.09127717,"longitude":5.12439017,"altitude":6.3,"speed":26.117,"course":79.91,` +
		`"fix":1,"satellites":11,"hdop":0.90,"time":"2026-03-14T10:00:02.00Z"}`
	if fixes[7] != want {
		t.Fatalf("last fix %s\nwant %s", fixes[7], want)
	}
	tracker := br.retainedPayload("homeassistant/device_tracker/w/position/config")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(tracker), &cfg); err != nil {
		t.Fatalf("tracker config %q: %v", tracker, err)
	}
	if cfg["json_attributes_topic"] != "car/gps" || cfg["source_type"] != "gps" || cfg["unique_id"] != "gatemq_gw1_w_position" ||
		cfg["state_topic"] != nil || cfg["availability_topic"] != "car/gps/status" {
		t.Fatalf("tracker config %s", tracker)
	}
	for key, want := range map[string]string{
		"speed":    `"device_class":"speed","unit_of_measurement":"km/h","state_class":"measurement"`,
		"altitude": `"device_class":"distance","unit_of_measurement":"m","state_class":"measurement"`,
		"latitude": `"unit_of_measurement":"°","state_class":"measurement"`,
		"time":     `"device_class":"timestamp","device":`,
		"fix":      `"payload_not_available":"offline","device":`,
	} {
		if got := br.retainedPayload("homeassistant/sensor/w/" + key + "/config"); !strings.Contains(got, want) {
			t.Errorf("discovery of %s: %s\nwant %s", key, got, want)
		}
	}
}
