package security_test

// The race tests: runc's 2025 advisories (CVE-2025-31133, CVE-2025-52565,
// CVE-2025-52881) were races through a mount shared by two containers. The
// first container, the attacker, exchanges a name in the shared directory
// with a symlink (swapper/main.go, renameat2 RENAME_EXCHANGE) as fast as it
// can, while the second, the victim, whose runtime uses that name, is
// created, started and deleted again and again. Every symlink leads to a
// dummy file the test owns: no test here ever aims at a real host file.
//
// Each race test has a positive control, the same test on binaries built
// with the tag rt_nodefence (the defence turned off: pkg/rootfs and
// pkg/process defences_off.go), which must catch the swap; both report how
// many swaps landed inside the window, so that a loop that never hits it
// cannot pass unnoticed. docs/security.md maps each to its CVE class.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// iterations is how many victims a race test creates: 200 in make test,
// 5000 under make stress (RT_STRESS=1), or RT_STRESS itself when it is a
// larger number.
func iterations(t *testing.T) int {
	t.Helper()
	v := os.Getenv("RT_STRESS")
	switch n, err := strconv.Atoi(v); {
	case v == "" || v == "0":
		return 200
	case err == nil && n > 1:
		return n
	default:
		return 5000
	}
}

// controlEnough is how many caught swaps end a positive control early: the
// control shows that the test catches the attack, not how often.
const controlEnough = 5

// controlRunner is a runner whose binaries are built with rt_nodefence.
func controlRunner(t *testing.T) *harness.Runner {
	t.Helper()
	harness.RequireRoot(t)
	if harness.Compared != "" {
		t.Skip("a positive control runs rt built with rt_nodefence, not " + harness.Compared)
	}
	r := harness.NewRunner(t)
	r.Bins = harness.BuildWithTags(t, "rt_nodefence")
	return r
}

var swapperBin struct {
	sync.Mutex
	data []byte
}

// swapper is swapper/main.go built static, once per test binary.
func swapper(t *testing.T) []byte {
	t.Helper()
	swapperBin.Lock()
	defer swapperBin.Unlock()
	if swapperBin.data == nil {
		bin := filepath.Join(t.TempDir(), "swapper")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/rtkit/rt/test/security/swapper")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build swapper: %v: %s", err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		swapperBin.data = data
	}
	return swapperBin.data
}

// bindMount is a read-write bind of a host directory or file.
func bindMount(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}}
}

// attacker is the first container: the swapper, with the shared directory
// at /shared and a control directory of its own at /ctl.
type attacker struct {
	t      *testing.T
	r      *harness.Runner
	shared string
	id     string
	bundle string
	ctl    string
	done   chan error
	out    *os.File
	once   sync.Once
	report string
}

// startAttacker starts the attacker on shared, exchanging name with
// partner, a symlink to target, and returns once it swaps.
func startAttacker(t *testing.T, r *harness.Runner, shared, name, partner, target string, n int) *attacker {
	t.Helper()
	ctl := t.TempDir()
	// Far more than the victims need, so that an attacker orphaned by a
	// killed test stops by itself.
	maxDur := 2*time.Minute + time.Duration(n)*time.Second
	b := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"/swapper", "-ready", "/ctl/ready", "-stop", "/ctl/stop", "-report", "/ctl/report",
			"-max", maxDur.String(), "/shared", name, partner, target}
		s.Mounts = append(s.Mounts, bindMount(shared, "/shared"), bindMount(ctl, "/ctl"))
	})
	if err := os.WriteFile(filepath.Join(b, "rootfs/swapper"), swapper(t), 0o755); err != nil {
		t.Fatal(err)
	}
	a := &attacker{t: t, r: r, shared: shared, id: harness.ID("attacker"), bundle: b, ctl: ctl, done: make(chan error, 1), out: harness.TempFile(t)}
	cmd := r.Command("run", "--bundle", b, a.id)
	cmd.Stdout, cmd.Stderr = a.out, a.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- cmd.Wait() }()
	t.Cleanup(func() { a.stop() })
	deadline := time.After(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(ctl, "ready")); err == nil {
			return a
		}
		select {
		case err := <-a.done:
			a.done <- err
			out, _ := os.ReadFile(a.out.Name())
			t.Fatalf("the attacker exited before swapping: %v: %s", err, out)
		case <-deadline:
			t.Fatal("the attacker did not start swapping within 30s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop stops the attacker (the stop file, else SIGKILL after 30s) and
// returns its report ("exchanges N failed N repairs N").
func (a *attacker) stop() string {
	a.once.Do(func() {
		t := a.t
		os.WriteFile(filepath.Join(a.ctl, "stop"), nil, 0o644)
		select {
		case err := <-a.done:
			if err != nil {
				out, _ := os.ReadFile(a.out.Name())
				t.Errorf("attacker: %v: %s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the attacker did not stop within 30s of its stop file; killing it")
			a.r.RT("kill", a.id, "KILL")
			select {
			case <-a.done:
			case <-time.After(30 * time.Second):
			}
		}
		report, _ := os.ReadFile(filepath.Join(a.ctl, "report"))
		a.report = strings.TrimSpace(string(report))
		a.r.RT("delete", "--force", a.id)
		a.r.AssertNoTrace(t, a.id, a.bundle)
		if ms := hostMountsUnder(a.shared); len(ms) > 0 {
			t.Errorf("mounts left on the host in the shared directory: %v", ms)
		}
	})
	return a.report
}

// exchanges is the count in a report.
func exchanges(report string) int {
	var n, failed, repairs int
	fmt.Sscanf(report, "exchanges %d failed %d repairs %d", &n, &failed, &repairs)
	return n
}

// tally is what a race test saw over its runs.
type tally struct {
	window  string // what a swap inside the window is, for the log
	runs    int
	ok      int            // succeeded with the real thing in place
	landed  int            // a swap was inside the window (refused, or seen by the victim)
	escaped int            // the swap went through: a foreign inode used, a write through it
	failed  map[string]int // clean failures, by message
	notes   []string       // the first escapes, in detail
}

func newTally(window string) *tally { return &tally{window: window, failed: map[string]int{}} }

// add records a run: whether a swap was inside its window (the runtime
// refused it, or the victim saw it), and what went through, if anything
// ("" for nothing). A failed run must say why in one line on stderr.
func (c *tally) add(t *testing.T, res harness.Result, landed bool, through string) {
	t.Helper()
	c.runs++
	if landed || through != "" {
		c.landed++
	}
	if through != "" {
		c.escaped++
		if len(c.notes) < 5 {
			c.notes = append(c.notes, fmt.Sprintf("run %d: %s", c.runs, through))
		}
	}
	if res.Code == 0 {
		if !landed && through == "" {
			c.ok++
		}
		return
	}
	if strings.Count(res.Stderr, "\n") != 1 || !strings.HasPrefix(res.Stderr, "rt: ") {
		t.Errorf("run %d failed without one line on stderr: %s", c.runs, res)
	}
	c.failed[strings.TrimSpace(res.Stderr)]++
}

// done is true once a control has caught enough.
func (c *tally) done(control bool) bool { return control && c.escaped >= controlEnough }

// report logs the tally and checks it: a defended run must have no escape
// and a control at least one, and in both some swap must have landed in
// the window, or the race was never run.
func (c *tally) report(t *testing.T, control bool, attacker string) {
	t.Helper()
	kind := "defended"
	if control {
		kind = "control (rt_nodefence)"
	}
	t.Logf("%s: %d runs; %d with no swap in the window, %d swaps inside the window (%s), %d went through; attacker: %s",
		kind, c.runs, c.ok, c.landed, c.window, c.escaped, attacker)
	for msg, n := range c.failed {
		t.Logf("  %d runs failed: %s", n, msg)
	}
	for _, n := range c.notes {
		t.Logf("  went through: %s", n)
	}
	if exchanges(attacker) == 0 {
		t.Errorf("the attacker made no exchange: %q", attacker)
	}
	if c.landed == 0 {
		t.Errorf("no swap landed inside the window in %d runs: the race was not exercised", c.runs)
	}
	switch {
	case control && c.escaped == 0:
		t.Errorf("the positive control caught no swap in %d runs (%d landed in the window): the test cannot catch the attack", c.runs, c.landed)
	case !control && c.escaped > 0:
		t.Errorf("%d of %d runs let the swap through", c.escaped, c.runs)
	}
}

// dummyFile is a test-owned file the attacker's symlinks lead to, and
// whose content must not change.
type dummyFile struct {
	path, content string
}

func newDummy(t *testing.T, path string) *dummyFile {
	t.Helper()
	d := &dummyFile{path: path, content: fmt.Sprintf("dummy of %s, pid %d\n", t.Name(), os.Getpid())}
	if err := os.WriteFile(path, []byte(d.content), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// changed reports whether the dummy was written (or replaced), and puts
// its content back for the next run.
// A chmod through a swapped name (rt setting a device node's mode) counts
// as a write: its mode is checked too.
func (d *dummyFile) changed(t *testing.T) (bool, string) {
	t.Helper()
	data, err := os.ReadFile(d.path)
	fi, serr := os.Stat(d.path)
	if err == nil && string(data) == d.content && serr == nil && fi.Mode().Perm() == 0o644 {
		return false, ""
	}
	if err := os.WriteFile(d.path, []byte(d.content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.path, 0o644); err != nil {
		t.Fatal(err)
	}
	switch {
	case err != nil:
		return true, err.Error()
	case serr == nil && fi.Mode().Perm() != 0o644:
		return true, fmt.Sprintf("mode changed to %v", fi.Mode().Perm())
	}
	return true, fmt.Sprintf("%q", data)
}

// runLimit bounds one rt command of a race test: far above what a run
// takes on a loaded machine, it only keeps a hung run from hanging the
// suite.
const runLimit = 2 * time.Minute

// runResult runs cmd with files of its own as stdout and stderr (unless
// the caller set them to files) and returns what Runner.Run returns. A
// command still running after runLimit is killed, and the test fails.
func runResult(t *testing.T, cmd *exec.Cmd) harness.Result {
	t.Helper()
	for _, w := range []*io.Writer{&cmd.Stdout, &cmd.Stderr} {
		if *w == nil {
			f, err := os.CreateTemp("", "rt-race-out-")
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(f.Name())
			defer f.Close()
			*w = f
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	timer := time.AfterFunc(runLimit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Errorf("%v still running after %v: killed", cmd.Args, runLimit)
	}
	read := func(w io.Writer) string {
		f, ok := w.(*os.File)
		if !ok {
			return ""
		}
		data, _ := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
		return string(data)
	}
	res := harness.Result{Stdout: read(cmd.Stdout), Stderr: read(cmd.Stderr)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return res
}

// rt runs `rt --root <root> args...` as Runner.RT does, bounded by
// runLimit.
func rt(t *testing.T, r *harness.Runner, args ...string) harness.Result {
	t.Helper()
	return runResult(t, r.Command(args...))
}

// devFromShared is a victim's config edit: its /dev is the shared
// directory, bound from the host, instead of a tmpfs of its own.
func devFromShared(s *specs.Spec, shared string) {
	for i, m := range s.Mounts {
		if m.Destination == "/dev" {
			s.Mounts[i] = bindMount(shared, "/dev")
			return
		}
	}
	s.Mounts = append([]specs.Mount{bindMount(shared, "/dev")}, s.Mounts...)
}
