package main

// The stress part (-only stress, make stress): many containers through each
// runtime's whole life, in parallel, and the host compared before and after.

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	stressWorkers    = flag.Int("stress-workers", 8, "parallel workers of the stress part")
	stressContainers = flag.Int("stress-containers", 5000, "containers each runtime runs in the stress part, over all workers")
	stressOnlyRT     = flag.Bool("stress-rt-only", false, "stress rt alone, not runc and crun")
)

// stressOps are the timed steps of each container's life, in order.
var stressOps = []string{"create", "start", "exec", "kill", "delete"}

// stressResult is one runtime's stress run.
type stressResult struct {
	rt      string
	n       int
	elapsed time.Duration
	lat     map[string][]time.Duration // per op, in the order the calls ended
	ownRSS  []int64                    // the runtime's own peak per call (KiB), in order; -1 unknown
	leaks   []string
}

// stress runs *stressContainers containers through each runtime (rt first),
// *stressWorkers at a time, and compares the host before and after each.
func (b *bench) stress() ([]*stressResult, error) {
	var out []*stressResult
	rts := slices.Clone(b.rts)
	slices.SortStableFunc(rts, func(a, b runtimeBin) int { return boolInt(b.name == "rt") - boolInt(a.name == "rt") })
	for _, rt := range rts {
		if *stressOnlyRT && rt.name != "rt" {
			continue
		}
		r, err := b.stressOne(rt, *stressContainers, *stressWorkers)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// stressOne runs n containers of rt in workers parallel loops: create,
// start, exec /bin/true, kill KILL, wait stopped, delete. The first error
// stops the run (the failed container deleted by force).
func (b *bench) stressOne(rt runtimeBin, n, workers int) (*stressResult, error) {
	prefix := fmt.Sprintf("bench-%s-%d-", rt.name, os.Getpid())
	before := snapshotHost(rt, prefix, b.states, filepath.Dir(b.sleeper))
	res := &stressResult{rt: rt.name, n: n, lat: map[string][]time.Duration{}}
	var mu sync.Mutex
	record := func(op string, s sample) {
		mu.Lock()
		res.lat[op] = append(res.lat[op], s.d)
		res.ownRSS = append(res.ownRSS, s.ownRSS)
		mu.Unlock()
	}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := b.life(rt, record); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for i := 0; i < n && firstErr == nil; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	after := snapshotHost(rt, prefix, b.states, filepath.Dir(b.sleeper))
	res.leaks = before.compare(after)
	// Reported, then removed: crun leaves its cgroup2 directories as plain
	// directories of /sys/fs/cgroup's tmpfs, where the bench unmounted
	// cgroup2 (reexecInPrivateMountNS), hidden from the host beneath it.
	for d := range after.cgroups {
		if !before.cgroups[d] {
			removeLeftCgroup(d)
		}
	}
	return res, nil
}

// removeLeftCgroup removes a cgroup directory a runtime left: an empty
// cgroup by rmdir, a plain directory of /sys/fs/cgroup's tmpfs (crun's
// cgroup2 files where the bench unmounted cgroup2) with what crun wrote
// in it.
func removeLeftCgroup(dir string) {
	if syscall.Rmdir(dir) == nil {
		return
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil && fs.Type == tmpfsMagic {
		os.RemoveAll(dir)
	}
}

const tmpfsMagic = 0x01021994

// life takes one container of rt through its life, recording each step.
func (b *bench) life(rt runtimeBin, record func(string, sample)) (err error) {
	id := b.id(rt)
	defer func() {
		if err != nil {
			call(rt, "delete", "--force", id)
		}
	}()
	steps := map[string][]string{
		"create": {"create", "--bundle", b.sleeper, id},
		"start":  {"start", id},
		"exec":   {"exec", id, "/bin/true"},
		"kill":   {"kill", id, "KILL"},
		"delete": {"delete", id},
	}
	for _, op := range stressOps {
		if op == "delete" {
			if err := waitStopped(rt, id); err != nil {
				return err
			}
		}
		s, err := call(rt, steps[op]...)
		if err != nil {
			return err
		}
		record(op, s)
	}
	return nil
}

// hostSnapshot is what a runtime could leak on the host, of this bench
// only (other tests may run beside it): cgroup directories (every
// hierarchy) named after its containers, mount points under the bench's
// directories, entries of the runtime's state root, processes in a cgroup
// of its containers, and the bench's own open fds.
type hostSnapshot struct {
	cgroups, mounts, states, procs map[string]bool
	fds                            int
}

// snapshotHost takes the snapshot of what is named prefix (the ids of
// rt's containers) or lies under one of dirs.
func snapshotHost(rt runtimeBin, prefix string, dirs ...string) hostSnapshot {
	h := hostSnapshot{cgroups: map[string]bool{}, mounts: map[string]bool{}, states: map[string]bool{}, procs: map[string]bool{}}
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.Contains(p, prefix) {
			h.cgroups[p] = true
		}
		return nil
	})
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 4 && slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(f[4], d) }) {
				h.mounts[f[4]] = true
			}
		}
	}
	entries, _ := os.ReadDir(rt.root)
	for _, e := range entries {
		h.states[e.Name()] = true
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		// A zombie is dead: reaping it is its new parent's (PID 1's) job.
		if cg, err := os.ReadFile("/proc/" + p.Name() + "/cgroup"); err == nil && strings.Contains(string(cg), prefix) && !zombie(p.Name()) {
			h.procs[p.Name()+" ("+strings.ReplaceAll(readFile("/proc/"+p.Name()+"/cmdline"), "\x00", " ")+")"] = true
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	h.fds = len(fds)
	return h
}

func zombie(pid string) bool {
	stat := readFile("/proc/" + pid + "/stat")
	i := strings.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// compare lists what after has that h had not, a line each.
func (h hostSnapshot) compare(after hostSnapshot) []string {
	var leaks []string
	for _, c := range []struct {
		what          string
		before, after map[string]bool
	}{{"cgroup dir", h.cgroups, after.cgroups}, {"mount", h.mounts, after.mounts}, {"state entry", h.states, after.states}, {"container process", h.procs, after.procs}} {
		var extra []string
		for k := range c.after {
			if !c.before[k] {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		if len(extra) > 5 {
			extra = append(extra[:5], fmt.Sprintf("… (%d in all)", len(extra)))
		}
		for _, e := range extra {
			leaks = append(leaks, c.what+" left: "+e)
		}
	}
	if after.fds > h.fds {
		leaks = append(leaks, fmt.Sprintf("the bench's open fds: %d before, %d after", h.fds, after.fds))
	}
	return leaks
}

// errLeaks is returned when a stress run left something behind.
var errLeaks = errors.New("the stress run left things behind")

// reportStress prints each runtime's containers per second, the p50, p99
// and max latency of each step, its own peak RSS at the start and end of
// the run, and what it left behind.
func reportStress(results []*stressResult) error {
	if len(results) == 0 {
		return nil
	}
	fmt.Printf("stress: %d containers per runtime, %d workers; each: create, start, exec /bin/true, kill KILL, delete\n\n",
		results[0].n, *stressWorkers)
	fmt.Printf("%-8s %13s  %s\n", "runtime", "containers/s", strings.Join(stressHeads(), "  "))
	var leaked bool
	for _, r := range results {
		cells := make([]string, 0, len(stressOps))
		for _, op := range stressOps {
			cells = append(cells, fmt.Sprintf("%-26s", latencies(r.lat[op])))
		}
		fmt.Printf("%-8s %13.1f  %s\n", r.rt, float64(r.n)/r.elapsed.Seconds(), strings.Join(cells, "  "))
		// Only rt's leaks fail the run; the others' are reported.
		leaked = leaked || (r.rt == "rt" && len(r.leaks) > 0)
	}
	fmt.Println("\nlatency per step: p50 / p99 / max in ms; own peak RSS of the runtime per call, median of the first and last 10%:")
	for _, r := range results {
		tenth := max(len(r.ownRSS)/10, 1)
		fmt.Printf("  %s: %s → %s", r.rt, rssOf(r.ownRSS[:tenth]), rssOf(r.ownRSS[len(r.ownRSS)-tenth:]))
		if len(r.leaks) == 0 {
			fmt.Println("; nothing left behind")
			continue
		}
		fmt.Println("; LEFT BEHIND:")
		for _, l := range r.leaks {
			fmt.Println("    " + l)
		}
	}
	if leaked {
		return errLeaks
	}
	return nil
}

func stressHeads() []string {
	h := make([]string, 0, len(stressOps))
	for _, op := range stressOps {
		h = append(h, fmt.Sprintf("%-26s", op+" p50/p99/max"))
	}
	return h
}

// latencies is "p50 / p99 / max" of d in milliseconds.
func latencies(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(int(q*float64(len(s))), len(s)-1)] }
	return fmt.Sprintf("%.1f / %.1f / %.1f", msf(at(0.5)), msf(at(0.99)), msf(s[len(s)-1]))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rssOf is the median of the known peaks in v.
func rssOf(v []int64) string {
	var known []int64
	for _, x := range v {
		if x >= 0 {
			known = append(known, x)
		}
	}
	if len(known) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d KiB", medianInt(known))
}
