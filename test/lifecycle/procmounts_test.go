package lifecycle_test

// Mounts in /proc, as runc's checkProcMount allows them: on /proc a procfs
// only (fresh, or a bind of one); under it only the files lxcfs emulates,
// ns_last_pid and fips_enabled (rootfs.ProcOvermounts). rt once mounted
// anything anywhere in /proc.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/test/harness"
)

// procBinds binds one file per path, each holding its own path, and
// returns the script that prints them all from inside.
func procBinds(t *testing.T, s *specs.Spec, paths []string) string {
	dir := t.TempDir()
	var script []string
	for i, p := range paths {
		src := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(src, []byte("lxcfs "+p+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: p, Type: "bind", Source: src, Options: []string{"bind", "ro"}})
		script = append(script, "cat "+p)
	}
	return strings.Join(script, "; ")
}

// TestProcOvermountsAllowed: every path runc allows under /proc can be
// mounted over, and the container reads the file mounted there. A path
// this kernel's procfs lacks (fips_enabled without CONFIG_CRYPTO_FIPS)
// gets past the guard and fails where the mount point cannot be made in
// procfs, as with runc.
func TestProcOvermountsAllowed(t *testing.T) {
	r := runner(t)
	var present, missing []string
	for _, p := range rootfs.ProcOvermounts {
		if _, err := os.Stat(p); err == nil {
			present = append(present, p)
		} else {
			missing = append(missing, p)
		}
	}
	var script string
	b := bundle(t, nil, func(s *specs.Spec) {
		script = procBinds(t, s, present)
		s.Process.Args = sh(script)
	})
	id := harness.ID("procok")
	res := r.RT("run", "--bundle", b, id)
	var want strings.Builder
	for _, p := range present {
		want.WriteString("lxcfs " + p + "\n")
	}
	if res.Code != 0 || res.Stdout != want.String() {
		t.Errorf("run (%s): %s\nwant stdout %q", script, res, want.String())
	}
	r.AssertNoTrace(t, id, b)
	for _, p := range missing {
		b := bundle(t, []string{"true"}, func(s *specs.Spec) { procBinds(t, s, []string{p}) })
		id := harness.ID("procmiss")
		res := r.RT("create", "--bundle", b, id)
		if res.Code == 0 {
			r.RT("delete", "--force", id)
		}
		line := failsCleanly(t, "create with "+p+", which procfs lacks here", res, filepath.Dir(p))
		if strings.Contains(line, rootfs.ErrProcMount.Error()) {
			t.Errorf("create with %s: %q: refused by the guard, which allows it", p, line)
		}
		r.AssertNoTrace(t, id, b)
	}
}

// TestProcMountOfProcfs: /proc may be a bind of a procfs, as in runc (the
// host's here: the container sees the host's pid 1), besides the fresh
// procfs of every config.
func TestProcMountOfProcfs(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"cat", "/proc/1/comm"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"bind"}})
	})
	hostInit, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatal(err)
	}
	id := harness.ID("procbind")
	if res := r.RT("run", "--bundle", b, id); res.Code != 0 || res.Stdout != string(hostInit) {
		t.Errorf("run with the host's /proc bound on /proc: %s, want stdout %q", res, hostInit)
	}
	r.AssertNoTrace(t, id, b)
}

// TestProcMountsRefused: any other mount in /proc fails create with one
// line naming the mount (index and destination), exit 1, and leaves
// nothing. The destination as written is refused by validation; a bind's
// source on /proc and a destination that a symlink in the rootfs leads
// into /proc, by rt-init where the destination resolved.
func TestProcMountsRefused(t *testing.T) {
	r := runner(t)
	file := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(file, []byte("untouched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bindFile := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: file, Options: []string{"bind", "rw"}}
	}
	inside, notProc := "cannot be mounted because it is inside /proc", "cannot be mounted because it is not of type proc"
	for _, tc := range []struct {
		name  string
		m     specs.Mount
		link  [2]string // a symlink made in the rootfs: path, target
		words []string
	}{
		{"a file over a sysctl", bindFile("/proc/sys/kernel/domainname"), [2]string{}, []string{inside}},
		{"a tmpfs on /proc/self", specs.Mount{Destination: "/proc/self", Type: "tmpfs", Source: "tmpfs"}, [2]string{}, []string{inside}},
		{"a file over pid 1's environ", bindFile("/proc/1/environ"), [2]string{}, []string{inside}},
		{"/proc/net/dev, which runc 1.4 dropped", bindFile("/proc/net/dev"), [2]string{}, []string{inside}},
		{"a relative destination in proc", bindFile("proc/sys/kernel/hostname"), [2]string{}, []string{inside}},
		{"a tmpfs on /proc", specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}, [2]string{}, []string{notProc, `(type "tmpfs")`}},
		{"a bind of a directory on /proc", specs.Mount{Destination: "/proc", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}}, [2]string{},
			[]string{"rt: rootfs: ", notProc, "is not a procfs"}},
		{"a bind of the host's /sys on /proc", specs.Mount{Destination: "/proc", Type: "bind", Source: "/sys", Options: []string{"rbind"}}, [2]string{},
			[]string{notProc, "the bind's source /sys is not a procfs"}},
		{"through a symlink into /proc/sys", bindFile("/mnt/kernel/domainname"), [2]string{"mnt/kernel", "/proc/sys/kernel"},
			[]string{"rt: rootfs: ", "resolves to /proc/sys/kernel/domainname in the rootfs", inside}},
		{"a tmpfs on a symlink to /proc", specs.Mount{Destination: "/mnt/p", Type: "tmpfs", Source: "tmpfs"}, [2]string{"mnt/p", "../proc"},
			[]string{"resolves to /proc in the rootfs", notProc}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var index int
			b := bundle(t, []string{"true"}, func(s *specs.Spec) {
				index = len(s.Mounts)
				s.Mounts = append(s.Mounts, tc.m)
			})
			if tc.link[0] != "" {
				link := filepath.Join(b, "rootfs", tc.link[0])
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.link[1], link); err != nil {
					t.Fatal(err)
				}
			}
			id := harness.ID("procno")
			res := r.RT("create", "--bundle", b, id)
			if res.Code == 0 {
				r.RT("delete", "--force", id)
			}
			words := append([]string{fmt.Sprintf("mounts[%d] %q: ", index, tc.m.Destination)}, tc.words...)
			failsCleanly(t, "create with "+tc.name, res, words...)
			r.AssertNoTrace(t, id, b)
			if data, _ := os.ReadFile(file); string(data) != "untouched\n" {
				t.Errorf("the bound file was written: %q", data)
			}
		})
	}
}
