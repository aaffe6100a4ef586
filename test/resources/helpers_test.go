// Package resources_test runs real containers with linux.resources on
// the host's cgroups and checks each value in the container's cgroup files
// and, where it can be seen, in what the container can do: the limits at
// create, update, pause/resume, ps, events and features, and what create
// and update refuse.
//
// The host these tests were written on is hybrid: cgroup v1 hierarchies at
// /sys/fs/cgroup/<controller> and a cgroup2 mount at /sys/fs/cgroup/unified
// without controllers. A container's directories are
// /sys/fs/cgroup/<controller>/<id>.
//
// With RT_TEST_COMPARE set to another runtime with runc's CLI (e.g.
// /usr/sbin/runc), the tests run that runtime instead of rt and the BUG
// skips are not taken: that is how each bug reported here was confirmed
// against runc.
package resources_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// compared is harness.Compared: the runtime run in place of rt, or "".
var compared = harness.Compared

// runner is a runner with its own root, running the compared runtime when
// one is set.
func runner(t *testing.T) *harness.Runner {
	t.Helper()
	harness.RequireRoot(t)
	requireV1(t)
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

const cgRoot = "/sys/fs/cgroup"

// requireV1 skips a test written for v1 hierarchies on a host without the
// ones it uses.
func requireV1(t *testing.T) {
	t.Helper()
	for _, c := range []string{"memory", "cpu", "cpuset", "pids", "devices", "freezer", "blkio"} {
		if _, err := os.Stat(filepath.Join(cgRoot, c, "cgroup.procs")); err != nil {
			t.Skipf("needs the v1 %s hierarchy at %s/%s (this test is written for v1 and hybrid hosts): %v", c, cgRoot, c, err)
		}
	}
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

// withResources returns an edit that sets linux.resources to res, keeping
// the default spec's device rules unless res has its own.
func withResources(res specs.LinuxResources) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if res.Devices == nil && s.Linux.Resources != nil {
			res.Devices = s.Linux.Resources.Devices
		}
		s.Linux.Resources = &res
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }
func mib(n int64) *int64   { return i64(n << 20) }
func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func trim(s string) string { return strings.TrimSpace(s) }
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// container is a running container started with `run -d`.
type container struct {
	r      *harness.Runner
	ID     string
	Bundle string
	Pid    int // the init's host pid
}

// start runs a container whose init is args (which must keep running)
// from a bundle changed by edit. At cleanup it is deleted with --force and
// checked for traces.
func start(t *testing.T, r *harness.Runner, prefix string, args []string, edit func(*specs.Spec)) *container {
	t.Helper()
	return startBundle(t, r, prefix, bundle(t, args, edit))
}

// startBundle runs the bundle b (whose process must keep running)
// detached, as start does.
func startBundle(t *testing.T, r *harness.Runner, prefix, b string) *container {
	t.Helper()
	id := harness.ID(prefix)
	pathForCompare(t, b, id)
	res := r.RT("run", "-d", "--bundle", b, id)
	t.Cleanup(func() {
		r.RT("resume", id) // a paused container may be left by a failed test
		if res := r.RT("delete", "--force", id); res.Code != 0 && !strings.Contains(res.Stderr, "does not exist") {
			t.Errorf("delete --force %s: %s", id, res)
		}
		r.AssertNoTrace(t, id, b)
	})
	if res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	return &container{r: r, ID: id, Bundle: b, Pid: state(t, r, id).InitProcessPid}
}

// exec runs `rt exec <id> <cmd>`.
func (c *container) exec(cmd ...string) harness.Result {
	return c.r.RT(append([]string{"exec", c.ID}, cmd...)...)
}

// mustExec is exec that fails the test unless the process exits 0, and
// returns its stdout.
func (c *container) mustExec(t *testing.T, cmd ...string) string {
	t.Helper()
	res := c.exec(cmd...)
	if res.Code != 0 {
		t.Fatalf("exec %v: %s", cmd, res)
	}
	return res.Stdout
}

// cg is the path of file in the container's directory of controller ctrl.
func (c *container) cg(ctrl, file string) string { return filepath.Join(cgRoot, ctrl, c.ID, file) }

// read returns the trimmed content of file in the container's directory of
// ctrl, failing the test if it cannot be read.
func (c *container) read(t *testing.T, ctrl, file string) string {
	t.Helper()
	data, err := os.ReadFile(c.cg(ctrl, file))
	if err != nil {
		t.Fatalf("container cgroup file: %v", err)
	}
	return trim(string(data))
}

// wantFile checks that file of ctrl holds want.
func (c *container) wantFile(t *testing.T, ctrl, file, want string) {
	t.Helper()
	if got := c.read(t, ctrl, file); got != want {
		t.Errorf("%s/%s = %q, want %q", ctrl, file, got, want)
	}
}

// int reads a file holding one number.
func (c *container) int(t *testing.T, ctrl, file string) int64 {
	t.Helper()
	s := c.read(t, ctrl, file)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s/%s: %q is not a number", ctrl, file, s)
	}
	return v
}

// keyed parses "key value" lines (memory.oom_control, cpu.stat, …).
func keyed(text string) map[string]string {
	out := map[string]string{}
	for _, l := range lines(text) {
		if k, v, ok := strings.Cut(l, " "); ok {
			out[k] = trim(v)
		}
	}
	return out
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

// listStatus is the status `list --format json` gives id.
func listStatus(t *testing.T, r *harness.Runner, id string) string {
	t.Helper()
	res := r.RT("list", "--format", "json")
	var list []api.Container
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &list) != nil {
		t.Fatalf("list: %s", res)
	}
	for _, c := range list {
		if c.ID == id {
			return string(c.Status)
		}
	}
	t.Fatalf("list: %s missing: %s", id, res)
	return ""
}

// savedResources is linux.resources of the spec in the runtime's state
// file (<root>/<id>/state.json): what a later update builds on.
func savedResources(t *testing.T, r *harness.Runner, id string) *specs.LinuxResources {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Root, id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Spec *specs.Spec `json:"spec"`
		// runc keeps the cgroup config instead; the test reads only rt's.
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	if st.Spec == nil || st.Spec.Linux == nil {
		t.Fatalf("state.json has no spec.linux: %s", data)
	}
	return st.Spec.Linux.Resources
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10s", what)
}

// rtStdin runs the runtime with stdin as its standard input.
func rtStdin(t *testing.T, r *harness.Runner, stdin string, args ...string) harness.Result {
	t.Helper()
	cmd := exec.Command(r.Bins.RT, append([]string{"--root", r.Root}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := harness.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

// eventStream is a running `events` command whose stdout lines arrive on
// Lines (closed at its end); Done is closed when it has exited, with Err.
type eventStream struct {
	cmd    *exec.Cmd
	Lines  chan string
	Done   chan struct{}
	Err    error
	stderr bytes.Buffer
}

// events starts `events <args> <id>` in the background; it is killed at
// cleanup if still running.
func events(t *testing.T, r *harness.Runner, id string, args ...string) *eventStream {
	t.Helper()
	cmd := exec.Command(r.Bins.RT, append(append([]string{"--root", r.Root, "events"}, args...), id)...)
	es := &eventStream{cmd: cmd, Lines: make(chan string, 1000), Done: make(chan struct{})}
	cmd.Stderr = &es.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			es.Lines <- sc.Text()
		}
		close(es.Lines)
		es.Err = cmd.Wait()
		close(es.Done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-es.Done:
		case <-time.After(5 * time.Second):
		}
	})
	return es
}

// event is one line of `events`.
type event struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// next returns the next event within d; ok is false on timeout or end.
func (es *eventStream) next(t *testing.T, d time.Duration) (ev event, line string, ok bool) {
	t.Helper()
	select {
	case line, ok = <-es.Lines:
		if !ok {
			return ev, "", false
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("events: line %q is not JSON: %v", line, err)
		}
		return ev, line, true
	case <-time.After(d):
		return ev, "", false
	}
}

// cgDirsNamed lists every directory named name[*] under any hierarchy.
func cgDirsNamed(prefix string) []string {
	var out []string
	for _, pat := range []string{filepath.Join(cgRoot, "*", prefix+"*"), filepath.Join(cgRoot, prefix+"*")} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				out = append(out, m)
			}
		}
	}
	return out
}

// rootDisk is major:minor of the whole disk backing path (a partition's
// disk when path is on a partition), as blkio throttling takes it.
func rootDisk(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Skipf("stat %s: %v", path, err)
	}
	major, minor := unix.Major(st.Dev), unix.Minor(st.Dev)
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)
	if _, err := os.Stat(sys); err != nil {
		t.Skipf("%s is not on a block device (%d:%d): %v", path, major, minor, err)
	}
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		data, err := os.ReadFile(filepath.Join(sys, "..", "dev"))
		if err != nil {
			t.Skipf("the disk of partition %d:%d: %v", major, minor, err)
		}
		return trim(string(data))
	}
	return fmt.Sprintf("%d:%d", major, minor)
}

// pathForCompare sets linux.cgroupsPath of the bundle b to /<id> when the
// tests run another runtime: runc takes an empty path as <id> below its own
// cgroup, rt as /<id>, where the tests look.
func pathForCompare(t *testing.T, b, id string) {
	t.Helper()
	if compared == "" {
		return
	}
	harness.EditConfig(t, b, func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + id })
}

// cgDirsContaining lists the directories under /sys/fs/cgroup, to depth 4,
// whose name contains s.
func cgDirsContaining(s string) []string {
	var out []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if strings.Contains(e.Name(), s) {
				out = append(out, p)
			}
			if depth < 4 {
				walk(p, depth+1)
			}
		}
	}
	walk(cgRoot, 1)
	return out
}
