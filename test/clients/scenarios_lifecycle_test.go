package clients_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

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
