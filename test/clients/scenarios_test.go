package clients_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
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
