package exec_test

// What the exec'd process gets: namespaces, cgroups, user, groups,
// capabilities, environment, cwd, exit codes, signals, pid file, process file.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

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
