package lifecycle_test

// The config.json fields rt refuses, one row each, as docs/runtime-spec.md
// lists them: create fails with exit 1 and one line naming the field and
// why, and leaves nothing behind. Rows already covered end to end elsewhere
// (TestCreateBadInput, TestConfigSysctlRefused, TestConfigLSMUnavailable,
// TestSeccompBadProfile, TestUnsupportedFieldsFailCreate, …) are not
// repeated here.

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// specSetNS sets the path of the container's namespace of type typ.
func specSetNS(s *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == typ {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}

// specSeccomp is an allow-all profile changed by edit.
func specSeccomp(edit func(*specs.LinuxSeccomp)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		edit(p)
		s.Linux.Seccomp = p
	}
}

func TestSpecFieldsRefused(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name  string
		edit  func(*specs.Spec)
		words []string
	}{
		// config.md
		{"ociVersion missing", func(s *specs.Spec) { s.Version = "" },
			[]string{"ociVersion is missing"}},
		{"ociVersion 2.x", func(s *specs.Spec) { s.Version = "2.0.0" },
			[]string{"ociVersion", `"2.0.0"`, "1.x only"}},
		{"root.path missing", func(s *specs.Spec) { s.Root.Path = "" },
			[]string{"root.path is missing"}},
		{"root.path not a directory", func(s *specs.Spec) { s.Root.Path = "rootfs/etc/passwd" },
			[]string{"rootfs", "etc/passwd", "not a directory"}},
		{"a section of another platform", func(s *specs.Spec) { s.Windows = &specs.Windows{} },
			[]string{"windows", "another platform than linux"}},
		{"vm section", func(s *specs.Spec) { s.VM = &specs.VM{} },
			[]string{"vm", "another platform than linux"}},
		{"process missing", func(s *specs.Spec) { s.Process = nil },
			[]string{"process is missing"}},
		{"process.args empty", func(s *specs.Spec) { s.Process.Args = nil },
			[]string{"process.args must not be empty"}},
		// commandLine is Windows's; rt-init once crashed on it (index out
		// of range in process.LookPath, a Go stack trace on stderr).
		{"process.commandLine with empty args", func(s *specs.Spec) {
			s.Process.Args = nil
			s.Process.CommandLine = "sleep 1000"
		}, []string{"process.args must not be empty"}},
		{"process.cwd relative", func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			[]string{"process.cwd", `"tmp"`, "absolute"}},
		// The spec says MUST error; create once accepted it and start failed
		// late (raising a hard limit) or the later entry won silently.
		{"process.rlimits type twice", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 100}, {Type: "RLIMIT_CORE"}, {Type: "RLIMIT_NOFILE", Soft: 200, Hard: 200},
			}
		}, []string{"process.rlimits[2]", `"RLIMIT_NOFILE" given twice`}},
		// A bind ignores filesystem data: rt once dropped it silently.
		{"mounts[].options filesystem data on a bind", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/b", Type: "bind", Source: "/tmp", Options: []string{"bind", "size=1m", "ro"}})
		}, []string{"mounts[", `"/mnt/b"`, "bind mounts cannot have filesystem-specific options", `"size=1m"`}},
		{"mounts[].destination missing", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Type: "tmpfs", Source: "tmpfs"})
		}, []string{"mounts[", "destination is missing"}},
		{"hooks path relative", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "rel/hook"}}}
		}, []string{"hooks.poststop[0]", `"rel/hook"`, "absolute"}},
		{"hooks timeout zero", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: cfgPtr(0)}}}
		}, []string{"hooks.createRuntime[0]", "timeout 0 must be positive"}},

		// config-linux.md
		{"namespaces type given twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, []string{"linux.namespaces", `"pid" given twice`}},
		{"namespaces path relative", func(s *specs.Spec) { specSetNS(s, specs.NetworkNamespace, "proc/self/ns/net") },
			[]string{"linux.namespaces", "network", `"proc/self/ns/net"`, "absolute"}},
		{"namespaces path of another type", func(s *specs.Spec) { specSetNS(s, specs.NetworkNamespace, "/proc/self/ns/uts") },
			[]string{"join network namespace", "/proc/self/ns/uts", "Invalid argument"}},
		{"namespaces path missing", func(s *specs.Spec) { specSetNS(s, specs.NetworkNamespace, "/nonexistent/rt-ns") },
			[]string{"join network namespace", "/nonexistent/rt-ns", "No such file or directory"}},
		{"user namespace without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, []string{"user namespace"}},
		{"uidMappings without user namespace", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}
		}, []string{"linux.uidMappings/gidMappings need a user namespace"}},
		{"timeOffsets without time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, []string{"linux.timeOffsets need a time namespace"}},
		{"timeOffsets unknown clock", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, []string{"linux.timeOffsets", `unknown clock "realtime"`}},
		{"timeOffsets with a joined time namespace", func(s *specs.Spec) {
			specSetNS(s, specs.TimeNamespace, "/proc/self/ns/time")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, []string{"linux.timeOffsets", "joined by path"}},
		{"personality domain", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} },
			[]string{"linux.personality.domain", `"LINUX64"`}},
		// The spec defines no flags; they used to be dropped without a word.
		{"personality flags", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX", Flags: []specs.LinuxPersonalityFlag{"ADDR_NO_RANDOMIZE"}}
		}, []string{"linux.personality.flags", "ADDR_NO_RANDOMIZE", "not supported"}},
		// This host has no SELinux: the label would fail every mount.
		{"mountLabel without SELinux", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" },
			[]string{"linux.mountLabel", "LSM not enabled"}},
		// What the spec says MUST NOT be, which used to be dropped.
		{"seccomp errnoRet with SCMP_ACT_KILL", specSeccomp(func(p *specs.LinuxSeccomp) {
			one := uint(1)
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActKill, ErrnoRet: &one}}
		}), []string{"linux.seccomp", "syscalls[0]", "errnoRet", "SCMP_ACT_KILL"}},
		{"seccomp defaultErrnoRet with SCMP_ACT_ALLOW", specSeccomp(func(p *specs.LinuxSeccomp) {
			one := uint(1)
			p.DefaultErrnoRet = &one
		}), []string{"linux.seccomp", "defaultErrnoRet", "SCMP_ACT_ALLOW"}},
		{"seccomp listenerMetadata without listenerPath", specSeccomp(func(p *specs.LinuxSeccomp) { p.ListenerMetadata = "x" }),
			[]string{"linux.seccomp", "listenerMetadata", "without listenerPath"}},
		{"seccomp rule without names", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Action: specs.ActErrno}}
		}), []string{"linux.seccomp", "syscalls[0]", "names is empty"}},
		// runc takes "/" as a separator too.
		{"sysctl kernel.shmmax without ipc namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "12345678"}
		}, []string{"linux.sysctl", `"kernel.shmmax"`, "ipc namespace"}},
		{"rootfsPropagation unknown", func(s *specs.Spec) { s.Linux.RootfsPropagation = "bogus" },
			[]string{"linux.rootfsPropagation", `"bogus"`, "not a propagation mode"}},
		{"seccomp defaultAction missing", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{} },
			[]string{"linux.seccomp", `defaultAction ""`, "not supported"}},
		{"seccomp SCMP_ACT_NOTIFY without listenerPath", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		}), []string{"linux.seccomp", "SCMP_ACT_NOTIFY needs listenerPath"}},
		{"seccomp listenerPath without SCMP_ACT_NOTIFY", specSeccomp(func(p *specs.LinuxSeccomp) { p.ListenerPath = "/run/agent.sock" }),
			[]string{"linux.seccomp", "listenerPath is set but no rule uses SCMP_ACT_NOTIFY"}},
		{"seccomp SCMP_ACT_NOTIFY on write", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.ListenerPath = "/run/agent.sock"
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"write"}, Action: specs.ActNotify}}
		}), []string{"linux.seccomp", "syscalls[0]", "SCMP_ACT_NOTIFY cannot be used for write"}},
		{"seccomp flag WAIT_KILLABLE_RECV without a listener", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}), []string{"linux.seccomp", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener"}},
		// libseccomp 2.6's; rt-init links 2.5.4.
		{"seccomp architecture LOONGARCH64", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.Architectures = []specs.Arch{specs.ArchLOONGARCH64}
		}), []string{"linux.seccomp", `"SCMP_ARCH_LOONGARCH64"`, "not supported"}},
		{"seccomp argument index 6", specSeccomp(func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 6, Value: 1, Op: specs.OpEqualTo}}}}
		}), []string{"linux.seccomp", "argument index 6"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			b := bundle(t, []string{"sleep", "1000"}, tc.edit)
			id := harness.ID("field")
			res := r.RT("create", "--bundle", b, id)
			if res.Code == 0 {
				r.RT("delete", "--force", id)
			}
			r.AssertNoTrace(t, id, b)
			failsCleanly(t, "create ("+tc.name+")", res, tc.words...)
			if res := r.RT("state", id); res.Code == 0 {
				t.Errorf("state after a failed create: %s", res)
			}
		})
	}
}
