package lifecycle_test

// Idmapped mounts: mounts[].uidMappings/gidMappings (runtime-spec 1.1) and
// the idmap/ridmap options (1.2), observed from inside a container.
//
// An idmapped mount shows a file owned by N on disk as owned by the kernel
// id the mount's mapping gives container id N: with containerID 0 → hostID
// 100000, a file of the host's root is seen as uid 100000, which is the root
// of a container whose user namespace maps 0 → 100000 too. Writes go back
// the same way: what that container's root creates is owned by 0 on disk.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

// idmap100000 maps container 0-65535 to host 100000-165535, as
// cfgUserNSBundle's user namespace does.
var idmap100000 = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}

// idmapSource is a host directory (mode 0755, owned by root) holding the
// files root, u1000 and u100000, owned on the host by 0, 1000 and 100000.
func idmapSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]int{"root": 0, "u1000": 1000, "u100000": 100000} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, id, id); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// idmapStatScript prints "<dir>/<file>=uid:gid" for the idmapSource files
// under each of dirs, then the mountinfo lines of the mounts under /mnt.
func idmapStatScript(dirs ...string) string {
	return `for d in ` + strings.Join(dirs, " ") + `; do for f in root u1000 u100000 sub/root; do
	[ -e /mnt/$d/$f ] && echo "$d/$f=$(stat -c %u:%g /mnt/$d/$f)"; done; done
grep ' /mnt/' /proc/self/mountinfo
`
}

// idmapped reports, per mount point under /mnt in the container's
// mountinfo lines of out, whether the mount is idmapped.
func idmapped(out string) map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 6 && strings.HasPrefix(f[4], "/mnt/") {
			m[f[4]] = strings.Contains(","+f[5]+",", ",idmapped,")
		}
	}
	return m
}

func idmapWantMounts(t *testing.T, out string, want map[string]bool) {
	t.Helper()
	got := idmapped(out)
	for mnt, w := range want {
		if g, ok := got[mnt]; !ok || g != w {
			t.Errorf("%s: idmapped %v (mounted %v), want idmapped %v", mnt, g, ok, w)
		}
	}
}

// TestConfigMountIDMapped: in a container whose user namespace maps 0 →
// 100000, a bind with that mapping given as uidMappings/gidMappings, and
// one with the idmap option alone (the container's mappings), show the
// host's root files as the container's root's, and what the container's
// root writes is the host's root's; a plain bind of the same directory
// shows the host's view through the user namespace (root unmapped, 100000
// as 0).
func TestConfigMountIDMapped(t *testing.T) {
	r := runner(t)
	src := idmapSource(t)
	script := idmapStatScript("idmap", "opt", "plain") + `ls -ln /mnt/idmap
touch /mnt/idmap/new && mkdir /mnt/opt/newdir && echo write=ok`
	b := cfgUserNSBundle(t, sh(script))
	harness.EditConfig(t, b, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/idmap", Type: "bind", Source: src, Options: []string{"bind"},
				UIDMappings: idmap100000, GIDMappings: idmap100000},
			specs.Mount{Destination: "/mnt/opt", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
			specs.Mount{Destination: "/mnt/plain", Type: "bind", Source: src, Options: []string{"bind"}})
	})
	out := cfgRun(t, r, "idmap", b)
	t.Logf("container:\n%s", out)
	cfgWant(t, cfgValues(out, "="), map[string]string{
		"idmap/root": "0:0", "idmap/u1000": "1000:1000", "idmap/u100000": "65534:65534",
		"opt/root": "0:0", "opt/u1000": "1000:1000", "opt/u100000": "65534:65534",
		"plain/root": "65534:65534", "plain/u1000": "65534:65534", "plain/u100000": "0:0",
		"write": "ok",
	})
	idmapWantMounts(t, out, map[string]bool{"/mnt/idmap": true, "/mnt/opt": true, "/mnt/plain": false})
	for _, name := range []string{"new", "newdir"} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(src, name), &st); err != nil || st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s written by the container's root through the idmapped mount: %v, uid %d gid %d on the host, want 0:0",
				name, err, st.Uid, st.Gid)
		}
	}
}

// TestConfigMountIDMappedWithoutUserNamespace: mappings on a mount need no
// user namespace of the container's (runc neither): the container, in the
// host's, sees the host's root files as uid 100000.
func TestConfigMountIDMappedWithoutUserNamespace(t *testing.T) {
	r := runner(t)
	src := idmapSource(t)
	out := cfgRunScript(t, r, "idmap-nouserns", idmapStatScript("idmap"), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/idmap", Type: "bind", Source: src,
			Options: []string{"bind", "idmap"}, UIDMappings: idmap100000, GIDMappings: idmap100000})
	})
	cfgWant(t, cfgValues(out, "="), map[string]string{
		"idmap/root": "100000:100000", "idmap/u1000": "101000:101000", "idmap/u100000": "65534:65534",
	})
	idmapWantMounts(t, out, map[string]bool{"/mnt/idmap": true})
}

// TestConfigMountRIDMapped: an rbind of a directory with a submount is
// idmapped in whole with ridmap, and only at its top with idmap.
func TestConfigMountRIDMapped(t *testing.T) {
	r := runner(t)
	src, subSrc := idmapSource(t), idmapSource(t)
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(subSrc, sub, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s on %s: %v", subSrc, sub, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(sub, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", sub, err)
		}
	})
	b := cfgUserNSBundle(t, sh(idmapStatScript("r", "n")))
	harness.EditConfig(t, b, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/r", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"},
				UIDMappings: idmap100000, GIDMappings: idmap100000},
			specs.Mount{Destination: "/mnt/n", Type: "bind", Source: src, Options: []string{"rbind", "idmap"},
				UIDMappings: idmap100000, GIDMappings: idmap100000})
	})
	out := cfgRun(t, r, "ridmap", b)
	t.Logf("container:\n%s", out)
	cfgWant(t, cfgValues(out, "="), map[string]string{
		"r/root": "0:0", "r/sub/root": "0:0",
		"n/root": "0:0", "n/sub/root": "65534:65534",
	})
	idmapWantMounts(t, out, map[string]bool{"/mnt/r": true, "/mnt/r/sub": true, "/mnt/n": true, "/mnt/n/sub": false})
}

// TestConfigMountIDMapRefused: what cannot be idmapped as asked is refused
// at create with one line naming the mount, and nothing is left.
func TestConfigMountIDMapRefused(t *testing.T) {
	r := runner(t)
	src := idmapSource(t)
	for _, tc := range []struct {
		name   string
		userNS bool
		mount  specs.Mount
		words  []string
	}{
		{"idmap on a tmpfs", true,
			specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}},
			[]string{"mounts[", `"/mnt/t"`, "only bind mounts can be idmapped", `"tmpfs"`}},
		{"uidMappings on a tmpfs", false,
			specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", UIDMappings: idmap100000, GIDMappings: idmap100000},
			[]string{"mounts[", `"/mnt/t"`, "only bind mounts can be idmapped"}},
		{"uidMappings without gidMappings", false,
			specs.Mount{Destination: "/mnt/b", Type: "bind", Source: src, Options: []string{"bind"}, UIDMappings: idmap100000},
			[]string{"mounts[", `"/mnt/b"`, "uidMappings and gidMappings"}},
		{"a mapping of size 0", false,
			specs.Mount{Destination: "/mnt/b", Type: "bind", Source: src, Options: []string{"bind"},
				UIDMappings: idmap100000, GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000}}},
			[]string{"mounts[", `"/mnt/b"`, "gidMappings[0]", "size"}},
		{"idmap without mappings or user namespace", false,
			specs.Mount{Destination: "/mnt/b", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
			[]string{"mounts[", `"/mnt/b"`, "idmap", "user namespace"}},
		{"missing source", true,
			specs.Mount{Destination: "/mnt/b", Type: "bind", Source: "/nonexistent/rt-idmap", Options: []string{"bind", "idmap"}},
			[]string{"mount /nonexistent/rt-idmap on /mnt/b", "no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edit := func(s *specs.Spec) { s.Mounts = append(s.Mounts, tc.mount) }
			var b string
			if tc.userNS {
				b = cfgUserNSBundle(t, []string{"true"})
				harness.EditConfig(t, b, edit)
			} else {
				b = bundle(t, []string{"true"}, edit)
			}
			cfgRefused(t, r, "idmap-bad", b, tc.words...)
		})
	}
}

// TestConfigMountIDMappedPropagation: rt copies an idmapped mount from the
// host's mount namespace, where the copy of a shared mount joins its peer
// group; moved into the container as is, what the container mounts under
// it would appear on the host. It must get the propagation of a bind made
// in the container (rslave by default): a slave of the host's mount, and
// the container's tmpfs stays the container's.
func TestConfigMountIDMappedPropagation(t *testing.T) {
	r := runner(t)
	src := idmapSource(t)
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, src, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s onto itself: %v", src, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(src, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", src, err)
		}
	})
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s shared: %v", src, err)
	}
	script := `grep ' /mnt/i ' /proc/self/mountinfo; mount -t tmpfs rt-idmap-test /mnt/i/sub && echo mounted=ok`
	b := cfgUserNSBundle(t, sh(script))
	harness.EditConfig(t, b, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/i", Type: "bind", Source: src,
			Options: []string{"bind", "idmap"}, UIDMappings: idmap100000, GIDMappings: idmap100000})
		// The container's root may mount in its own mount namespace.
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
		c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
		c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
	})
	out := cfgRun(t, r, "idmap-prop", b)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 6 && f[4] == "/mnt/i" {
			line = l
		}
	}
	if !strings.Contains(line, " master:") || strings.Contains(line, " shared:") {
		t.Errorf("the idmapped bind of a shared host mount: %q, want a slave (master:N), not a peer (shared:N)", line)
	}
	if cfgValues(out, "=")["mounted"] != "ok" {
		t.Errorf("the container could not mount under its idmapped bind:\n%s", out)
	}
	if data := readFile(t, "/proc/self/mountinfo"); strings.Contains(data, "rt-idmap-test") {
		t.Errorf("the container's tmpfs under its idmapped bind appeared on the host")
	}
}
