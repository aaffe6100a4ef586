package lifecycle_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

// TestStateRootFull: a state root that fills up during create (a 16 KiB
// tmpfs) makes create fail with one line saying why, leaving neither a
// state directory, a cgroup nor a process of that container; the ones
// created before it still delete cleanly.
func TestStateRootFull(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	if err := os.MkdirAll(r.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", r.Root, "tmpfs", 0, "size=16k,mode=0700"); err != nil {
		t.Fatalf("mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(r.Root)
		for _, e := range entries {
			r.RT("delete", "--force", e.Name())
		}
		unix.Unmount(r.Root, unix.MNT_DETACH)
	})
	var created []string
	for len(created) < 50 {
		id := harness.ID("full")
		res := r.RT("create", "--bundle", b, id)
		if res.Code == 0 {
			created = append(created, id)
			continue
		}
		failsCleanly(t, "create on a full state root", res, "no space left on device")
		if _, err := os.Stat(filepath.Join(r.Root, id)); err == nil {
			t.Errorf("the failed create left its state dir")
		}
		if dirs := harness.CgroupDirsOf(id); len(dirs) > 0 {
			t.Errorf("the failed create left cgroup dirs: %v", dirs)
		}
		if procs := procsInCgroup(id); len(procs) > 0 {
			t.Errorf("the failed create left processes: %v", procs)
		}
		for _, c := range created {
			if res := r.RT("delete", "--force", c); res.Code != 0 {
				t.Errorf("delete --force %s: %s", c, res)
			}
			r.AssertNoTrace(t, c, b)
		}
		return
	}
	t.Fatalf("50 containers fit in a 16 KiB state root")
}
