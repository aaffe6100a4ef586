package security_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// createLeaking runs `rt create` from a shell that leaks fds into rt, as a
// careless caller does: a host directory (77), a host file (78, the test's
// own, never a real one: a failing run writes through it) and a pipe (79),
// none close-on-exec. It returns the init's pid.
func createLeaking(t *testing.T, r *harness.Runner, b, id string) int {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "host-file")
	if err := os.WriteFile(file, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`exec 77<%q 78<%q 79< <(true); exec "$@"`, dir, file)
	cmd := exec.Command("bash", "-c", script, "bash", r.Bins.RT, "--root", r.Root, "create", "--bundle", b, id)
	// A file, not a pipe: the init keeps rt's stdio until it execs.
	out := harness.TempFile(t)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(out.Name())
		t.Fatalf("rt create: %v: %s", err, data)
	}
	t.Cleanup(func() { r.RT("delete", "--force", id); r.AssertNoTrace(t, id, b) })
	res := r.RT("state", id)
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil || st.Pid <= 0 {
		t.Fatalf("state: %v: %s", err, res)
	}
	return st.Pid
}

// TestCreatedInitFds: in the created state, which lasts as long as the
// caller wants, the init holds only stdio, the sync socket, the exec fifo
// and anonymous inodes (the Go runtime's epoll and eventfd): no fd the
// caller leaked into rt, no host cgroup file the Go runtime kept open for
// GOMAXPROCS, no procfs handle of a library. Every one of them was reachable
// through /proc/1/fd by a privileged exec.
func TestCreatedInitFds(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("fds-created")
	pid := createLeaking(t, r, b, id)
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Name() == "0" || e.Name() == "1" || e.Name() == "2":
		case e.Name() == "3" && strings.HasPrefix(target, "socket:"):
		case e.Name() == "4" && strings.HasSuffix(target, "/exec.fifo"):
		case strings.HasPrefix(target, "anon_inode:"):
		default:
			t.Errorf("the created init holds fd %s -> %s", e.Name(), target)
		}
	}
}

// TestExecCannotWriteThroughInitFds is the reproduction of the issue: a
// privileged exec (CAP_SYS_PTRACE and CAP_DAC_OVERRIDE) writes "50000"
// through every fd of the created init; the host's CPU quota of the
// container stays what it was (the Go runtime's cpu.cfs_quota_us fd let the
// container lift its own limit).
func TestExecCannotWriteThroughInitFds(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		quota, period := int64(20000), uint64(100000)
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	})
	id := harness.ID("fds-write")
	createLeaking(t, r, b, id)
	quotaFile := filepath.Join("/sys/fs/cgroup/cpu", id, "cpu.cfs_quota_us")
	before, err := os.ReadFile(quotaFile)
	if err != nil {
		t.Fatalf("the container's CPU quota on the host (v1 cpu hierarchy): %v", err)
	}
	// Not fd 4: opening the fifo for writing would wait for start.
	script := `for f in /proc/1/fd/*; do case $f in */4) continue;; esac; timeout 2 sh -c "echo 50000 > $f" 2>/dev/null && echo "wrote $f"; done; true`
	res := r.RT("exec", "--cap", "CAP_SYS_PTRACE", "--cap", "CAP_DAC_OVERRIDE", id, "sh", "-c", script)
	if res.Code != 0 {
		t.Fatalf("exec: %s", res)
	}
	after, err := os.ReadFile(quotaFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("the container changed its CPU quota through the init's fds: %q -> %q (%s)", before, after, res.Stdout)
	}
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if l != "" && !strings.HasSuffix(l, "/0") && !strings.HasSuffix(l, "/1") && !strings.HasSuffix(l, "/2") {
			t.Errorf("the exec wrote through an fd of the init that is not stdio: %s", l)
		}
	}
}
