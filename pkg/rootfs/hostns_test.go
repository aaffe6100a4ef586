package rootfs

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// TestSubtreeDeepestFirst: the mounts under the rootfs bind come children
// before parents (a mount stacked on another is its child, so the upper one
// goes first), the bind last, and nothing outside its tree.
func TestSubtreeDeepestFirst(t *testing.T) {
	ms := []mountEntry{
		{id: 1, parent: 0, point: "/"},
		{id: 10, parent: 1, point: "/r"},
		{id: 11, parent: 10, point: "/r/proc"},
		{id: 12, parent: 10, point: "/r/dev"},
		{id: 13, parent: 12, point: "/r/dev/pts"},
		{id: 14, parent: 13, point: "/r/dev/pts"}, // stacked on 13
		{id: 20, parent: 1, point: "/other"},
		{id: 21, parent: 20, point: "/other/x"},
	}
	got := subtreeDeepestFirst(ms, ms[1])
	pos := map[int]int{}
	for i, e := range got {
		pos[e.id] = i
	}
	if len(got) != 5 {
		t.Fatalf("subtree %v: want the 5 mounts of 10's tree", got)
	}
	for _, e := range got {
		if e.id == 10 {
			continue
		}
		if pos[e.id] > pos[e.parent] {
			t.Errorf("mount %d comes after its parent %d: %v", e.id, e.parent, got)
		}
	}
	if got[len(got)-1].id != 10 {
		t.Errorf("the bind is not last: %v", got)
	}
	// A cycle (mountinfo changing between reads) must not hang.
	cyc := []mountEntry{{id: 1, parent: 2, point: "/a"}, {id: 2, parent: 1, point: "/a/b"}}
	if got := subtreeDeepestFirst(cyc, cyc[0]); len(got) > 10 {
		t.Errorf("cycle: %d entries", len(got))
	}
}

// TestHostMountsUnmountNothing: a record whose bind was never made (create
// killed before rt-init mounted) unmounts nothing and is no error; one from
// another mount namespace says so, matched with errors.Is.
func TestHostMountsUnmountNothing(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := RecordHostMounts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rootfs != dir || h.Parent == 0 || h.MountNS == 0 {
		t.Errorf("record %+v: want the rootfs, its mount and the namespace", h)
	}
	if err := h.Unmount(); err != nil {
		t.Errorf("Unmount with no bind: %v", err)
	}
	other := *h
	other.MountNS++
	if err := other.Unmount(); !errors.Is(err, ErrOtherMountNS) {
		t.Errorf("Unmount from another namespace: %v, want ErrOtherMountNS", err)
	}
	var none *HostMounts
	if err := none.Enter(); err != nil {
		t.Errorf("Enter of nil: %v", err)
	}
}

// TestReadMountinfo: this process's table parses, "/" is in it, and the
// mount of a directory is found by the id statx gives.
func TestReadMountinfo(t *testing.T) {
	ms, err := readMountinfo()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ms, func(e mountEntry) bool { return e.point == "/" }) {
		t.Errorf("no / in %v", ms)
	}
	h, err := RecordHostMounts("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findMount(ms, h.Parent); !ok {
		t.Errorf("mount %d of / not in mountinfo", h.Parent)
	}
}
