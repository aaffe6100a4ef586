// Package crash_test SIGKILLs rt at every step of its commands and checks
// what the killed command leaves: `rt state` answers (a status, or a
// one-line "does not exist"), `rt list` works, `rt delete --force` removes
// the container, and then nothing of it is left on the host: no process,
// mount, cgroup directory in any hierarchy, state directory or exec fifo.
//
// The binaries are built with the rt_killpoints tag (pkg/killpoint): each
// command is first run once with $RT_KILLPOINT_TRACE, which lists its
// steps, then once per step with $RT_KILLPOINT=N, which makes it SIGKILL
// itself at its Nth step. A delay sweep then kills it from outside after
// 0, 1, 2, … ms, between and around the named steps. RT_STRESS set (make
// stress) sweeps the delays finely and the steps three times.
//
// The containers use the cgroupfs driver: a systemd unit is made only with
// --systemd-cgroup, where systemd is the host's init.
package crash_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.MainWithTags(m, "rt_killpoints") }

// stress is set by make stress: the longer sweep.
var stress = os.Getenv("RT_STRESS") != ""

// absent is the status of a container `rt state` says does not exist.
const absent = "(absent)"

// command is one command of the sweep and what it may leave when killed.
type command struct {
	// prepare brings f's container to what the command needs (nothing,
	// created, running, paused).
	prepare func(t *testing.T, f *fixture)
	// args are the command's arguments for f.
	args func(f *fixture) []string
	// allowed are the statuses `rt state` may report after a kill
	// (absent: no such container).
	allowed []string
	// check, when set, checks what else the kill left, before the
	// container is deleted.
	check func(t *testing.T, f *fixture, status string)
	// delays are the delay sweep's kill times.
	delays []time.Duration
	// env is more environment for the command.
	env []string
	// gone, when set, checks after the delete what assertGone does not
	// know of (a systemd unit).
	gone func(t *testing.T, f *fixture)
}

// fixture is one container of one sweep case.
type fixture struct {
	r      *harness.Runner
	id     string
	bundle string
	// dir is the case's scratch directory (pid file, trace, images).
	dir string
	// marker is an environment variable only the killed command and
	// what it starts with rt's environment (criu, hooks) carry.
	marker string
	// pid is the container's init before the kill, 0 if none.
	pid int
}

// newFixture is a fresh container id with its own root, on bundle.
func newFixture(t *testing.T, bundle string) *fixture {
	t.Helper()
	f := &fixture{r: harness.NewRunner(t), id: harness.ID("crash"), bundle: bundle, dir: t.TempDir()}
	f.marker = "RT_CRASH_CASE=" + f.id
	// Registered after NewRunner's, so it runs first: whatever the
	// killed command started is gone before the runner's checks.
	t.Cleanup(func() { killMarked(f.marker) })
	return f
}

// sweep runs c with a kill at each of its steps, then after each delay.
func sweep(t *testing.T, c command, bundle string) {
	harness.RequireRoot(t)
	steps := traceSteps(t, c, bundle)
	if n := len(steps) + len(c.delays); n < 10 {
		t.Fatalf("%d kill points (%d steps, %d delays), want at least 10", n, len(steps), len(c.delays))
	}
	t.Logf("%d steps: %s", len(steps), strings.Join(steps, " "))
	rounds := 1
	if stress {
		rounds = 3
	}
	for round := 0; round < rounds; round++ {
		for i, step := range steps {
			t.Run(fmt.Sprintf("step%02d-%s", i+1, step), func(t *testing.T) { killAtStep(t, c, bundle, steps, i) })
		}
		for _, d := range c.delays {
			t.Run(fmt.Sprintf("after-%v", d), func(t *testing.T) {
				f := c.ready(t, bundle)
				f.killAfter(t, c.args(f), d, c.env...)
				afterKill(t, c, f)
			})
		}
	}
}

// ready is a fresh fixture on bundle, prepared for c, its init's pid
// noted.
func (c command) ready(t *testing.T, bundle string) *fixture {
	t.Helper()
	f := newFixture(t, bundle)
	c.prepare(t, f)
	f.pid = initPid(t, f)
	return f
}

// killAtStep kills c at the traced run's step i (0-based) and checks what
// the kill left. A run that ends with fewer steps than that was not killed:
// a step the traced run took can be skipped by another (a process that
// died first), so the case is tried again, twice at most, before the sweep
// is said to have missed it.
func killAtStep(t *testing.T, c command, bundle string, steps []string, i int) {
	for attempt := 1; ; attempt++ {
		f := c.ready(t, bundle)
		res, trace := f.killAt(t, c.args(f), append(c.env, "RT_KILLPOINT="+strconv.Itoa(i+1))...)
		switch {
		case res.Code == -1:
			if len(trace) == 0 || trace[len(trace)-1] != steps[i] {
				t.Logf("killed at %v, the traced run's step %d was %s", trace, i+1, steps[i])
			}
		case attempt < 3:
			t.Logf("not killed: this run took %d steps (%s), the traced one %d; again",
				len(trace), strings.Join(trace, " "), len(steps))
		default:
			t.Errorf("not killed in %d runs, %d steps where the traced run had %d: %s; the last run's steps: %s",
				attempt, len(trace), len(steps), res, strings.Join(trace, " "))
		}
		afterKill(t, c, f)
		if res.Code == -1 || attempt == 3 {
			return
		}
	}
}

// traceSteps runs c once without a kill and returns its steps.
func traceSteps(t *testing.T, c command, bundle string) []string {
	t.Helper()
	var steps []string
	t.Run("trace", func(t *testing.T) {
		f := newFixture(t, bundle)
		c.prepare(t, f)
		trace := filepath.Join(f.dir, "trace")
		cmd := f.command(c.args(f), append(c.env, "RT_KILLPOINT_TRACE="+trace)...)
		if res := f.r.Run(cmd); res.Code != 0 {
			t.Fatalf("%v: %s", c.args(f), res)
		}
		steps = readTrace(trace)
		f.deleteAndCheck(t)
		if c.gone != nil {
			c.gone(t, f)
		}
	})
	if len(steps) == 0 {
		t.FailNow()
	}
	return steps
}

// command is `rt --root … args` with the marker and env in its
// environment.
func (f *fixture) command(args []string, env ...string) *exec.Cmd {
	cmd := f.r.Command(args...)
	cmd.Env = append(append(os.Environ(), f.marker), env...)
	return cmd
}

// killAt runs args with env (which sets $RT_KILLPOINT) and returns the
// result and the steps it went through.
func (f *fixture) killAt(t *testing.T, args []string, env ...string) (harness.Result, []string) {
	t.Helper()
	trace := filepath.Join(f.dir, "trace")
	res := f.r.Run(f.command(args, append(env, "RT_KILLPOINT_TRACE="+trace)...))
	return res, readTrace(trace)
}

// killAfter starts args with env and SIGKILLs it after d. Its output goes
// to a file: a container it starts inherits it.
func (f *fixture) killAfter(t *testing.T, args []string, d time.Duration, env ...string) {
	t.Helper()
	cmd := f.command(args, env...)
	out := harness.TempFile(t)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func readTrace(path string) []string {
	data, _ := os.ReadFile(path)
	return strings.Fields(string(data))
}

// afterKill checks what a killed command left, deletes the container and
// checks that nothing is left.
func afterKill(t *testing.T, c command, f *fixture) {
	t.Helper()
	// What the command started with its environment (criu) finishes or
	// fails on its own once its parent is gone; until then the
	// container is in between.
	if left := waitMarked(f.marker, 15*time.Second); len(left) > 0 {
		t.Errorf("processes of the killed command still run after 15s: %v", left)
	}
	status := f.status(t)
	if !slices.Contains(c.allowed, status) {
		t.Errorf("status after the kill: %s, want one of %v", status, c.allowed)
	}
	f.checkList(t, status)
	if c.check != nil {
		c.check(t, f, status)
	}
	f.deleteAndCheck(t)
	if c.gone != nil {
		c.gone(t, f)
	}
}

// status is what `rt state` says of the container: its status, or absent.
// Any other failure fails the test.
func (f *fixture) status(t *testing.T) string {
	t.Helper()
	res := f.rt(t, "state", f.id)
	if res.Code != 0 {
		msg := strings.TrimSpace(res.Stderr)
		if !strings.Contains(msg, "does not exist") || strings.Contains(msg, "\n") {
			t.Fatalf("state after the kill: want a status or one line saying it does not exist: %s", res)
		}
		return absent
	}
	var c api.Container
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		t.Fatalf("state: %v: %s", err, res.Stdout)
	}
	return string(c.Status)
}

// checkList checks that `rt list` works and agrees with `rt state`.
func (f *fixture) checkList(t *testing.T, status string) {
	t.Helper()
	res := f.rt(t, "list", "--format", "json")
	if res.Code != 0 {
		t.Fatalf("list after the kill: %s", res)
	}
	var cs []api.Container
	if err := json.Unmarshal([]byte(res.Stdout), &cs); err != nil {
		t.Fatalf("list: %v: %s", err, res.Stdout)
	}
	listed := absent
	for _, c := range cs {
		if c.ID == f.id {
			listed = string(c.Status)
		}
	}
	// A container may have changed since: a restore's criu kills the
	// tree it restored as it fails, and the init may die just after
	// the state was read. Then state must agree now.
	if listed != status {
		if now := f.status(t); listed != now {
			t.Errorf("list says %s, state says %s, then %s", listed, status, now)
		}
	}
}

// rt runs rt with a bound: a command that hangs after a kill is a bug to
// report, not a test to hang.
func (f *fixture) rt(t *testing.T, args ...string) harness.Result {
	t.Helper()
	cmd := f.r.Command(args...)
	cmd.Env = os.Environ()
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	res := f.r.Run(cmd)
	if !timer.Stop() {
		t.Fatalf("rt %v hung (killed after 30s)", args)
	}
	return res
}

// deleteAndCheck deletes the container and checks that nothing of it is
// left.
func (f *fixture) deleteAndCheck(t *testing.T) {
	t.Helper()
	if res := f.rt(t, "delete", "--force", f.id); res.Code != 0 {
		t.Fatalf("delete --force after the kill: %s", res)
	}
	assertGone(t, f.r, f.id, f.bundle, f.pid)
}

// assertGone fails t if anything of container id is left: its state dir
// (and exec fifo), a cgroup dir in any hierarchy, a mount under the bundle
// or the root, its init, or a process rooted or working in the bundle.
func assertGone(t *testing.T, r *harness.Runner, id, bundle string, pid int) {
	t.Helper()
	r.AssertNoTrace(t, id, bundle)
	if dirs := harness.CgroupDirsOf(id); len(dirs) > 0 {
		t.Errorf("cgroup dirs left: %v", dirs)
	}
	if ms := harness.MountsUnder(r.Root); len(ms) > 0 {
		t.Errorf("mounts left under the root: %v", ms)
	}
	if pid > 0 && alive(pid) {
		t.Errorf("the container's init %d is alive", pid)
	}
	if left := processesIn(bundle); len(left) > 0 {
		t.Errorf("processes left working in the bundle: %v", left)
	}
}

// container is a bundle for the sweep: busybox running args, without a
// terminal.
func bundle(t *testing.T, args ...string) string {
	return harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = args
	})
}
