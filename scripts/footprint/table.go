package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// printTable writes the results as two aligned tables: memory, then the Go
// runtime's view and CPU. limit is GOMEMLIMIT in bytes (0: unset).
func printTable(w io.Writer, rows []result, s settings, limit int64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := fmt.Sprintf("target\tbinary bytes\tidle KiB\t%d clients KiB\t", s.clients)
	if s.backlog > 0 {
		head += fmt.Sprintf("offline, %d queued each KiB\t", s.backlog)
	}
	head += "peak KiB\tlimit KiB\tinside\trun\t"
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t\t\t\t%s: %v\t\n", r.name, runNote(r), r.err)
			continue
		}
		size, lim, inside := "-", "-", "-"
		if r.size > 0 {
			size = strconv.FormatInt(r.size, 10)
			if limit > 0 {
				lim = strconv.FormatInt(limit>>10, 10)
				inside = "yes"
				if r.peak.anon > limit>>10 {
					inside = "NO"
				}
			}
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t", r.name, size, cell(r.idle), cell(r.clients))
		if s.backlog > 0 {
			line += cell(r.backlog) + "\t"
		}
		line += fmt.Sprintf("%s\t%s\t%s\t%s\t", cell(r.peak), lim, inside, runNote(r))
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tGC cycles\tlive heap after last GC MiB\tmax live heap MiB\theap goal MiB\tstacks scanned MiB\tCPU while holding, % of a core\tpeak RSS of whole process KiB\t")
	for _, r := range rows {
		if r.err != nil {
			continue
		}
		gc := fmt.Sprintf("%d\t%d\t%d\t%d\t%d", r.gc.cycles, r.gc.liveMB, r.gc.maxLiveMB, r.gc.goalMB, r.gc.stacksMB)
		if r.size == 0 {
			gc = "-\t-\t-\t-\t-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%d\t\n", r.name, gc, 100*r.cpu, r.peak.host)
	}
	tw.Flush()
	fmt.Fprintf(w, "gatemq ran with GOMEMLIMIT=%s GOGC=%s (empty: its board profile's values); %d-byte payloads\n",
		s.memlimit, s.gogc, s.payload)
	fmt.Fprintln(w, "memory cells: RSS (anonymous part); under qemu the guest's address range only; GOMEMLIMIT governs the anonymous part; inside: peak anon <= limit")
}

// cell formats one reading as "RSS (anon)".
func cell(m memSample) string {
	return fmt.Sprintf("%d (%d)", m.rss, m.anon)
}

// runNote says how the row's broker ran.
func runNote(r result) string {
	if r.qemu == "" {
		return "native"
	}
	return r.qemu + " (guest only)"
}
