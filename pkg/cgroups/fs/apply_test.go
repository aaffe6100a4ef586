package fs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// A failed Apply leaves no directory and the process where it was.
// Long for its table of cases, which reads best in one place.
func TestApplyFailureLeavesNothing(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	var cpuset *cgroups.Mount
	for i := range hs {
		if slices.Contains(hs[i].Keys, "cpuset") {
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
			pid: func(t *testing.T) int { return cgtest.StartSleep(t).Process.Pid },
			prepare: func(t *testing.T, top string) {
				if cpuset == nil {
					t.Skip("no v1 cpuset hierarchy")
				}
				if err := os.MkdirAll(filepath.Join(cpuset.Mountpoint, top, "a"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "/a: write cgroup.procs: no space left on device",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := "/" + cgtest.Name(fmt.Sprintf("fail%d", i))
			removeEverywhere(t, hs, top)
			if tc.prepare != nil {
				tc.prepare(t, top)
			}
			pid := tc.pid(t)
			var before map[string]string
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				before = cgtest.ProcCgroup(t, pid)
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
				d := filepath.Join(h.Mountpoint, top)
				if tc.prepare != nil && h.Mountpoint == cpuset.Mountpoint {
					continue // the test made this one
				}
				cgtest.CheckGone(t, d)
			}
			if before != nil {
				if after := cgtest.ProcCgroup(t, pid); !maps.Equal(before, after) {
					t.Errorf("process not given back:\nbefore %v\nafter  %v", before, after)
				}
			}
		})
	}
}

// Each level Apply makes in the cpuset hierarchy gets its parent's CPUs and
// memory nodes, or the process could not join.
func TestNestedPathInheritsCpuset(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	top := "/" + cgtest.Name("nest")
	removeEverywhere(t, hs, top)
	cmd := cgtest.StartSleep(t)
	m := newApplied(t, top+"/a/b/c", cmd.Process.Pid)
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

	cgtest.Stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
	// The parents stay (see Destroy); removeEverywhere takes them.
	for _, d := range cgtest.DirsOf(m) {
		if _, err := os.Stat(filepath.Dir(d)); err != nil {
			t.Errorf("parent of %s: %v", d, err)
		}
	}
}

// A relative path is below the test process's own cgroup (v1) or its parent
// (cgroup2); on the test VM the memory hierarchy is the interesting one,
// as the test runs below its top.
func TestRelativePath(t *testing.T) {
	cgtest.RequireCgroups(t)
	name := cgtest.Name("rel")
	mine, err := cgroups.OwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	mm, err := New(name, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*Manager)
	t.Cleanup(func() {
		for _, d := range cgtest.DirsOf(m) {
			if err := removeTree(d, time.Now().Add(busyRetry)); err != nil {
				t.Errorf("cleanup: remove %s: %v", d, err)
			}
		}
	})
	for _, tg := range m.targets {
		base := mine[tg.keys[0]]
		if tg.h.Unified() {
			base = filepath.Dir(base)
		}
		rel, _ := filepath.Rel(tg.h.Root, base)
		if want := filepath.Join(tg.h.Mountpoint, rel, name); tg.dir != want {
			t.Errorf("%q: dir %s, want %s", tg.keys[0], tg.dir, want)
		}
	}
	cmd := cgtest.StartSleep(t) // after the cleanup above, so killed before it runs
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	checkIn(t, m, cmd.Process.Pid)
	cgtest.Stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
}

// Many containers come and go: nothing may pile up.
func TestApplyDestroyCycles(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	prefix := cgtest.Name("cycle")
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
		cgtest.Stop(cmd)
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
	hs := cgtest.RequireCgroups(t)
	h := hs[len(hs)-1]
	canary := "/" + cgtest.Name("canary")
	removeEverywhere(t, hs, canary)
	if err := os.Mkdir(filepath.Join(h.Mountpoint, canary), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Load(map[string]string{h.Keys[0]: h.Mountpoint}).Destroy()
	t.Logf("Destroy: %v", err)
	if want := "cgroups: remove " + h.Mountpoint + ": not a cgroup below the top of a mounted hierarchy"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(h.Mountpoint, canary)); err != nil {
		t.Errorf("an empty cgroup below the top was removed: %v", err)
	}
}

// assertNoneLeft fails the test for every directory whose name starts with
// prefix at the top of any of the hierarchies.
func assertNoneLeft(t *testing.T, hs []cgroups.Mount, prefix string) {
	t.Helper()
	for _, h := range hs {
		entries, err := os.ReadDir(h.Mountpoint)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("%s left behind", filepath.Join(h.Mountpoint, e.Name()))
			}
		}
	}
}

// The keys of New's manager and of Load's are the same, and Load groups a
// co-mounted hierarchy into one directory.
func TestLoadGroupsCoMounted(t *testing.T) {
	fakeHybrid := []cgroups.Mount{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Keys: []string{"cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Keys: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Keys: []string{"name=systemd"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", Keys: []string{""}},
	}
	dirs, err := cgroups.ContainerDirs(fakeHybrid, "/c1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := Load(dirs)
	if !maps.Equal(m.Paths(), dirs) {
		t.Errorf("Paths() = %v, want %v", m.Paths(), dirs)
	}
	var got []string
	for _, tg := range m.targets {
		got = append(got, strings.Join(tg.keys, ",")+"="+tg.dir)
	}
	want := []string{
		"cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/c1",
		"memory=/sys/fs/cgroup/memory/c1",
		"name=systemd=/sys/fs/cgroup/systemd/c1",
		"=/sys/fs/cgroup/unified/c1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets = %q, want %q", got, want)
	}
	// The map handed out is a copy.
	m.Paths()["memory"] = "/elsewhere"
	if m.Paths()["memory"] != dirs["memory"] {
		t.Error("Paths() shares the manager's map")
	}
}

// TestLoadedJoinsOnly: a loaded manager (exec's) joins the container's
// cgroup and never makes it: one removed meanwhile (a delete racing the
// exec) is ErrGone, and stays removed.
func TestLoadedJoinsOnly(t *testing.T) {
	hs, err := cgroups.Mounts()
	if err != nil || os.Geteuid() != 0 {
		t.Skipf("needs root and the host's cgroup mounts (%v)", err)
	}
	paths := map[string]string{}
	for _, h := range hs {
		paths[h.Keys[0]] = filepath.Join(h.Mountpoint, fmt.Sprintf("rt-fs-gone-%d", os.Getpid()))
	}
	m := Load(paths)
	if _, err := m.Prepare(); !errors.Is(err, cgroups.ErrGone) {
		t.Errorf("Prepare = %v, want ErrGone", err)
	}
	if err := m.Apply(os.Getpid()); !errors.Is(err, cgroups.ErrGone) {
		t.Errorf("Apply = %v, want ErrGone", err)
	}
	for _, dir := range paths {
		if _, err := os.Stat(dir); err == nil {
			os.Remove(dir)
			t.Errorf("%s was made", dir)
		}
	}
}
