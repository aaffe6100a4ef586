package systemd

import (
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// sdHost is a fake host for the systemd driver: a fake tree whose
// hierarchies all have system.slice, a fake systemd over them on a bus of
// its own, and the driver's manager for unit rt-c1.scope, talking to it.
type sdHost struct {
	tree *cgtest.Tree
	sd   *fakeSystemd
	m    *manager
	bus  *systemdBus
}

const sdUnitDir = "/system.slice/rt-c1.scope"

// newSDHost makes a hybrid host (v2 false) or a pure cgroup2 one. extra
// are more hierarchies (below the tree's cgroup directory), which the fake
// systemd leaves to the driver.
func newSDHost(t *testing.T, v2 bool, extra ...cgroups.Mount) *sdHost {
	t.Helper()
	tree := cgtest.NewTree(t)
	var hs []cgroups.Mount
	if v2 {
		hs = []cgroups.Mount{{Mountpoint: tree.Path("unified"), Root: "/", Keys: []string{""}}}
		tree.File(tree.Path("unified/cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc")
		tree.File(tree.Path("unified/cgroup.subtree_control"), "")
		tree.File(tree.Path("unified/system.slice/cgroup.subtree_control"), "")
	} else {
		hs = append(tree.V1Mounts(), cgroups.Mount{Mountpoint: tree.Path("systemd"), Root: "/", Keys: []string{"name=systemd"}})
	}
	managed := len(hs)
	hs = append(hs, extra...)
	for _, h := range hs {
		if err := os.MkdirAll(filepath.Join(h.Mountpoint, "system.slice"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	addr := startBus(t)
	files := func(h *cgroups.Mount) map[string]string {
		if v2 {
			return cgtest.V2Files
		}
		return cgtest.V1Files[h.Keys[0]] // none for name=systemd
	}
	manages := func(h *cgroups.Mount) bool {
		return slices.ContainsFunc(hs[:managed], func(m cgroups.Mount) bool { return m.Mountpoint == h.Mountpoint })
	}
	sd := startFakeSystemd(t, addr, hs, manages, files)

	bus := &systemdBus{dial: func() (*sddbus.Conn, error) {
		return sddbus.NewConnection(func() (*dbus.Conn, error) { return dialBus(addr) })
	}}
	t.Cleanup(bus.close)
	m, err := newManager(hs, "", "c1", bus)
	if err != nil {
		t.Fatal(err)
	}
	m.timeout = 5 * time.Second // a test should not hang for jobTimeout
	m.fs.UseHost(&fs.HostFiles{CPUOnline: tree.CPUOnline, NodeOnline: tree.NodeOnline, Hugepages: tree.Hugepages}, tree.Record)
	return &sdHost{tree: tree, sd: sd, m: m, bus: bus}
}

// listing is every file and directory of the fake cgroup tree.
func (h *sdHost) listing(t *testing.T) []string {
	t.Helper()
	var all []string
	top := filepath.Join(h.tree.Root, "cgroup")
	err := filepath.WalkDir(top, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		all = append(all, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// checkSame fails unless the tree lists what it listed before.
func (h *sdHost) checkSame(t *testing.T, before []string) {
	t.Helper()
	after := h.listing(t)
	for _, p := range after {
		if !slices.Contains(before, p) {
			t.Errorf("left in the fake tree: %s", p)
		}
	}
	for _, p := range before {
		if !slices.Contains(after, p) {
			t.Errorf("removed from the fake tree: %s", p)
		}
	}
}

// checkCalls fails unless the fake got exactly want since the last check.
func (h *sdHost) checkCalls(t *testing.T, want ...string) {
	t.Helper()
	got := h.sd.methods()
	if !slices.Equal(got, want) {
		t.Errorf("calls to systemd:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	h.sd.with(func(f *fakeSystemd) { f.calls = nil })
}

const sdUnit = "rt-c1.scope"

var (
	sdStart      = "StartTransientUnit " + sdUnit
	sdStop       = "StopUnit " + sdUnit
	sdReset      = "ResetFailedUnit " + sdUnit
	sdSet        = "SetUnitProperties " + sdUnit
	sdVersionGet = "Get org.freedesktop.systemd1.Manager.Version"
)
