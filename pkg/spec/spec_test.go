package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// validSpec is a minimal configuration Validate accepts; each case of
// TestValidate breaks one rule of it.
func validSpec() *specs.Spec {
	return &specs.Spec{
		Version: "1.0.2",
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Args: []string{"sh"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN"},
				Effective:   []string{"CAP_CHOWN"},
				Inheritable: []string{"CAP_CHOWN"},
				Permitted:   []string{"CAP_CHOWN"},
				Ambient:     []string{"CAP_CHOWN"},
			},
		},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.MountNamespace},
			},
		},
	}
}

func addNS(s *specs.Spec, types ...specs.LinuxNamespaceType) {
	for _, t := range types {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
}

func timeout(n int) *int { return &n }

// validateCase is a change to validSpec and the words of the error Validate
// must give for it.
type validateCase struct {
	name   string
	mutate func(s *specs.Spec)
	// want are substrings of the error naming the field; empty
	// means the spec is valid.
	want []string
}

// validateCases are TestValidate's cases, and FuzzParse's seeds.
func validateCases() []validateCase {
	return []validateCase{
		{"valid", func(s *specs.Spec) {}, nil},
		{"missing ociVersion", func(s *specs.Spec) { s.Version = "" }, []string{"ociVersion"}},
		{"ociVersion 2.x", func(s *specs.Spec) { s.Version = "2.0.0" }, []string{"ociVersion", `"2.0.0"`}},
		{"ociVersion 0.x", func(s *specs.Spec) { s.Version = "0.9" }, []string{"ociVersion"}},
		{"ociVersion 1.3.0", func(s *specs.Spec) { s.Version = "1.3.0" }, nil},
		{"missing root", func(s *specs.Spec) { s.Root = nil }, []string{"root.path"}},
		{"missing root.path", func(s *specs.Spec) { s.Root.Path = "" }, []string{"root.path"}},
		{"missing process", func(s *specs.Spec) { s.Process = nil }, []string{"process"}},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, []string{"process.args must not be empty"}},
		// commandLine is Windows's; rt-init once crashed on it (index out
		// of range in process.LookPath). runc: "args must not be empty".
		{"commandLine instead of args", func(s *specs.Spec) { s.Process.Args = nil; s.Process.CommandLine = "sh" },
			[]string{"process.args must not be empty"}},
		{"commandLine beside args", func(s *specs.Spec) { s.Process.CommandLine = "sh" }, nil},
		// The spec: "If the same type is given twice, the runtime MUST
		// generate an error".
		{"rlimit type twice", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 100}, {Type: "RLIMIT_CORE"}, {Type: "RLIMIT_NOFILE", Soft: 200, Hard: 200},
			}
		}, []string{"process.rlimits[2]", `"RLIMIT_NOFILE"`, "given twice"}},
		{"rlimit type twice, same values", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}
		}, []string{"process.rlimits[1]", `"RLIMIT_CORE"`, "given twice"}},
		{"distinct rlimits", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 100}, {Type: "RLIMIT_CORE"}}
		}, nil},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, []string{"process.cwd", `"tmp"`}},
		{"empty cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, []string{"process.cwd"}},
		// Unknown names are skipped with a warning at create and exec
		// (pkg/runtime, UsableCapabilities), as runc does: the spec says a
		// runtime SHOULD NOT fail on them.
		{"unknown capability in every set", func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_BOGUS")
			c.Effective, c.Inheritable = []string{"CAP_BOGUS"}, []string{"CAP_NEWER_THAN_RT"}
			c.Permitted, c.Ambient = []string{"CAP_BOGUS"}, []string{"CAP_BOGUS"}
		}, nil},
		{"capability without CAP_ prefix", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = []string{"CHOWN"}
		}, nil},
		{"no capabilities", func(s *specs.Spec) { s.Process.Capabilities = nil }, nil},
		{"mount without destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Type: "tmpfs", Source: "tmpfs"})
		}, []string{"mounts[1]", "destination"}},
		// Deprecated since spec 1.2, accepted by runc with a warning:
		// AbsMountDestinations makes them absolute, pkg/runtime warns.
		{"mount with relative destination", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, nil},
		// The kernel ignores filesystem data on a bind; runc refuses it.
		{"bind with filesystem data", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/b", Source: "/tmp", Options: []string{"bind", "ro", "size=1m"}})
		}, []string{"mounts[1]", `"/mnt/b"`, "bind", `"size=1m"`}},
		{"rbind with filesystem data", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/b", Type: "none", Source: "/tmp", Options: []string{"rbind", "mode=755", "uid=0"}})
		}, []string{"mounts[1]", `"/mnt/b"`, `"mode=755"`, `"uid=0"`}},
		{"type bind with filesystem data", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/b", Type: "bind", Source: "/tmp", Options: []string{"size=1m"}})
		}, []string{"mounts[1]", `"/mnt/b"`, `"size=1m"`}},
		{"bind with flags only", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/b", Source: "/tmp",
				Options: []string{"rbind", "ro", "nosuid", "rprivate", "rnoexec", "tmpcopyup", "defaults"}})
		}, nil},
		{"tmpfs with filesystem data", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=755"}})
		}, nil},
		{"relative prestart hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "hook"}}}
		}, []string{"hooks.prestart[0]", `"hook"`}},
		{"relative createRuntime hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/ok"}, {Path: "bin/hook"}}}
		}, []string{"hooks.createRuntime[1]", `"bin/hook"`}},
		{"relative createContainer hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "hook"}}}
		}, []string{"hooks.createContainer[0]"}},
		{"relative startContainer hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "hook"}}}
		}, []string{"hooks.startContainer[0]"}},
		{"relative poststart hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "hook"}}}
		}, []string{"hooks.poststart[0]"}},
		{"relative poststop hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: ""}}}
		}, []string{"hooks.poststop[0]"}},
		{"zero hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Timeout: timeout(0)}}}
		}, []string{"hooks.prestart[0]", "timeout"}},
		{"negative hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: timeout(-5)}}}
		}, []string{"hooks.poststop[0]", "timeout", "-5"}},
		{"valid hooks", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Timeout: timeout(1)}}}
		}, nil},
		{"missing linux", func(s *specs.Spec) { s.Linux = nil }, []string{"linux"}},
		{"unknown namespace type", func(s *specs.Spec) { addNS(s, "bogus") }, []string{"linux.namespaces", `"bogus"`}},
		{"duplicate namespace", func(s *specs.Spec) { addNS(s, specs.PIDNamespace) }, []string{"linux.namespaces", `"pid"`}},
		{"duplicate namespace, once by path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"})
		}, []string{"linux.namespaces", `"pid"`}},
		{"relative namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "proc/1/ns/net"})
		}, []string{"linux.namespaces", "network", `"proc/1/ns/net"`}},
		{"absolute namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"})
		}, nil},
		{"uid mappings without user ns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, []string{"uidMappings", "user namespace"}},
		{"gid mappings without user ns", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, []string{"gidMappings", "user namespace"}},
		{"mappings with user ns", func(s *specs.Spec) {
			addNS(s, specs.UserNamespace)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, nil},
		{"timeOffsets without time ns", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, []string{"timeOffsets", "time namespace"}},
		{"unknown clock", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, []string{"timeOffsets", `"realtime"`}},
		{"time offsets with time ns", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}, "boottime": {Secs: -1, Nanosecs: 5}}
		}, nil},
		{"joined mount namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: "/proc/1/ns/mnt"}}
		}, nil},
		{"bad personality domain", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"}
		}, []string{"linux.personality.domain", `"LINUX64"`}},
		{"personality LINUX32", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} }, nil},
		{"personality LINUX", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX"} }, nil},
		{"hostname without uts", func(s *specs.Spec) { s.Hostname = "box" }, []string{"hostname", "uts namespace"}},
		{"domainname without uts", func(s *specs.Spec) { s.Domainname = "example.org" }, []string{"domainname", "uts namespace"}},
		{"hostname with uts", func(s *specs.Spec) {
			addNS(s, specs.UTSNamespace)
			s.Hostname, s.Domainname = "box", "example.org"
		}, nil},
		{"non-namespaced sysctl", func(s *specs.Spec) {
			addNS(s, specs.IPCNamespace, specs.NetworkNamespace, specs.UTSNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.pid_max": "1000"}
		}, []string{"linux.sysctl", `"kernel.pid_max"`, "not namespaced"}},
		{"non-namespaced vm sysctl", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "0"}
		}, []string{"linux.sysctl", `"vm.swappiness"`, "not namespaced"}},
		{"prefix without its dot is not namespaced", func(s *specs.Spec) {
			addNS(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"network": "1"}
		}, []string{"linux.sysctl", `"network"`, "not namespaced"}},
		{"net sysctl without network ns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, []string{"linux.sysctl", `"net.ipv4.ip_forward"`, "network namespace"}},
		{"net sysctl with network ns", func(s *specs.Spec) {
			addNS(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, nil},
		{"net sysctl with joined network ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"})
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1024"}
		}, nil},
		{"kernel.shmmax without ipc ns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, []string{"linux.sysctl", `"kernel.shmmax"`, "ipc namespace"}},
		{"kernel.shm* with ipc ns", func(s *specs.Spec) {
			addNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{
				"kernel.shmmax": "1", "kernel.shmall": "1", "kernel.shmmni": "1", "kernel.shm_rmid_forced": "1",
				"kernel.msgmax": "1", "kernel.msgmnb": "1", "kernel.msgmni": "1", "kernel.sem": "1 2 3 4",
				"fs.mqueue.msg_max": "10",
			}
		}, nil},
		{"fs.mqueue without ipc ns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "10"}
		}, []string{"linux.sysctl", `"fs.mqueue.msg_max"`, "ipc namespace"}},
		{"kernel.hostname without uts ns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"}
		}, []string{"linux.sysctl", `"kernel.hostname"`, "uts namespace"}},
		{"kernel.domainname with uts ns", func(s *specs.Spec) {
			addNS(s, specs.UTSNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, nil},
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range validateCases() {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(s)
			err := Validate(s)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error naming %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate: %v does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaultValid(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		if err := Validate(Default(rootless)); err != nil {
			t.Errorf("Validate(Default(%v)): %v", rootless, err)
		}
		// Through JSON too, as `rt spec` writes it and create reads it.
		data, err := json.Marshal(Default(rootless))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("Parse(Default(%v)): %v", rootless, err)
		}
	}
}

func TestDefault(t *testing.T) {
	s := Default(false)
	nsTypes := func(s *specs.Spec) map[specs.LinuxNamespaceType]specs.LinuxNamespace {
		m := map[specs.LinuxNamespaceType]specs.LinuxNamespace{}
		for _, n := range s.Linux.Namespaces {
			m[n.Type] = n
		}
		return m
	}
	mount := func(s *specs.Spec, dest string) *specs.Mount {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == dest {
				return &s.Mounts[i]
			}
		}
		return nil
	}
	ns := nsTypes(s)
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace} {
		if _, ok := ns[want]; !ok {
			t.Errorf("Default(false): no %s namespace", want)
		}
	}
	if _, ok := ns[specs.UserNamespace]; ok {
		t.Errorf("Default(false) has a user namespace")
	}
	if m := mount(s, "/sys"); m == nil || m.Type != "sysfs" {
		t.Errorf("Default(false): /sys = %+v, want sysfs", m)
	}
	if m := mount(s, "/sys/fs/cgroup"); m == nil || m.Type != "cgroup" {
		t.Errorf("Default(false): /sys/fs/cgroup = %+v, want a cgroup mount", m)
	}
	if m := mount(s, "/dev/pts"); m == nil || !slices.Contains(m.Options, "gid=5") {
		t.Errorf("Default(false): /dev/pts = %+v, want gid=5", m)
	}
	if s.Linux.Resources == nil {
		t.Errorf("Default(false): no resources")
	}

	r := Default(true)
	ns = nsTypes(r)
	user, ok := ns[specs.UserNamespace]
	if !ok || user.Path != "" {
		t.Errorf("Default(true): user namespace %+v, %v; want a new one", user, ok)
	}
	if _, ok := ns[specs.CgroupNamespace]; ok {
		t.Errorf("Default(true) has a cgroup namespace")
	}
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace} {
		if _, ok := ns[want]; !ok {
			t.Errorf("Default(true): no %s namespace", want)
		}
	}
	wantUID := []specs.LinuxIDMapping{{HostID: uint32(os.Geteuid()), ContainerID: 0, Size: 1}}
	wantGID := []specs.LinuxIDMapping{{HostID: uint32(os.Getegid()), ContainerID: 0, Size: 1}}
	if !slices.Equal(r.Linux.UIDMappings, wantUID) {
		t.Errorf("Default(true): uidMappings %+v, want %+v", r.Linux.UIDMappings, wantUID)
	}
	if !slices.Equal(r.Linux.GIDMappings, wantGID) {
		t.Errorf("Default(true): gidMappings %+v, want %+v", r.Linux.GIDMappings, wantGID)
	}
	if m := mount(r, "/sys"); m == nil || m.Source != "/sys" || !slices.Contains(m.Options, "rbind") || m.Type == "sysfs" {
		t.Errorf("Default(true): /sys = %+v, want an rbind of /sys", m)
	} else if !slices.Contains(m.Options, "ro") {
		t.Errorf("Default(true): /sys = %+v, want read-only", m)
	}
	for _, m := range r.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			t.Errorf("Default(true) has a cgroup mount: %+v", m)
		}
		for _, o := range m.Options {
			if strings.HasPrefix(o, "gid=") {
				t.Errorf("Default(true): mount %s has option %s", m.Destination, o)
			}
		}
	}
	if m := mount(r, "/dev/pts"); m == nil || !slices.Contains(m.Options, "newinstance") {
		t.Errorf("Default(true): /dev/pts = %+v, want its other options kept", m)
	}
	if r.Linux.Resources != nil {
		t.Errorf("Default(true): resources %+v, want nil", r.Linux.Resources)
	}
	// The rootless adjustments must not leak into a later default.
	if m := mount(Default(false), "/dev/pts"); m == nil || !slices.Contains(m.Options, "gid=5") {
		t.Errorf("Default(false) after Default(true): /dev/pts = %+v, want gid=5", m)
	}
}

// lineCol is the 1-based line and column of byte offset off in s.
func lineCol(s string, off int) (int, int) {
	line := 1 + strings.Count(s[:off], "\n")
	return line, off - strings.LastIndex(s[:off], "\n")
}

// jsonErrorCase is a config.json Parse refuses as JSON, and where.
type jsonErrorCase struct {
	name string
	data string
	// at marks the offending character by its offset in data; -1
	// is the end of the input.
	at int
	// span is the length of the offending value for type errors:
	// the column may point anywhere inside it.
	span int
}

// jsonErrorCases are TestParseJSONErrors's cases, and FuzzParse's seeds.
func jsonErrorCases() []jsonErrorCase {
	tests := []jsonErrorCase{
		{"bad character", `{"ociVersion": x}`, strings.Index(`{"ociVersion": x}`, "x"), 1},
		{"missing colon", `{"ociVersion" "1.0.0"}`, strings.Index(`{"ociVersion" "1.0.0"}`, `"1.0.0"`), 1},
		{"second line", "{\n  \"ociVersion\": \"1.0.0\",\n  oops\n}", strings.Index("{\n  \"ociVersion\": \"1.0.0\",\n  oops\n}", "oops"), 1},
		{"offending last byte: only byte", `]`, 0, 1},
		{"first character", "]\n", 0, 1},
		{"trailing comma then newline", "{\"ociVersion\": \"1.0.0\",}\n", strings.Index("{\"ociVersion\": \"1.0.0\",}\n", "}"), 1},
		{"offending last byte: trailing comma", `{"ociVersion": "1.0.0",}`, len(`{"ociVersion": "1.0.0",}`) - 1, 1},
		{"offending last byte: bad value", `{"ociVersion": x`, len(`{"ociVersion": x`) - 1, 1},
		{"offending last byte: extra brace", `{}}`, 2, 1},
		{"end of input", `{"ociVersion": "1.0.0"`, -1, 0},
		{"end of input after newline", "{\n\"ociVersion\": \"1.0.0\",\n", -1, 0},
		{"empty input", ``, -1, 0},
	}
	typeTests := []struct {
		name, data, value string
	}{
		{"number for string", `{"ociVersion": 1}`, "1"},
		{"number for string, nested", `{"ociVersion": "1.0.0", "root": {"path": 5}}`, "5"},
		{"string for array", "{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\"args\": \"sh\"}\n}", `"sh"`},
		{"bool for string", "{\"process\": {\n\t\"cwd\": true}}", "true"},
		{"array for object", `{"process": [1, 2]}`, "[1, 2]"},
	}
	for _, tt := range typeTests {
		tests = append(tests, jsonErrorCase{"type error: " + tt.name, tt.data, strings.Index(tt.data, tt.value), len(tt.value)})
	}
	return tests
}

func TestParseJSONErrors(t *testing.T) {
	for _, tt := range jsonErrorCases() {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatal("Parse: nil error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse: %v does not wrap ErrInvalid", err)
			}
			var gotLine, gotCol int
			if i := strings.Index(err.Error(), "line "); i < 0 {
				t.Fatalf("Parse: %q has no line", err)
			} else if _, serr := fmt.Sscanf(err.Error()[i:], "line %d, column %d", &gotLine, &gotCol); serr != nil {
				t.Fatalf("Parse: %q: no line and column: %v", err, serr)
			}
			at := tt.at
			if at < 0 {
				at = len(tt.data)
			}
			line, col := lineCol(tt.data, at)
			span := max(tt.span, 1)
			if gotLine != line || gotCol < col || gotCol >= col+span {
				t.Errorf("Parse: %q: got line %d column %d, want line %d column %d", err, gotLine, gotCol, line, col)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Run("missing config.json", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Load(dir)
		if err == nil {
			t.Fatal("Load: nil error")
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
			t.Errorf("Load: %q does not name %s", err, filepath.Join(dir, ConfigFile))
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Load: %v does not wrap ErrInvalid", err)
		}
	})
	t.Run("syntax error names the file and position", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, ConfigFile)
		if err := os.WriteFile(path, []byte("{\n  \"ociVersion\": ,\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil {
			t.Fatal("Load: nil error")
		}
		for _, w := range []string{path, "line 2, column 17"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load: %q does not contain %q", err, w)
			}
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Load: %v does not wrap ErrInvalid", err)
		}
	})
	t.Run("invalid spec names the file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, ConfigFile)
		s := validSpec()
		s.Process.Cwd = "rel"
		data, _ := json.Marshal(s)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "process.cwd") {
			t.Errorf("Load: %v, want an ErrInvalid naming %s and process.cwd", err, path)
		}
	})
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		data, _ := json.Marshal(Default(false))
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if s.Process.Args[0] != "sh" {
			t.Errorf("Load: args %v", s.Process.Args)
		}
	})
}

func TestSysctlNames(t *testing.T) {
	for _, tt := range []struct {
		key, name, path string
		ns              specs.LinuxNamespaceType
		namespaced      bool
	}{
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward", "net/ipv4/ip_forward", specs.NetworkNamespace, true},
		{"net/ipv4/ip_forward", "net.ipv4.ip_forward", "net/ipv4/ip_forward", specs.NetworkNamespace, true},
		// A dot in a slash-written key belongs to its component.
		{"net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding", specs.NetworkNamespace, true},
		{"net.ipv4.conf.eth0/100.forwarding", "net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding", specs.NetworkNamespace, true},
		{"kernel/shm_rmid_forced", "kernel.shm_rmid_forced", "kernel/shm_rmid_forced", specs.IPCNamespace, true},
		{"fs.mqueue.msg_max", "fs.mqueue.msg_max", "fs/mqueue/msg_max", specs.IPCNamespace, true},
		{"user.max_user_namespaces", "user.max_user_namespaces", "user/max_user_namespaces", specs.UserNamespace, true},
		{"kernel.domainname", "kernel.domainname", "kernel/domainname", specs.UTSNamespace, true},
		{"kernel/panic", "kernel.panic", "kernel/panic", "", false},
		{"vm.swappiness", "vm.swappiness", "vm/swappiness", "", false},
	} {
		if got := SysctlName(tt.key); got != tt.name {
			t.Errorf("SysctlName(%q) = %q, want %q", tt.key, got, tt.name)
		}
		if got := SysctlPath(tt.key); got != tt.path {
			t.Errorf("SysctlPath(%q) = %q, want %q", tt.key, got, tt.path)
		}
		if ns, ok := SysctlNamespace(tt.key); ns != tt.ns || ok != tt.namespaced {
			t.Errorf("SysctlNamespace(%q) = %q, %v, want %q, %v", tt.key, ns, ok, tt.ns, tt.namespaced)
		}
	}
}
