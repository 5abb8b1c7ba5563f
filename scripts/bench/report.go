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
	name   string          // e.g. fanin_qos0
	unit   string          // e.g. msg/s
	ratio  bool            // print each broker / the baseline (false for counts like lost messages)
	only   map[string]bool // brokers it applies to (shown "-" for others); nil: all
	values map[string][]float64
	notes  map[string][]string // failures, by broker
}

func newMetric(name, unit string, ratio bool) *metric {
	return &metric{name: name, unit: unit, ratio: ratio, values: map[string][]float64{}, notes: map[string][]string{}}
}

// applies reports whether the metric is measured on broker.
func (m *metric) applies(broker string) bool { return m.only == nil || m.only[broker] }

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

// cell returns the median of m for broker as printed, the median, and
// whether there is one: "-" where m does not apply, FAILED where it has no
// value.
func (m *metric) cell(broker string) (string, float64, bool) {
	if !m.applies(broker) {
		return "-", 0, false
	}
	med, ok := median(m.values[broker])
	if !ok {
		return "FAILED", 0, false
	}
	return formatValue(med), med, true
}

// others returns brokers without baseline: the brokers given a ratio.
func others(brokers []string, baseline string) []string {
	var out []string
	for _, b := range brokers {
		if b != baseline {
			out = append(out, b)
		}
	}
	return out
}

// ratioTo returns broker's median of m over baseline's, as printed.
func (m *metric) ratioTo(broker, baseline string) string {
	_, a, okA := m.cell(broker)
	_, b, okB := m.cell(baseline)
	return ratioString(a, b, okA, okB)
}

// printTable writes one row per metric: the median and every round per
// broker, and the ratio of each broker's median to baseline's.
func printTable(w io.Writer, metrics []*metric, brokers []string, baseline string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"metric", "unit"}
	for _, b := range brokers {
		header = append(header, b+" median", b+" rounds")
	}
	for _, b := range others(brokers, baseline) {
		header = append(header, "ratio "+b+"/"+baseline)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, m := range metrics {
		row := []string{m.name, m.unit}
		for _, b := range brokers {
			med, _, _ := m.cell(b)
			var rounds []string
			for _, v := range m.values[b] {
				rounds = append(rounds, formatValue(v))
			}
			row = append(row, med, strings.Join(rounds, " "))
		}
		for _, b := range others(brokers, baseline) {
			r := ""
			if m.ratio {
				r = m.ratioTo(b, baseline)
			}
			row = append(row, r)
		}
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

// printSummary writes one plain line per metric with each broker's median
// and, where it means something, the ratios to baseline:
// "name gatemq=X mosquitto=Y ratio=Z" for two brokers,
// "name a=X b=Y base=Z a/base=R b/base=S" for more.
func printSummary(w io.Writer, metrics []*metric, brokers []string, baseline string) {
	for _, m := range metrics {
		line := []string{m.name}
		for _, b := range brokers {
			v, _, _ := m.cell(b)
			line = append(line, b+"="+v)
		}
		if m.ratio {
			rest := others(brokers, baseline)
			for _, b := range rest {
				key := b + "/" + baseline
				if len(rest) == 1 && len(brokers) == 2 {
					key = "ratio"
				}
				line = append(line, key+"="+m.ratioTo(b, baseline))
			}
		}
		fmt.Fprintln(w, strings.Join(line, " "))
	}
}
