package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
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

func TestParseProcStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime 250, stime 31 ticks) after a name with a
	// space and a parenthesis.
	stat := "4242 (gate mq) x) S 1 4242 4242 0 -1 4194560 1042 0 0 0 250 31 0 0 20 0 7 0 12345 1000000 500 18446744073709551615"
	user, sys, err := parseProcStatCPU(stat)
	if err != nil || user != 250*time.Second/userHZ || sys != 31*time.Second/userHZ {
		t.Errorf("parseProcStatCPU = %v, %v, %v; want 2.5s, 310ms", user, sys, err)
	}
	if _, _, err := parseProcStatCPU("4242 (gatemq S 1"); err == nil {
		t.Error("a line without ')' parsed")
	}
}

func TestPercentile(t *testing.T) {
	r := everydayResult{}
	for i := 100; i >= 1; i-- {
		r.latencies = append(r.latencies, time.Duration(i)*time.Microsecond)
	}
	if p50, p99, p100 := r.percentile(50), r.percentile(99), r.percentile(100); p50 != 50 || p99 != 99 || p100 != 100 {
		t.Errorf("p50 %v p99 %v p100 %v, want 50 99 100", p50, p99, p100)
	}
	if (everydayResult{}).percentile(99) != 0 {
		t.Error("percentile of no latencies is not 0")
	}
}

func TestParsePerfCSV(t *testing.T) {
	out := "\n1234,,raw_syscalls:sys_enter,10000000,100.00,,\n56,,context-switches,10000000,100.00,0.01,/sec\n"
	c, err := parsePerfCSV(out)
	if err != nil || c["raw_syscalls:sys_enter"] != 1234 || c["context-switches"] != 56 {
		t.Errorf("parsePerfCSV = %v, %v", c, err)
	}
	if _, err := parsePerfCSV("<not counted>,,raw_syscalls:sys_enter,0,0,,\n"); err == nil {
		t.Error("uncounted events parsed")
	}
}
