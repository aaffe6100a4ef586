package cgroups

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
		{"/../../etc", "/etc"},
		{"/a/../../b", "/b"},
		{"//a//b", "/a/b"},
		{"a", "a"},
		{"a/b/", "a/b"},
		{"../../etc", "etc"},
		{"a/../../b", "b"},
		{"./a", "a"},
		{".", ""},
		{"..", ""},
		{"../..", ""},
	} {
		if got := cleanPath(tc.in); got != tc.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fakeHybrid is a hybrid host's hierarchies: co-mounted cpu,cpuacct, a named
// hierarchy and the unified mount.
var fakeHybrid = []Mount{
	{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Keys: []string{"cpu", "cpuacct"}},
	{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Keys: []string{"memory"}},
	{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Keys: []string{"name=systemd"}},
	{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", Keys: []string{""}},
}

// fakeOwn is the runtime's /proc/self/cgroup on fakeHybrid.
var fakeOwn = map[string]string{
	"cpu": "/", "cpuacct": "/",
	"memory":       "/process_api/f9",
	"name=systemd": "/user.slice/s.scope",
	"":             "/user.slice/s.scope",
}

// Long for its table of cases, which reads best in one place.
func TestContainerDirs(t *testing.T) {
	pureV2 := []Mount{{Mountpoint: "/sys/fs/cgroup", Root: "/", Keys: []string{""}}}
	// A container without a cgroup namespace that has its own subtree of
	// memory bind-mounted (mountinfo root /docker/c1).
	boundMemory := []Mount{{Mountpoint: "/sys/fs/cgroup/memory", Root: "/docker/c1", Keys: []string{"memory"}}}
	// everywhere maps each fakeHybrid key to dir below its mountpoint.
	everywhere := func(dir string) map[string]string {
		return map[string]string{
			"cpu": "/sys/fs/cgroup/cpu,cpuacct" + dir, "cpuacct": "/sys/fs/cgroup/cpu,cpuacct" + dir,
			"memory":       "/sys/fs/cgroup/memory" + dir,
			"name=systemd": "/sys/fs/cgroup/systemd" + dir,
			"":             "/sys/fs/cgroup/unified" + dir,
		}
	}
	relative := func(name string) map[string]string {
		return map[string]string{
			"cpu": "/sys/fs/cgroup/cpu,cpuacct/" + name, "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/" + name,
			"memory":       "/sys/fs/cgroup/memory/process_api/f9/" + name,
			"name=systemd": "/sys/fs/cgroup/systemd/user.slice/s.scope/" + name,
			// cgroup2: below the parent of the runtime's own cgroup.
			"": "/sys/fs/cgroup/unified/user.slice/" + name,
		}
	}
	tests := []struct {
		name    string
		hs      []Mount
		path    string
		id      string
		own     map[string]string // nil: the own cgroups must not be read
		want    map[string]string
		wantErr string
	}{
		{name: "empty is /id", hs: fakeHybrid, id: "c1", want: everywhere("/c1")},
		{name: "empty with hostile id", hs: fakeHybrid, id: "../../etc", want: everywhere("/etc")},
		{name: "absolute", hs: fakeHybrid, path: "/pods/p1/c1", id: "x", want: everywhere("/pods/p1/c1")},
		{name: "absolute unclean", hs: fakeHybrid, path: "//pods/./p1//c1/", id: "x", want: everywhere("/pods/p1/c1")},
		{name: "absolute escape", hs: fakeHybrid, path: "/../../etc", id: "x", want: everywhere("/etc")},
		{name: "absolute escape midway", hs: fakeHybrid, path: "/a/../../../etc/x", id: "x", want: everywhere("/etc/x")},
		{name: "relative", hs: fakeHybrid, path: "c1", id: "x", own: fakeOwn, want: relative("c1")},
		{name: "relative nested", hs: fakeHybrid, path: "k/c1", id: "x", own: fakeOwn, want: relative("k/c1")},
		{name: "relative escape", hs: fakeHybrid, path: "../../etc", id: "x", own: fakeOwn, want: relative("etc")},
		{name: "relative escape midway", hs: fakeHybrid, path: "a/../../../etc", id: "x", own: fakeOwn, want: relative("etc")},
		{name: "pure v2 absolute", hs: pureV2, path: "/c1", want: map[string]string{"": "/sys/fs/cgroup/c1"}},
		{name: "pure v2 relative", hs: pureV2, path: "c1", own: map[string]string{"": "/user.slice/u.service"},
			want: map[string]string{"": "/sys/fs/cgroup/user.slice/c1"}},
		{name: "pure v2 relative from root", hs: pureV2, path: "c1", own: map[string]string{"": "/"},
			want: map[string]string{"": "/sys/fs/cgroup/c1"}},
		{name: "bind-mounted subtree absolute", hs: boundMemory, path: "/c1", want: map[string]string{"memory": "/sys/fs/cgroup/memory/c1"}},
		{name: "bind-mounted subtree relative", hs: boundMemory, path: "c1", own: map[string]string{"memory": "/docker/c1/init"},
			want: map[string]string{"memory": "/sys/fs/cgroup/memory/init/c1"}},

		{name: "root refused", hs: fakeHybrid, path: "/", id: "x", wantErr: `cgroups: cgroups path "/" is the top of the hierarchy`},
		{name: "root by escape refused", hs: fakeHybrid, path: "/a/../..", id: "x", wantErr: "top of the hierarchy"},
		{name: "own cgroup refused", hs: fakeHybrid, path: ".", id: "x", wantErr: `cgroups: cgroups path "." is the runtime's own cgroup`},
		{name: "own cgroup by escape refused", hs: fakeHybrid, path: "../..", id: "x", wantErr: "runtime's own cgroup"},
		{name: "no path no id", hs: fakeHybrid, wantErr: "cgroups: neither a cgroups path nor a container id"},
		{name: "own outside bound subtree", hs: boundMemory, path: "c1", own: map[string]string{"memory": "/other"},
			wantErr: "cgroups: own cgroup /other is outside the part of the hierarchy mounted on /sys/fs/cgroup/memory (/docker/c1)"},
		{name: "hierarchy missing from own", hs: fakeHybrid, path: "c1", own: map[string]string{"cpu": "/"},
			wantErr: "cgroups: hierarchy /sys/fs/cgroup/memory (memory) is not in /proc/self/cgroup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			own := func() (map[string]string, error) {
				if tc.own == nil {
					t.Error("own cgroups read for an absolute path")
					return nil, errors.New("not expected")
				}
				return tc.own, nil
			}
			got, err := ContainerDirs(tc.hs, tc.path, tc.id, own)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
			// Whatever the input, each directory is strictly inside its mount.
			for _, h := range tc.hs {
				for _, k := range h.Keys {
					if !strings.HasPrefix(got[k], h.Mountpoint+"/") || filepath.Clean(got[k]) != got[k] {
						t.Errorf("%q: %s is not inside %s", k, got[k], h.Mountpoint)
					}
				}
			}
		})
	}
}

// TestUnderParent: cgroup-parent puts an empty or absolute cgroupsPath
// below the parent and leaves a relative one to ContainerDirs; nothing
// climbs out of the parent or lands on the parent itself.
func TestUnderParent(t *testing.T) {
	tests := []struct {
		name, parent, path, id string
		want                   string
		wantErr                string
	}{
		{name: "no parent, empty", id: "c1", want: ""},
		{name: "no parent, absolute", path: "/pods/c1", id: "c1", want: "/pods/c1"},
		{name: "no parent, relative", path: "k/c1", id: "c1", want: "k/c1"},
		{name: "no parent, root left to ContainerDirs", path: "/", id: "c1", want: "/"},
		{name: "empty is parent/id", parent: "/rt-a", id: "c1", want: "/rt-a/c1"},
		{name: "nested parent", parent: "/hosts/b", id: "c1", want: "/hosts/b/c1"},
		{name: "absolute under parent", parent: "/rt-a", path: "/pods/p1/c1", id: "c1", want: "/rt-a/pods/p1/c1"},
		{name: "absolute unclean", parent: "/rt-a", path: "//pods/./p1//c1/", id: "c1", want: "/rt-a/pods/p1/c1"},
		{name: "absolute escape stays inside", parent: "/rt-a", path: "/../../etc", id: "c1", want: "/rt-a/etc"},
		{name: "absolute escape midway", parent: "/rt-a", path: "/a/../../x/c1", id: "c1", want: "/rt-a/x/c1"},
		{name: "absolute naming the parent", parent: "/rt-a", path: "/rt-a", id: "c1", want: "/rt-a/rt-a"},
		{name: "hostile id stays inside", parent: "/rt-a", id: "../../etc", want: "/rt-a/etc"},
		{name: "relative unchanged", parent: "/rt-a", path: "c1", id: "c1", want: "c1"},
		{name: "relative escape unchanged", parent: "/rt-a", path: "../c1", id: "c1", want: "../c1"},

		{name: "root is the parent", parent: "/rt-a", path: "/", id: "c1", wantErr: `cgroups: cgroups path "/" under cgroup-parent /rt-a is the parent itself`},
		{name: "escape to the parent", parent: "/rt-a", path: "/a/..", id: "c1", wantErr: "is the parent itself"},
		{name: "hostile id to the parent", parent: "/rt-a", id: "..", wantErr: "is the parent itself"},
		{name: "no path no id", parent: "/rt-a", wantErr: "cgroups: neither a cgroups path nor a container id"},
		{name: "relative parent", parent: "rt-a", id: "c1", wantErr: `cgroups: cgroup-parent "rt-a": not an absolute, clean path`},
		{name: "unclean parent", parent: "/rt-a/", id: "c1", wantErr: `cgroup-parent "/rt-a/": not an absolute, clean path`},
		{name: "dotdot parent", parent: "/a/../b", id: "c1", wantErr: `cgroup-parent "/a/../b": not an absolute, clean path`},
		{name: "top as parent", parent: "/", id: "c1", wantErr: `cgroup-parent "/": not an absolute, clean path`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnderParent(tc.parent, tc.path, tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("UnderParent(%q, %q, %q) = %q, want %q", tc.parent, tc.path, tc.id, got, tc.want)
			}
			if tc.parent != "" && filepath.IsAbs(got) && !strings.HasPrefix(got, tc.parent+"/") {
				t.Errorf("%q is not below the parent %q", got, tc.parent)
			}
		})
	}
}
