package fs

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// The tests here act on the host's real cgroups (root only, skipped
// otherwise), each in a cgroup of its own that its cleanups remove.

// realManager makes a manager for a new test cgroup: in every hierarchy,
// or with only set, in the cgroup2 one (the test of the cgroup2 code on a
// hybrid host). Its cleanup, registered first so that it runs last,
// thaws and kills whatever is left in it and removes it everywhere.
func realManager(t *testing.T, what string, onlyV2 bool) *Manager {
	t.Helper()
	hs := cgtest.RequireCgroups(t)
	name := "/" + cgtest.Name(what)
	if onlyV2 {
		i := slices.IndexFunc(hs, func(h cgroups.Mount) bool { return h.Unified() })
		if i < 0 {
			t.Skip("no cgroup2 hierarchy")
		}
		hs = hs[i : i+1]
	}
	removeEverywhere(t, hs, name)
	m, err := NewIn(hs, name, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, m) })
	return m
}

// requireKey skips a test whose manager lacks hierarchy key.
func requireKey(t *testing.T, m *Manager, key, why string) string {
	t.Helper()
	dir, ok := m.paths[key]
	if !ok {
		t.Skipf("no %q hierarchy: %s", key, why)
	}
	return dir
}

// killAll thaws m's cgroup and kills every process in it until none is
// left (a frozen process dies only once thawed).
func killAll(t *testing.T, m *Manager) {
	_ = m.Thaw()
	for range 100 {
		pids, err := m.Pids()
		if err != nil || len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("processes left in %v", m.paths)
}

// child is a shell script started outside the container's cgroup that
// waits on its stdin: release lets it run once Apply moved it in.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *syncBuffer
}

// syncBuffer is the child's output, safe to read while it writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChild starts sh -c "read x; script".
func startChild(t *testing.T, script string) *child {
	t.Helper()
	c := &child{cmd: exec.Command("sh", "-c", "read x; "+script), out: &syncBuffer{}}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cgtest.Stop(c.cmd) })
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the child to exit, at most d.
func (c *child) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("child still running after %v; output: %s", d, c.out)
		return nil
	}
}

// A memory hog over its limit is OOM-killed and OOMNotify reports it; the
// channel closes once the cgroup is removed.
func TestRealMemoryLimitOOM(t *testing.T) {
	m := realManager(t, "oom", false)
	dir := requireKey(t, m, "memory", "the test is of the v1 memory controller")
	c := startChild(t, "exec tail /dev/zero") // one endless line, all kept
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	const limit = 32 << 20
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](limit), Swap: ptr[int64](limit)}}); err != nil {
		t.Fatal(err)
	}
	if got := cgtest.ReadTrim(t, filepath.Join(dir, "memory.limit_in_bytes")); got != strconv.Itoa(limit) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, limit)
	}
	stopCh := make(chan struct{})
	defer close(stopCh)
	oom, err := m.OOMNotify(stopCh)
	if err != nil {
		t.Fatal(err)
	}
	c.release(t)
	select {
	case _, ok := <-oom:
		if !ok {
			t.Fatal("OOM channel closed without a value")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no OOM notification; %s", cgtest.ReadTrim(t, filepath.Join(dir, "memory.oom_control")))
	}
	err = c.wait(t, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("hog ended with %v, want killed by SIGKILL", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-oom:
		if ok {
			t.Error("a second OOM value")
		}
	case <-time.After(5 * time.Second):
		t.Error("OOM channel still open after Destroy")
	}
}

// Closing stop closes the channel.
func TestRealOOMNotifyStop(t *testing.T) {
	m := realManager(t, "oomstop", false)
	requireKey(t, m, "memory", "the test is of the v1 memory controller")
	c := startChild(t, "exec sleep 600")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	stopCh := make(chan struct{})
	oom, err := m.OOMNotify(stopCh)
	if err != nil {
		t.Fatal(err)
	}
	close(stopCh)
	select {
	case _, ok := <-oom:
		if ok {
			t.Error("an OOM value without an OOM")
		}
	case <-time.After(5 * time.Second):
		t.Error("OOM channel still open after stop")
	}
}

// A fork loop stops at pids.limit.
func TestRealPidsLimit(t *testing.T) {
	m := realManager(t, "pids", false)
	dir := requireKey(t, m, "pids", "the test is of the v1 pids controller")
	// The sleeps' output goes elsewhere, or waiting for the shell would wait
	// for them to close its pipe.
	c := startChild(t, "i=0; while [ $i -lt 30 ]; do sleep 600 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo all forked; wait")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	const limit = 8
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](limit)}}); err != nil {
		t.Fatal(err)
	}
	if got := cgtest.ReadTrim(t, filepath.Join(dir, "pids.max")); got != strconv.Itoa(limit) {
		t.Errorf("pids.max = %s, want %d", got, limit)
	}
	c.release(t)
	err := c.wait(t, 10*time.Second) // dash gives up at the first failed fork
	out := c.out.String()
	t.Logf("fork loop: %v; %s", err, out)
	if strings.Contains(out, "all forked") || !strings.Contains(out, "fork") {
		t.Errorf("the fork loop was not stopped: %q", out)
	}
	if got, _ := strconv.Atoi(cgtest.ReadTrim(t, filepath.Join(dir, "pids.current"))); got > limit {
		t.Errorf("pids.current = %d, above the limit %d", got, limit)
	}
	if ev := cgtest.ReadTrim(t, filepath.Join(dir, "pids.events")); ev == "max 0" {
		t.Errorf("pids.events = %q, want a refused fork counted", ev)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Limit != limit || st.Pids.Current == 0 || st.Pids.Current > limit {
		t.Errorf("Stats().Pids = %+v, want limit %d and 1-%d current", st.Pids, limit, limit)
	}
}

// denyNull is a device list that leaves a process /dev/zero and nothing
// else: /dev/null is denied by the default-deny rule.
var denyNull = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rwm"},
}

// nullScript tries /dev/null and /dev/zero from inside the cgroup.
const nullScript = `cat /dev/null; echo "null: $?"; head -c 3 /dev/zero | wc -c`

func checkNullDenied(t *testing.T, c *child) {
	t.Helper()
	if err := c.wait(t, 10*time.Second); err != nil {
		t.Fatalf("%v: %s", err, c.out)
	}
	out := c.out.String()
	if !strings.Contains(out, "/dev/null: Operation not permitted") || !strings.Contains(out, "null: 1") {
		t.Errorf("/dev/null could be opened: %q", out)
	}
	if !strings.HasSuffix(out, "\n3\n") {
		t.Errorf("/dev/zero could not be read: %q", out)
	}
}
