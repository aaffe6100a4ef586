package seccomp

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specArchs is every architecture runtime-spec v1.3.0's Go types define.
var specArchs = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
	specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X,
	specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
	specs.ArchSH, specs.ArchSHEB,
}

// newerThanLibseccomp are the spec's architectures that libseccomp 2.5.4,
// which rt-init links, does not know (2.6.0 added them).
var newerThanLibseccomp = map[specs.Arch]bool{
	specs.ArchLOONGARCH64: true, specs.ArchM68K: true, specs.ArchSH: true, specs.ArchSHEB: true,
}

// validateCase is a profile and the words of Validate's error for it.
type validateCase struct {
	name    string
	profile *specs.LinuxSeccomp
	// want are the words of the error; nil means valid.
	want []string
}

// validateCases are TestValidate's cases, and FuzzCompile's seeds.
func validateCases() []validateCase {
	allow := func(edit func(*specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		edit(p)
		return p
	}
	return []validateCase{
		{"nil", nil, nil},
		{"allow all", allow(func(*specs.LinuxSeccomp) {}), nil},
		// runc accepts TSYNC and ignores it; so does rt.
		{"flag TSYNC", allow(func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{FlagTSYNC} }), nil},
		{"every flag of the table, with a listener", allow(func(p *specs.LinuxSeccomp) {
			p.Flags, p.ListenerPath = Flags, "/run/agent.sock"
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		}), nil},
		{"flag WAIT_KILLABLE_RECV without a listener", allow(func(p *specs.LinuxSeccomp) {
			p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}), []string{"flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener"}},
		{"unknown flag", allow(func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"} }),
			[]string{`"SECCOMP_FILTER_FLAG_NOPE"`, "not supported"}},
		{"errnoRet above 16 bits", allow(func(p *specs.LinuxSeccomp) {
			big := uint(65536)
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &big}}
		}), []string{`syscalls[0] ["mkdir"]: errnoRet 65536: out of range`}},
		{"defaultErrnoRet above 16 bits", func() *specs.LinuxSeccomp {
			big := uint(1 << 20)
			return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &big}
		}(), []string{"defaultErrnoRet 1048576: out of range"}},
		{"errnoRet 65535", allow(func(p *specs.LinuxSeccomp) {
			most := uint(65535)
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &most}}
		}), nil},
		{"MIPS", allow(func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{specs.ArchMIPS} }), nil},
		{"PPC, S390 and PARISC", allow(func(p *specs.LinuxSeccomp) {
			p.Architectures = []specs.Arch{specs.ArchPPC, specs.ArchPPC64, specs.ArchS390, specs.ArchPARISC, specs.ArchPARISC64}
		}), nil},
		{"LOONGARCH64 (libseccomp 2.6)", allow(func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{specs.ArchLOONGARCH64} }),
			[]string{`architecture "SCMP_ARCH_LOONGARCH64"`, "not supported", "SCMP_ARCH_MIPS"}},
		{"unknown arch", allow(func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{"SCMP_ARCH_VAX"} }),
			[]string{`"SCMP_ARCH_VAX"`, "not supported"}},
		{"notify", allow(func(p *specs.LinuxSeccomp) {
			p.ListenerPath, p.ListenerMetadata = "/run/agent.sock", "meta"
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		}), nil},
		{"notify without listenerPath", allow(func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		}), []string{"SCMP_ACT_NOTIFY needs listenerPath"}},
		{"listenerPath without notify", allow(func(p *specs.LinuxSeccomp) { p.ListenerPath = "/run/agent.sock" }),
			[]string{"listenerPath is set but no rule uses SCMP_ACT_NOTIFY"}},
		{"listenerMetadata without listenerPath", allow(func(p *specs.LinuxSeccomp) { p.ListenerMetadata = "meta" }),
			[]string{"listenerMetadata is set without listenerPath"}},
		{"notify on write", allow(func(p *specs.LinuxSeccomp) {
			p.ListenerPath = "/run/agent.sock"
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir", "write"}, Action: specs.ActNotify}}
		}), []string{"syscalls[0]: SCMP_ACT_NOTIFY cannot be used for write"}},
		{"notify by default", func() *specs.LinuxSeccomp {
			return &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/run/agent.sock"}
		}(), []string{"defaultAction SCMP_ACT_NOTIFY would notify write and sendmsg"}},
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range validateCases() {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.profile)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error naming %q", tt.want)
			}
			for _, w := range append([]string{"linux.seccomp"}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %q does not contain %q", err, w)
				}
			}
			if strings.Contains(tt.want[len(tt.want)-1], "not supported") && !errors.Is(err, ErrUnsupported) {
				t.Errorf("Validate: %v does not wrap ErrUnsupported", err)
			}
		})
	}
}

// TestArchsTable: the table holds every architecture the spec defines
// except those the linked libseccomp is too old for, each under
// libseccomp's name for it.
func TestArchsTable(t *testing.T) {
	for _, a := range specArchs {
		name, ok := Archs[a]
		if ok == newerThanLibseccomp[a] {
			t.Errorf("%s in the table: %v, want %v", a, ok, !newerThanLibseccomp[a])
		}
		if ok && name != strings.ToLower(name) {
			t.Errorf("%s: libseccomp name %q", a, name)
		}
	}
	if len(Archs) != len(specArchs)-len(newerThanLibseccomp) {
		t.Errorf("%d architectures in the table, want %d: %v", len(Archs), len(specArchs)-len(newerThanLibseccomp), ArchNames())
	}
}
