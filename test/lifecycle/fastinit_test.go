package lifecycle_test

// The fast init path (pkg/initplan, pkg/nsexec/fastinit.c) sets a container
// up from C, with no Go runtime in the container; the Go path of rt-init does
// the same from Go, and handles every config. These tests hold the two to
// the same result and check when each is taken.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// fastProbe prints what a container's set-up decides: credentials, limits,
// names, environment, cwd, the mounts (without their ids and peer groups),
// /dev and a sysctl.
const fastProbe = `id; grep -E '^(Cap|NoNewPrivs|Umask|Groups)' /proc/self/status; hostname; env | sort; pwd
cat /proc/self/limits /proc/self/oom_score_adj /proc/sys/net/ipv4/ip_forward
awk '{ s = ""; for (i = 4; i <= NF; i++) if (i != 7 || $i == "-") s = s " " $i; print s }' /proc/self/mountinfo | sed 's/ shared:[0-9]*//; s/ master:[0-9]*//'
stat -c '%n %F %a %u %g %t %T' /dev/* /dev/sub/* | sort; touch / 2>&1 | sed 's/.*: //'`

func fastInitSpec(t *testing.T) func(*specs.Spec) {
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "f"), []byte("x"), 0o644)
	return func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", fastProbe}
		s.Process.Terminal = false
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 10}, Umask: cfgPtr[uint32](0o027)}
		s.Process.Cwd = "/work/sub"
		s.Process.Env = []string{"PATH=/usr/bin:/bin", "A=b"}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}, {Type: "RLIMIT_NPROC", Soft: 300, Hard: 400}}
		s.Process.OOMScoreAdj = cfgPtr(100)
		s.Process.Capabilities.Ambient = nil
		s.Hostname = "fastpath"
		s.Root.Readonly = true
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Linux.Devices = devNodes()
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro", "nosuid"}},
			specs.Mount{Destination: "/srv/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nodev", "rprivate", "size=1m"}},
			specs.Mount{Destination: "/etc/hostfile", Type: "bind", Source: filepath.Join(data, "f"), Options: []string{"bind", "ro"}})
	}
}

// TestFastInitSameAsGoPath: a config using most of what the fast path
// covers gives the same container on both paths, and the fast path is the
// one taken (rt's debug log says when it is not).
func TestFastInitSameAsGoPath(t *testing.T) {
	if harness.Compared != "" {
		t.Skip("rt's own two init paths")
	}
	bundle := harness.Bundle(t, fastInitSpec(t))
	run := func(goPath bool) string {
		r := runner(t)
		r.Env = os.Environ()
		if goPath {
			r.Env = append(r.Env, "RT_NO_FAST_INIT=1")
		}
		log := filepath.Join(t.TempDir(), "log")
		res := r.RT("--debug", "--log", log, "run", "--bundle", bundle, harness.ID("fast"))
		if res.Code != 0 {
			t.Fatalf("run (Go path %v): %v", goPath, res)
		}
		logged, _ := os.ReadFile(log)
		if !goPath && strings.Contains(string(logged), "fast init path") {
			t.Errorf("the fast path was not taken:\n%s", logged)
		}
		return res.Stdout
	}
	fast, slow := run(false), run(true)
	if fast != slow {
		t.Errorf("the two paths differ\nfast:\n%s\nGo:\n%s", fast, slow)
	}
	for _, want := range []string{"uid=1000", "groups=5", "fastpath", "HOME=/home", "/work/sub", "Max open files            512                  1024",
		"Umask:\t0027", "/data ro,nosuid", "/dev/tc character special file 666 1000 5 f0 0", "Read-only file system"} {
		if !strings.Contains(fast, want) {
			t.Errorf("fast path output lacks %q:\n%s", want, fast)
		}
	}
}

// TestFastInitFallsBack: a destination that resolves, through a symlink in
// the rootfs, onto one of the /proc files runc lets a mount cover is refused
// by the fast path (which allows no mount in /proc but /proc itself); the Go
// path then sets the container up, as it would have alone. And a
// linux.devices entry at a path the rootfs has as a regular file fails on
// both, with the Go path's words.
func TestFastInitFallsBack(t *testing.T) {
	if harness.Compared != "" {
		t.Skip("rt's own two init paths")
	}
	r := runner(t)
	src := filepath.Join(t.TempDir(), "cpuinfo")
	os.WriteFile(src, []byte("fake cpuinfo\n"), 0o644)
	bundle := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"cat", "/proc/cpuinfo"}
		s.Process.Terminal = false
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cpu", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	})
	if err := os.Symlink("/proc/cpuinfo", filepath.Join(bundle, "rootfs/cpu")); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "log")
	res := r.RT("--debug", "--log", log, "run", "--bundle", bundle, harness.ID("fallback"))
	logged, _ := os.ReadFile(log)
	if res.Code != 0 || res.Stdout != "fake cpuinfo\n" {
		t.Fatalf("run: %v\nlog:\n%s", res, logged)
	}
	if !strings.Contains(string(logged), "fast init path: using the Go path") {
		t.Errorf("no fallback in the log:\n%s", logged)
	}

	bundle = harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/etc/passwd", Type: "c", Major: 1, Minor: 3}}
	})
	res = r.RT("run", "--bundle", bundle, harness.ID("fallback"))
	if res.Code == 0 || !strings.Contains(res.Stderr, "linux.devices: /etc/passwd is a regular file in the rootfs") {
		t.Errorf("run with a device over a file: %v, want the Go path's refusal", res)
	}
}
