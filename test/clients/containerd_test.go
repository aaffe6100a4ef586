package clients_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// defaultRuncRoot is the shim's --root when the container has no runtime
// options (the namespace is added).
const defaultRuncRoot = "/run/containerd/runc"

// containerd is the suite's own containerd: its config, root, state and
// socket are under <suite dir>/containerd, and ctr runs every container
// with --runc-binary <the runtime> and --runc-root <dir>/runc-root (the
// shim adds the namespace: the runtime's --root is runc-root/<ns>).
type containerd struct {
	dir      string
	sock     string
	runtime  string
	runcRoot string
	fifoDir  string
	image    string
	ns       string        // the containerd namespace: suiteName
	done     chan struct{} // closed when the containerd we started has been waited for
}

func containerdPaths(dir, runtime string) *containerd {
	d := filepath.Join(dir, "containerd")
	return &containerd{
		dir:      d,
		sock:     filepath.Join(d, "containerd.sock"),
		runtime:  runtime,
		runcRoot: filepath.Join(d, "runc-root"),
		fifoDir:  filepath.Join(d, "fifo"),
		image:    imageName,
		ns:       suiteName(dir),
	}
}

// containerdFrom returns the containerd of the suite in dir, if it was
// started (for teardown).
func containerdFrom(dir string) *containerd {
	c := containerdPaths(dir, "")
	if _, err := os.Stat(filepath.Join(c.dir, "config.toml")); err != nil {
		return nil
	}
	return c
}

// containerd returns the suite's containerd, starting it and importing the
// image on first use.
func (s *suite) containerd(t *testing.T) *containerd {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd is not installed (make deps installs it)")
	}
	s.cdOnce.Do(func() {
		start := time.Now()
		s.cd, s.cdErr = s.startContainerd(t)
		t.Logf("containerd started and image imported in %v", time.Since(start).Round(time.Millisecond))
	})
	if s.cdErr != nil {
		t.Fatalf("containerd: %v", s.cdErr)
	}
	return s.cd
}

func (s *suite) startContainerd(t *testing.T) (*containerd, error) {
	c := containerdPaths(s.dir, s.runtime)
	for _, d := range []string{c.dir, c.fifoDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(c.dir, "root"), filepath.Join(c.dir, "state"), c.sock, c.sock+".ttrpc", filepath.Join(c.dir, "opt"))
	cfg := filepath.Join(c.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(c.dir, "containerd.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("containerd", "--config", cfg)
	// A container created without runtime options (ctr containers create
	// has no --runc-binary) gets "runc" from the shim's PATH: the runtime.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(c.runtime)+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(c.dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	c.done = make(chan struct{})
	go func() { cmd.Wait(); close(c.done) }()

	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(50 * time.Millisecond) {
		select {
		case <-c.done:
			log, _ := os.ReadFile(filepath.Join(c.dir, "containerd.log"))
			return nil, fmt.Errorf("containerd exited: %s", tail(string(log), 2000))
		default:
		}
		ready = c.ctr(t, cmdOpts{timeout: 5 * time.Second}, "version").code == 0
	}
	if !ready {
		return nil, fmt.Errorf("containerd's socket %s did not answer within 30s", c.sock)
	}
	if res := c.ctr(t, cmdOpts{}, "images", "import", s.image); res.code != 0 {
		return nil, fmt.Errorf("import: %s", res)
	}
	if res := c.ctr(t, cmdOpts{}, "images", "ls", "-q"); !strings.Contains(res.stdout, c.image) {
		return nil, fmt.Errorf("image %s not listed after import: %s", c.image, res)
	}
	return c, nil
}

// ctr runs `ctr --address <sock> --namespace <ns> args...`.
func (c *containerd) ctr(t testing.TB, o cmdOpts, args ...string) result {
	t.Helper()
	return runCmd(t, o, "ctr", append([]string{"--address", c.sock, "--namespace", c.ns}, args...)...)
}

// runArgs are `ctr run`'s flags pointing the shim at the runtime.
func (c *containerd) runArgs() []string {
	return []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", c.runtime, "--runc-root", c.runcRoot, "--fifo-dir", c.fifoDir}
}

// run is `ctr run <runtime flags> <flags> <image> <id> <cmd...>`; the
// container is removed at cleanup and checked for traces.
func (c *containerd) run(t *testing.T, o cmdOpts, id string, flags []string, cmd ...string) result {
	t.Helper()
	c.cleanupAfter(t, id)
	args := append([]string{"run"}, c.runArgs()...)
	args = append(args, flags...)
	args = append(args, c.image, id)
	return c.ctr(t, o, append(args, cmd...)...)
}

// cleanupAfter removes container id at the end of t (task killed and
// deleted, container deleted) and checks that the runtime left neither
// its state dir nor a cgroup dir of it.
func (c *containerd) cleanupAfter(t *testing.T, id string) {
	c.record(id)
	t.Cleanup(func() {
		// A paused task is resumed first: its SIGKILL would wait for a thaw.
		if _, st := c.task(t, id); st == "PAUSED" {
			c.ctr(t, cmdOpts{timeout: 10 * time.Second}, "task", "resume", id)
		}
		if res := c.ctr(t, cmdOpts{timeout: 20 * time.Second}, "task", "delete", "--force", id); res.code != 0 && !notFound(res) {
			t.Errorf("cleanup: %s", res)
		}
		if res := c.ctr(t, cmdOpts{timeout: 20 * time.Second}, "containers", "delete", id); res.code != 0 && !notFound(res) {
			t.Errorf("cleanup: %s", res)
		}
		c.assertNoTrace(t, id)
	})
}

// record appends id to the list teardown reads (for the shim sockets).
func (c *containerd) record(id string) {
	f, err := os.OpenFile(filepath.Join(c.dir, "ids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(f, id)
		f.Close()
	}
}

// shimSocket is where containerd 1.6 puts the socket of the shim of id
// (runtime/v2/shim.SocketAddress): not under the suite's state dir but
// /run/containerd/s/<sha256 of address/namespace/id>. A shim removes it when
// it exits; one killed leaves it.
func (c *containerd) shimSocket(id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(c.sock, c.ns, id)))
	return filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))
}

const shimSocketDir = "/run/containerd/s"

// removeShimSockets removes the sockets of the suite's shims that are left
// (after the shims are gone).
func (c *containerd) removeShimSockets() []string {
	var problems []string
	ids, _ := os.ReadFile(filepath.Join(c.dir, "ids"))
	for _, id := range strings.Fields(string(ids)) {
		if err := os.Remove(c.shimSocket(id)); err == nil {
			problems = append(problems, "shim socket of "+id+" left: removed")
		}
	}
	return problems
}

func notFound(r result) bool { return strings.Contains(r.out(), "not found") }

// assertNoTrace: no state dir of id under the runtime's root and no cgroup
// dir named after it.
func (c *containerd) assertNoTrace(t *testing.T, id string) {
	t.Helper()
	for _, root := range []string{c.runcRoot, defaultRuncRoot} {
		if _, err := os.Stat(filepath.Join(root, c.ns, id)); err == nil {
			t.Errorf("the runtime's state dir of %s is left in %s", id, filepath.Join(root, c.ns))
		}
	}
	var dirs []string
	for i := 0; i < 50; i++ {
		if dirs = harness.CgroupDirsOf(id); len(dirs) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(dirs) > 0 {
		t.Errorf("cgroup dirs of %s left: %v", id, dirs)
	}
}

// teardown deletes every task and container, stops containerd (its
// process group), and reports what was left. The dirs are removed by the
// caller.
func (c *containerd) teardown() []string {
	var problems []string
	tb := harness.QuietTB{}
	if res := c.ctr(tb, cmdOpts{timeout: 10 * time.Second}, "task", "ls", "-q"); res.code == 0 {
		for _, id := range strings.Fields(res.stdout) {
			problems = append(problems, "task left: "+id)
			c.ctr(tb, cmdOpts{timeout: 20 * time.Second}, "task", "delete", "--force", id)
		}
	}
	if res := c.ctr(tb, cmdOpts{timeout: 10 * time.Second}, "containers", "ls", "-q"); res.code == 0 {
		for _, id := range strings.Fields(res.stdout) {
			problems = append(problems, "container left: "+id)
			c.ctr(tb, cmdOpts{timeout: 20 * time.Second}, "containers", "delete", id)
		}
	}
	if res := c.ctr(tb, cmdOpts{timeout: 20 * time.Second}, "images", "rm", "--sync", c.image); res.code != 0 {
		problems = append(problems, "images rm: "+res.String())
	}
	data, _ := os.ReadFile(filepath.Join(c.dir, "pid"))
	pid, _ := strconv.Atoi(string(data))

	if pid > 0 {
		syscall.Kill(-pid, syscall.SIGTERM)
		if !c.waitExit(pid, 10*time.Second) {
			problems = append(problems, "containerd did not exit on SIGTERM: killed")
			syscall.Kill(-pid, syscall.SIGKILL)
			c.waitExit(pid, 5*time.Second)
		}
	}
	return problems
}

// waitExit waits for the containerd pid to end: through Wait when this
// process started it, else by polling.
func (c *containerd) waitExit(pid int, d time.Duration) bool {
	if c.done != nil {
		select {
		case <-c.done:
			return true
		case <-time.After(d):
			return false
		}
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
