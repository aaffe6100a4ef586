package clients_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

const mib64 = "67108864"

// TestRunExitCode: a container run in the foreground to completion; its
// output reaches the client and its exit status is the client's.
func TestRunExitCode(t *testing.T) {
	s := getSuite(t)
	script := "echo out; echo err >&2; exit 3"
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		res := cd.run(t, cmdOpts{}, "exit-"+uniq(), nil, "sh", "-c", script)
		if res.code != 3 || !strings.Contains(res.stdout, "out") || !strings.Contains(res.out(), "err") {
			t.Errorf("want exit 3 with out and err: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "exit"), nil, "sh", "-c", script)
		if res.code != 3 || res.stdout != "out\n" || !strings.Contains(res.stderr, "err") {
			t.Errorf("want exit 3 with out and err: %s", res)
		}
	})
}

// TestStdin: the client's stdin reaches the container's process (ctr
// always forwards it; podman with -i), and its end is the process's EOF.
func TestStdin(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		// ctr closes the container's stdin at EOF only once the task
		// exists (tasks.NewTask sets its stdinCloser after creating it): an
		// EOF read before that is lost and cat waits forever, with runc
		// too. The input ends a second after it starts.
		res := cd.run(t, cmdOpts{stdin: slowEOF("hi\nthere\n", time.Second)}, "stdin-"+uniq(), nil, "cat")
		if res.code != 0 || res.stdout != "hi\nthere\n" {
			t.Errorf("want hi and there from cat: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{stdin: strings.NewReader("hi\nthere\n")}, pm.newCtr(t, "stdin"), []string{"-i"}, "cat")
		if res.code != 0 || res.stdout != "hi\nthere\n" {
			t.Errorf("want hi and there from cat: %s", res)
		}
	})
}

// execScript prints the user, cwd and $FOO, copies stdin and exits 5.
const execScript = `id -u; pwd; echo "FOO=$FOO"; cat; exit 5`

// TestExec: a detached container, then a process exec'd into it with a
// user, a cwd, the environment and stdin; its exit status is the client's.
func TestExec(t *testing.T) {
	s := getSuite(t)
	want := "1000\n/tmp\nFOO=bar\nin\n"
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "exec-" + uniq()
		// ctr exec has no --env: the exec'd process gets the container's.
		cd.runDetached(t, id, []string{"--env", "FOO=bar"}, "sleep", "1000")
		res := cd.exec(t, cmdOpts{stdin: strings.NewReader("in\n")}, id, []string{"--user", "1000", "--cwd", "/tmp"}, "sh", "-c", execScript)
		if res.code != 5 || res.stdout != want {
			t.Errorf("want exit 5 and %q: %s", want, res)
		}
		if res := cd.exec(t, cmdOpts{}, id, nil, "true"); res.code != 0 {
			t.Errorf("exec true: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "exec")
		pm.runDetached(t, c, nil, "sleep", "1000")
		res := pm.podman(t, cmdOpts{stdin: strings.NewReader("in\n")}, "exec", "-i", "--user", "1000", "--workdir", "/tmp", "--env", "FOO=bar", c.name, "sh", "-c", execScript)
		if res.code != 5 || res.stdout != want {
			t.Errorf("want exit 5 and %q: %s", want, res)
		}
	})
}

// TestPs: the processes of a running container as the client lists them
// (ctr task ps asks the runtime's ps; podman top reads them itself).
func TestPs(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "ps-" + uniq()
		pid := cd.runDetached(t, id, nil, "sh", "-c", "sleep 1000 & sleep 1001")
		res := cd.ctr(t, cmdOpts{}, "task", "ps", id)
		if res.code != 0 {
			t.Fatalf("ctr task ps: %s", res)
		}
		var pids []int
		for _, line := range strings.Split(res.stdout, "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				pids = append(pids, n)
			}
		}
		// sh, its background sleep and its foreground sleep (busybox sh
		// forks for the last command too, unless it execs it).
		if len(pids) < 2 || !containsInt(pids, pid) {
			t.Errorf("ctr task ps lists %v, want the init %d and its child: %s", pids, pid, res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "ps")
		pm.runDetached(t, c, nil, "sh", "-c", "sleep 1000 & sleep 1001")
		res := pm.podman(t, cmdOpts{}, "top", c.name, "pid", "args")
		if res.code != 0 || !strings.Contains(res.stdout, "sleep 1000") || !strings.Contains(res.stdout, "sleep 1001") {
			t.Errorf("podman top does not show both sleeps: %s", res)
		}
	})
}

func containsInt(s []int, n int) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

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

// TestTTY: -t gives the process a terminal (the runtime's
// --console-socket: the pty master goes to conmon or the shim) in run and
// in exec.
func TestTTY(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "tty-" + uniq()
		cd.cleanupAfter(t, id)
		args := append([]string{"--address", cd.sock, "--namespace", cd.ns, "run", "--tty"}, cd.runArgs()...)
		out, code := harness.PtyRun(t, 60*time.Second, nil, "ctr", append(args, cd.image, id, "sh", "-c", "tty; exit 2")...)
		if code != 2 || !ptsRE.MatchString(out) {
			t.Errorf("ctr run -t tty: exit %d, output %q; want exit 2 and /dev/pts/N", code, out)
		}
		id2 := "ttyexec-" + uniq()
		cd.runDetached(t, id2, nil, "sleep", "1000")
		out, code = harness.PtyRun(t, 60*time.Second, nil, "ctr", "--address", cd.sock, "--namespace", cd.ns,
			"task", "exec", "--tty", "--exec-id", "t"+uniq(), "--fifo-dir", cd.fifoDir, id2, "sh", "-c", "tty; exit 4")
		if code != 4 || !ptsRE.MatchString(out) {
			t.Errorf("ctr task exec -t tty: exit %d, output %q; want exit 4 and /dev/pts/N", code, out)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "tty"), []string{"--tty"}, "sh", "-c", "tty; exit 2")
		if res.code != 2 || !ptsRE.MatchString(res.stdout) {
			t.Errorf("podman run -t tty: want exit 2 and /dev/pts/N: %s", res)
		}
		c := pm.newCtr(t, "ttyexec")
		pm.runDetached(t, c, nil, "sleep", "1000")
		res = pm.podman(t, cmdOpts{}, "exec", "--tty", c.name, "sh", "-c", "tty; exit 4")
		if res.code != 4 || !ptsRE.MatchString(res.stdout) {
			t.Errorf("podman exec -t tty: want exit 4 and /dev/pts/N: %s", res)
		}
	})
}

// TestMemoryLimit: a memory limit given to the client is the container's
// cgroup's on the host, and the container sees it through its cgroup mount.
func TestMemoryLimit(t *testing.T) {
	s := getSuite(t)
	inside := []string{"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "mem-" + uniq()
		// ctr's default spec has no cgroup mount (podman's has).
		pid := cd.runDetached(t, id, []string{"--memory-limit", mib64, "--mount", "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev"}, "sleep", "1000")
		if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes"); got != mib64 {
			t.Errorf("host: memory.limit_in_bytes %s, want %s", got, mib64)
		}
		if res := cd.exec(t, cmdOpts{}, id, nil, inside...); res.code != 0 || strings.TrimSpace(res.stdout) != mib64 {
			t.Errorf("inside: want %s: %s", mib64, res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "mem")
		pid := pm.runDetached(t, c, []string{"--memory", "64m"}, "sleep", "1000")
		if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes"); got != mib64 {
			t.Errorf("host: memory.limit_in_bytes %s, want %s", got, mib64)
		}
		if res := pm.podman(t, cmdOpts{}, "exec", c.name, inside[0], inside[1]); res.code != 0 || strings.TrimSpace(res.stdout) != mib64 {
			t.Errorf("inside: want %s: %s", mib64, res)
		}
	})
}

// TestUpdate: the client changes the memory limit of a running container
// (the runtime's update with a resources file).
func TestUpdate(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		t.Skip("ctr 1.6 has no command for a task update (containerd's API has Update; ctr does not expose it)")
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "update")
		pid := pm.runDetached(t, c, []string{"--memory", "64m"}, "sleep", "1000")
		if res := pm.podman(t, cmdOpts{}, "update", "--memory", "128m", c.name); res.code != 0 {
			t.Fatalf("update: %s", res)
		}
		if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes"); got != "134217728" {
			t.Errorf("host: memory.limit_in_bytes %s after update, want 134217728", got)
		}
	})
}

// TestCreateStart: a container created and started later, attached: the
// runtime's create and start are separate calls.
func TestCreateStart(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", "echo started; exit 4"}
	t.Run("containerd", func(t *testing.T) {
		// ctr containers create has no --runc-binary: the shim finds the
		// runtime as "runc" on containerd's PATH, where the suite put it.
		cd := s.containerd(t)
		id := "create-" + uniq()
		cd.cleanupAfter(t, id)
		// "--": ctr containers create parses flags after its arguments too
		// (sh's -c would be its --config).
		if res := cd.ctr(t, cmdOpts{}, append([]string{"containers", "create", cd.image, id, "--"}, script...)...); res.code != 0 {
			t.Fatalf("containers create: %s", res)
		}
		res := cd.ctr(t, cmdOpts{}, "task", "start", "--fifo-dir", cd.fifoDir, id)
		if res.code != 4 || res.stdout != "started\n" {
			t.Errorf("task start: want exit 4 and started: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "create")
		if res := pm.create(t, c, nil, script...); res.code != 0 {
			t.Fatalf("create: %s", res)
		}
		// podman create does not call the runtime; podman init is its
		// create: the init waits for start.
		if res := pm.podman(t, cmdOpts{}, "init", c.name); res.code != 0 {
			t.Fatalf("init: %s", res)
		}
		if st := pm.inspect(t, c, "{{.State.Status}}"); st != "initialized" {
			t.Errorf("after init: status %s, want initialized", st)
		}
		if pid := pm.pid(t, c); !alive(pid) {
			t.Errorf("after init: the init %d is not there", pid)
		}
		res := pm.podman(t, cmdOpts{}, "start", "--attach", c.name)
		if res.code != 4 || res.stdout != "started\n" {
			t.Errorf("start -a: want exit 4 and started: %s", res)
		}
	})
}

// TestRestart: a container stopped and started again under the same id:
// the runtime's delete must have removed everything create needs free.
func TestRestart(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "restart-" + uniq()
		pid := cd.runDetached(t, id, nil, "sleep", "1000")
		if res := cd.ctr(t, cmdOpts{}, "task", "kill", "--signal", "SIGKILL", id); res.code != 0 {
			t.Fatalf("kill: %s", res)
		}
		cd.waitStatus(t, id, "STOPPED")
		if res := cd.ctr(t, cmdOpts{}, "task", "delete", id); res.code != 0 {
			t.Fatalf("task delete: %s", res)
		}
		if res := cd.ctr(t, cmdOpts{}, "task", "start", "--detach", "--fifo-dir", cd.fifoDir, id); res.code != 0 {
			t.Fatalf("task start again: %s", res)
		}
		pid2, st := cd.task(t, id)
		if st != "RUNNING" || pid2 == pid || !alive(pid2) {
			t.Errorf("after restart: status %s pid %d (was %d), want RUNNING with a new pid", st, pid2, pid)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "restart")
		pid := pm.runDetached(t, c, nil, "sleep", "1000")
		if res := pm.podman(t, cmdOpts{}, "restart", "--time", "0", c.name); res.code != 0 {
			t.Fatalf("restart: %s", res)
		}
		pid2 := pm.pid(t, c)
		if pid2 == pid || !alive(pid2) || alive(pid) {
			t.Errorf("after restart: pid %d (was %d), want a new live pid", pid2, pid)
		}
	})
}

// TestErrorSurfaced: the runtime's error reaches the user: a missing
// executable is podman's exit 127 and a non-executable file its 126 (podman
// maps the runtime's wording), with the runtime's message in the output;
// containerd shows the message it read from the runtime's --log.
func TestErrorSurfaced(t *testing.T) {
	s := getSuite(t)
	msg := func(t *testing.T, out, path, words string) {
		t.Helper()
		if !strings.Contains(out, path) || !strings.Contains(strings.ToLower(out), words) {
			t.Errorf("output does not hold the runtime's message (%q, %q):\n%s", path, words, out)
		}
	}
	// The shim reads the runtime's last "level":"error" record from its
	// --log (log.json); when it cannot, it says so instead.
	fromLog := func(t *testing.T, res result, prefix string) {
		t.Helper()
		if !strings.Contains(res.out(), prefix+": ") || strings.Contains(res.out(), "unable to retrieve OCI runtime error") {
			t.Errorf("ctr does not show the runtime's logged error after %q: %s", prefix, res)
		}
	}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		res := cd.run(t, cmdOpts{}, "enoent-"+uniq(), nil, "/nonexistent")
		if res.code == 0 {
			t.Fatalf("ctr run of a missing executable succeeded: %s", res)
		}
		t.Logf("ctr run shows: %s", strings.TrimSpace(res.stderr))
		msg(t, res.out(), "/nonexistent", "no such file or directory")
		fromLog(t, res, "OCI runtime create failed")

		id := "execerr-" + uniq()
		cd.runDetached(t, id, nil, "sleep", "1000")
		res = cd.exec(t, cmdOpts{}, id, nil, "/nonexistent")
		if res.code == 0 {
			t.Fatalf("ctr task exec of a missing executable succeeded: %s", res)
		}
		t.Logf("ctr task exec shows: %s", strings.TrimSpace(res.stderr))
		msg(t, res.out(), "/nonexistent", "no such file or directory")
		fromLog(t, res, "OCI runtime exec failed")
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "enoent"), nil, "/nonexistent")
		if res.code != 127 {
			t.Errorf("want exit 127: %s", res)
		}
		msg(t, res.out(), "/nonexistent", "no such file or directory")
		t.Logf("podman run shows: %s", strings.TrimSpace(res.stderr))
		res = pm.run(t, cmdOpts{}, pm.newCtr(t, "eacces"), nil, "/etc/passwd")
		if res.code != 126 {
			t.Errorf("want exit 126: %s", res)
		}
		msg(t, res.out(), "/etc/passwd", "permission denied")

		// exec: conmon gives the runtime --log too; same mapping.
		c := pm.newCtr(t, "execerr")
		pm.runDetached(t, c, nil, "sleep", "1000")
		res = pm.podman(t, cmdOpts{}, "exec", c.name, "/nonexistent")
		if res.code != 127 {
			t.Errorf("exec: want exit 127: %s", res)
		}
		t.Logf("podman exec shows: %s", strings.TrimSpace(res.stderr))
		msg(t, res.out(), "/nonexistent", "no such file or directory")
		res = pm.podman(t, cmdOpts{}, "exec", c.name, "/etc/passwd")
		if res.code != 126 {
			t.Errorf("exec: want exit 126: %s", res)
		}
		msg(t, res.out(), "/etc/passwd", "permission denied")
	})
}

// TestJoinNamespaces: a container joins another's network and ipc
// namespaces (the spec's namespace paths).
func TestJoinNamespaces(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc"}
	check := func(t *testing.T, res result, pid int) {
		t.Helper()
		want := nsOf(t, pid, "net") + "\n" + nsOf(t, pid, "ipc") + "\n"
		if res.code != 0 || res.stdout != want {
			t.Errorf("want the other container's namespaces %q: %s", want, res)
		}
	}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		pid := cd.runDetached(t, "nsowner-"+uniq(), nil, "sleep", "1000")
		res := cd.run(t, cmdOpts{}, "nsjoin-"+uniq(), []string{
			"--with-ns", fmt.Sprintf("network:/proc/%d/ns/net", pid),
			"--with-ns", fmt.Sprintf("ipc:/proc/%d/ns/ipc", pid),
		}, script...)
		check(t, res, pid)
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		owner := pm.newCtr(t, "nsowner")
		pid := pm.runDetached(t, owner, nil, "sleep", "1000")
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "nsjoin"), []string{"--network", "container:" + owner.name, "--ipc", "container:" + owner.name}, script...)
		check(t, res, pid)
	})
}

// TestCheckpointRestore: the client checkpoints a running container (twice
// with --leave-running, then stopping it) and restores it. A runtime that
// answers "not implemented" is skipped, saying so.
func TestCheckpointRestore(t *testing.T) {
	s := getSuite(t)
	// Written aside and renamed in: a cat never sees the file emptied by the
	// redirection before the number is written.
	counter := []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done"}
	skipIfNotImplemented := func(t *testing.T, res result) {
		t.Helper()
		if res.code != 0 && strings.Contains(res.out(), "not implemented") {
			t.Skipf("the runtime cannot checkpoint yet (rt-checkpoint answers \"not implemented\"): %s", res)
		}
		if res.code != 0 && !isRT() && strings.Contains(strings.ToLower(res.out()), "criu") {
			t.Skipf("criu fails on this host with %s: %s", compared, res)
		}
	}
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "ckpt")
		pm.runDetached(t, c, nil, counter...)
		for i := 0; i < 2; i++ {
			res := pm.podman(t, cmdOpts{}, "container", "checkpoint", "--leave-running", c.name)
			skipIfNotImplemented(t, res)
			if res.code != 0 {
				t.Fatalf("checkpoint --leave-running #%d: %s", i+1, res)
			}
			if st := pm.inspect(t, c, "{{.State.Status}}"); st != "running" {
				t.Fatalf("after checkpoint --leave-running #%d: status %s", i+1, st)
			}
		}
		res := pm.podman(t, cmdOpts{}, "container", "checkpoint", c.name)
		if res.code != 0 {
			t.Fatalf("checkpoint: %s", res)
		}
		if st := pm.inspect(t, c, "{{.State.Status}}"); st != "exited" {
			t.Errorf("after checkpoint: status %s, want exited", st)
		}
		res = pm.podman(t, cmdOpts{}, "container", "restore", c.name)
		if res.code != 0 {
			t.Fatalf("restore: %s", res)
		}
		first := pm.podman(t, cmdOpts{}, "exec", c.name, "cat", "/tmp/n")
		time.Sleep(300 * time.Millisecond)
		second := pm.podman(t, cmdOpts{}, "exec", c.name, "cat", "/tmp/n")
		a, _ := strconv.Atoi(strings.TrimSpace(first.stdout))
		b, _ := strconv.Atoi(strings.TrimSpace(second.stdout))
		if a == 0 || b <= a {
			t.Errorf("the restored counter does not run on: %s then %s", first, second)
		}
	})
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "ckpt-" + uniq()
		cd.runDetached(t, id, nil, counter...)
		ref := "localhost/rt-clients/checkpoint:" + id
		t.Cleanup(func() { cd.ctr(t, cmdOpts{}, "images", "rm", ref) })
		res := cd.ctr(t, cmdOpts{}, "containers", "checkpoint", "--task", "--rw", id, ref)
		skipIfNotImplemented(t, res)
		if res.code != 0 {
			t.Fatalf("checkpoint: %s", res)
		}
		// The checkpoint (an image) keeps the task running; restore makes
		// a new container from it, so this one goes first.
		if res := cd.ctr(t, cmdOpts{}, "task", "delete", "--force", id); res.code != 0 {
			t.Fatalf("task delete: %s", res)
		}
		if res := cd.ctr(t, cmdOpts{}, "containers", "delete", id); res.code != 0 {
			t.Fatalf("containers delete: %s", res)
		}
		if res := cd.ctr(t, cmdOpts{}, "containers", "restore", "--live", "--rw", id, ref); res.code != 0 {
			t.Fatalf("restore: %s", res)
		}
		first := cd.exec(t, cmdOpts{}, id, nil, "cat", "/tmp/n")
		time.Sleep(300 * time.Millisecond)
		second := cd.exec(t, cmdOpts{}, id, nil, "cat", "/tmp/n")
		a, _ := strconv.Atoi(strings.TrimSpace(first.stdout))
		b, _ := strconv.Atoi(strings.TrimSpace(second.stdout))
		if a == 0 || b <= a {
			t.Errorf("the restored counter does not run on: %s then %s", first, second)
		}
	})
}

// TestDeletePaused: a paused container deleted by force: the client's kill
// of a frozen cgroup must not wait for a thaw that never comes (containerd
// sends kill --all KILL and waits for the exit; podman rm -f kills and
// resumes itself).
func TestDeletePaused(t *testing.T) {
	s := getSuite(t)
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "delpaused-" + uniq()
		pid := cd.runDetached(t, id, nil, "sleep", "1000")
		if res := cd.ctr(t, cmdOpts{}, "task", "pause", id); res.code != 0 {
			t.Fatalf("pause: %s", res)
		}
		cd.waitStatus(t, id, "PAUSED")
		res := cd.ctr(t, cmdOpts{timeout: 15 * time.Second}, "task", "delete", "--force", id)
		if res.code != 0 {
			t.Fatalf("task delete --force of a paused task: %s", res)
		}
		if alive(pid) {
			t.Errorf("init %d alive after delete --force", pid)
		}
		if res := cd.ctr(t, cmdOpts{}, "containers", "delete", id); res.code != 0 {
			t.Fatalf("containers delete: %s", res)
		}
		cd.assertNoTrace(t, id)
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "delpaused")
		pid := pm.runDetached(t, c, nil, "sleep", "1000")
		if res := pm.podman(t, cmdOpts{}, "pause", c.name); res.code != 0 {
			t.Fatalf("pause: %s", res)
		}
		if res := pm.podman(t, cmdOpts{timeout: 30 * time.Second}, "rm", "--force", c.name); res.code != 0 {
			t.Fatalf("rm -f of a paused container: %s", res)
		}
		if alive(pid) {
			t.Errorf("init %d alive after rm -f", pid)
		}
		pm.assertNoTrace(t, c.id(t))
	})
}

// TestTmpfs: a read-only root with tmpfs mounts. podman adds the
// "tmpcopyup" option (runc's extension: the tmpfs starts with a copy of
// what the image has at the destination) to --tmpfs and to the tmpfs
// mounts of --read-only (/tmp, /var/tmp, /run, /dev/shm).
func TestTmpfs(t *testing.T) {
	s := getSuite(t)
	script := `cat /etc/group >/dev/null && echo etc-copied; touch /etc/new && echo etc-writable; ` +
		`touch /new 2>/dev/null || echo root-readonly; touch /tmp/x && echo tmp-writable; grep -c ' /etc tmpfs ' /proc/mounts`
	want := "etc-copied\netc-writable\nroot-readonly\ntmp-writable\n1\n"
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		res := cd.run(t, cmdOpts{}, "tmpfs-"+uniq(), []string{"--read-only",
			"--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev",
			"--mount", "type=tmpfs,src=tmpfs,dst=/scratch,options=rw:nosuid:nodev:mode=1777"},
			"sh", "-c", `touch /new 2>/dev/null || echo root-readonly; touch /tmp/x && echo tmp-writable; touch /scratch/y && echo scratch-writable`)
		if want := "root-readonly\ntmp-writable\nscratch-writable\n"; res.code != 0 || res.stdout != want {
			t.Errorf("want %q: %s", want, res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "tmpfs"), []string{"--read-only", "--tmpfs", "/etc"}, "sh", "-c", script)
		if res.code != 0 || res.stdout != want {
			t.Errorf("want %q: %s", want, res)
		}
	})
}

// TestSeccomp: the seccomp filter the client puts in the spec is in force
// (podman's default profile; ctr run --seccomp, containerd's default).
func TestSeccomp(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", "grep '^Seccomp:' /proc/self/status"}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		res := cd.run(t, cmdOpts{}, "seccomp-"+uniq(), []string{"--seccomp"}, script...)
		if res.code != 0 || res.stdout != "Seccomp:\t2\n" {
			t.Errorf("want Seccomp: 2 (filter mode): %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "seccomp"), nil, script...)
		if res.code != 0 || res.stdout != "Seccomp:\t2\n" {
			t.Errorf("want Seccomp: 2 (filter mode): %s", res)
		}
	})
}

// TestHome: HOME is the process user's home from the container's
// /etc/passwd when the spec's env has none: ctr never sets it (podman
// does, itself), and containerd's users rely on the runtime for it.
func TestHome(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", `echo "HOME=$HOME"`}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "home-" + uniq()
		res := cd.run(t, cmdOpts{}, id, nil, script...)
		if res.code != 0 || res.stdout != "HOME=/root\n" {
			t.Errorf("run: want HOME=/root: %s", res)
		}
		id2 := "homeexec-" + uniq()
		cd.runDetached(t, id2, nil, "sleep", "1000")
		res = cd.exec(t, cmdOpts{}, id2, []string{"--user", "1000"}, script...)
		if res.code != 0 || res.stdout != "HOME=/home/user\n" {
			t.Errorf("exec --user 1000: want HOME=/home/user: %s", res)
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		res := pm.run(t, cmdOpts{}, pm.newCtr(t, "home"), []string{"--user", "1000"}, script...)
		if res.code != 0 || res.stdout != "HOME=/home/user\n" {
			t.Errorf("want HOME=/home/user: %s", res)
		}
	})
}

// TestExecMissingCwd: an exec whose cwd does not exist fails (runc:
// "chdir to cwd ... no such file or directory"; podman's exit 127); it
// does not create the directory. Only the init's cwd is created.
func TestExecMissingCwd(t *testing.T) {
	s := getSuite(t)
	check := func(t *testing.T, res result, wantCode int) {
		t.Helper()
		if res.code == 0 || (wantCode != 0 && res.code != wantCode) || !strings.Contains(res.out(), "/missing") || !strings.Contains(strings.ToLower(res.out()), "no such file or directory") {
			t.Errorf("want a failure naming /missing (exit %d): %s", wantCode, res)
		}
	}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "cwd-" + uniq()
		cd.runDetached(t, id, nil, "sleep", "1000")
		check(t, cd.exec(t, cmdOpts{}, id, []string{"--cwd", "/missing"}, "true"), 0)
		if res := cd.exec(t, cmdOpts{}, id, nil, "test", "-e", "/missing"); res.code == 0 {
			t.Errorf("the exec created /missing")
		}
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "cwd")
		pm.runDetached(t, c, nil, "sleep", "1000")
		check(t, pm.podman(t, cmdOpts{}, "exec", "--workdir", "/missing", c.name, "true"), 127)
	})
}

// TestPreserveFds: podman run/exec --preserve-fds 1 passes the caller's fd
// 3 through conmon to the runtime (--preserve-fds 1) and on to the process.
func TestPreserveFds(t *testing.T) {
	s := getSuite(t)
	pm := s.podman(t)
	f, err := os.CreateTemp(t.TempDir(), "fd3-")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("fd3 content\n")
	defer f.Close()
	run := func(args ...string) result {
		t.Helper()
		f.Seek(0, 0)
		return pm.podman(t, cmdOpts{extra: []*os.File{f}}, args...)
	}
	c := pm.newCtr(t, "fds")
	args := append([]string{"run"}, pm.runFlags(c, nil)...)
	res := run(append(args, "--preserve-fds", "1", imageName, "cat", "/proc/self/fd/3")...)
	if res.code != 0 || res.stdout != "fd3 content\n" {
		t.Errorf("run --preserve-fds 1: want fd 3's content: %s", res)
	}
	c2 := pm.newCtr(t, "fdsexec")
	pm.runDetached(t, c2, nil, "sleep", "1000")
	res = run("exec", "--preserve-fds", "1", c2.name, "cat", "/proc/self/fd/3")
	if res.code != 0 || res.stdout != "fd3 content\n" {
		t.Errorf("exec --preserve-fds 1: want fd 3's content: %s", res)
	}
}

// TestSignalProxy: a signal to the foreground client reaches the container
// (ctr run and podman run --sig-proxy forward it: the runtime's kill <id>
// 15); the container's trap decides the exit status, the client's.
func TestSignalProxy(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", `trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done`}
	proxy := func(t *testing.T, env []string, name string, args ...string) {
		t.Helper()
		out := tempFile(t)
		defer out.Close()
		// --foreground: the SIGTERM goes to the client alone. Without it
		// timeout signals its whole process group too, and can hit the
		// `<runtime> kill` the client is forking to forward the signal
		// (seen with rt and runc alike).
		cmd := exec.Command("timeout", append([]string{"--foreground", "-k", "5", "60", name}, args...)...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		harness.WaitFor(t, 30*time.Second, "the container's ready", func() bool { return strings.Contains(readAll(out), "ready") })
		// ctr installs its forwarder only after the task's start returns
		// (run.go: task.Start, then ForwardAllSignals): a SIGTERM in
		// between kills ctr itself, with runc too. Give it time.
		time.Sleep(500 * time.Millisecond)
		// timeout passes the SIGTERM it gets on to the client.
		cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("the client did not end after SIGTERM: %q", readAll(out))
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 7 || !strings.Contains(readAll(out), "got-term") {
			t.Errorf("want the trap's got-term and exit 7; exit %d, output %q", code, readAll(out))
		}
	}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "sig-" + uniq()
		cd.cleanupAfter(t, id)
		args := append([]string{"--address", cd.sock, "--namespace", cd.ns, "run"}, cd.runArgs()...)
		proxy(t, nil, "ctr", append(append(args, cd.image, id), script...)...)
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "sig")
		args := append(append([]string{}, pm.globals()...), "run")
		args = append(append(args, pm.runFlags(c, nil)...), imageName)
		proxy(t, pm.env, "podman", append(args, script...)...)
	})
}

// TestHooks: OCI hooks from podman's --hooks-dir (hooks JSON 1.0.0) are in
// the spec podman writes; the runtime runs prestart and poststart with the
// container's state on stdin (podman runs poststop itself).
func TestHooks(t *testing.T) {
	s := getSuite(t)
	pm := s.podman(t)
	hooksDir, outDir := t.TempDir(), t.TempDir()
	for _, stage := range []string{"prestart", "poststart"} {
		hook := fmt.Sprintf(`{"version":"1.0.0","hook":{"path":"/bin/sh","args":["sh","-c","cat > %s/%s"]},"when":{"always":true},"stages":[%q]}`, outDir, stage, stage)
		if err := os.WriteFile(filepath.Join(hooksDir, stage+".json"), []byte(hook), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := pm.newCtr(t, "hooks")
	args := append([]string{"--hooks-dir", hooksDir, "run"}, pm.runFlags(c, nil)...)
	if res := pm.podman(t, cmdOpts{}, append(args, imageName, "true")...); res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	id := c.id(t)
	for _, stage := range []string{"prestart", "poststart"} {
		data, err := os.ReadFile(filepath.Join(outDir, stage))
		if err != nil {
			t.Errorf("%s hook did not run: %v", stage, err)
			continue
		}
		var st struct {
			ID, Status, Bundle string
			Pid                int
		}
		if err := json.Unmarshal(data, &st); err != nil {
			t.Errorf("%s hook's stdin is not the state JSON: %v: %q", stage, err, data)
			continue
		}
		if st.ID != id || st.Pid <= 0 || !strings.Contains(st.Bundle, id) {
			t.Errorf("%s hook's state: id %q pid %d bundle %q; want id %s, the init's pid, the bundle", stage, st.ID, st.Pid, st.Bundle, id)
		}
		t.Logf("%s hook's state: status %q", stage, st.Status)
	}
}

// TestUserNamespace: a container in a user namespace (podman --uidmap,
// ctr --uidmap: the clients chown the rootfs, the runtime writes the maps).
func TestUserNamespace(t *testing.T) {
	s := getSuite(t)
	script := []string{"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; sleep 1000"}
	check := func(t *testing.T, pid int, exec func() result) {
		t.Helper()
		if uid := procUID(t, pid); uid != 100000 {
			t.Errorf("the init's uid on the host is %d, want 100000", uid)
		}
		res := exec()
		want := regexp.MustCompile(`^\s*0\s+100000\s+65536\s*\n\s*0\s+100000\s+65536\s*\n0\n$`)
		if res.code != 0 || !want.MatchString(res.stdout) {
			t.Errorf("want the maps 0 100000 65536 and uid 0 inside: %s", res)
		}
	}
	inside := []string{"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"}
	t.Run("containerd", func(t *testing.T) {
		cd := s.containerd(t)
		id := "userns-" + uniq()
		pid := cd.runDetached(t, id, []string{"--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"}, script...)
		check(t, pid, func() result { return cd.exec(t, cmdOpts{}, id, nil, inside...) })
	})
	t.Run("podman", func(t *testing.T) {
		pm := s.podman(t)
		c := pm.newCtr(t, "userns")
		pid := pm.runDetached(t, c, []string{"--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"}, script...)
		check(t, pid, func() result { return pm.podman(t, cmdOpts{}, append([]string{"exec", c.name}, inside...)...) })
	})
}

// procUID is the real uid of pid on the host.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}
