package lifecycle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

// TestCorruptStateDeleteForce: a running container whose state.json was
// cut short (the spec, which comes last, lost) is reported corrupt by
// state, left out of list with a warning, and delete --force still kills
// its processes and removes its cgroups from what it can read.
func TestCorruptStateDeleteForce(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("corrupt")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	path := filepath.Join(r.Root, id, "state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Index(data, []byte(`"spec"`))
	if cut < 0 {
		t.Fatalf("no spec in %s", data)
	}
	if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	failsCleanly(t, "state of a corrupt container", r.RT("state", id), "corrupt state file")
	if res := r.RT("list", "-q"); res.Code != 0 || strings.Contains(res.Stdout, id) || !strings.Contains(res.Stderr, "corrupt state file") {
		t.Errorf("list with a corrupt state: %s", res)
	}
	if procs := procsInCgroup(id); len(procs) == 0 {
		t.Fatal("the container's processes are not in its cgroups before delete")
	}
	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Fatalf("delete --force: %s", res)
	}
	r.AssertNoTrace(t, id, b)
	if procs := procsInCgroup(id); len(procs) > 0 {
		t.Errorf("processes left after delete --force: %v", procs)
	}
}
