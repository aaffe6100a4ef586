package lifecycle_test

import (
	"encoding/binary"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestSeccompFilterInForce: linux.seccomp is loaded before the program
// runs, with and without no_new_privs (without it the filter must go on
// before the capabilities are dropped), and exec'd processes get it too.
func TestSeccompFilterInForce(t *testing.T) {
	r := runner(t)
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
			// Several comparisons of one argument mean any of them.
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 0x8, Op: specs.OpEqualTo}, {Index: 0, Value: 0x20008, Op: specs.OpEqualTo},
			}},
		},
	}
	script := `grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>/dev/null && echo mkdir-ok || echo mkdir-denied`
	for _, nnp := range []bool{true, false} {
		b := bundle(t, sh(script), func(s *specs.Spec) {
			s.Linux.Seccomp = profile
			s.Process.NoNewPrivileges = nnp
		})
		id := harness.ID("seccomp")
		res := r.RT("run", "--bundle", b, id)
		if res.Code != 0 || res.Stdout != "Seccomp:\t2\nmkdir-denied\n" {
			t.Errorf("noNewPrivileges %v: %s", nnp, res)
		}
		r.AssertNoTrace(t, id, b)
	}
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Linux.Seccomp = profile })
	id := harness.ID("seccomp-exec")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	defer r.RT("delete", "--force", id)
	if res := r.RT("exec", id, "sh", "-c", script); res.Stdout != "Seccomp:\t2\nmkdir-denied\n" {
		t.Errorf("exec: %s", res)
	}
}

// seccompDenyMkdir runs script in a container whose profile (edited by
// edit) fails mkdir, and wants it to report the filter in force and mkdir
// denied.
func seccompDenyMkdir(t *testing.T, r *harness.Runner, edit func(*specs.LinuxSeccomp)) {
	t.Helper()
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	}
	edit(profile)
	script := `grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>/dev/null && echo mkdir-ok || echo mkdir-denied`
	b := bundle(t, sh(script), func(s *specs.Spec) { s.Linux.Seccomp = profile })
	id := harness.ID("seccomp")
	if res := r.RT("run", "--bundle", b, id); res.Code != 0 || res.Stdout != "Seccomp:\t2\nmkdir-denied\n" {
		t.Errorf("profile %+v: %s, want the filter in force", profile, res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestSeccompFlagTSYNC: SECCOMP_FILTER_FLAG_TSYNC is accepted, as runc
// accepts it, and the filter is in force (rt refused it: `flag
// "SECCOMP_FILTER_FLAG_TSYNC": not supported`). It has nothing to do: the
// filter goes on the one thread that execs the program.
func TestSeccompFlagTSYNC(t *testing.T) {
	r := runner(t)
	for _, flags := range [][]specs.LinuxSeccompFlag{
		{"SECCOMP_FILTER_FLAG_TSYNC"},
		{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
	} {
		seccompDenyMkdir(t, r, func(p *specs.LinuxSeccomp) { p.Flags = flags })
	}
}

// TestSeccompArchitectures: every architecture runtime-spec defines that
// libseccomp 2.5.4 knows is accepted and added to the filter, as runc passes
// them to libseccomp (rt knew 8: `architecture "SCMP_ARCH_MIPSEL": not
// supported`). A filter holds architectures of one byte order: one of the
// other fails create with one line saying so (runc fails too).
func TestSeccompArchitectures(t *testing.T) {
	r := runner(t)
	little := []specs.Arch{
		specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64, specs.ArchMIPSEL,
		specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC64LE, specs.ArchRISCV64,
	}
	big := []specs.Arch{
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchS390,
		specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64,
	}
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		little, big = big, little
	}
	seccompDenyMkdir(t, r, func(p *specs.LinuxSeccomp) { p.Architectures = little })
	for _, a := range big {
		b := bundle(t, []string{"true"}, specSeccomp(func(p *specs.LinuxSeccomp) { p.Architectures = []specs.Arch{a} }))
		cfgRefused(t, r, "seccomp-arch", b, string(a), "byte order")
	}
}

// TestSeccompBadProfile: what rt cannot apply is refused at create, with
// the field named, and nothing is left.
func TestSeccompBadProfile(t *testing.T) {
	r := runner(t)
	for name, p := range map[string]*specs.LinuxSeccomp{
		"unknown action":   {DefaultAction: "SCMP_ACT_NOPE"},
		"unknown operator": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_NOPE"}}}}},
		"unknown arch":     {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}},
		"notify":           {DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"},
	} {
		b := bundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.Seccomp = p })
		id := harness.ID("seccomp-bad")
		res := r.RT("create", "--bundle", b, id)
		if res.Code != 1 || !strings.Contains(res.Stderr, "linux.seccomp") || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("%s: %s", name, res)
		}
		r.AssertNoTrace(t, id, b)
	}
}
