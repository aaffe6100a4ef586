package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func (b *bench) report(rates map[string]float64) {
	host, _ := os.Hostname()
	var uname syscall.Utsname
	syscall.Uname(&uname)
	fmt.Printf("rt benchmark, %s, host %s, kernel %s, %d CPUs, %d samples per cell, %s pause\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cstr(uname.Release[:]), runtime.NumCPU(), *samples, *pause)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "operation\truntime\tmedian\tp90\tvs runc\tpeak RSS\t")
	for _, op := range b.order {
		base := median(b.results[op]["runc"])
		for _, rt := range b.rts {
			s := b.results[op][rt.name]
			if len(s) == 0 {
				fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t\n", op, rt.name)
				continue
			}
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(median(s))/float64(base))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d KiB\t\n", op, rt.name, ms(median(s)), ms(p90(s)), ratio, peakRSS(s))
		}
	}
	for _, rt := range b.rts {
		ratio := "-"
		if rates["runc"] > 0 {
			ratio = fmt.Sprintf("%.2f×", rates[rt.name]/rates["runc"])
		}
		fmt.Fprintf(w, "containers/s (2 workers)\t%s\t%.1f\t\t%s\t\t\n", rt.name, rates[rt.name], ratio)
	}
	w.Flush()
}

func durations(s []sample) []time.Duration {
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = x.d
	}
	slices.Sort(d)
	return d
}

func median(s []sample) time.Duration {
	d := durations(s)
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2]
}

// p90 is the nearest-rank 90th percentile.
func p90(s []sample) time.Duration {
	d := durations(s)
	if len(d) == 0 {
		return 0
	}
	return d[(len(d)*9+9)/10-1]
}

func peakRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.maxRSS)
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func cstr(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}
