package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{3}, 3, true},
		{[]float64{5, 1, 3}, 3, true},
		{[]float64{4, 1, 3, 2}, 2.5, true},
	} {
		got, ok := median(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 12345.6: "12346", 0.71: "0.7", 42: "42", -3.25: "-3.2"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	tr := newSeqTracker(2, 100)
	tr.add(makePayload(64, 0, 5))
	tr.add(makePayload(64, 1, 5))
	tr.add(makePayload(64, 0, 5))   // duplicate
	tr.add(makePayload(64, 2, 1))   // unknown publisher
	tr.add(makePayload(64, 0, 100)) // beyond -msgs
	tr.add([]byte("short"))
	if got := tr.distinct(); got != 2 {
		t.Errorf("distinct = %d, want 2", got)
	}
	if got := tr.duplicates(); got != 4 {
		t.Errorf("duplicates (incl. foreign payloads) = %d, want 4", got)
	}
}

func TestSummaryLines(t *testing.T) {
	rate := newMetric("fanin_qos0", "msg/s", true)
	rate.add("gatemq", 200)
	rate.add("mosquitto", 100)
	lost := newMetric("fanin_qos0_lost", "msgs", false)
	lost.add("gatemq", 0)
	broken := newMetric("idle_kib_per_conn", "KiB/conn", true)
	broken.add("mosquitto", 0.5)
	var buf bytes.Buffer
	printSummary(&buf, []*metric{rate, lost, broken}, []string{"gatemq", "mosquitto"}, "mosquitto")
	want := "fanin_qos0 gatemq=200 mosquitto=100 ratio=2.00\n" +
		"fanin_qos0_lost gatemq=0 mosquitto=FAILED\n" +
		"idle_kib_per_conn gatemq=FAILED mosquitto=0.5 ratio=n/a\n"
	if buf.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	printTable(&buf, []*metric{rate}, []string{"gatemq", "mosquitto"}, "mosquitto")
	if !strings.Contains(buf.String(), "2.00") {
		t.Errorf("table lacks the ratio:\n%s", buf.String())
	}
}

func TestSummaryManyBrokers(t *testing.T) {
	brokers := []string{"gatemq-always", "gatemq-none", "mosquitto-persist"}
	rate := newMetric("fanin_qos2", "msg/s", true)
	rate.add("gatemq-always", 150)
	rate.add("gatemq-none", 300)
	rate.add("mosquitto-persist", 100)
	rate.add("mosquitto-persist", 200) // median 150
	fsyncs := newMetric("fanin_qos2_fsyncs_per_1k", "fsyncs/1000 deliveries", false)
	fsyncs.only = map[string]bool{"gatemq-always": true, "gatemq-none": true}
	fsyncs.add("gatemq-always", 12.5)
	var buf bytes.Buffer
	printSummary(&buf, []*metric{rate, fsyncs}, brokers, "mosquitto-persist")
	want := "fanin_qos2 gatemq-always=150 gatemq-none=300 mosquitto-persist=150 gatemq-always/mosquitto-persist=1.00 gatemq-none/mosquitto-persist=2.00\n" +
		"fanin_qos2_fsyncs_per_1k gatemq-always=12.5 gatemq-none=FAILED mosquitto-persist=-\n"
	if buf.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	printTable(&buf, []*metric{rate, fsyncs}, brokers, "mosquitto-persist")
	for _, s := range []string{"ratio gatemq-always/mosquitto-persist", "ratio gatemq-none/mosquitto-persist", "100 200", "2.00"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
}
