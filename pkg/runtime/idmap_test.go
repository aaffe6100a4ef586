package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/rootfs"
)

// userNSProcess starts a process in a new user namespace mapping 0-65535
// to host, for the length of the test, and returns its pid.
func userNSProcess(t *testing.T, host int) int {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: 65536}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestIdmappedTrees makes the idmapped copies create sends to rt-init and
// looks through them: a file of the host's root is owned by the id the
// mount's mapping gives container id 0; a mount without mappings takes
// those of the user namespace of the given pid (the container's init).
// Mounts that are not idmapped get none; a bad mapping or source fails
// naming the mount.
func TestIdmappedTrees(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mount_setattr(MOUNT_ATTR_IDMAP)")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := func(host uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 65536}}
	}
	s := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/a", Type: "bind", Source: src, Options: []string{"bind"}, UIDMappings: m(100000), GIDMappings: m(200000)},
		{Destination: "/b", Type: "bind", Source: filepath.Base(src), Options: []string{"rbind", "idmap"}, UIDMappings: m(100000), GIDMappings: m(200000)},
		{Destination: "/c", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		{Destination: "/d", Type: "bind", Source: src, Options: []string{"bind"}},
	}}
	trees, err := idmappedTrees(s, filepath.Dir(src), userNSProcess(t, 300000))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(trees)
	want := map[int][2]uint32{1: {100000, 200000}, 2: {100000, 200000}, 3: {300000, 300000}}
	if len(trees) != len(want) {
		t.Errorf("%d trees, want %d", len(trees), len(want))
	}
	for i, w := range want {
		var st unix.Stat_t
		tree, ok := trees[i]
		if !ok {
			t.Errorf("mounts[%d]: no tree", i)
			continue
		}
		if err := unix.Fstatat(int(tree.Fd()), "f", &st, 0); err != nil || st.Uid != w[0] || st.Gid != w[1] {
			t.Errorf("mounts[%d]: f is %d:%d (%v), want %d:%d", i, st.Uid, st.Gid, err, w[0], w[1])
		}
	}

	for _, tt := range []struct {
		name  string
		mount specs.Mount
		want  []string
	}{
		{"missing source", specs.Mount{Destination: "/x", Source: "/nonexistent/rt", Options: []string{"bind", "idmap"}},
			[]string{"rootfs: mount /nonexistent/rt on /x: source: stat /nonexistent/rt: no such file or directory"}},
		{"overlapping mappings", specs.Mount{Destination: "/x", Source: src, Options: []string{"bind"},
			UIDMappings: append(m(100000), m(300000)...), GIDMappings: m(100000)},
			[]string{"rootfs: mount " + src + " on /x: idmap: a user namespace with uidMappings [0 100000 65536, 0 300000 65536], gidMappings [0 100000 65536]: invalid argument"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			trees, err := idmappedTrees(&specs.Spec{Mounts: []specs.Mount{tt.mount}}, "/", os.Getpid())
			if err == nil {
				closeFiles(trees)
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v, want %q", err, w)
				}
			}
		})
	}
}

// TestIdmapUsernsShared: mounts giving the same mappings share one user
// namespace (one helper process for all); others get their own.
func TestIdmapUsernsShared(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a user namespace with mappings of other ids")
	}
	m := func(host uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 1000}}
	}
	u := &idmapUserns{pid: os.Getpid()}
	defer u.close()
	get := func(idm *rootfs.IDMap) string {
		f, err := u.get(idm)
		if err != nil {
			t.Fatal(err)
		}
		l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := get(&rootfs.IDMap{UIDs: m(100000), GIDs: m(100000)})
	b := get(&rootfs.IDMap{UIDs: m(100000), GIDs: m(100000), Recursive: true})
	c := get(&rootfs.IDMap{UIDs: m(200000), GIDs: m(100000)})
	own := get(&rootfs.IDMap{})
	host, _ := os.Readlink("/proc/self/ns/user")
	if a != b {
		t.Errorf("same mappings, different namespaces: %s, %s", a, b)
	}
	if a == c {
		t.Errorf("different mappings, one namespace: %s", a)
	}
	if own != host || a == host {
		t.Errorf("no mappings: %s, want the pid's %s; with mappings: %s, want another", own, host, a)
	}
}
