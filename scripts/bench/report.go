package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// metric is one measured quantity, with one value per round per broker.
type metric struct {
	name   string // e.g. fanin_qos0
	unit   string // e.g. msg/s
	ratio  bool   // print gatemq/mosquitto (false for counts like lost messages)
	values map[string][]float64
	notes  map[string][]string // failures, by broker
}

func newMetric(name, unit string, ratio bool) *metric {
	return &metric{name: name, unit: unit, ratio: ratio, values: map[string][]float64{}, notes: map[string][]string{}}
}

func (m *metric) add(broker string, v float64) { m.values[broker] = append(m.values[broker], v) }

func (m *metric) fail(broker string, err error) {
	m.notes[broker] = append(m.notes[broker], err.Error())
}

// median returns the median of vs, and false if vs is empty.
func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// formatValue prints a rate or count compactly and a per-connection size
// with one decimal.
func formatValue(v float64) string {
	if v != 0 && v > -100 && v < 100 && v != float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatInt(int64(v+0.5*sign(v)), 10)
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// ratioString returns a/b with two decimals, or "n/a".
func ratioString(a, b float64, okA, okB bool) string {
	if !okA || !okB || b == 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

// printTable writes one row per metric: the median and every round per
// broker, and the ratio of the medians.
func printTable(w io.Writer, metrics []*metric, brokers []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"metric", "unit"}
	for _, b := range brokers {
		header = append(header, b+" median", b+" rounds")
	}
	header = append(header, "ratio "+brokers[0]+"/"+brokers[1])
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, m := range metrics {
		row := []string{m.name, m.unit}
		meds := make([]float64, len(brokers))
		oks := make([]bool, len(brokers))
		for i, b := range brokers {
			meds[i], oks[i] = median(m.values[b])
			med := "FAILED"
			if oks[i] {
				med = formatValue(meds[i])
			}
			var rounds []string
			for _, v := range m.values[b] {
				rounds = append(rounds, formatValue(v))
			}
			row = append(row, med, strings.Join(rounds, " "))
		}
		r := ""
		if m.ratio {
			r = ratioString(meds[0], meds[1], oks[0], oks[1])
		}
		row = append(row, r)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for _, m := range metrics {
		for _, b := range brokers {
			for _, n := range m.notes[b] {
				fmt.Fprintf(w, "note: %s %s: %s\n", m.name, b, n)
			}
		}
	}
}

// printSummary writes one plain line per metric:
// "name gatemq=X mosquitto=Y ratio=Z" (ratio only where it means something).
func printSummary(w io.Writer, metrics []*metric, brokers []string) {
	for _, m := range metrics {
		line := []string{m.name}
		meds := make([]float64, len(brokers))
		oks := make([]bool, len(brokers))
		for i, b := range brokers {
			meds[i], oks[i] = median(m.values[b])
			v := "FAILED"
			if oks[i] {
				v = formatValue(meds[i])
			}
			line = append(line, b+"="+v)
		}
		if m.ratio {
			line = append(line, "ratio="+ratioString(meds[0], meds[1], oks[0], oks[1]))
		}
		fmt.Fprintln(w, strings.Join(line, " "))
	}
}
