// Command bench compares rt with Debian's runc and crun side by side in one
// run (make bench). For every sample the runtimes go in a random order, each
// timed call gets fresh ids and is preceded by a pause, and the report gives
// median, p90, the ratio to runc's median, CPU time and context switches per
// call and the runtime's own peak RSS. Every timed command runs under a tiny
// static C launcher (launcher/launch.c) built with cc, whose wait4 and ptrace
// exit stop give figures of the command rather than of the Go harness.
// Operations: run, create, state, start, delete of a /bin/true container;
// exec, pause, resume, update --memory and events --stats on a running one;
// and containers per second with two parallel run loops. Then checkpoint and
// restore of two workloads with CRIU, fewer samples (checkpoint.go), and rt's
// live migration of the same workloads between two network namespaces
// (migration.go); -only runs one of the three parts. -only stress runs
// thousands of containers through each runtime's whole life in parallel
// and checks the host is left as it was (stress.go; make stress).
//
// The pause matters: on cgroup v1 a join waits for an RCU grace period
// unless another join happened in the last ~20 ms, so back-to-back calls of
// different runtimes would make each other look faster or slower.
//
// It re-executes itself in a private mount namespace with
// /sys/fs/cgroup/unified unmounted: crun 1.8 refuses this host's hybrid
// cgroup layout otherwise, and every runtime must see the same host.
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type runtimeBin struct {
	name string
	path string
	root string
	// env, when set, is its commands' environment (a migration host's
	// RT_CGROUP_PARENT); nil inherits the bench's.
	env []string
	// optional: failing a CRIU part's probe leaves it out of that part,
	// saying why, instead of failing the bench.
	optional bool
}

type sample struct {
	d time.Duration
	// maxRSS is wait4's ru_maxrss of the command: the largest single
	// process among it and the children it waited for (criu, runc init).
	maxRSS int64 // KiB
	// ownRSS is the command's own peak (VmHWM at its exit), its children
	// not included; -1 when not known.
	ownRSS int64 // KiB
	// cpu is user+sys time of the command and the children it waited for.
	cpu time.Duration
	// csw is its voluntary plus involuntary context switches, children it
	// waited for included, the launcher's ptrace stops subtracted.
	csw int64
}

var (
	samples = flag.Int("n", 30, "samples per operation and runtime")
	pause   = flag.Duration("pause", 50*time.Millisecond, "pause before each timed call")
	window  = flag.Duration("window", 5*time.Second, "length of the containers-per-second run of each runtime")
	only    = flag.String("only", "", `run one part only: "lifecycle" (the commands above), "checkpoint" (checkpoint and restore), "migration" (rt's live migration) or "stress" (stress.go: not part of a full run)`)
)

func main() {
	rtPath := flag.String("rt", "bin/rt", "path of the rt binary")
	flag.Parse()
	if *only != "" && *only != "lifecycle" && *only != "checkpoint" && *only != "migration" && *only != "stress" {
		fmt.Fprintf(os.Stderr, "bench: -only %q: want lifecycle, checkpoint, migration or stress\n", *only)
		os.Exit(2)
	}
	if os.Getenv("RT_BENCH_NS") == "" {
		os.Exit(reexecInPrivateMountNS())
	}
	if err := run(*rtPath); err != nil {
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
	// An interrupted bench cleans up (interrupted); this side waits for
	// it, passing on the signals a terminal does not send to both.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	err = cmd.Start()
	if err == nil {
		go func() {
			for s := range sigs {
				cmd.Process.Signal(s)
			}
		}()
		err = cmd.Wait()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

type bench struct {
	rts    []runtimeBin
	bundle string
	// sleeper is a bundle running sleep, for the container exec goes into.
	sleeper string
	seq     atomic.Int64
	results map[string]map[string][]sample
	order   []string
	// unsupported holds "<op> <runtime>" for commands a runtime lacks.
	unsupported map[string]bool
	// states holds the runtimes' state roots (and the migration hosts').
	states string
}

// interrupted holds what an interrupted bench undoes before it exits:
// what outlives the process (containers, the migration hosts' network
// namespaces and cgroup parents, fs.pipe-max-size, state roots).
var interrupted undoList

// undoList is a stack of undo functions, each run at most once: on a
// signal, or by the code that registered it when it is done.
type undoList struct {
	mu  sync.Mutex
	fns []func()
}

// push registers f and returns it, to be called (deferred) as usual; the
// signal handler calls what was pushed and not yet run, last first.
func (u *undoList) push(f func()) func() {
	once := sync.OnceFunc(f)
	u.mu.Lock()
	u.fns = append(u.fns, once)
	u.mu.Unlock()
	return once
}

func (u *undoList) runAll() {
	u.mu.Lock()
	fns := slices.Clone(u.fns)
	u.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// onSignal undoes what interrupted holds on SIGINT, SIGTERM or SIGHUP
// and exits.
func onSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "bench: %v: cleaning up\n", s)
		interrupted.runAll()
		os.Exit(1)
	}()
}

func run(rtPath string) error {
	onSignal()
	abs, err := filepath.Abs(rtPath)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "rt-bench-")
	if err != nil {
		return err
	}
	defer interrupted.push(func() { os.RemoveAll(work) })()
	if abs, err = installCopy(abs, filepath.Join(work, "bin")); err != nil {
		return err
	}
	if launcher, err = buildLauncher(work); err != nil {
		return err
	}
	// State roots live on /run, a tmpfs, as every runtime's default root
	// does (/run/runc, /run/crun, /run/rt).
	states, err := os.MkdirTemp("/run", "rt-bench-")
	if err != nil {
		return err
	}
	defer interrupted.push(func() { os.RemoveAll(states) })()
	b := &bench{results: map[string]map[string][]sample{}, unsupported: map[string]bool{}, states: states}
	for _, c := range []struct{ name, path string }{{"runc", "runc"}, {"crun", "crun"}, {"rt", abs}} {
		p, err := exec.LookPath(c.path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s not found, skipped (make deps installs it)\n", c.name)
			continue
		}
		b.rts = append(b.rts, runtimeBin{name: c.name, path: p, root: filepath.Join(states, c.name), optional: c.name != "rt"})
	}
	if b.bundle, err = makeBundle(filepath.Join(work, "bundle"), "/bin/true"); err != nil {
		return err
	}
	if b.sleeper, err = makeBundle(filepath.Join(work, "sleeper"), "sleep", "100000"); err != nil {
		return err
	}
	defer interrupted.push(b.cleanup)()
	if *only == "stress" {
		results, err := b.stress()
		b.header()
		if rerr := reportStress(results); err == nil {
			err = rerr
		}
		return err
	}
	var rates map[string]float64
	if *only == "" || *only == "lifecycle" {
		if rates, err = b.lifecycle(); err != nil {
			return err
		}
	}
	var cr []*criuResults
	if *only != "lifecycle" {
		if cr, err = b.withCRIU(work); err != nil {
			return err
		}
	}
	b.header()
	if rates != nil {
		b.report(rates)
	}
	for i, r := range cr {
		if rates != nil || i > 0 {
			fmt.Println()
		}
		r.report()
	}
	return nil
}

// lifecycle times the runc-like commands, interleaved, *samples times each,
// then containers per second; the results are in b.results.
func (b *bench) lifecycle() (map[string]float64, error) {
	execTarget := map[string]string{}
	// Gone before whatever is measured next (the checkpoint part).
	defer func() {
		for _, rt := range b.rts {
			if id, ok := execTarget[rt.name]; ok {
				call(rt, "delete", "--force", id)
			}
		}
	}()
	for _, rt := range b.rts {
		id := b.id(rt)
		if _, err := call(rt, "run", "-d", "--bundle", b.sleeper, id); err != nil {
			return nil, err
		}
		execTarget[rt.name] = id
	}

	for i := 0; i < *samples; i++ {
		for _, rt := range b.shuffled() {
			if err := b.sampleRun(rt); err != nil {
				return nil, err
			}
		}
		for _, rt := range b.shuffled() {
			if err := b.sampleLifecycle(rt); err != nil {
				return nil, err
			}
		}
		for _, rt := range b.shuffled() {
			if err := b.timed("exec /bin/true", rt, "exec", execTarget[rt.name], "/bin/true"); err != nil {
				return nil, err
			}
		}
		for _, rt := range b.shuffled() {
			if err := b.sampleResources(rt, execTarget[rt.name], i); err != nil {
				return nil, err
			}
		}
	}
	rates := map[string]float64{}
	for _, rt := range b.shuffled() {
		r, err := b.throughput(rt, 2, *window)
		if err != nil {
			return nil, err
		}
		rates[rt.name] = r
	}
	return rates, nil
}

func (b *bench) shuffled() []runtimeBin { return shuffle(b.rts) }

// shuffle returns rts in a random order.
func shuffle(rts []runtimeBin) []runtimeBin {
	o := slices.Clone(rts)
	rand.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

func (b *bench) id(rt runtimeBin) string {
	return fmt.Sprintf("bench-%s-%d-%d", rt.name, os.Getpid(), b.seq.Add(1))
}

// timed runs one command after the pause and records it under op.
func (b *bench) timed(op string, rt runtimeBin, args ...string) error {
	time.Sleep(*pause)
	s, err := call(rt, args...)
	if err != nil {
		return err
	}
	if b.results[op] == nil {
		b.results[op] = map[string][]sample{}
		b.order = append(b.order, op)
	}
	b.results[op][rt.name] = append(b.results[op][rt.name], s)
	return nil
}

func (b *bench) sampleRun(rt runtimeBin) error {
	return b.timed("run", rt, "run", "--bundle", b.bundle, b.id(rt))
}

// sampleLifecycle times create, state, start and delete of one container.
func (b *bench) sampleLifecycle(rt runtimeBin) error {
	id := b.id(rt)
	if err := b.timed("create", rt, "create", "--bundle", b.bundle, id); err != nil {
		return err
	}
	if err := b.timed("state", rt, "state", id); err != nil {
		return err
	}
	if err := b.timed("start", rt, "start", id); err != nil {
		return err
	}
	if err := waitStopped(rt, id); err != nil {
		return err
	}
	return b.timed("delete", rt, "delete", id)
}

// sampleResources times pause, resume, update and events --stats on the
// running container id. update alternates between two memory limits so
// that each call changes the cgroup. A runtime without one of these
// commands (crun has no events) gets no sample for it, once noted.
func (b *bench) sampleResources(rt runtimeBin, id string, i int) error {
	limit := "104857600"
	if i%2 == 1 {
		limit = "209715200"
	}
	for _, op := range []struct {
		name string
		args []string
	}{
		{"pause", []string{"pause", id}},
		{"resume", []string{"resume", id}},
		{"update --memory", []string{"update", "--memory", limit, id}},
		{"events --stats", []string{"events", "--stats", id}},
	} {
		if b.unsupported[op.name+" "+rt.name] {
			continue
		}
		if err := b.timed(op.name, rt, op.args...); err != nil {
			if op.name == "pause" || op.name == "resume" || rt.name == "rt" {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench: %s: %v; no samples for it\n", op.name, err)
			b.unsupported[op.name+" "+rt.name] = true
		}
	}
	return nil
}

func waitStopped(rt runtimeBin, id string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		out, err := exec.Command(rt.path, "--root", rt.root, "state", id).Output()
		if err != nil {
			return fmt.Errorf("%s state %s: %w", rt.name, id, err)
		}
		var st struct{ Status string }
		if json.Unmarshal(out, &st) == nil && st.Status == "stopped" {
			return nil
		}
	}
	return fmt.Errorf("%s: container %s did not stop", rt.name, id)
}

// throughput runs `run` in workers parallel loops for d and returns
// containers per second.
func (b *bench) throughput(rt runtimeBin, workers int, d time.Duration) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := call(rt, "run", "--bundle", b.bundle, b.id(rt)); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// callError is a runtime command that failed, with what it said.
type callError struct {
	rt     string
	args   []string
	err    error
	stderr string
}

func (e *callError) Error() string {
	return fmt.Sprintf("%s %v: %v: %s", e.rt, e.args, e.err, e.stderr)
}

func call(rt runtimeBin, args ...string) (sample, error) {
	args = append([]string{"--root", rt.root}, args...)
	cmd := exec.Command(rt.path, args...)
	cmd.Env = rt.env
	return runTimed(cmd, rt.name)
}

// launcher is rt-bench-launch (launcher/launch.c), built by run: every
// timed command runs under it, so that its figures are its own and not the
// harness's (buildLauncher).
var launcher string

// runTimed runs cmd under the launcher and returns its wall time, CPU time,
// context switches and peak RSS; a failure is a *callError named name, with
// what cmd said on stderr. Its stdout is the caller's (nil: /dev/null).
func runTimed(cmd *exec.Cmd, name string) (sample, error) {
	// A file, not a pipe: a created container inherits stderr, and a pipe
	// would keep Run waiting for the container to exit.
	stderr, err := os.CreateTemp("", "rt-bench-stderr-")
	if err != nil {
		return sample{}, err
	}
	os.Remove(stderr.Name())
	defer stderr.Close()
	cmd.Stderr = stderr
	args := cmd.Args[1:]
	// The launcher's report goes to its fd 3, which the command does not
	// inherit (close-on-exec), so a container left running cannot hold it.
	rep, err := os.CreateTemp("", "rt-bench-rusage-")
	if err != nil {
		return sample{}, err
	}
	os.Remove(rep.Name())
	defer rep.Close()
	cmd.Args = append([]string{launcher, cmd.Path}, args...)
	cmd.Path = launcher
	cmd.ExtraFiles = []*os.File{rep}
	err = cmd.Run()
	if err != nil {
		msg, _ := os.ReadFile("/proc/self/fd/" + fmt.Sprint(stderr.Fd()))
		return sample{}, &callError{rt: name, args: args, err: err, stderr: strings.TrimSpace(string(msg))}
	}
	line, err := os.ReadFile("/proc/self/fd/" + fmt.Sprint(rep.Fd()))
	if err != nil {
		return sample{}, err
	}
	var ns, utime, stime, nvcsw, nivcsw, stops int64
	var s sample
	if _, err := fmt.Sscan(string(line), &ns, &s.ownRSS, &s.maxRSS, &utime, &stime, &nvcsw, &nivcsw, &stops); err != nil {
		return sample{}, fmt.Errorf("%s %v: launcher report %q: %w", name, args, line, err)
	}
	s.d = time.Duration(ns)
	s.cpu = time.Duration(utime+stime) * time.Microsecond
	s.csw = max(nvcsw-stops, 0) + nivcsw
	return s, nil
}

//go:embed launcher/launch.c
var launcherSrc []byte

// buildLauncher compiles launcher/launch.c with the system's cc, static
// (a small image to fork), into dir and returns its path.
func buildLauncher(dir string) (string, error) {
	src := filepath.Join(dir, "launch.c")
	if err := os.WriteFile(src, launcherSrc, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rt-bench-launch")
	if out, err := exec.Command("cc", "-static", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the launcher (cc -static; make deps installs gcc and libc6-dev): %v: %s", err, out)
	}
	return bin, nil
}
