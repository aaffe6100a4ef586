// Command bench compares rt with Debian's runc and crun, side by side in one
// run: each operation is timed for every runtime, runtimes interleaved in a
// random order, a pause before each timed call, and reported as median, p90,
// ratio to runc's median and peak RSS.
//
// It re-executes itself in a private mount namespace with
// /sys/fs/cgroup/unified unmounted: crun 1.8 refuses this host's hybrid
// cgroup layout otherwise, and every runtime must see the same host.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type runtimeBin struct {
	name string
	path string
	root string
}

// op is one benchmarked command: args builds the command line for a fresh
// id; setup runs untimed before it.
type op struct {
	name  string
	setup func(rt runtimeBin, id string) error
	args  func(rt runtimeBin, id string) []string
	// okCodes are the exit codes that count as a successful call.
	okCodes []int
}

type sample struct {
	d      time.Duration
	maxRSS int64 // KiB
}

func main() {
	rtPath := flag.String("rt", "bin/rt", "path of the rt binary")
	n := flag.Int("n", 30, "samples per operation and runtime")
	pause := flag.Duration("pause", 30*time.Millisecond, "pause before each timed call")
	flag.Parse()
	if os.Getenv("RT_BENCH_NS") == "" {
		os.Exit(reexecInPrivateMountNS())
	}
	if err := run(*rtPath, *n, *pause); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// reexecInPrivateMountNS runs this program again under unshare(1) in a new
// mount namespace, where the cgroup2 mount can be removed without touching
// the host.
func reexecInPrivateMountNS() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	script := `umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), "RT_BENCH_NS=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func run(rtPath string, n int, pause time.Duration) error {
	abs, err := filepath.Abs(rtPath)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "rt-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var rts []runtimeBin
	for _, c := range []struct{ name, path string }{{"runc", "runc"}, {"crun", "crun"}, {"rt", abs}} {
		p, err := exec.LookPath(c.path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s not found, skipped (make deps installs it)\n", c.name)
			continue
		}
		rts = append(rts, runtimeBin{name: c.name, path: p, root: filepath.Join(work, c.name)})
	}
	ops := []op{
		{name: "state (unknown id)", args: func(rt runtimeBin, id string) []string { return []string{"state", id} }, okCodes: []int{1}},
		{name: "list", args: func(rt runtimeBin, id string) []string { return []string{"list"} }, okCodes: []int{0}},
		{name: "spec", setup: func(rt runtimeBin, id string) error { return os.MkdirAll(filepath.Join(work, id), 0o755) },
			args: func(rt runtimeBin, id string) []string { return []string{"spec", "--bundle", filepath.Join(work, id)} }, okCodes: []int{0}},
	}
	results := map[string]map[string][]sample{}
	seq := 0
	for _, o := range ops {
		results[o.name] = map[string][]sample{}
		for i := 0; i < n; i++ {
			order := slices.Clone(rts)
			rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			for _, rt := range order {
				seq++
				id := fmt.Sprintf("bench-%s-%d", rt.name, seq)
				if o.setup != nil {
					if err := o.setup(rt, id); err != nil {
						return fmt.Errorf("%s setup for %s: %w", o.name, rt.name, err)
					}
				}
				time.Sleep(pause)
				s, err := timeOne(rt, o, id)
				if err != nil {
					return err
				}
				results[o.name][rt.name] = append(results[o.name][rt.name], s)
			}
		}
	}
	report(ops, rts, results, n)
	return nil
}

func timeOne(rt runtimeBin, o op, id string) (sample, error) {
	args := append([]string{"--root", rt.root}, o.args(rt, id)...)
	cmd := exec.Command(rt.path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return sample{}, fmt.Errorf("%s %v: %w", rt.name, args, err)
	}
	if !slices.Contains(o.okCodes, code) {
		return sample{}, fmt.Errorf("%s %v: exit %d: %s", rt.name, args, code, strings.TrimSpace(stderr.String()))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return sample{d: d, maxRSS: rss}, nil
}

func report(ops []op, rts []runtimeBin, results map[string]map[string][]sample, n int) {
	host, _ := os.Hostname()
	var uname syscall.Utsname
	syscall.Uname(&uname)
	fmt.Printf("rt benchmark, %s, host %s, kernel %s, %d CPUs, %d samples per cell\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, cstr(uname.Release[:]), runtime.NumCPU(), n)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "operation\truntime\tmedian\tp90\tvs runc\tpeak RSS\t")
	for _, o := range ops {
		base := median(results[o.name]["runc"])
		for _, rt := range rts {
			s := results[o.name][rt.name]
			med := median(s)
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(med)/float64(base))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d KiB\t\n", o.name, rt.name, ms(med), ms(p90(s)), ratio, peakRSS(s))
		}
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

func p90(s []sample) time.Duration {
	d := durations(s)
	if len(d) == 0 {
		return 0
	}
	// nearest-rank: the smallest sample with at least 90% at or below it
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
