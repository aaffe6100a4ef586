package clients_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// TestPauseResume: the client's pause freezes the container's cgroup and
// its status says so; resume thaws it.
func TestPauseResume(t *testing.T) {
	s := getSuite(t)
	freezer := func(t *testing.T, pid int) string { return hostCgroupFile(t, pid, "freezer", "freezer.state") }
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "pause-" + uniq()
		pid := cd.runDetached(t, id, nil, "sleep", "1000")
		if res := cd.ctr(t, cmdOpts{}, "task", "pause", id); res.code != 0 {
			t.Fatalf("pause: %s", res)
		}
		if _, st := cd.task(t, id); st != "PAUSED" || freezer(t, pid) != "FROZEN" {
			t.Errorf("after pause: status %s, freezer %s; want PAUSED, FROZEN", st, freezer(t, pid))
		}
		if res := cd.ctr(t, cmdOpts{}, "task", "resume", id); res.code != 0 {
			t.Fatalf("resume: %s", res)
		}
		if _, st := cd.task(t, id); st != "RUNNING" || freezer(t, pid) != "THAWED" {
			t.Errorf("after resume: status %s, freezer %s; want RUNNING, THAWED", st, freezer(t, pid))
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "pause")
		pid := pm.runDetached(t, c, nil, "sleep", "1000")
		if res := pm.podman(t, cmdOpts{}, "pause", c.name); res.code != 0 {
			t.Fatalf("pause: %s", res)
		}
		if st := pm.inspect(t, c, "{{.State.Status}}"); st != "paused" || freezer(t, pid) != "FROZEN" {
			t.Errorf("after pause: status %s, freezer %s; want paused, FROZEN", st, freezer(t, pid))
		}
		if res := pm.podman(t, cmdOpts{}, "unpause", c.name); res.code != 0 {
			t.Fatalf("unpause: %s", res)
		}
		if st := pm.inspect(t, c, "{{.State.Status}}"); st != "running" || freezer(t, pid) != "THAWED" {
			t.Errorf("after unpause: status %s, freezer %s; want running, THAWED", st, freezer(t, pid))
		}
	})
}

// TestKillDelete: the client kills a running container and deletes it;
// the status is 128+9 and no cgroup dir of the container is left.
func TestKillDelete(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "kill-" + uniq()
		pid := cd.runDetached(t, id, nil, "sleep", "1000")
		if res := cd.ctr(t, cmdOpts{}, "task", "kill", "--signal", "SIGKILL", id); res.code != 0 {
			t.Fatalf("kill: %s", res)
		}
		cd.waitStatus(t, id, "STOPPED")
		if alive(pid) {
			t.Errorf("init %d alive after kill", pid)
		}
		res := cd.ctr(t, cmdOpts{}, "task", "delete", id)
		if res.code != 0 {
			t.Fatalf("task delete: %s", res)
		}
		if res := cd.ctr(t, cmdOpts{}, "containers", "delete", id); res.code != 0 {
			t.Fatalf("containers delete: %s", res)
		}
		cd.assertNoTrace(t, id)
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "kill")
		pid := pm.runDetached(t, c, nil, "sleep", "1000")
		if res := pm.podman(t, cmdOpts{}, "kill", c.name); res.code != 0 {
			t.Fatalf("kill: %s", res)
		}
		if res := pm.podman(t, cmdOpts{}, "wait", c.name); res.code != 0 || strings.TrimSpace(res.stdout) != "137" {
			t.Errorf("podman wait after kill: want 137: %s", res)
		}
		if alive(pid) {
			t.Errorf("init %d alive after kill", pid)
		}
		if res := pm.podman(t, cmdOpts{}, "rm", c.name); res.code != 0 {
			t.Fatalf("rm: %s", res)
		}
		pm.assertNoTrace(t, c.id(t))
	})
}

// ignoreTerm is an init that ignores SIGTERM.
var ignoreTerm = []string{"sh", "-c", `trap "" TERM; while :; do sleep 1; done`}

// TestStopEscalation: a container ignoring SIGTERM is stopped by SIGKILL
// once the client's timeout passes: status 137.
func TestStopEscalation(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		// ctr has no stop: its parts, kill TERM then kill KILL.
		cd := s.containerd(t)
		id := "stop-" + uniq()
		pid := cd.runDetached(t, id, nil, ignoreTerm...)
		if res := cd.ctr(t, cmdOpts{}, "task", "kill", "--signal", "SIGTERM", id); res.code != 0 {
			t.Fatalf("kill TERM: %s", res)
		}
		time.Sleep(time.Second)
		if _, st := cd.task(t, id); st != "RUNNING" || !alive(pid) {
			t.Fatalf("SIGTERM stopped the container (%s) that ignores it", st)
		}
		if res := cd.ctr(t, cmdOpts{}, "task", "kill", "--signal", "SIGKILL", id); res.code != 0 {
			t.Fatalf("kill KILL: %s", res)
		}
		cd.waitStatus(t, id, "STOPPED")
		res := cd.ctr(t, cmdOpts{}, "task", "delete", id)
		if res.code != 0 || !strings.Contains(res.out(), "137") {
			t.Errorf("task delete: want exit status 137: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "stop")
		pm.runDetached(t, c, nil, ignoreTerm...)
		start := time.Now()
		if res := pm.podman(t, cmdOpts{}, "stop", "--time", "1", c.name); res.code != 0 {
			t.Fatalf("stop: %s", res)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("stop -t 1 returned after %v: SIGTERM stopped a container ignoring it?", d)
		}
		if code := pm.inspect(t, c, "{{.State.ExitCode}}"); code != "137" {
			t.Errorf("exit code after stop: %s, want 137", code)
		}
	})
}

// TestKillAll: a container sharing another's pid namespace does not own
// its processes' namespace, so killing its init does not kill the rest:
// the client asks for kill --all (ctr task kill --all), and delete must
// kill what is left (podman stop, rm). The other container is untouched.
func TestKillAll(t *testing.T) {
	s := getSuite(t)
	two := []string{"sh", "-c", "sleep 2000 & sleep 2001 & wait"}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id1, id2 := "pidns-"+uniq(), "shared-"+uniq()
		pid1 := cd.runDetached(t, id1, nil, "sleep", "1000")
		pid2 := cd.runDetached(t, id2, []string{"--with-ns", fmt.Sprintf("pid:/proc/%d/ns/pid", pid1)}, two...)
		procs := cgroupProcs(t, pid2, 3)
		if res := cd.ctr(t, cmdOpts{}, "task", "kill", "--all", "--signal", "SIGKILL", id2); res.code != 0 {
			t.Fatalf("kill --all: %s", res)
		}
		cd.waitStatus(t, id2, "STOPPED")
		harness.WaitFor(t, 5*time.Second, "every process of the container killed", func() bool { return noneAlive(procs) })
		if !alive(pid1) {
			t.Errorf("the container whose pid namespace was shared died")
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c1, c2 := pm.newCtr(t, "pidns"), pm.newCtr(t, "shared")
		pid1 := pm.runDetached(t, c1, nil, "sleep", "1000")
		pid2 := pm.runDetached(t, c2, []string{"--pid", "container:" + c1.name}, two...)
		procs := cgroupProcs(t, pid2, 3)
		if res := pm.podman(t, cmdOpts{}, "stop", "--time", "1", c2.name); res.code != 0 {
			t.Fatalf("stop: %s", res)
		}
		if res := pm.podman(t, cmdOpts{}, "rm", c2.name); res.code != 0 {
			t.Fatalf("rm: %s", res)
		}
		harness.WaitFor(t, 5*time.Second, "every process of the container killed", func() bool { return noneAlive(procs) })
		pm.assertNoTrace(t, c2.id(t))
		if !alive(pid1) {
			t.Errorf("the container whose pid namespace was shared died")
		}
	})
	t.Run("podman pid host", func(t *testing.T) {
		// Without a pid namespace of its own, podman stop is kill --all:
		// SIGTERM to every process of the cgroup (ignored here), then
		// SIGKILL to every one after the timeout.
		pm := s.podman(t)
		c := pm.newCtr(t, "pidhost")
		pid := pm.runDetached(t, c, []string{"--pid", "host"}, "sh", "-c", `trap "" TERM; sleep 2000 & sleep 2001 & wait`)
		procs := cgroupProcs(t, pid, 3)
		if res := pm.podman(t, cmdOpts{}, "stop", "--time", "1", c.name); res.code != 0 {
			t.Fatalf("stop: %s", res)
		}
		harness.WaitFor(t, 5*time.Second, "every process of the container killed", func() bool { return noneAlive(procs) })
		if code := pm.inspect(t, c, "{{.State.ExitCode}}"); code != "137" {
			t.Errorf("exit code after stop: %s, want 137", code)
		}
	})
}

// cgroupProcs waits for n processes in pid's memory cgroup and returns them.
func cgroupProcs(t *testing.T, pid, n int) []int {
	t.Helper()
	path := filepath.Join("/sys/fs/cgroup/memory", cgroupOf(t, pid, "memory"), "cgroup.procs")
	var pids []int
	harness.WaitFor(t, 5*time.Second, fmt.Sprintf("%d processes in %s", n, path), func() bool {
		data, _ := os.ReadFile(path)
		pids = nil
		for _, f := range strings.Fields(string(data)) {
			p, _ := strconv.Atoi(f)
			pids = append(pids, p)
		}
		return len(pids) >= n
	})
	return pids
}

func noneAlive(pids []int) bool {
	for _, p := range pids {
		if alive(p) {
			return false
		}
	}
	return true
}

var ptsRE = regexp.MustCompile(`/dev/pts/[0-9]+`)
