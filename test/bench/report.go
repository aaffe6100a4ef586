package main

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// header is the report's first line: when and where it ran. The sample
// count is the lifecycle table's (the checkpoint table gives its own).
func (b *bench) header() {
	host, _ := os.Hostname()
	var uname syscall.Utsname
	syscall.Uname(&uname)
	n := fmt.Sprintf("%d samples per cell", *samples)
	switch *only {
	case "checkpoint":
		n = fmt.Sprintf("%d samples per cell", *criuSamples)
	case "migration":
		n = fmt.Sprintf("%d samples per cell", *migSamples)
	case "stress":
		n = fmt.Sprintf("%d containers per runtime", *stressContainers)
	}
	fmt.Printf("rt benchmark, %s, host %s, kernel %s, %d CPUs, %s, %s pause\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cstr(uname.Release[:]), runtime.NumCPU(), n, *pause)
}

func (b *bench) report(rates map[string]float64) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "operation\truntime\tmedian\tp90\tvs runc\tCPU\tctx sw\tpeak RSS\ttree max RSS\t")
	for _, op := range b.order {
		base := median(b.results[op]["runc"])
		for _, rt := range b.rts {
			s := b.results[op][rt.name]
			if len(s) == 0 {
				fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", op, rt.name)
				continue
			}
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(median(s))/float64(base))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d KiB\t\n", op, rt.name, ms(median(s)), ms(p90(s)), ratio,
				ms(medianOf(s, func(x sample) time.Duration { return x.cpu })), medianOf(s, func(x sample) int64 { return x.csw }),
				ownRSS(s), medianOf(s, func(x sample) int64 { return x.maxRSS }))
		}
	}
	for _, rt := range b.rts {
		ratio := "-"
		if rates["runc"] > 0 {
			ratio = fmt.Sprintf("%.2f×", rates[rt.name]/rates["runc"])
		}
		fmt.Fprintf(w, "containers/s (2 workers)\t%s\t%.1f\t\t%s\t\t\t\t\t\n", rt.name, rates[rt.name], ratio)
	}
	w.Flush()
	fmt.Println("medians per call, wall from the launcher's fork to its wait4; CPU (user+sys) and ctx sw (voluntary+involuntary)")
	fmt.Println("of the command and the children it waited for; peak RSS: the runtime process's own VmHWM at its exit (its")
	fmt.Println("children not included); tree max RSS: wait4's ru_maxrss, the largest single process among it and its waited-for children")
}

// medianOf is the median of f over s.
func medianOf[T int64 | time.Duration](s []sample, f func(sample) T) T {
	v := make([]T, 0, len(s))
	for _, x := range s {
		v = append(v, f(x))
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

// ownRSS is the median of the runtime's own peaks that were read, "n/a"
// when none was (the kernel skips the exit stop of a main thread that
// another thread's exit_group killed), with how many were when not all.
func ownRSS(s []sample) string {
	var v []int64
	for _, x := range s {
		if x.ownRSS >= 0 {
			v = append(v, x.ownRSS)
		}
	}
	switch {
	case len(v) == 0:
		return "n/a"
	case len(v) < len(s):
		return fmt.Sprintf("%d KiB (%d/%d)", medianInt(v), len(v), len(s))
	}
	return fmt.Sprintf("%d KiB", medianInt(v))
}

// report prints the checkpoint table: per workload and op, each runtime's
// median, p90, ratio to runc's median, peak RSS (of the command and the
// children it waited for: criu) and the checkpoint's image size; then the
// medians of the other figures the ops recorded (bytes).
func (r *criuResults) report() {
	if r.print != nil {
		r.print(r)
		return
	}
	fmt.Println(r.title)
	for _, name := range slices.Sorted(maps.Keys(r.excluded)) {
		fmt.Printf("%s left out: %s\n", name, r.excluded[name])
	}
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "operation\tworkload\truntime\tmedian\tp90\tvs runc\tpeak RSS\timage\t")
	for _, l := range r.loads {
		for _, op := range r.ops {
			base := median(r.samples[criuKey{op, l, "runc"}])
			for _, rt := range r.rts {
				s := r.samples[criuKey{op, l, rt.name}]
				ratio := "-"
				if base > 0 {
					ratio = fmt.Sprintf("%.2f×", float64(median(s))/float64(base))
				}
				img := ""
				if m := r.measures[criuKey{"image", l, rt.name}]; op == "checkpoint" && len(m) > 0 {
					img = bytesStr(medianInt(m))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d KiB\t%s\t\n", op, l, rt.name, ms(median(s)), ms(p90(s)), ratio, peakRSS(s), img)
			}
		}
	}
	w.Flush()
	fmt.Println()
	for _, l := range r.loads {
		for _, rt := range r.rts {
			var m []string
			for _, kind := range r.kinds {
				if v := r.measures[criuKey{kind, l, rt.name}]; len(v) > 0 {
					m = append(m, kind+" "+bytesStr(medianInt(v)))
				}
			}
			fmt.Printf("%s, %s: %s\n", l, rt.name, strings.Join(m, ", "))
		}
	}
}

func imagesWhere(dir string) string {
	if *imagesFlag == "" {
		return "a tmpfs"
	}
	return dir
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

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// bytesStr is n in KiB, MiB or GiB, binary units.
func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}
