package fs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// removeEverywhere removes dir (below the top of each hierarchy) from every
// hierarchy when the test ends, whatever happened. Register it before
// starting processes: cleanups run last first, so they are killed by then.
// newApplied is New(path, "") with pid moved in, the test failing on
// either.
func newApplied(t *testing.T, path string, pid int) *Manager {
	t.Helper()
	m, err := New(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	return m.(*Manager)
}

func removeEverywhere(t *testing.T, hs []cgroups.Mount, dir string) {
	t.Cleanup(func() {
		for _, h := range hs {
			if err := removeTree(filepath.Join(h.Mountpoint, dir), time.Now().Add(busyRetry)); err != nil {
				t.Errorf("cleanup: remove %s: %v", filepath.Join(h.Mountpoint, dir), err)
			}
		}
	})
}

// wantCgroup is what /proc/<pid>/cgroup shows for a process in dir of h.
func wantCgroup(h *cgroups.Mount, dir string) string {
	rel, _ := filepath.Rel(h.Mountpoint, dir)
	return filepath.Join(h.Root, rel)
}

// checkIn fails unless /proc/<pid>/cgroup puts pid in m's directory in every
// hierarchy, and every hierarchy the process is in is one m joined.
func checkIn(t *testing.T, m *Manager, pid int) {
	t.Helper()
	cg := cgtest.ProcCgroup(t, pid)
	seen := map[string]bool{}
	for _, tg := range m.targets {
		for _, k := range tg.keys {
			seen[k] = true
			if got, want := cg[k], wantCgroup(tg.h, tg.dir); got != want {
				t.Errorf("/proc/%d/cgroup: %q is %q, want %q", pid, k, got, want)
			}
		}
	}
	for k := range cg {
		if !seen[k] {
			t.Errorf("/proc/%d/cgroup lists hierarchy %q, which the manager did not join", pid, k)
		}
	}
}

// TestApplyJoinsEveryHierarchy is the life of a container's cgroup: create
// joins init everywhere, ps lists it, delete (from the saved paths) cannot
// remove the cgroup while init lives and can once it is killed.
func TestApplyJoinsEveryHierarchy(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	name := cgtest.Name("life")
	removeEverywhere(t, hs, name)
	cmd := cgtest.StartSleep(t)
	pid := cmd.Process.Pid

	mm, err := New("", name)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*Manager)
	if len(m.targets) != len(hs) {
		t.Fatalf("manager has %d hierarchies, host %d", len(m.targets), len(hs))
	}
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	checkIn(t, m, pid)
	for k, d := range m.Paths() {
		if filepath.Base(d) != name {
			t.Errorf("Paths()[%q] = %s, not /%s in its hierarchy", k, d, name)
		}
	}

	// What delete and ps do: a manager from the saved paths.
	loaded := Load(m.Paths())
	pids, err := loaded.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, want [%d]", pids, pid)
	}

	start := time.Now()
	err = loaded.Destroy()
	t.Logf("Destroy with init alive: %v", err)
	if err == nil || !strings.Contains(err.Error(), "device or resource busy") || !strings.HasPrefix(err.Error(), "cgroups: remove /") {
		t.Fatalf("Destroy with init alive: err = %v, want busy", err)
	}
	if waited := time.Since(start); waited < busyRetry || waited > 2*busyRetry {
		t.Errorf("Destroy gave up after %v, want about %v", waited, busyRetry)
	}
	for _, d := range cgtest.DirsOf(m) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("Destroy with init alive removed %s: %v", d, err)
		}
	}

	cgtest.Stop(cmd)
	if err := loaded.Destroy(); err != nil {
		t.Fatalf("Destroy after kill: %v", err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
	if err := loaded.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// Destroy must not wait when the process was killed just before: the retry
// on EBUSY covers the moment it takes to leave.
func TestDestroyRightAfterKill(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	name := cgtest.Name("kill")
	removeEverywhere(t, hs, name)
	cmd := cgtest.StartSleep(t)
	m := newApplied(t, "/"+name, cmd.Process.Pid)
	// Kill without reaping: a zombie holds no cgroup.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
}

// Cgroups the container made below its own go first.
func TestDestroyRemovesSubcgroups(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	name := cgtest.Name("sub")
	removeEverywhere(t, hs, name)
	cmd := cgtest.StartSleep(t)
	m := newApplied(t, "/"+name, cmd.Process.Pid)
	// The container moves itself to a cgroup of its own below, as systemd in
	// a container would.
	newApplied(t, "/"+name+"/inner/deeper", cmd.Process.Pid)
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids() = %v, want the process in the sub-cgroup, %d", pids, cmd.Process.Pid)
	}
	cgtest.Stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
}
