package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireCgroups skips a test that needs to make cgroups and move processes.
func requireCgroups(t *testing.T) []hierarchy {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups and moves processes between them")
	}
	hs, err := hierarchies()
	if err != nil {
		t.Skipf("no cgroup hierarchy to test on: %v", err)
	}
	return hs
}

// testName is a cgroup name no other test run uses.
func testName(what string) string {
	return fmt.Sprintf("rt-cgtest-%d-%s", os.Getpid(), what)
}

// removeEverywhere removes dir (below the top of each hierarchy) from every
// hierarchy when the test ends, whatever happened. Register it before
// starting processes: cleanups run last first, so they are killed by then.
func removeEverywhere(t *testing.T, hs []hierarchy, dir string) {
	t.Cleanup(func() {
		for _, h := range hs {
			if err := removeTree(filepath.Join(h.mountpoint, dir), time.Now().Add(busyRetry)); err != nil {
				t.Errorf("cleanup: remove %s: %v", filepath.Join(h.mountpoint, dir), err)
			}
		}
	})
}

// startSleep starts a process to move around; it is killed when the test
// ends.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd) })
	return cmd
}

// stop kills cmd and reaps it; repeating it is harmless.
func stop(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// procCgroup is /proc/<pid>/cgroup.
func procCgroup(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	cg, err := parseProcCgroup(data)
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

// wantCgroup is what /proc/<pid>/cgroup shows for a process in dir of h.
func wantCgroup(h *hierarchy, dir string) string {
	rel, _ := filepath.Rel(h.mountpoint, dir)
	return filepath.Join(h.root, rel)
}

// checkIn fails unless /proc/<pid>/cgroup puts pid in m's directory in every
// hierarchy, and every hierarchy the process is in is one m joined.
func checkIn(t *testing.T, m *fsManager, pid int) {
	t.Helper()
	cg := procCgroup(t, pid)
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

// checkGone fails if any of dirs exists.
func checkGone(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", d, err)
		}
	}
}

func dirsOf(m Manager) []string {
	var dirs []string
	for _, d := range m.Paths() {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// TestApplyJoinsEveryHierarchy is the life of a container's cgroup: create
// joins init everywhere, ps lists it, delete (from the saved paths) cannot
// remove the cgroup while init lives and can once it is killed.
func TestApplyJoinsEveryHierarchy(t *testing.T) {
	hs := requireCgroups(t)
	name := testName("life")
	removeEverywhere(t, hs, name)
	cmd := startSleep(t)
	pid := cmd.Process.Pid

	mm, err := New("", name)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*fsManager)
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
	for _, d := range dirsOf(m) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("Destroy with init alive removed %s: %v", d, err)
		}
	}

	stop(cmd)
	if err := loaded.Destroy(); err != nil {
		t.Fatalf("Destroy after kill: %v", err)
	}
	checkGone(t, dirsOf(m)...)
	if err := loaded.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// Destroy must not wait when the process was killed just before: the retry
// on EBUSY covers the moment it takes to leave.
func TestDestroyRightAfterKill(t *testing.T) {
	hs := requireCgroups(t)
	name := testName("kill")
	removeEverywhere(t, hs, name)
	cmd := startSleep(t)
	m, err := New("/"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// Kill without reaping: a zombie holds no cgroup.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dirsOf(m)...)
}

// Cgroups the container made below its own go first.
func TestDestroyRemovesSubcgroups(t *testing.T) {
	hs := requireCgroups(t)
	name := testName("sub")
	removeEverywhere(t, hs, name)
	cmd := startSleep(t)
	m, err := New("/"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// The container moves itself to a cgroup of its own below, as systemd in
	// a container would.
	sub, err := New("/"+name+"/inner/deeper", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids() = %v, want the process in the sub-cgroup, %d", pids, cmd.Process.Pid)
	}
	stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dirsOf(m)...)
}

// A failed Apply leaves no directory and the process where it was.
func TestApplyFailureLeavesNothing(t *testing.T) {
	hs := requireCgroups(t)
	var cpuset *hierarchy
	for i := range hs {
		if slices.Contains(hs[i].keys, "cpuset") {
			cpuset = &hs[i]
		}
	}
	// A pid that is surely free: a reaped child's.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pid  func(t *testing.T) int
		// prepare runs before Apply; nested is the path below the test's top
		// directory.
		prepare func(t *testing.T, top string)
		nested  string
		wantErr string
	}{
		{name: "no such process", nested: "/a/b",
			pid:     func(*testing.T) int { return gone.Process.Pid },
			wantErr: "/a/b: write cgroup.procs: no such process"},
		{name: "pid 0", nested: "/a",
			pid:     func(*testing.T) int { return 0 },
			wantErr: "cgroups: apply: invalid pid 0"},
		{
			// A cpuset someone made without CPUs refuses the process
			// (ENOSPC) after the hierarchies before it were joined: they
			// must give the process back and lose their directories.
			name: "midway, cpuset without cpus", nested: "/a",
			pid: func(t *testing.T) int { return startSleep(t).Process.Pid },
			prepare: func(t *testing.T, top string) {
				if cpuset == nil {
					t.Skip("no v1 cpuset hierarchy")
				}
				if err := os.MkdirAll(filepath.Join(cpuset.mountpoint, top, "a"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "/a: write cgroup.procs: no space left on device",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := "/" + testName(fmt.Sprintf("fail%d", i))
			removeEverywhere(t, hs, top)
			if tc.prepare != nil {
				tc.prepare(t, top)
			}
			pid := tc.pid(t)
			var before map[string]string
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				before = procCgroup(t, pid)
			}
			m, err := New(top+tc.nested, "")
			if err != nil {
				t.Fatal(err)
			}
			err = m.Apply(pid)
			t.Logf("Apply: %v", err)
			if err == nil || !strings.HasPrefix(err.Error(), "cgroups: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Apply: err = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "undo") || strings.Contains(err.Error(), "\n") {
				t.Errorf("Apply: err = %q, want one line and a clean undo", err)
			}
			for _, h := range hs {
				d := filepath.Join(h.mountpoint, top)
				if tc.prepare != nil && h.mountpoint == cpuset.mountpoint {
					continue // the test made this one
				}
				checkGone(t, d)
			}
			if before != nil {
				if after := procCgroup(t, pid); !maps.Equal(before, after) {
					t.Errorf("process not given back:\nbefore %v\nafter  %v", before, after)
				}
			}
		})
	}
}

// Each level Apply makes in the cpuset hierarchy gets its parent's CPUs and
// memory nodes, or the process could not join.
func TestNestedPathInheritsCpuset(t *testing.T) {
	hs := requireCgroups(t)
	top := "/" + testName("nest")
	removeEverywhere(t, hs, top)
	cmd := startSleep(t)
	mm, err := New(top+"/a/b/c", "")
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*fsManager)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	checkIn(t, m, cmd.Process.Pid)

	if dir, ok := m.paths["cpuset"]; ok {
		// dir is <mount>/<top>/a/b/c: four levels made below the mount.
		mount := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(dir))))
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			parent, err := os.ReadFile(filepath.Join(mount, file))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(parent)) == "" {
				t.Fatalf("%s/%s is empty", mount, file)
			}
			for d := dir; d != mount; d = filepath.Dir(d) {
				got, err := os.ReadFile(filepath.Join(d, file))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(parent) {
					t.Errorf("%s/%s = %q, want the parent's %q", d, file, got, parent)
				}
			}
		}
	} else {
		t.Log("no v1 cpuset hierarchy: only the nesting is tested")
	}

	stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dirsOf(m)...)
	// The parents stay (see Destroy); removeEverywhere takes them.
	for _, d := range dirsOf(m) {
		if _, err := os.Stat(filepath.Dir(d)); err != nil {
			t.Errorf("parent of %s: %v", d, err)
		}
	}
}

// A relative path is below the test process's own cgroup (v1) or its parent
// (cgroup2); on the test VM the memory hierarchy is the interesting one,
// as the test runs below its top.
func TestRelativePath(t *testing.T) {
	requireCgroups(t)
	name := testName("rel")
	mine, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	mm, err := New(name, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*fsManager)
	t.Cleanup(func() {
		for _, d := range dirsOf(m) {
			if err := removeTree(d, time.Now().Add(busyRetry)); err != nil {
				t.Errorf("cleanup: remove %s: %v", d, err)
			}
		}
	})
	for _, tg := range m.targets {
		base := mine[tg.keys[0]]
		if tg.h.unified() {
			base = filepath.Dir(base)
		}
		rel, _ := filepath.Rel(tg.h.root, base)
		if want := filepath.Join(tg.h.mountpoint, rel, name); tg.dir != want {
			t.Errorf("%q: dir %s, want %s", tg.keys[0], tg.dir, want)
		}
	}
	cmd := startSleep(t) // after the cleanup above, so killed before it runs
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	checkIn(t, m, cmd.Process.Pid)
	stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dirsOf(m)...)
}

// Many containers come and go: nothing may pile up.
func TestApplyDestroyCycles(t *testing.T) {
	hs := requireCgroups(t)
	prefix := testName("cycle")
	for i := range 50 {
		removeEverywhere(t, hs, fmt.Sprintf("%s-%d", prefix, i))
	}
	for i := range 50 {
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m, err := New("", fmt.Sprintf("%s-%d", prefix, i))
		if err == nil {
			err = m.Apply(cmd.Process.Pid)
		}
		stop(cmd)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := m.Destroy(); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	assertNoneLeft(t, hs, prefix)
}

// A state file damaged to name the top of a hierarchy must not make Destroy
// empty it: the top is refused before anything below is touched.
func TestDestroyRefusesHierarchyTop(t *testing.T) {
	hs := requireCgroups(t)
	h := hs[len(hs)-1]
	canary := "/" + testName("canary")
	removeEverywhere(t, hs, canary)
	if err := os.Mkdir(filepath.Join(h.mountpoint, canary), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Load(map[string]string{h.keys[0]: h.mountpoint}).Destroy()
	t.Logf("Destroy: %v", err)
	if want := "cgroups: remove " + h.mountpoint + ": not a cgroup below the top of a mounted hierarchy"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(h.mountpoint, canary)); err != nil {
		t.Errorf("an empty cgroup below the top was removed: %v", err)
	}
}

// assertNoneLeft fails the test for every directory whose name starts with
// prefix at the top of any of the hierarchies.
func assertNoneLeft(t *testing.T, hs []hierarchy, prefix string) {
	t.Helper()
	for _, h := range hs {
		entries, err := os.ReadDir(h.mountpoint)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("%s left behind", filepath.Join(h.mountpoint, e.Name()))
			}
		}
	}
}
