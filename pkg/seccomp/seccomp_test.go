package seccomp

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	allow := func(edit func(*specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		edit(p)
		return p
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		// want are the words of the error; nil means valid.
		want []string
	}{
		{"nil", nil, nil},
		{"allow all", allow(func(*specs.LinuxSeccomp) {}), nil},
		// runc accepts TSYNC and ignores it; so does rt.
		{"flag TSYNC", allow(func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{FlagTSYNC} }), nil},
		{"every flag of the table", allow(func(p *specs.LinuxSeccomp) { p.Flags = Flags }), nil},
		{"flag WAIT_KILLABLE_RECV", allow(func(p *specs.LinuxSeccomp) {
			p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}), []string{`flag "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"`, "not supported"}},
		{"unknown flag", allow(func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"} }),
			[]string{`"SECCOMP_FILTER_FLAG_NOPE"`, "not supported"}},
		{"unknown arch", allow(func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{"SCMP_ARCH_VAX"} }),
			[]string{`"SCMP_ARCH_VAX"`, "not supported"}},
		{"notify", allow(func(p *specs.LinuxSeccomp) {
			p.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}
		}), []string{"syscalls[0]", `"SCMP_ACT_NOTIFY"`}},
	}
	for _, tt := range tests {
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
