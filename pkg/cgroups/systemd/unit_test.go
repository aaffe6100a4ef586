package systemd

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
)

// The systemd driver's pure parts: where a unit and its directories are,
// and the conversion of linux.resources to unit properties. The driver
// against a systemd is in driver_test.go, on the fake in fake_test.go.

func TestParseSystemdPath(t *testing.T) {
	tests := []struct {
		path, id          string
		unit, parent, dir string
		err               string // a part of the error; "" for none
	}{
		{path: "", id: "c1", unit: "rt-c1.scope", parent: "system.slice", dir: "/system.slice/rt-c1.scope"},
		{path: "system.slice:rt:c1", unit: "rt-c1.scope", parent: "system.slice", dir: "/system.slice/rt-c1.scope"},
		{path: ":rt:c1", id: "other", unit: "rt-c1.scope", parent: "system.slice", dir: "/system.slice/rt-c1.scope"},
		{path: "machine.slice:libpod:0123abc", unit: "libpod-0123abc.scope", parent: "machine.slice", dir: "/machine.slice/libpod-0123abc.scope"},
		{path: "system.slice::c1", unit: "c1.scope", parent: "system.slice", dir: "/system.slice/c1.scope"},
		{path: "a-b.slice:p:c", unit: "p-c.scope", parent: "a-b.slice", dir: "/a.slice/a-b.slice/p-c.scope"},
		{path: "-.slice:rt:c1", unit: "rt-c1.scope", parent: "-.slice", dir: "/rt-c1.scope"},
		{path: "kubepods-burstable.slice:cri:kubepods-burstable-pod1.slice", unit: "kubepods-burstable-pod1.slice",
			parent: "kubepods-burstable.slice", dir: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"},
		{path: "-.slice:rt:rt.slice", unit: "rt.slice", parent: "-.slice", dir: "/rt.slice"},
		{path: "system.slice:rt:my_c-1:x", err: `want "slice:prefix:name" (e.g. "system.slice:rt:c1")`},
		{path: "x", err: `cgroupsPath "x": want "slice:prefix:name" (e.g. "system.slice:rt:c1")`},
		{path: "system.slice:c1", err: `want "slice:prefix:name"`},
		{path: "/sys/fs/cgroup/c1", err: `want "slice:prefix:name"`},
		{path: "", id: "", err: "neither a cgroups path nor a container id"},
		{path: "system.slice:rt:", err: "the name (after the second \":\") is empty"},
		{path: "system:rt:c1", err: "invalid slice name: system"},
		{path: "a--b.slice:rt:c1", err: "invalid slice name"},
		{path: "-a.slice:rt:c1", err: "invalid slice name"},
		{path: "sys/tem.slice:rt:c1", err: `has '/'`},
		{path: "system.slice:rt:../../etc", err: `unit name "rt-../../etc.scope" has '/'`},
		{path: "system.slice:r t:c1", err: `has ' '`},
		{path: "system.slice:rt:c@1", err: `has '@'`},
		{path: "system.slice:rt:" + strings.Repeat("x", 250), err: "longer than systemd's 255 bytes"},
		{path: "system.slice:rt:other.slice", err: "slice other.slice is not a child of system.slice (systemd puts it at /other.slice; name it system-<name>.slice)"},
		{path: "system.slice:rt:bad--x.slice", err: "invalid slice name: bad--x.slice"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			u, err := parseSystemdPath(tc.path, tc.id)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				if !strings.HasPrefix(err.Error(), "cgroups: systemd driver: ") {
					t.Errorf("error %q lacks the driver's prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.name != tc.unit || u.parent != tc.parent || u.dir != tc.dir {
				t.Errorf("unit %s in %s at %s, want %s in %s at %s", u.name, u.parent, u.dir, tc.unit, tc.parent, tc.dir)
			}
		})
	}
}

// hybridHierarchies are the hierarchies of a hybrid host, below root.
func hybridHierarchies(root string) []cgroups.Mount {
	return []cgroups.Mount{
		{Mountpoint: root + "/cpu,cpuacct", Root: "/", Keys: []string{"cpu", "cpuacct"}},
		{Mountpoint: root + "/memory", Root: "/", Keys: []string{"memory"}},
		{Mountpoint: root + "/freezer", Root: "/", Keys: []string{"freezer"}},
		{Mountpoint: root + "/systemd", Root: "/", Keys: []string{"name=systemd"}},
		{Mountpoint: root + "/unified", Root: "/", Keys: []string{""}},
	}
}

// TestSystemdPaths checks that Paths has the cgroupfs driver's shape with
// the unit's directories, and that Load takes them back.
func TestSystemdPaths(t *testing.T) {
	const root = "/sys/fs/cgroup"
	tests := []struct {
		name string
		hs   []cgroups.Mount
		path string
		want map[string]string
		v2   bool
	}{
		{name: "hybrid", hs: hybridHierarchies(root), path: "", want: map[string]string{
			"cpu":          root + "/cpu,cpuacct/system.slice/rt-c1.scope",
			"cpuacct":      root + "/cpu,cpuacct/system.slice/rt-c1.scope",
			"memory":       root + "/memory/system.slice/rt-c1.scope",
			"freezer":      root + "/freezer/system.slice/rt-c1.scope",
			"name=systemd": root + "/systemd/system.slice/rt-c1.scope",
			"":             root + "/unified/system.slice/rt-c1.scope",
		}},
		{name: "cgroup2", hs: []cgroups.Mount{{Mountpoint: root, Root: "/", Keys: []string{""}}}, path: "machine.slice:libpod:c1", v2: true,
			want: map[string]string{"": root + "/machine.slice/libpod-c1.scope"}},
		{name: "cgroup2 slice unit", hs: []cgroups.Mount{{Mountpoint: root, Root: "/", Keys: []string{""}}}, path: "a-b.slice:x:a-b-c1.slice", v2: true,
			want: map[string]string{"": root + "/a.slice/a-b.slice/a-b-c1.slice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newManager(tc.hs, tc.path, "c1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Paths(); !maps.Equal(got, tc.want) {
				t.Errorf("Paths() = %v, want %v", got, tc.want)
			}
			if m.v2 != tc.v2 {
				t.Errorf("v2 = %v, want %v", m.v2, tc.v2)
			}
			lm, err := Load(tc.path, "c1", m.Paths())
			if err != nil {
				t.Fatal(err)
			}
			l := lm.(*manager)
			if !maps.Equal(l.Paths(), tc.want) || l.unit != m.unit || l.v2 != m.v2 {
				t.Errorf("loaded: paths %v, unit %+v, v2 %v; want %v, %+v, %v", l.Paths(), l.unit, l.v2, tc.want, m.unit, m.v2)
			}
		})
	}
}

func TestLoadSystemdRefuses(t *testing.T) {
	fsm, err := fs.NewIn(hybridHierarchies("/sys/fs/cgroup"), "/c1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	sdm, err := newManager(hybridHierarchies("/sys/fs/cgroup"), "", "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		paths      map[string]string
		err        string
	}{
		{name: "cgroupfs driver's state", paths: fsm.Paths(), err: "is not the directory of unit rt-c1.scope"},
		{name: "another unit", path: "system.slice:rt:c2", paths: sdm.Paths(), err: "is not the directory of unit rt-c2.scope"},
		{name: "bad path", path: "c1", paths: sdm.Paths(), err: `want "slice:prefix:name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path, "c1", tc.paths)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
		})
	}
	// No paths (a create that stopped before its cgroup was chosen): the
	// manager loads, and Pids says there is no cgroup.
	m, err := Load("", "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Pids(); !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Errorf("Pids() error %v, want cgroups.ErrNoCgroup", err)
	}
}

func TestSystemdPrepareUnsupported(t *testing.T) {
	m, err := newManager(hybridHierarchies(t.TempDir()), "", "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Prepare()
	if e != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Prepare() = %v, %v; want nil, errors.ErrUnsupported", e, err)
	}
	if !strings.Contains(err.Error(), "rt-c1.scope") {
		t.Errorf("error %q does not name the unit", err)
	}
}

func TestParseSystemdVersion(t *testing.T) {
	for in, want := range map[string]int{
		"252": 252, `"252.39-1~deb12u1"`: 252, "v245.4-1.fc32": 245, `"v245-1.fc32"`: 245, "239": 239, `"256~rc3"`: 256,
		"": 0, `""`: 0, "v": 0, "x252": 0, "0": 0,
	} {
		got, err := parseSystemdVersion(in)
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("parseSystemdVersion(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
