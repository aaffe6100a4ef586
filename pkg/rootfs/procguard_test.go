package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcDestination is runc's checkProcMount on paths: outside /proc
// anything, on /proc a fresh procfs (a bind only if its source is one),
// under /proc only the listed files.
// procDestinationCase is a mount and what ProcDestination says of it.
type procDestinationCase struct {
	name       string
	m          specs.Mount
	procSource bool
	want       string // "" for allowed
}

// procDestinationCases are TestProcDestination's cases, and
// FuzzParseOptions's seeds.
func procDestinationCases() []procDestinationCase {
	bind := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: "/x", Options: []string{"rbind"}}
	}
	typed := func(dest, typ string) specs.Mount { return specs.Mount{Destination: dest, Type: typ, Source: typ} }
	tests := []procDestinationCase{
		{"procfs on /proc", typed("/proc", "proc"), false, ""},
		{"procfs on /proc/ (trailing slash)", typed("/proc/", "proc"), false, ""},
		{"procfs on proc (relative)", typed("proc", "proc"), false, ""},
		{"bind on /proc: the source decides", bind("/proc"), true, ""},
		{"bind option with type proc on /proc", specs.Mount{Destination: "/proc", Type: "proc", Source: "/proc", Options: []string{"bind"}}, true, ""},
		{"tmpfs on /proc", typed("/proc", "tmpfs"), false, `because it is not of type proc (type "tmpfs")`},
		{"sysfs on /proc", typed("/proc", "sysfs"), false, `because it is not of type proc (type "sysfs")`},
		{"no type on /proc", typed("/proc", ""), false, "because it is not of type proc (no type given)"},
		{"cgroup on /proc", typed("/proc", "cgroup"), false, "not of type proc"},
		{"procfs on /proc/sys", typed("/proc/sys", "proc"), false, "because it is inside /proc"},
		{"bind on /proc/sys/kernel/domainname", bind("/proc/sys/kernel/domainname"), false, "because it is inside /proc (only /proc/cpuinfo, /proc/diskstats,"},
		{"bind on /proc/self", bind("/proc/self"), false, "inside /proc"},
		{"bind on /proc/self/attr/exec", bind("/proc/self/attr/exec"), false, "inside /proc"},
		{"bind on /proc/1/environ", bind("/proc/1/environ"), false, "inside /proc"},
		{"bind on /proc/net/dev (runc 1.4 dropped it)", bind("/proc/net/dev"), false, "inside /proc"},
		{"bind under an allowed file", bind("/proc/cpuinfo/x"), false, "inside /proc"},
		{"relative under /proc", bind("proc/sys/kernel/domainname"), false, "inside /proc"},
		{"dot-dot into /proc", bind("/mnt/../proc/sysrq-trigger"), false, "inside /proc"},
		{"dot-dot out of /proc", bind("/proc/../mnt"), false, ""},
		{"a sibling of /proc", bind("/procfs/x"), false, ""},
		{"/proc2", typed("/proc2", "tmpfs"), false, ""},
		{"outside", typed("/mnt", "tmpfs"), false, ""},
	}
	for _, ok := range ProcOvermounts {
		tests = append(tests, procDestinationCase{"allowed " + ok, bind(ok), false, ""})
	}
	return tests
}

func TestProcDestination(t *testing.T) {
	for _, tt := range procDestinationCases() {
		t.Run(tt.name, func(t *testing.T) {
			procSource, err := ProcDestination(tt.m.Destination, tt.m)
			if tt.want == "" {
				if err != nil || procSource != tt.procSource {
					t.Fatalf("= %v, %v; want %v, nil", procSource, err, tt.procSource)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrProcMount) {
				t.Fatalf("= %v; want an ErrProcMount saying %q", err, tt.want)
			}
		})
	}
}

// TestProcOvermountsAreRuncs pins the list to runc's (main, 1.4+): a
// change here is a change of what configs rt accepts.
func TestProcOvermountsAreRuncs(t *testing.T) {
	want := "/proc/cpuinfo /proc/diskstats /proc/meminfo /proc/stat /proc/swaps /proc/uptime /proc/loadavg /proc/slabinfo /proc/sys/kernel/ns_last_pid /proc/sys/crypto/fips_enabled"
	if got := strings.Join(ProcOvermounts, " "); got != want {
		t.Fatalf("ProcOvermounts = %s\nwant %s", got, want)
	}
}

func TestProcSource(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"/proc", ""},
		{"/proc/sys", ""}, // a procfs, if not its root: runc warns only
		{"/proc/self/", ""},
		{t.TempDir(), "is not a procfs"},
		{"/sys", "is not a procfs"},
		{"/nonexistent/rt-src", "no such file or directory"},
	}
	for _, tt := range tests {
		err := ProcSource(tt.src)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ProcSource(%s) = %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestCheckResolved: the check applies where a destination resolves to in
// the rootfs, through its symlinks, and names that path when it differs
// from the spec's.
func TestCheckResolved(t *testing.T) {
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "rootfs")
	for _, d := range []string{"proc/sys/kernel", "proc/self", "mnt", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootPath, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"mnt/kernel":  "/proc/sys/kernel",
		"mnt/up":      "../../proc/sys",   // ".." stops at the root
		"mnt/info":    "/proc/cpuinfo",    // an allowed file
		"mnt/procdir": "/proc",            // /proc itself, by another name
		"proc/self2":  "self",             // still inside /proc
		"proc/out":    "/etc",             // out of /proc
		"mnt/abs":     "/../../../../etc", // absolute, clamped at the root
	} {
		if err := os.Symlink(target, filepath.Join(rootPath, link)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(rootPath, "proc/cpuinfo"), nil, 0o644)
	r, err := openRoot(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	host := t.TempDir()
	bind := func(dest, src string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"bind"}}
	}
	tests := []struct {
		name string
		m    specs.Mount
		file bool
		want string // "" for allowed
	}{
		{"through a symlink into /proc/sys", bind("/mnt/kernel/domainname", host), true, "resolves to /proc/sys/kernel/domainname in the rootfs: cannot be mounted because it is inside /proc"},
		{"through a relative symlink into /proc", bind("/mnt/up/kernel", host), false, "resolves to /proc/sys/kernel in the rootfs"},
		{"a symlink to an allowed file", bind("/mnt/info", host), true, ""},
		{"a tmpfs on a symlink to /proc", specs.Mount{Destination: "/mnt/procdir", Type: "tmpfs"}, false, `resolves to /proc in the rootfs: cannot be mounted because it is not of type proc (type "tmpfs")`},
		{"a bind of a procfs on a symlink to /proc", bind("/mnt/procdir", "/proc"), false, ""},
		{"a bind of a directory on a symlink to /proc", bind("/mnt/procdir", host), false, "is not a procfs"},
		{"a procfs on a symlink to /proc", specs.Mount{Destination: "/mnt/procdir", Type: "proc"}, false, ""},
		{"inside /proc through a symlink in it", bind("/proc/self2/x", host), false, "resolves to /proc/self/x in the rootfs"},
		{"the plain path refused, resolution aside", bind("/proc/self/x", host), false, "cannot be mounted because it is inside /proc"},
		{"out of /proc through a symlink", bind("/proc/out/x", host), false, ""},
		{"an absolute symlink stays in the root", bind("/mnt/abs/x", host), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst *os.File
			var err error
			if tt.file {
				dst, err = r.file(tt.m.Destination)
			} else {
				dst, err = r.dir(tt.m.Destination)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			err = r.checkResolved(dst, tt.m, tt.m.Source)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkResolved = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrProcMount) {
				t.Fatalf("checkResolved = %v, want an ErrProcMount saying %q", err, tt.want)
			}
		})
	}
}
