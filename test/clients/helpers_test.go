package clients_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// ---- containerd helpers ----

// runDetached is `ctr run -d` of a container whose init is cmd (it must
// keep running); it returns the init's host pid once the task runs.
func (c *containerd) runDetached(t *testing.T, id string, flags []string, cmd ...string) int {
	t.Helper()
	res := c.run(t, cmdOpts{}, id, append([]string{"--detach"}, flags...), cmd...)
	if res.code != 0 {
		t.Fatalf("ctr run -d: %s", res)
	}
	var pid int
	harness.WaitFor(t, 10*time.Second, "task "+id+" running", func() bool {
		var status string
		pid, status = c.task(t, id)
		return status == "RUNNING"
	})
	return pid
}

// task is the pid and status of task id as `ctr task ls` shows them ("" if
// it is not listed).
func (c *containerd) task(t *testing.T, id string) (int, string) {
	t.Helper()
	res := c.ctr(t, cmdOpts{}, "task", "ls")
	if res.code != 0 {
		t.Fatalf("ctr task ls: %s", res)
	}
	for _, line := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return pid, f[2]
		}
	}
	return 0, ""
}

// waitStatus waits for task id to have the status ctr shows as status.
func (c *containerd) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	harness.WaitFor(t, 10*time.Second, "task "+id+" "+status, func() bool { _, s := c.task(t, id); return s == status })
}

// exec is `ctr task exec --exec-id <unique> <flags> <id> <cmd...>`.
func (c *containerd) exec(t *testing.T, o cmdOpts, id string, flags []string, cmd ...string) result {
	t.Helper()
	args := append([]string{"task", "exec", "--exec-id", "x" + uniq(), "--fifo-dir", c.fifoDir}, flags...)
	args = append(args, id)
	return c.ctr(t, o, append(args, cmd...)...)
}

// ---- podman helpers ----

// runDetached is `podman run -d` of a container whose init is cmd; it
// returns the init's host pid.
func (p *podman) runDetached(t *testing.T, c *pctr, flags []string, cmd ...string) int {
	t.Helper()
	res := p.run(t, cmdOpts{}, c, append([]string{"--detach"}, flags...), cmd...)
	if res.code != 0 {
		t.Fatalf("podman run -d: %s", res)
	}
	return p.pid(t, c)
}

// inspect is `podman inspect --format <format> <name>`, trimmed.
func (p *podman) inspect(t *testing.T, c *pctr, format string) string {
	t.Helper()
	res := p.podman(t, cmdOpts{}, "inspect", "--format", format, c.name)
	if res.code != 0 {
		t.Fatalf("podman inspect: %s", res)
	}
	return strings.TrimSpace(res.stdout)
}

// pid is the host pid of the container's init, as podman knows it.
func (p *podman) pid(t *testing.T, c *pctr) int {
	t.Helper()
	pid, err := strconv.Atoi(p.inspect(t, c, "{{.State.Pid}}"))
	if err != nil || pid <= 0 {
		t.Fatalf("podman inspect: no pid (%v)", err)
	}
	return pid
}

// ---- host helpers ----

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

func nsOf(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// cgroupOf is the path of pid's cgroup in the v1 hierarchy of controller
// (e.g. "memory"), or its cgroup2 path when controller is "".
func cgroupOf(t *testing.T, pid int, controller string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				return f[2]
			}
		}
	}
	t.Fatalf("no %q cgroup in /proc/%d/cgroup:\n%s", controller, pid, data)
	return ""
}

// hostCgroupFile reads the file of pid's cgroup in controller's hierarchy.
func hostCgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	path := filepath.Join("/sys/fs/cgroup", controller, cgroupOf(t, pid, controller), file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// slowEOF reads as data, then blocks for d before its EOF.
func slowEOF(data string, d time.Duration) io.Reader {
	return &delayedEOF{data: data, d: d}
}

type delayedEOF struct {
	data string
	d    time.Duration
}

func (r *delayedEOF) Read(p []byte) (int, error) {
	if r.data != "" {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	time.Sleep(r.d)
	return 0, io.EOF
}
