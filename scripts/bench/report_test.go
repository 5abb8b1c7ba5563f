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
	printSummary(&buf, []*metric{rate, lost, broken}, []string{"gatemq", "mosquitto"})
	want := "fanin_qos0 gatemq=200 mosquitto=100 ratio=2.00\n" +
		"fanin_qos0_lost gatemq=0 mosquitto=FAILED\n" +
		"idle_kib_per_conn gatemq=FAILED mosquitto=0.5 ratio=n/a\n"
	if buf.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	printTable(&buf, []*metric{rate}, []string{"gatemq", "mosquitto"})
	if !strings.Contains(buf.String(), "2.00") {
		t.Errorf("table lacks the ratio:\n%s", buf.String())
	}
}
