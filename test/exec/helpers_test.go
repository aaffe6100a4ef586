package exec_test

// The suite's helpers: containers to exec into, and readers of /proc.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// runner is a runner with its own root, running the compared runtime when
// one is set.
func runner(t *testing.T) *harness.Runner {
	t.Helper()
	harness.RequireRoot(t)
	r := harness.NewRunner(t)
	return r
}

// bug fails a test with the account of a bug rt once had: each call
// site describes what went wrong and how it was fixed, so a regression
// says what to look at.
func bug(t *testing.T, msg string) {
	t.Helper()
	t.Fatal("regression of a fixed bug: " + msg)
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// bundle is a bundle whose process runs args without a terminal.
func bundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	return harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = args
		if edit != nil {
			edit(s)
		}
	})
}

// container is a running container started with `run -d`.
type container struct {
	r      *harness.Runner
	ID     string
	Bundle string
	Pid    int // the init's host pid
}

// start runs a container whose init is `sleep 1000` from a bundle changed
// by edit. At cleanup it is deleted with --force and checked for traces.
func start(t *testing.T, r *harness.Runner, prefix string, edit func(*specs.Spec)) *container {
	t.Helper()
	return startBundle(t, r, prefix, bundle(t, []string{"sleep", "1000"}, edit))
}

// startBundle runs the bundle b (whose init must keep running) detached.
func startBundle(t *testing.T, r *harness.Runner, prefix, b string) *container {
	t.Helper()
	id := harness.ID(prefix)
	res := r.RT("run", "-d", "--bundle", b, id)
	t.Cleanup(func() {
		if res := r.RT("delete", "--force", id); res.Code != 0 && !strings.Contains(res.Stderr, "does not exist") {
			t.Errorf("delete --force %s: %s", id, res)
		}
		r.AssertNoTrace(t, id, b)
	})
	if res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	c := &container{r: r, ID: id, Bundle: b, Pid: state(t, r, id).InitProcessPid}
	waitFor(t, "the init runs sleep", func() bool { return comm(c.Pid) == "sleep" })
	return c
}

// exec runs `rt exec <flags> <id> <cmd>`.
func (c *container) exec(flags []string, cmd ...string) harness.Result {
	args := append([]string{"exec"}, flags...)
	args = append(args, c.ID)
	return c.r.RT(append(args, cmd...)...)
}

// mustExec is exec that fails the test unless the process exits 0, and
// returns its stdout.
func (c *container) mustExec(t *testing.T, flags []string, cmd ...string) string {
	t.Helper()
	res := c.exec(flags, cmd...)
	if res.Code != 0 {
		t.Fatalf("exec %v %v: %s", flags, cmd, res)
	}
	return res.Stdout
}

// rtIn runs the runtime in dir ("" for the test's) with extra files from
// fd 3 on, with files (not pipes: a detached process inherits them) as its
// stdout and stderr.
func rtIn(t *testing.T, r *harness.Runner, dir string, extra []*os.File, args ...string) harness.Result {
	t.Helper()
	cmd := r.Command(args...)
	cmd.Dir, cmd.ExtraFiles = dir, extra
	return r.Run(cmd)
}

func state(t *testing.T, r *harness.Runner, id string) api.Container {
	t.Helper()
	res := r.RT("state", id)
	var c api.Container
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil {
		t.Fatalf("state %s: %s", id, res)
	}
	return c
}

// psPids is `ps --format json`: the host pids of the container's processes.
func psPids(t *testing.T, r *harness.Runner, id string) []int {
	t.Helper()
	res := r.RT("ps", "--format", "json", id)
	var pids []int
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &pids) != nil {
		t.Fatalf("ps --format json %s: %s", id, res)
	}
	slices.Sort(pids)
	return pids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10s", what)
}

func comm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fields parses "key<sep>value" lines (as /proc/<pid>/status) into a map of
// trimmed values.
func fields(text, sep string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, sep); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func want(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// readPidFile reads a --pid-file: a decimal pid with no newline.
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*$`).Match(data) {
		t.Fatalf("pid file holds %q, want a decimal pid without newline", data)
	}
	pid, _ := strconv.Atoi(string(data))
	return pid
}

func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mounts lists the mounts of a mountinfo text as "id parent-id mount-point",
// in its order.
func mounts(mountinfo string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, f[0]+" "+f[1]+" "+f[4])
		}
	}
	return out
}

func without(ns []specs.LinuxNamespace, drop specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range ns {
		if n.Type != drop {
			out = append(out, n)
		}
	}
	return out
}
