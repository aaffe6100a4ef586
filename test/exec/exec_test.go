// Package exec_test runs `rt exec` against real containers: a busybox
// bundle started with `rt run -d` whose init is `sleep 1000`, and checks
// from inside and from the host that the exec'd process is in the
// container's namespaces and cgroups, with the user, groups, capabilities,
// environment, cwd, fds and terminal asked for, and that rt exits with its
// status as runc does.
//
// With RT_TEST_COMPARE set to another runtime with runc's CLI (e.g.
// /usr/sbin/runc), the tests run that runtime instead of rt and the BUG
// skips are not taken: that is how each bug reported here was confirmed
// against runc.
package exec_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// TestExecSameNamespaces: the exec'd process is in the init's pid, network,
// ipc, uts, mount and cgroup namespaces: $$ is not 1 and ps shows the init's
// sleep as pid 1, the hostname is the container's, and the mount table is
// the init's.
func TestExecSameNamespaces(t *testing.T) {
	r := runner(t)
	c := start(t, r, "ns", func(s *specs.Spec) { s.Hostname = "exec-ns-host" })

	t.Run("pid", func(t *testing.T) {
		out := c.mustExec(t, nil, "sh", "-c", "echo $$; ps")
		self, ps, _ := strings.Cut(out, "\n")
		if n, err := strconv.Atoi(self); err != nil || n <= 1 {
			t.Errorf("$$ of the exec'd shell is %q, want a pid other than 1", self)
		}
		var pid1, me bool
		for _, line := range strings.Split(ps, "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && f[0] == "1" {
				pid1 = strings.Contains(line, "sleep 1000")
			}
			if len(f) > 0 && f[0] == self {
				me = true
			}
		}
		if !pid1 || !me {
			t.Errorf("ps in the exec'd process does not show pid 1 = the init's sleep (%v) and the shell %s (%v):\n%s", pid1, self, me, ps)
		}
	})

	t.Run("namespace inodes", func(t *testing.T) {
		kinds := []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"}
		out := c.mustExec(t, nil, "sh", "-c", "for n in "+strings.Join(kinds, " ")+"; do readlink /proc/self/ns/$n; done")
		got := strings.Fields(out)
		if len(got) != len(kinds) {
			t.Fatalf("namespace links: %q", out)
		}
		for i, k := range kinds {
			if init := nsLink(t, c.Pid, k); got[i] != init {
				t.Errorf("%s namespace of the exec'd process is %s, the init's %s", k, got[i], init)
			}
		}
	})

	t.Run("hostname", func(t *testing.T) {
		if out := c.mustExec(t, nil, "hostname"); out != "exec-ns-host\n" {
			t.Errorf("hostname in the exec'd process: %q, want the container's exec-ns-host", out)
		}
	})

	t.Run("mount table", func(t *testing.T) {
		out := c.mustExec(t, nil, "sh", "-c", "cat /proc/self/mountinfo; echo ---; cat /proc/1/mountinfo")
		self, init, ok := strings.Cut(out, "---\n")
		if !ok || self == "" || self != init {
			t.Errorf("/proc/self/mountinfo of the exec'd process differs from /proc/1/mountinfo:\n%s", out)
		}
		// The host renders a cgroup mount's root in its own cgroup
		// namespace: compare the mounts, not the text.
		if host := readFile(t, fmt.Sprintf("/proc/%d/mountinfo", c.Pid)); !slices.Equal(mounts(self), mounts(host)) {
			t.Errorf("the exec'd process's mounts are not the init's as the host reads them:\n%s\n---\n%s", self, host)
		}
		if !slices.ContainsFunc(mounts(self), func(m string) bool { return strings.HasSuffix(m, " /") }) {
			t.Errorf("no root mount in the exec'd process's mountinfo:\n%s", self)
		}
	})
}

// TestExecSameCgroup: the exec'd process is in the init's cgroups, in every
// hierarchy: /proc/self/cgroup equals /proc/1/cgroup inside (all "/" with a
// cgroup namespace, the container's path without one), and from the host a
// detached exec'd process's /proc/<pid>/cgroup equals the init's.
func TestExecSameCgroup(t *testing.T) {
	r := runner(t)
	for _, cgroupns := range []bool{true, false} {
		name := "with cgroup namespace"
		if !cgroupns {
			name = "without cgroup namespace"
		}
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			c := start(t, r, "cgroup", func(s *specs.Spec) {
				s.Linux.Namespaces = without(s.Linux.Namespaces, specs.CgroupNamespace)
				if cgroupns {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
				}
			})
			out := c.mustExec(t, nil, "sh", "-c", "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup")
			self, init, ok := strings.Cut(out, "---\n")
			if !ok || self == "" || self != init {
				t.Errorf("/proc/self/cgroup of the exec'd process differs from /proc/1/cgroup:\n%s", out)
			}
			for _, line := range strings.Split(strings.TrimSpace(self), "\n") {
				parts := strings.SplitN(line, ":", 3)
				if len(parts) != 3 {
					t.Fatalf("cgroup line %q", line)
				}
				if cgroupns && parts[2] != "/" {
					t.Errorf("with a cgroup namespace the exec'd process sees %q, want /", line)
				}
				if !cgroupns && !strings.Contains(parts[2], c.ID) {
					t.Errorf("without a cgroup namespace the exec'd process sees %q, want the container's cgroup", line)
				}
			}
			pidFile := filepath.Join(t.TempDir(), "pid")
			if res := c.exec([]string{"-d", "--pid-file", pidFile}, "sleep", "1000"); res.Code != 0 {
				t.Fatalf("exec -d: %s", res)
			}
			pid := readPidFile(t, pidFile)
			if got, want := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid)), readFile(t, fmt.Sprintf("/proc/%d/cgroup", c.Pid)); got != want {
				t.Errorf("from the host, the exec'd process's cgroups are\n%s\nthe init's\n%s", got, want)
			}
			if pids := psPids(t, r, c.ID); !slices.Contains(pids, pid) {
				t.Errorf("ps --format json %v does not list the exec'd process %d", pids, pid)
			}
		})
	}
}

// TestExecUserGroupsCapsNoNewPrivs: -u, -g, --cap and --no-new-privs set
// what /proc/self/status shows; without them the process has the
// container's user and capabilities.
func TestExecUserGroupsCapsNoNewPrivs(t *testing.T) {
	r := runner(t)
	c := start(t, r, "creds", nil)
	status := func(t *testing.T, flags ...string) map[string]string {
		t.Helper()
		return fields(c.mustExec(t, flags, "cat", "/proc/self/status"), ":")
	}
	const capSysAdmin = 21
	hasCap := func(mask string, bit int) bool {
		m, err := strconv.ParseUint(mask, 16, 64)
		return err == nil && m&(1<<bit) != 0
	}
	initStatus := fields(readFile(t, fmt.Sprintf("/proc/%d/status", c.Pid)), ":")

	t.Run("default", func(t *testing.T) {
		st := status(t)
		want(t, "exec without flags", st, map[string]string{
			"Uid": "0\t0\t0\t0", "Gid": "0\t0\t0\t0", "Groups": "",
			"CapEff": initStatus["CapEff"], "CapPrm": initStatus["CapPrm"], "CapBnd": initStatus["CapBnd"],
			"NoNewPrivs": "1",
		})
		if hasCap(st["CapEff"], capSysAdmin) {
			t.Errorf("CAP_SYS_ADMIN is effective without --cap: %s", st["CapEff"])
		}
	})
	t.Run("user", func(t *testing.T) {
		want(t, "-u 1000:1000", status(t, "-u", "1000:1000"), map[string]string{
			"Uid": "1000\t1000\t1000\t1000", "Gid": "1000\t1000\t1000\t1000",
		})
		want(t, "-u 1000", status(t, "-u", "1000"), map[string]string{
			"Uid": "1000\t1000\t1000\t1000", "Gid": "0\t0\t0\t0",
		})
		if out := c.mustExec(t, []string{"--user", "1000:1000"}, "sh", "-c", "id -u; id -g"); out != "1000\n1000\n" {
			t.Errorf("id -u; id -g with --user 1000:1000: %q", out)
		}
	})
	t.Run("additional gids", func(t *testing.T) {
		want(t, "-g 10 -g 20", status(t, "-g", "10", "-g", "20"), map[string]string{"Groups": "10 20", "Gid": "0\t0\t0\t0"})
		want(t, "-u 1000:1000 -g 20", status(t, "-u", "1000:1000", "-g", "20"), map[string]string{"Groups": "20", "Gid": "1000\t1000\t1000\t1000"})
	})
	t.Run("cap", func(t *testing.T) {
		st := status(t, "--cap", "CAP_SYS_ADMIN")
		if !hasCap(st["CapEff"], capSysAdmin) || !hasCap(st["CapBnd"], capSysAdmin) {
			t.Errorf("--cap CAP_SYS_ADMIN: CapEff %s, CapBnd %s, want bit %d in both", st["CapEff"], st["CapBnd"], capSysAdmin)
		}
		eff, _ := strconv.ParseUint(st["CapEff"], 16, 64)
		def, _ := strconv.ParseUint(initStatus["CapEff"], 16, 64)
		if eff != def|1<<capSysAdmin {
			t.Errorf("--cap CAP_SYS_ADMIN: CapEff %s, want the container's %s plus bit %d", st["CapEff"], initStatus["CapEff"], capSysAdmin)
		}
	})
	t.Run("no new privs", func(t *testing.T) {
		c := start(t, r, "nnp", func(s *specs.Spec) { s.Process.NoNewPrivileges = false })
		st := fields(c.mustExec(t, nil, "cat", "/proc/self/status"), ":")
		want(t, "exec into a container without noNewPrivileges", st, map[string]string{"NoNewPrivs": "0"})
		st = fields(c.mustExec(t, []string{"--no-new-privs"}, "cat", "/proc/self/status"), ":")
		want(t, "--no-new-privs", st, map[string]string{"NoNewPrivs": "1"})
	})
}

// TestExecEnvAndCwd: --env adds a variable or replaces one of the
// container's (PATH, also used to find the program), keeping the others;
// --cwd sets the working directory, else it is the container's.
func TestExecEnvAndCwd(t *testing.T) {
	r := runner(t)
	c := start(t, r, "env", nil)
	out := c.mustExec(t, []string{"--env", "FOO=bar", "--env", "PATH=/custom:/bin"}, "sh", "-c",
		`echo "FOO=$FOO"; echo "PATH=$PATH"; echo "TERM=$TERM"; echo "PATHS=$(env | grep -c ^PATH=)"`)
	want(t, "--env", fields(out, "="), map[string]string{"FOO": "bar", "PATH": "/custom:/bin", "TERM": "xterm", "PATHS": "1"})

	if out := c.mustExec(t, []string{"--cwd", "/tmp"}, "pwd"); out != "/tmp\n" {
		t.Errorf("pwd with --cwd /tmp: %q", out)
	}
	if out := c.mustExec(t, nil, "pwd"); out != "/\n" {
		t.Errorf("pwd without --cwd: %q, want the container's /", out)
	}
}

// TestExecExitCodes: rt exec exits with the process's status (128+N for
// signal N), and 255 when the process cannot be set up.
func TestExecExitCodes(t *testing.T) {
	r := runner(t)
	c := start(t, r, "exit", nil)
	for _, tc := range []struct {
		cmd  []string
		want int
	}{
		{sh("exit 0"), 0},
		{sh("exit 7"), 7},
		{sh("kill -9 $$"), 137}, // $$ is not pid 1: the signal is not ignored
		{sh("kill -15 $$"), 143},
	} {
		if res := c.exec(nil, tc.cmd...); res.Code != tc.want {
			t.Errorf("exec %q: %s, want exit %d", tc.cmd, res, tc.want)
		}
	}
	res := c.exec(nil, "no-such-program")
	if res.Code != 255 || !strings.Contains(res.Stderr, "executable file not found in $PATH") {
		t.Errorf("exec of a missing program: %s, want exit 255 and \"executable file not found in $PATH\"", res)
	}
	if st := state(t, r, c.ID); st.Status != api.StatusRunning {
		t.Errorf("container after a failed exec: %s", st.Status)
	}
	waitFor(t, "only the init left after the failed exec", func() bool { return slices.Equal(psPids(t, r, c.ID), []int{c.Pid}) })
}

// TestExecSignalForwarding: a signal to a foreground rt exec reaches the
// process, and rt exits with the status the process chose.
func TestExecSignalForwarding(t *testing.T) {
	r := runner(t)
	c := start(t, r, "sig", nil)
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", c.ID, "sh", "-c",
		`trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the exec'd process did not start: %q %v", buf, err)
	}
	cmd.Process.Signal(unix.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("rt exec did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Errorf("rt exec after SIGTERM exited %d, want 42 from the process's trap", code)
	}
}

// TestExecDetachPidFile: exec -d returns at once with status 0, leaving the
// process running; --pid-file holds its host pid (decimal, no newline),
// relative paths being relative to rt's working directory.
func TestExecDetachPidFile(t *testing.T) {
	r := runner(t)
	c := start(t, r, "detach", nil)
	for _, rel := range []bool{false, true} {
		dir := t.TempDir()
		arg, path := filepath.Join(dir, "exec.pid"), filepath.Join(dir, "exec.pid")
		if rel {
			arg = "exec.pid"
		}
		began := time.Now()
		res := rtIn(t, r, dir, nil, "exec", "-d", "--pid-file", arg, c.ID, "sleep", "999")
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("exec -d took %v", took)
		}
		if res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("exec -d --pid-file %s: %s", arg, res)
		}
		pid := readPidFile(t, path)
		if got := comm(pid); got != "sleep" {
			t.Errorf("pid file (%s) names %d, whose comm is %q, want sleep", arg, pid, got)
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmdline) != "sleep\x00999\x00" {
			t.Errorf("exec'd process %d has cmdline %q", pid, cmdline)
		}
		if got, want := nsLink(t, pid, "pid"), nsLink(t, c.Pid, "pid"); got != want {
			t.Errorf("exec'd process in pid namespace %s, the init in %s", got, want)
		}
	}
}

// TestExecProcessFile: --process takes a runtime-spec Process (as
// containerd and podman pass it) as the whole process: its args, env, cwd
// and user, not the container's.
func TestExecProcessFile(t *testing.T) {
	r := runner(t)
	c := start(t, r, "procfile", nil)
	p := specs.Process{
		Args: sh(`id -u; id -g; grep ^Groups: /proc/self/status; echo "FOO=$FOO"; echo "TERM=$TERM"; pwd; exit 9`),
		Env:  []string{"PATH=/bin", "FOO=from-process-json"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{30}},
	}
	data, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--process", "-p"} {
		res := c.exec([]string{flag, path})
		if res.Code != 9 {
			t.Errorf("exec %s: %s, want exit 9", flag, res)
		}
		if want := "1000\n1000\nGroups:\t30 \nFOO=from-process-json\nTERM=\n/tmp\n"; res.Stdout != want {
			t.Errorf("exec %s: output %q, want %q", flag, res.Stdout, want)
		}
	}
}

// execWarnings runs `rt exec` with rt's log in a JSON file and returns the
// result and the messages of the log's warnings.
func execWarnings(t *testing.T, c *container, flags []string, cmd ...string) (harness.Result, []string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "rt.log")
	args := append([]string{"--log", log, "--log-format", "json", "exec"}, flags...)
	res := c.r.RT(append(append(args, c.ID), cmd...)...)
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ws []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct{ Level, Msg string }
		if l != "" && json.Unmarshal([]byte(l), &rec) == nil && rec.Level == "warning" {
			ws = append(ws, rec.Msg)
		}
	}
	return res, ws
}

// TestExecCapabilitiesSkippedWithWarning: in a process given to exec
// (--process, or --cap), capability names rt or the kernel does not know
// are skipped, and ambient capabilities not also permitted and inheritable
// are not raised, with one warning in rt's log for each, as at create and as
// runc does. rt refused an unknown --cap ("unknown capability") and dropped
// the ambient ones without a word.
func TestExecCapabilitiesSkippedWithWarning(t *testing.T) {
	r := runner(t)
	c := start(t, r, "capwarn", nil)
	const capChown, capKill = 0, 5
	p := specs.Process{
		Args: []string{"grep", "^Cap", "/proc/self/status"},
		Env:  []string{"PATH=/bin"},
		Cwd:  "/",
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_BOGUS"},
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_BOGUS"},
			Effective:   []string{"CAP_CHOWN"},
			Inheritable: []string{"CAP_CHOWN"},
			Ambient:     []string{"CAP_CHOWN", "CAP_KILL"},
		},
	}
	path := filepath.Join(t.TempDir(), "process.json")
	writeJSON := func(p specs.Process) {
		data, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mask := func(caps ...int) string {
		var m uint64
		for _, c := range caps {
			m |= 1 << c
		}
		return fmt.Sprintf("%016x", m)
	}
	check := func(t *testing.T, flags []string, wantCaps map[string]string, unknown, ambient []string, cmd ...string) {
		t.Helper()
		res, ws := execWarnings(t, c, flags, cmd...)
		if res.Code != 0 {
			t.Fatalf("exec %v: %s", flags, res)
		}
		want(t, fmt.Sprintf("exec %v", flags), fields(res.Stdout, ":"), wantCaps)
		if compared != "" {
			return
		}
		var gotUnknown, gotAmbient []string
		for _, w := range ws {
			switch {
			case strings.Contains(w, "ignoring unknown or unavailable capabilities"):
				gotUnknown = append(gotUnknown, w)
			case strings.Contains(w, "can't raise ambient capabilities"):
				gotAmbient = append(gotAmbient, w)
			default:
				t.Errorf("exec %v: warning %q", flags, w)
			}
		}
		for _, g := range []struct {
			what      string
			got, want []string
		}{{"unknown", gotUnknown, unknown}, {"ambient", gotAmbient, ambient}} {
			if len(g.want) == 0 && len(g.got) > 0 || len(g.want) > 0 && len(g.got) != 1 {
				t.Errorf("exec %v: %s warnings %q, want one naming %q", flags, g.what, g.got, g.want)
				continue
			}
			for _, n := range g.want {
				if !strings.Contains(g.got[0], n) {
					t.Errorf("exec %v: warning %q does not name %s", flags, g.got[0], n)
				}
			}
		}
	}
	t.Run("process file", func(t *testing.T) {
		writeJSON(p)
		check(t, []string{"--process", path}, map[string]string{
			"CapBnd": mask(capChown, capKill), "CapPrm": mask(capChown, capKill), "CapInh": mask(capChown), "CapAmb": mask(capChown),
		}, []string{"CAP_BOGUS"}, []string{"CAP_KILL"})
	})
	t.Run("ambient only", func(t *testing.T) {
		q := p
		caps := *p.Capabilities
		caps.Bounding, caps.Permitted = caps.Bounding[:2], caps.Permitted[:2]
		q.Capabilities = &caps
		writeJSON(q)
		check(t, []string{"--process", path}, map[string]string{"CapAmb": mask(capChown)}, nil, []string{"CAP_KILL"})
	})
	t.Run("cap flag", func(t *testing.T) {
		check(t, []string{"--cap", "CAP_BOGUS", "--cap", "CAP_KILL"}, map[string]string{"CapAmb": mask()}, []string{"CAP_BOGUS"}, nil,
			"grep", "^Cap", "/proc/self/status")
	})
}

// TestExecPreserveFds: --preserve-fds 1 passes rt's fd 3 as the process's
// fd 3, and no other fd above 2 (rt's fd 4 stays out).
func TestExecPreserveFds(t *testing.T) {
	r := runner(t)
	c := start(t, r, "preserve", nil)
	dir := t.TempDir()
	var files []*os.File
	for _, name := range []string{"three", "four"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("data-of-"+name+"\n"), 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	res := rtIn(t, r, "", files, "exec", "--preserve-fds", "1", c.ID, "sh", "-c",
		`cat <&3; readlink /proc/self/fd/3; ls /proc/$$/fd; echo end`)
	if res.Code != 0 {
		t.Fatalf("exec --preserve-fds 1: %s", res)
	}
	lines := strings.SplitN(res.Stdout, "\n", 3)
	if len(lines) != 3 || lines[0] != "data-of-three" || !strings.HasSuffix(lines[1], "/three") {
		t.Errorf("fd 3 is not rt's fd 3 (%s/three): %q", dir, res.Stdout)
	}
	if len(lines) == 3 && !slices.Equal(strings.Fields(lines[2]), []string{"0", "1", "2", "3", "end"}) {
		t.Errorf("the exec'd process's fds are %q, want 0-3", lines[2])
	}
}

// userNSBundle is a bundle with a user namespace mapping container
// 0-65535 to host 100000-165535, its rootfs owned by the container's root.
// The network namespace stays: /sys (sysfs) needs one owned by the
// container's user namespace.
func userNSBundle(t *testing.T, args []string) string {
	b := bundle(t, args, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Root.Readonly = false
	})
	err := filepath.Walk(filepath.Join(b, "rootfs"), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 100000, 100000)
	})
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir makes 0700 dirs: the container's root must be able to
	// walk to its rootfs.
	for _, d := range []string{b, filepath.Dir(b)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestExecUserNamespace: exec into a container with a user namespace joins
// it: uid 0 inside, the mapping in /proc/self/uid_map, and on the host the
// process runs as the mapped uid (100000, or 101000 for -u 1000).
func TestExecUserNamespace(t *testing.T) {
	r := runner(t)
	c := startBundle(t, r, "userns", userNSBundle(t, []string{"sleep", "1000"}))
	out := c.mustExec(t, nil, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	if !slices.Equal(lines, []string{"0", "0", "0 100000 65536", "0 100000 65536"}) {
		t.Errorf("id and maps in the exec'd process: %q", lines)
	}
	for _, tc := range []struct {
		flags []string
		uid   string
	}{
		{nil, "100000"},
		{[]string{"-u", "1000:1000"}, "101000"},
	} {
		pidFile := filepath.Join(t.TempDir(), "pid")
		if res := c.exec(append([]string{"-d", "--pid-file", pidFile}, tc.flags...), "sleep", "999"); res.Code != 0 {
			t.Fatalf("exec -d %v: %s", tc.flags, res)
		}
		pid := readPidFile(t, pidFile)
		ids := strings.Repeat(tc.uid+"\t", 3) + tc.uid
		want(t, fmt.Sprintf("exec'd process %v on the host", tc.flags), fields(readFile(t, fmt.Sprintf("/proc/%d/status", pid)), ":"),
			map[string]string{"Uid": ids, "Gid": ids})
		if got, init := nsLink(t, pid, "user"), nsLink(t, c.Pid, "user"); got != init {
			t.Errorf("exec'd process in user namespace %s, the init in %s", got, init)
		}
	}
}

// TestExecStoppedOrUnknownContainer: exec into a stopped container fails
// with a clear error and does not revive it; into an unknown container it
// fails with exit 255 and "does not exist", as runc.
func TestExecStoppedOrUnknownContainer(t *testing.T) {
	r := runner(t)
	c := start(t, r, "stopped", nil)
	if res := r.RT("kill", c.ID, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	waitFor(t, "container stopped", func() bool { return state(t, r, c.ID).Status == api.StatusStopped })
	res := c.exec(nil, "true")
	if res.Code == 0 || !(strings.Contains(res.Stderr, "stopped") || strings.Contains(res.Stderr, "not running")) {
		t.Errorf("exec into a stopped container: %s, want an error saying it is stopped", res)
	}
	if res.Code != 255 {
		t.Errorf("exec into a stopped container exits %d, runc's 255", res.Code)
	}
	if st := state(t, r, c.ID); st.Status != api.StatusStopped {
		t.Errorf("container after exec: %s", st.Status)
	}

	res = r.RT("exec", harness.ID("nosuch"), "true")
	if res.Code != 255 || !strings.Contains(res.Stderr, "does not exist") {
		t.Errorf("exec into an unknown container: %s, want exit 255 and \"does not exist\"", res)
	}
}

// TestExecPaused: exec into a paused container is refused (exit 255, a
// message saying it is paused); with --ignore-paused it is allowed, and the
// process, frozen with the container, runs once it is resumed.
func TestExecPaused(t *testing.T) {
	r := runner(t)
	c := start(t, r, "paused", func(s *specs.Spec) { s.Root.Readonly = false })
	res := r.RT("pause", c.ID)
	if res.Code != 0 {
		if strings.Contains(res.Stderr, "not implemented") {
			t.Skipf("rt pause is not implemented yet: %s", strings.TrimSpace(res.Stderr))
		}
		t.Fatalf("pause: %s", res)
	}
	t.Cleanup(func() { r.RT("resume", c.ID) }) // before delete --force
	if st := state(t, r, c.ID); st.Status != api.StatusPaused {
		t.Fatalf("state after pause: %s", st.Status)
	}
	res = c.exec(nil, "true")
	if res.Code != 255 || !strings.Contains(res.Stderr, "paused") {
		t.Errorf("exec into a paused container: %s, want exit 255 and a message saying it is paused", res)
	}

	marker := filepath.Join(c.Bundle, "rootfs/tmp/ran")
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", "-d", "--ignore-paused", "--pid-file", pidFile, c.ID,
		"sh", "-c", "echo ran > /tmp/ran")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the exec'd process ran in a frozen container")
	}
	if res := r.RT("resume", c.ID); res.Code != 0 {
		t.Fatalf("resume: %s", res)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exec -d --ignore-paused: %v: %s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("exec -d --ignore-paused did not return after resume: %s", out.String())
	}
	waitFor(t, "the exec'd process ran after resume", func() bool {
		data, _ := os.ReadFile(marker)
		return string(data) == "ran\n"
	})
}

// TestExecConcurrent: 100 execs into one container at once all succeed,
// each its own process, and leave no zombie and no process behind.
func TestExecConcurrent(t *testing.T) {
	r := runner(t)
	c := start(t, r, "conc", nil)
	const n = 100
	type result struct {
		code         int
		out, errText string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", c.ID, "sh", "-c", "echo $$")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			results[i] = result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
			if err != nil && cmd.ProcessState == nil {
				results[i] = result{-1, "", err.Error()}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	failed := 0
	for i, res := range results {
		pid := strings.TrimSpace(res.out)
		if res.code != 0 || pid == "" || pid == "1" || seen[pid] {
			failed++
			if failed <= 5 {
				t.Errorf("exec #%d: exit %d, stdout %q, stderr %q", i, res.code, res.out, res.errText)
			}
		}
		seen[pid] = true
	}
	if failed > 0 {
		t.Errorf("%d of %d concurrent execs failed", failed, n)
	}
	waitFor(t, "ps shows only the init", func() bool { return slices.Equal(psPids(t, r, c.ID), []int{c.Pid}) })
	if z := zombies(c); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
	if left := processesWith(r.Root); len(left) > 0 {
		t.Errorf("runtime processes left: %v", left)
	}
}

// zombies lists the zombies related to container c: children of its init,
// in its cgroup, or whose parent is gone.
func zombies(c *container) []string {
	var out []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] != "Z" {
			continue
		}
		dir := filepath.Dir(p)
		ppid, _ := strconv.Atoi(f[1])
		cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
		_, perr := os.Stat(fmt.Sprintf("/proc/%d", ppid))
		if ppid == c.Pid || strings.Contains(string(cg), c.ID) || perr != nil {
			out = append(out, fmt.Sprintf("%s (parent %d): %s", filepath.Base(dir), ppid, strings.TrimSpace(s)))
		}
	}
	return out
}

// processesWith lists the pids whose command line has arg (other than this
// test's own).
func processesWith(arg string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err != nil || !slices.Contains(strings.Split(string(data), "\x00"), arg) {
			continue
		}
		pid := filepath.Base(filepath.Dir(p))
		if pid != strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

// children lists this process's children, zombies included, but for the
// suite's reaper.
func children() map[int]string {
	out := map[int]string{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if harness.IsSuiteReaper(pid) {
			continue
		}
		out[pid] = strings.TrimSpace(s)
	}
	return out
}

// TestExecSetupFailureReapsProcess: when the process cannot be set up
// (program not found, a cwd that is not a directory, a program the kernel
// cannot execute) rt exec exits 255 having reaped the process it started,
// as runc does. An unreaped one is left to whoever adopts orphans: a zombie
// in the container's pid namespace (visible in its ps, and holding up the
// namespace's teardown on delete until reaped). The test is a child
// subreaper meanwhile, so that such an orphan comes to it, not to the
// host's init (which may reap it before it is seen).
func TestExecSetupFailureReapsProcess(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	if err := os.WriteFile(filepath.Join(b, "rootfs/bad"), []byte("not a program\x00\x01\x02"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := startBundle(t, r, "reap", b)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	var orphans []string
	for _, tc := range []struct {
		flags []string
		cmd   []string
		words string
	}{
		{nil, []string{"no-such-program"}, "executable file not found in $PATH"},
		{[]string{"--cwd", "/etc/passwd"}, []string{"true"}, "not a directory"},
		{nil, []string{"/bad"}, "exec format error"},
	} {
		res := c.exec(tc.flags, tc.cmd...)
		// runc 1.1 reports a failed execve as the process's exit 1.
		lenient := compared != "" && tc.cmd[0] == "/bad" && res.Code != 0
		if (res.Code != 255 && !lenient) || !strings.Contains(res.Stderr, tc.words) {
			t.Errorf("exec %v %v: %s, want exit 255 and %q", tc.flags, tc.cmd, res, tc.words)
		}
		// An orphan is reparented when rt exits, before this runs; give a
		// process still dying a moment to become a zombie.
		time.Sleep(20 * time.Millisecond)
		for pid, stat := range children() {
			f := strings.Fields(stat)
			orphans = append(orphans, fmt.Sprintf("after exec %v %v: pid %d %s state %s", tc.flags, tc.cmd, pid, f[1], f[2]))
			unix.Kill(pid, unix.SIGKILL)
			unix.Wait4(pid, nil, 0, nil)
		}
	}
	if len(orphans) > 0 {
		bug(t, "a failed exec leaves its process unreaped (a zombie in the container's pid namespace, "+
			"adopted by the host's init or a subreaper): pkg/runtime/exec.go Exec's failure path does "+
			"unix.Kill(pid, SIGKILL) then reapIfChild(pid), whose wait4 has WNOHANG and so returns before "+
			"the killed (or exiting) process is dead; wait for it without WNOHANG after the SIGKILL "+
			"(it cannot block: the process is rt's child and was killed), as runc's terminate() does: "+
			strings.Join(orphans, "; "))
		t.Errorf("processes rt exec left unreaped:\n%s", strings.Join(orphans, "\n"))
	}
}

// TestExecAtPidsLimit: exec into a container whose pids cgroup is full fails,
// as runc's does, with one line that points at the limit, and leaves
// nothing behind: the exec'd process would be one process too many.
func TestExecAtPidsLimit(t *testing.T) {
	r := runner(t)
	c := start(t, r, "pidsfull", func(s *specs.Spec) {
		one := int64(1)
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &one}}
	})
	res := c.exec(nil, "true")
	if res.Code == 0 {
		t.Fatalf("exec into a full pids cgroup succeeded: %s", res)
	}
	if harness.Compared == "" && (!strings.Contains(res.Stderr, "pids limit") || strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0) {
		t.Errorf("error %q: want one line naming the pids limit", res.Stderr)
	}
	data, err := os.ReadFile("/sys/fs/cgroup/pids/" + c.ID + "/cgroup.procs")
	if err != nil {
		t.Skipf("no v1 pids hierarchy to count the container's processes: %v", err)
	}
	if pids := strings.Fields(string(data)); len(pids) != 1 {
		t.Errorf("processes in the container after the failed exec: %v, want only the init", pids)
	}
}
