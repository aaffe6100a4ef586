// Package checkpoint_test checkpoints and restores real containers with
// CRIU through `rt checkpoint` and `rt restore` (which hand over to
// rt-checkpoint): a busybox container whose init counts in /tmp/c, dumped
// with and without --leave-running, restored and seen to count on from
// where it was; pre-dump and failing dumps give one clear line and leave
// the container running and thawed. An interactive shell on a terminal is
// checkpointed and restored with a new console socket, and in the
// foreground with its terminal relayed (terminal_test.go).
//
// Tests skip, saying why, when criu is missing or `criu check` fails.
package checkpoint_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// counterScript counts in /tmp/c ten times a second. Each value is written
// aside and renamed in, so a reader never catches the file emptied by the
// redirection before the number is written.
const counterScript = "i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done"

// counter is the init's command line.
var counter = []string{"sh", "-c", counterScript}

// requireCRIU is harness.RequireCRIU.
func requireCRIU(t *testing.T) {
	t.Helper()
	harness.RequireCRIU(t)
}

// container is a running counter.
type container struct {
	r      *harness.Runner
	id     string
	bundle string
	data   string // host dir bound at /data
}

// startCounter runs a counter container detached, with a host directory
// bound at /data (an external mount for CRIU). At cleanup it is deleted
// and checked for traces.
func startCounter(t *testing.T, args []string) *container {
	t.Helper()
	return startCounterAt(t, args, "/data")
}

// startCounterAt is startCounter with the host directory's mount
// destination as config.json gives it (relative: deprecated, accepted).
func startCounterAt(t *testing.T, args []string, dest string) *container {
	t.Helper()
	r := harness.NewRunner(t)
	data := t.TempDir()
	b := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = args
		s.Root.Readonly = false
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: "bind", Source: data, Options: []string{"rbind", "rw"}})
	})
	c := &container{r: r, id: harness.ID("ckpt"), bundle: b, data: data}
	t.Cleanup(func() {
		if res := r.RT("delete", "--force", c.id); res.Code != 0 {
			t.Errorf("delete --force %s: %s", c.id, res)
		}
		r.AssertNoTrace(t, c.id, b)
	})
	// rt's warnings (a relative destination) go to a log, not to the
	// stderr the container inherits: CRIU checks at restore that the
	// file behind each fd has the size it had at the dump.
	if res := r.RT("--log", filepath.Join(t.TempDir(), "rt.log"), "run", "-d", "--bundle", b, c.id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	c.waitCount(t, 1)
	return c
}

func (c *container) state(t *testing.T) (api.Container, bool) {
	t.Helper()
	res := c.r.RT("state", c.id)
	if res.Code != 0 {
		if strings.Contains(res.Stderr, "does not exist") {
			return api.Container{}, false
		}
		t.Fatalf("state: %s", res)
	}
	var st api.Container
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		t.Fatalf("state: %v: %s", err, res.Stdout)
	}
	return st, true
}

// count reads the counter through the init's root; 0 if unreadable.
func (c *container) count(t *testing.T) int {
	t.Helper()
	st, ok := c.state(t)
	if !ok || st.InitProcessPid == 0 {
		return 0
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.InitProcessPid), "root/tmp/c"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// waitCount waits until the counter is above n and returns it.
func (c *container) waitCount(t *testing.T, n int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if v := c.count(t); v > n {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the counter did not pass %d within 5s (now %d)", n, c.count(t))
	return 0
}

// assertRunningThawed checks the container is running, not frozen, and
// counting.
func (c *container) assertRunningThawed(t *testing.T) {
	t.Helper()
	st, ok := c.state(t)
	if !ok || st.Status != api.StatusRunning {
		t.Fatalf("container %s: status %v (exists %v), want running", c.id, st.Status, ok)
	}
	if data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", c.id, "freezer.state")); err == nil && strings.TrimSpace(string(data)) != "THAWED" {
		t.Errorf("freezer.state %q, want THAWED", strings.TrimSpace(string(data)))
	}
	c.waitCount(t, c.count(t))
}

// alive reports whether pid runs (a zombie waiting for its reaper does
// not).
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func oneLine(t *testing.T, res harness.Result) string {
	t.Helper()
	msg := strings.TrimSpace(res.Stderr)
	if strings.Count(msg, "\n") > 0 {
		t.Errorf("error is not one line: %q", msg)
	}
	return msg
}

func TestCheckpointLeaveRunning(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	images := filepath.Join(t.TempDir(), "img")
	work := filepath.Join(t.TempDir(), "work")
	for i := 0; i < 2; i++ {
		res := c.r.RT("checkpoint", "--image-path", images+strconv.Itoa(i), "--work-path", work, "--leave-running", "--file-locks", c.id)
		if res.Code != 0 {
			t.Fatalf("checkpoint --leave-running #%d: %s", i+1, res)
		}
		if _, err := os.Stat(filepath.Join(images+strconv.Itoa(i), "inventory.img")); err != nil {
			t.Errorf("no image written: %v", err)
		}
		if _, err := os.Stat(filepath.Join(work, "dump.log")); err != nil {
			t.Errorf("no dump.log in --work-path: %v", err)
		}
		c.assertRunningThawed(t)
	}
}

func TestCheckpointRestore(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	images := filepath.Join(t.TempDir(), "img")
	before := c.waitCount(t, 3)
	st, _ := c.state(t)
	res := c.r.RT("checkpoint", "--image-path", images, c.id)
	if res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	// Stopped and removed, as runc does: no process, cgroup or state.
	if _, ok := c.state(t); ok {
		t.Errorf("container still exists after checkpoint without --leave-running")
	}
	if alive(st.InitProcessPid) {
		t.Errorf("init %d still alive after checkpoint", st.InitProcessPid)
	}
	c.r.AssertNoTrace(t, c.id, c.bundle)

	// A bundle that now asks for a terminal the checkpoint does not
	// have: refused once CRIU is done, and undone.
	harness.EditConfig(t, c.bundle, func(s *specs.Spec) { s.Process.Terminal = true })
	sock, _ := harness.ConsoleSocket(t)
	restoreFails(t, c.r, c.bundle, c.id, "criu sent no pty master", "restore", "-d", "--console-socket", sock, "--image-path", images, "--bundle", c.bundle, c.id)
	harness.EditConfig(t, c.bundle, func(s *specs.Spec) { s.Process.Terminal = false })

	pidFile := filepath.Join(t.TempDir(), "pid")
	res = c.r.RT("restore", "-d", "--image-path", images, "--bundle", c.bundle, "--pid-file", pidFile, c.id)
	if res.Code != 0 {
		t.Fatalf("restore: %s", res)
	}
	// CRIU's bind of the rootfs never reached the host.
	assertNoCRIURoot(t, c.bundle)
	rst, ok := c.state(t)
	if !ok || rst.Status != api.StatusRunning || rst.InitProcessPid == 0 {
		t.Fatalf("after restore: %+v (exists %v)", rst, ok)
	}
	if data, _ := os.ReadFile(pidFile); string(data) != strconv.Itoa(rst.InitProcessPid) {
		t.Errorf("pid file %q, state pid %d", data, rst.InitProcessPid)
	}
	after := c.count(t)
	if after < before {
		t.Errorf("restored counter at %d, was %d at checkpoint: it restarted", after, before)
	}
	c.waitCount(t, after+2)
	// The restored container is in its cgroups, and its bind mount is
	// the bundle's source again.
	cg, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(rst.InitProcessPid), "cgroup"))
	if !strings.Contains(string(cg), "/"+c.id+"\n") {
		t.Errorf("restored init not in the container's cgroups:\n%s", cg)
	}
	os.WriteFile(filepath.Join(c.data, "hello"), []byte("from the host"), 0o644)
	if res := c.r.RT("exec", c.id, "cat", "/data/hello"); res.Code != 0 || res.Stdout != "from the host" {
		t.Errorf("exec cat /data/hello in the restored container: %s", res)
	}
	// kill and delete work on it.
	stopAndDelete(t, c)
	c.r.AssertNoTrace(t, c.id, c.bundle)
}

func TestPreDumpUnsupported(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	images := filepath.Join(t.TempDir(), "img")
	res := c.r.RT("checkpoint", "--pre-dump", "--image-path", images, c.id)
	if res.Code == 0 {
		t.Skip("criu can pre-dump on this kernel (soft-dirty tracking present): nothing to check")
	}
	msg := oneLine(t, res)
	if !strings.Contains(msg, "pre-dump") || !strings.Contains(msg, "soft-dirty") {
		t.Errorf("pre-dump error does not say why: %q", msg)
	}
	c.assertRunningThawed(t)
	if entries, _ := os.ReadDir(images); len(entries) > 0 {
		t.Errorf("pre-dump left files in the image dir: %v", entries)
	}
}

func TestDumpFailureLeavesRunning(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"image path is a file", []string{"--image-path", file}, []string{"image path", "not a directory"}},
		// Nothing listens on port 1: CRIU fails once the container is
		// frozen and the dump has started.
		{"criu fails mid-dump", []string{"--image-path", filepath.Join(t.TempDir(), "img"), "--page-server", "127.0.0.1:1"},
			[]string{"criu dump failed", "Can't connect to server 127.0.0.1:1", "Error (", "(log: ", "dump.log)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.r.RT(append(append([]string{"checkpoint"}, tt.args...), c.id)...)
			if res.Code == 0 {
				t.Fatalf("checkpoint succeeded: %s", res)
			}
			msg := oneLine(t, res)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			c.assertRunningThawed(t)
		})
	}
}
