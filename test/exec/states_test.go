package exec_test

// exec at the edges: preserved fds, a user namespace, a stopped, unknown or
// paused container, many at once, failures that must leave nothing, a full
// pids cgroup.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	if left := harness.ProcessesWith(r.Root); len(left) > 0 {
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
