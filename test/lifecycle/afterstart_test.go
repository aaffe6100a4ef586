package lifecycle_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// dockerProfile is a Docker-style allow-list seccomp profile: containers-
// common's default (make deps installs it), the entries for amd64 and
// without capability or kernel conditions, as podman would apply them.
func dockerProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	const path = "/usr/share/containers/seccomp.json"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the Docker-style profile (make deps installs golang-github-containers-common): %v", err)
	}
	var prof struct {
		DefaultAction   specs.LinuxSeccompAction
		DefaultErrnoRet *uint
		Syscalls        []struct {
			specs.LinuxSyscall
			Includes struct {
				Arches    []string
				Caps      []string
				MinKernel string
			}
			Excludes struct{ Arches []string }
		}
	}
	if err := json.Unmarshal(data, &prof); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := &specs.LinuxSeccomp{
		DefaultAction: prof.DefaultAction, DefaultErrnoRet: prof.DefaultErrnoRet,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	}
	n := 0
	for _, sc := range prof.Syscalls {
		in, ex := sc.Includes, sc.Excludes
		if len(in.Caps) > 0 || in.MinKernel != "" || len(in.Arches) > 0 && !slices.Contains(in.Arches, "amd64") ||
			slices.Contains(ex.Arches, "amd64") {
			continue
		}
		out.Syscalls = append(out.Syscalls, sc.LinuxSyscall)
		n += len(sc.Names)
	}
	if n < 250 {
		t.Fatalf("%s: only %d syscalls in the profile, not a Docker-style allow-list", path, n)
	}
	return out
}

// TestRlimitsExactUnderSeccomp: a low RLIMIT_AS (and RLIMIT_NOFILE) with a
// Docker-style seccomp profile and large RLIMIT_STACK/RLIMIT_DATA, as in
// real-world bundles that runc runs: the program starts, under exactly the
// configured limits. rt-init (a Go program with ~1.5 GiB of address space
// reserved) used to die compiling the filter under the limit.
func TestRlimitsExactUnderSeccomp(t *testing.T) {
	r := runner(t)
	profile := dockerProfile(t)
	for _, tc := range []struct {
		name       string
		as, nofile uint64
	}{
		{"1 GiB", 1 << 30, 1024},
		{"16 MiB, 8 fds", 16 << 20, 8},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			b := bundle(t, []string{"cat", "/proc/self/limits"}, func(s *specs.Spec) {
				s.Linux.Seccomp = profile
				s.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_AS", Soft: tc.as, Hard: tc.as},
					{Type: "RLIMIT_STACK", Soft: 512 << 20, Hard: 512 << 20},
					{Type: "RLIMIT_DATA", Soft: 4 << 30, Hard: 4 << 30},
					{Type: "RLIMIT_NOFILE", Soft: tc.nofile, Hard: tc.nofile},
				}
			})
			out := cfgRun(t, r, "rlimit-as", b)
			got := cfgLimits(out)
			for name, want := range map[string]uint64{
				"Max address space": tc.as, "Max stack size": 512 << 20,
				"Max data size": 4 << 30, "Max open files": tc.nofile,
			} {
				if g := got[name]; g != [2]uint64{want, want} {
					t.Errorf("%s: soft/hard %v, want %d/%d (all:\n%s)", name, g, want, want, out)
				}
			}
		})
	}
}

// cfgLimits parses /proc/self/limits: name -> soft, hard.
func cfgLimits(text string) map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, l := range strings.Split(text, "\n") {
		if len(l) < 26 || strings.HasPrefix(l, "Limit") {
			continue
		}
		f := strings.Fields(l[26:])
		if len(f) < 2 {
			continue
		}
		out[strings.TrimSpace(l[:26])] = [2]uint64{limitValue(f[0]), limitValue(f[1])}
	}
	return out
}

func limitValue(s string) uint64 {
	if s == "unlimited" {
		return ^uint64(0)
	}
	var v uint64
	for _, c := range s {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// TestStartReportsInitFailure: whatever fails in the init after the exec
// fifo was opened (a startContainer hook, execve refused by the seccomp
// filter) makes `rt start` and `rt run` fail with the init's one-line
// error and exit 1, and the container stopped; it used to show only on the
// container's stderr while start succeeded.
func TestStartReportsInitFailure(t *testing.T) {
	r := runner(t)
	denyExec := func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"execve", "execveat"}, Action: specs.ActErrno}},
		}
	}
	failingHook := func(s *specs.Spec) {
		// startContainer hooks run in the container: busybox's false.
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/false"}}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*specs.Spec)
		words []string
	}{
		{"seccomp denies execve", denyExec, []string{"exec sleep", "operation not permitted"}},
		{"startContainer hook fails", failingHook, []string{"startContainer", "/bin/false", "exit status 1"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			b := bundle(t, []string{"sleep", "1000"}, tc.edit)
			id := harness.ID("afterstart")
			if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
				t.Fatalf("create: %s", res)
			}
			res := r.RT("start", id)
			failsCleanly(t, "start", res, tc.words...)
			if st := r.RT("state", id); !strings.Contains(st.Stdout, `"status": "stopped"`) {
				t.Errorf("state after the failed start: %s", st)
			}
			if res := r.RT("delete", id); res.Code != 0 {
				t.Errorf("delete: %s", res)
			}
			r.AssertNoTrace(t, id, b)

			id = harness.ID("afterstart-run")
			res = r.RT("run", "--bundle", b, id)
			failsCleanly(t, "run", res, tc.words...)
			r.AssertNoTrace(t, id, b)
		})
	}
}
