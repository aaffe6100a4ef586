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
