package initplan

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/rootfs"
)

// baseSpec is runc's default spec, trimmed to what the plan reads.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Args: []string{"sh"}, Cwd: "/", Env: []string{"PATH=/bin", "TERM=xterm"},
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: []string{"CAP_KILL"}},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "h",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "ro"}},
			{Destination: "/data", Type: "bind", Source: "data", Options: []string{"rbind", "ro", "rprivate"}},
		},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
}

func input(s *specs.Spec) Input {
	return Input{
		ID: "c1", Bundle: "/b", Rootfs: "/b/rootfs", Spec: s, NewNetNS: true,
		CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/c1"},
		Hierarchies: func() ([]rootfs.Hierarchy, error) {
			return []rootfs.Hierarchy{{Mountpoint: "/sys/fs/cgroup/memory", Options: "memory"}}, nil
		},
	}
}

func codes(p *Plan) []Code {
	out := make([]Code, len(p.Ops))
	for i, o := range p.Ops {
		out[i] = o.Code
	}
	return out
}

func find(p *Plan, c Code, s0 string) *Op {
	for i, o := range p.Ops {
		if o.Code == c && (s0 == "" || len(o.S) > 0 && o.S[0] == s0) {
			return &p.Ops[i]
		}
	}
	return nil
}

func TestBuildDefaultSpec(t *testing.T) {
	p, err := Build(input(baseSpec()))
	if err != nil {
		t.Fatal(err)
	}
	// The order the Go path keeps: rootfs, mounts, join before the cgroup
	// mount, devices, pivot, system, paths, process, exec last.
	order := []Code{OpMount, OpMount, OpRoot, OpMountIn, OpMountIn, OpJoined, OpMountIn}
	for i, c := range order {
		if p.Ops[i].Code != c {
			t.Fatalf("op %d = %d, want %d (ops %v)", i, p.Ops[i].Code, c, codes(p))
		}
	}
	if last := p.Ops[len(p.Ops)-1]; last.Code != OpExec || last.A != 1 || strings.Join(last.S, " ") != "sh PATH=/bin TERM=xterm" {
		t.Errorf("last op = %+v, want exec of sh with the env", last)
	}
	if o := find(p, OpMountIn, "/proc"); o == nil || o.C != ProcFS {
		t.Errorf("/proc mount = %+v, want the procfs rule", o)
	}
	if o := find(p, OpMountIn, "/sys/fs/cgroup/memory"); o == nil || o.S[1] != "/sys/fs/cgroup/memory/c1" || o.B != KindBind {
		t.Errorf("memory hierarchy = %+v, want a bind of the container's own cgroup", o)
	}
	if o := find(p, OpRemountIn, "/sys/fs/cgroup"); o == nil || o.A&unix.MS_RDONLY == 0 {
		t.Errorf("cgroup tmpfs remount = %+v, want read-only", o)
	}
	if o := find(p, OpMountIn, "/data"); o == nil || o.S[1] != "/b/data" || o.A != unix.MS_BIND|unix.MS_REC {
		t.Errorf("bind = %+v, want the bundle-relative source, MS_BIND|MS_REC", o)
	}
	if o := find(p, OpPropagateIn, "/data"); o == nil || o.A != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("bind propagation = %+v", o)
	}
	if find(p, OpSymlinkIn, "/dev") == nil || find(p, OpDevice, "/dev/null") == nil {
		t.Error("no /dev links or devices")
	}
	if find(p, OpLoUp, "") == nil || find(p, OpKeyring, "_ses.c1") == nil || find(p, OpRemount, "/") == nil {
		t.Error("lo, keyring or read-only root missing")
	}
	if o := find(p, OpCaps, ""); o == nil || o.A != 1<<unix.CAP_KILL|1<<unix.CAP_CHOWN || o.B != 1<<unix.CAP_KILL {
		t.Errorf("caps = %+v", o)
	}
	if o := find(p, OpSetHome, ""); o == nil {
		t.Error("no HOME lookup for an env without HOME")
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if binary.NativeEndian.Uint32(b) != magic || binary.NativeEndian.Uint32(b[4:]) != uint32(len(p.Ops)) {
		t.Errorf("header %x", b[:8])
	}
}

func TestBuildUnsupported(t *testing.T) {
	tests := []struct {
		name string
		edit func(*specs.Spec, *Input)
		want string
	}{
		{"terminal", func(s *specs.Spec, _ *Input) { s.Process.Terminal = true }, "terminal"},
		{"hooks", func(s *specs.Spec, _ *Input) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, "hooks"},
		{"seccomp", func(s *specs.Spec, _ *Input) { s.Linux.Seccomp = &specs.LinuxSeccomp{} }, "seccomp"},
		{"user namespace", func(_ *specs.Spec, in *Input) { in.NewUserNS = true }, "user namespace"},
		{"no-pivot", func(_ *specs.Spec, in *Input) { in.NoPivot = true }, "--no-pivot"},
		{"no mount namespace", func(s *specs.Spec, _ *Input) { s.Linux.Namespaces = nil }, "mount namespace"},
		{"shared rootfs", func(s *specs.Spec, _ *Input) { s.Linux.RootfsPropagation = "shared" }, "rootfsPropagation"},
		{"proc overmount", func(s *specs.Spec, _ *Input) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/cpuinfo", Type: "bind", Source: "/x"})
		}, "over /proc"},
		{"tmpcopyup", func(s *specs.Spec, _ *Input) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"tmpcopyup"}})
		}, "tmpcopyup"},
		{"scheduler", func(s *specs.Spec, _ *Input) { s.Process.Scheduler = &specs.Scheduler{} }, "scheduler"},
		{"LSM", func(s *specs.Spec, _ *Input) { s.Process.ApparmorProfile = "x" }, "LSM"},
		{"bad rlimit", func(s *specs.Spec, _ *Input) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}}
		}, "RLIMIT_NOPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			in := input(s)
			tt.edit(s, &in)
			_, err := Build(in)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build = %v, want ErrUnsupported naming %q", err, tt.want)
			}
		})
	}
}

func TestEncodeRefusesNUL(t *testing.T) {
	p := &Plan{}
	p.add(OpHostname, "a\x00b")
	if _, err := p.Encode(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Encode = %v, want ErrUnsupported", err)
	}
}
