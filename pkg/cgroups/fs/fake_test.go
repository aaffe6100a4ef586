package fs

import (
	"path/filepath"
	"testing"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// fakeTree is a fake host (cgtest.Tree) with a manager on it: the container
// directory is "c1" in every v1 hierarchy, "pod/c1" on cgroup2, with the
// kernel's files (cgtest.V1Files, cgtest.V2Files). Set writes into it as
// into cgroupfs, and the tree records every write.
type fakeTree struct {
	*cgtest.Tree
	m *Manager
}

// newFakeV1 makes a hybrid host: a v1 hierarchy per key of V1Files (the
// unified mount among them), with the container at /c1.
func newFakeV1(t *testing.T) *fakeTree {
	t.Helper()
	f := &fakeTree{Tree: cgtest.NewTree(t)}
	hs := f.V1Mounts()
	for _, h := range hs {
		f.Files(filepath.Join(h.Mountpoint, "c1"), cgtest.V1Files[h.Keys[0]])
	}
	f.File(f.Path("unified/cgroup.subtree_control"), "")
	f.File(f.Path("unified/cgroup.controllers"), "hugetlb")
	f.manager(t, hs, "/c1")
	return f
}

// newFakeV2 makes a pure cgroup2 host with the container at /pod/c1, so
// that Set enables controllers on two levels.
func newFakeV2(t *testing.T) *fakeTree {
	t.Helper()
	f := &fakeTree{Tree: cgtest.NewTree(t)}
	mp := f.Path("")
	f.File(filepath.Join(mp, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc")
	f.File(filepath.Join(mp, "cgroup.subtree_control"), "")
	f.File(filepath.Join(mp, "pod/cgroup.subtree_control"), "")
	f.Files(filepath.Join(mp, "pod/c1"), cgtest.V2Files)
	f.manager(t, []cgroups.Mount{{Mountpoint: mp, Root: "/", Keys: []string{""}}}, "/pod/c1")
	return f
}

func (f *fakeTree) manager(t *testing.T, hs []cgroups.Mount, path string) {
	t.Helper()
	m, err := NewIn(hs, path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m.UseHost(&HostFiles{CPUOnline: f.CPUOnline, NodeOnline: f.NodeOnline, Hugepages: f.Hugepages}, f.Record)
	f.m = m
}
