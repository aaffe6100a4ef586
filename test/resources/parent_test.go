package resources_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// parentRunner is a runner whose rt has the host setting cgroup-parent
// (RT_CGROUP_PARENT) set to a parent of its own, returned. rt makes the
// parent in each hierarchy and leaves it at delete, as runc leaves
// intermediate directories; the test removes it at cleanup, after every
// container of the runner is gone, and fails if it cannot.
func parentRunner(t *testing.T) (*harness.Runner, string) {
	t.Helper()
	if compared != "" {
		t.Skip("cgroup-parent is rt's own host setting")
	}
	harness.RequireRoot(t)
	requireV1(t)
	parent := "/" + harness.ID("rt-test")
	// Registered before the runner's and the containers' clean-ups, so it
	// runs after them.
	t.Cleanup(func() { removeParent(t, parent) })
	r := harness.NewRunner(t)
	r.Env = append(os.Environ(), "RT_CGROUP_PARENT="+parent)
	return r, parent
}

// removeParent removes parent and the (empty) cgroups below it in every
// hierarchy, deepest first.
func removeParent(t *testing.T, parent string) {
	t.Helper()
	dirs := cgDirsAt(parent)
	for _, top := range dirs {
		var tree []string
		filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		slices.Reverse(tree)
		for _, d := range tree {
			if err := os.Remove(d); err != nil {
				t.Errorf("remove the test's cgroup parent: %v", err)
			}
		}
	}
}

// cgDirsAt lists the directories at the cgroup path p in every hierarchy.
func cgDirsAt(p string) []string {
	var out []string
	for _, pat := range []string{filepath.Join(cgRoot, "*", p), filepath.Join(cgRoot, p)} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				out = append(out, m)
			}
		}
	}
	return out
}

// procCgroups maps each hierarchy of /proc/<pid>/cgroup (its controllers as
// listed, "" for cgroup2) to the process's cgroup path in it.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", itoa(int64(pid)), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range lines(string(data)) {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

// wantCgroup checks that the container's init is in cgroup path want in
// the memory, pids and cgroup2 hierarchies, and that the directories are
// there.
func wantCgroup(t *testing.T, pid int, want string) {
	t.Helper()
	got := procCgroups(t, pid)
	for _, h := range []string{"memory", "pids", ""} {
		if got[h] != want {
			t.Errorf("/proc/%d/cgroup: %q hierarchy: %q, want %q (all: %v)", pid, h, got[h], want, got)
		}
	}
	for _, ctrl := range []string{"memory", "pids", "unified"} {
		if _, err := os.Stat(filepath.Join(cgRoot, ctrl, want)); err != nil {
			t.Errorf("container cgroup dir: %v", err)
		}
	}
}

// runAs runs bundle b detached as id under r; at cleanup it is deleted with
// --force and checked for traces. It returns the init's host pid.
func runAs(t *testing.T, r *harness.Runner, id, b string) int {
	t.Helper()
	t.Cleanup(func() {
		if res := r.RT("delete", "--force", id); res.Code != 0 && !strings.Contains(res.Stderr, "does not exist") {
			t.Errorf("delete --force %s: %s", id, res)
		}
		r.AssertNoTrace(t, id, b)
	})
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d %s under %s: %s", id, r.Root, res)
	}
	return state(t, r, id).InitProcessPid
}

// TestCgroupParentHoldsContainerCgroups: with cgroup-parent set, a container
// with an empty cgroupsPath gets <parent>/<id> in every hierarchy; update
// reaches it there (through the paths in the state file), and delete
// removes its directories and leaves the parent.
func TestCgroupParentHoldsContainerCgroups(t *testing.T) {
	t.Parallel()
	r, parent := parentRunner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("cgparent")
	pid := runAs(t, r, id, b)
	dir := parent + "/" + id
	wantCgroup(t, pid, dir)

	if res := r.RT("update", "--pids-limit", "77", id); res.Code != 0 {
		t.Fatalf("update: %s", res)
	}
	if data, err := os.ReadFile(filepath.Join(cgRoot, "pids", dir, "pids.max")); err != nil || trim(string(data)) != "77" {
		t.Errorf("pids.max after update = %q (%v), want 77", data, err)
	}

	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Fatalf("delete --force: %s", res)
	}
	if left := cgDirsAt(dir); len(left) > 0 {
		t.Errorf("container cgroup dirs left after delete: %v", left)
	}
	if _, err := os.Stat(filepath.Join(cgRoot, "memory", parent)); err != nil {
		t.Errorf("the parent is gone after delete (rt leaves it, as runc leaves intermediate dirs): %v", err)
	}
}

// TestCgroupParentsKeepTwoRootsApart: two rt roots, each with its own
// cgroup-parent, run the same id from the same spec with the same absolute
// cgroupsPath at once (a live migration's source and target on one
// machine): both run, each in <its parent>/<cgroupsPath>.
func TestCgroupParentsKeepTwoRootsApart(t *testing.T) {
	t.Parallel()
	id := harness.ID("cgtwin")
	edit := func(s *specs.Spec) { s.Linux.CgroupsPath = "/shared/" + id }
	pids := map[string]int{}
	for range 2 {
		r, parent := parentRunner(t)
		// A bundle each (the same config.json): each container's
		// clean-up checks that no process is left with its root there.
		pids[parent] = runAs(t, r, id, bundle(t, []string{"sleep", "1000"}, edit))
		if st := state(t, r, id); st.Status != "running" {
			t.Errorf("%s under %s: %s, want running", id, r.Root, st.Status)
		}
	}
	for parent, pid := range pids {
		wantCgroup(t, pid, parent+"/shared/"+id)
	}
}

// TestCgroupParentRefusedWithSystemdDriver: the systemd driver has no place
// for a cgroupfs parent; create fails saying so and leaves nothing.
func TestCgroupParentRefusedWithSystemdDriver(t *testing.T) {
	t.Parallel()
	r, parent := parentRunner(t)
	r.Env = append(r.Env, "RT_CGROUP_DRIVER=systemd")
	id := harness.ID("cgparent-sd")
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Linux.CgroupsPath = "rt-test.slice:rt:" + id })
	res := r.RT("run", "-d", "--bundle", b, id)
	if res.Code != 1 || !strings.Contains(res.Stderr, "cgroup-parent applies to the cgroupfs driver only") {
		t.Errorf("run -d with the systemd driver and cgroup-parent: %s", res)
	}
	r.AssertNoTrace(t, id, b)
	if left := cgDirsAt(parent); len(left) > 0 {
		t.Errorf("cgroup dirs made: %v", left)
	}
}
