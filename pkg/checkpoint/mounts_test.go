package checkpoint

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hybridHierarchies are the cgroup mounts of a hybrid host, as
// readHierarchies lists them.
var hybridHierarchies = []hierarchy{
	{"/sys/fs/cgroup/cpu,cpuacct", "cpu"},
	{"/sys/fs/cgroup/memory", "memory"},
	{"/sys/fs/cgroup/systemd", "name=systemd"},
	{"/sys/fs/cgroup/unified", ""},
}

// Long for its table of cases, which reads best in one place.
func TestExternalMounts(t *testing.T) {
	hier := hybridHierarchies
	paths := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/c", "memory": "/sys/fs/cgroup/memory/c", "": "/sys/fs/cgroup/unified/c"}
	base := func(ns ...specs.LinuxNamespaceType) *specs.Spec {
		s := &specs.Spec{Linux: &specs.Linux{}}
		for _, n := range ns {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: n})
		}
		return s
	}
	devs := []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
	tests := []struct {
		name        string
		spec        *specs.Spec
		masked      map[string]bool
		dumpKeys    []string
		restoreVals map[string]string
	}{
		{
			name: "binds by type and option, destinations cleaned, duplicates once",
			spec: func() *specs.Spec {
				s := base(specs.MountNamespace, specs.CgroupNamespace)
				s.Mounts = []specs.Mount{
					{Destination: "/proc", Type: "proc", Source: "proc"},
					{Destination: "/data/", Type: "bind", Source: "/host/data"},
					{Destination: "/etc/hosts", Type: "none", Source: "/host/hosts", Options: []string{"rbind", "ro"}},
					{Destination: "/data", Type: "bind", Source: "/other"},
					{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
				}
				return s
			}(),
			dumpKeys:    append([]string{"/data", "/etc/hosts"}, devs...),
			restoreVals: map[string]string{"/data": "/host/data", "/etc/hosts": "/host/hosts", "/dev/null": "/dev/null"},
		},
		{
			name: "cgroup binds without a cgroup namespace",
			spec: func() *specs.Spec {
				s := base(specs.MountNamespace)
				s.Mounts = []specs.Mount{{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"}}
				return s
			}(),
			dumpKeys: append([]string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}, devs...),
			restoreVals: map[string]string{
				"/sys/fs/cgroup/memory": "/sys/fs/cgroup/memory/c", "/sys/fs/cgroup/unified": "/sys/fs/cgroup/unified/c",
				"/sys/fs/cgroup/systemd": "/sys/fs/cgroup/systemd", // no path recorded: the host's
			},
		},
		{
			name: "masked files are /dev/null, masked directories are tmpfs",
			spec: func() *specs.Spec {
				s := base(specs.MountNamespace)
				s.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/acpi", "/proc/missing"}
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse"}}
				return s
			}(),
			masked:      map[string]bool{"/proc/kcore": true},
			dumpKeys:    append(append([]string{"/dev/fuse"}, devs...), "/proc/kcore"),
			restoreVals: map[string]string{"/dev/null": "/dev/null", "/dev/fuse": "/dev/fuse"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := mountSource{Spec: tt.spec, CgroupPaths: paths, Hierarchies: hier, MaskedFile: func(p string) bool { return tt.masked[p] }}
			dump := dumpMounts(src)
			var keys []string
			for _, m := range dump {
				keys = append(keys, m.Key)
				want := m.Key
				if tt.masked[m.Key] {
					want = "/dev/null"
				}
				if m.Val != want {
					t.Errorf("dump %s -> %s, want %s", m.Key, m.Val, want)
				}
			}
			if !slices.Equal(keys, tt.dumpKeys) {
				t.Errorf("dump keys %v\nwant %v", keys, tt.dumpKeys)
			}
			got := map[string]string{}
			for _, m := range restoreMounts(src) {
				if _, dup := got[m.Key]; dup {
					t.Errorf("restore key %s twice", m.Key)
				}
				got[m.Key] = m.Val
			}
			for k, v := range tt.restoreVals {
				if got[k] != v {
					t.Errorf("restore %s -> %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestExternalStdio reads a fake /proc: a pipe and a file of the
// container's own mounts are not external, a host file is, keyed in hex.
func TestExternalStdio(t *testing.T) {
	proc := t.TempDir()
	pid := 7
	dir := filepath.Join(proc, strconv.Itoa(pid))
	os.MkdirAll(filepath.Join(dir, "fd"), 0o755)
	os.MkdirAll(filepath.Join(dir, "fdinfo"), 0o755)
	os.WriteFile(filepath.Join(dir, "mountinfo"), []byte("100 1 0:1 / / rw - ext4 x rw\n101 100 0:2 / /tmp rw - tmpfs t rw\n"), 0o644)
	host := filepath.Join(t.TempDir(), "log")
	os.WriteFile(host, []byte("12345"), 0o644)
	os.Symlink("pipe:[123]", filepath.Join(dir, "fd", "0"))
	os.Symlink(host, filepath.Join(dir, "fd", "1"))
	os.Symlink(host, filepath.Join(dir, "fd", "2"))
	os.WriteFile(filepath.Join(dir, "fdinfo", "0"), []byte("pos:\t0\nmnt_id:\t15\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "fdinfo", "1"), []byte("pos:\t0\nflags:\t01\nmnt_id:\t42\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "fdinfo", "2"), []byte("pos:\t0\nmnt_id:\t101\n"), 0o644)
	got, err := externalStdio(proc, pid)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(host)
	ino := fi.Sys().(*syscallStat).Ino
	// Mode and size are recorded for a migration's target (stdioFiles).
	want := []externalFd{{Fd: 1, Key: "file[2a:" + strconv.FormatUint(ino, 16) + "]", Mode: syscall.S_IFREG | 0o644, Size: 5}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type syscallStat = syscall.Stat_t
