// Package seccomp applies linux.seccomp: it checks a profile against what
// rt supports (Validate, usable anywhere) and, in rt-init, compiles it to a
// BPF filter with libseccomp (Compile, cgo only) and loads it (Program.Load).
//
// The tables here are what both sides read, and what `rt features`
// reports, so the features document cannot claim an action or operator
// that Load does not handle.
package seccomp

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrUnsupported is wrapped when a profile asks for something rt cannot do.
var ErrUnsupported = errors.New("not supported")

// Actions are the seccomp actions Load applies.
var Actions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

// Operators are the argument comparisons Load applies.
var Operators = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// Archs maps the spec's architecture names to libseccomp's: every one
// runtime-spec defines that the libseccomp rt-init links (2.5.4) knows, as
// runc passes them all to libseccomp. LOONGARCH64, M68K, SH and SHEB came
// with libseccomp 2.6.0: add them here with "loong64", "m68k", "sh" and
// "sheb" when rt-init links it (TestArchsKnownToLibseccomp says so). A
// filter holds architectures of one byte order: on this little-endian host
// a big-endian one (MIPS, PPC, S390, PARISC…) fails in Compile, as in runc.
var Archs = map[specs.Arch]string{
	specs.ArchX86:         "x86",
	specs.ArchX86_64:      "amd64",
	specs.ArchX32:         "x32",
	specs.ArchARM:         "arm",
	specs.ArchAARCH64:     "arm64",
	specs.ArchMIPS:        "mips",
	specs.ArchMIPS64:      "mips64",
	specs.ArchMIPS64N32:   "mips64n32",
	specs.ArchMIPSEL:      "mipsel",
	specs.ArchMIPSEL64:    "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC:         "ppc",
	specs.ArchPPC64:       "ppc64",
	specs.ArchPPC64LE:     "ppc64le",
	specs.ArchS390:        "s390",
	specs.ArchS390X:       "s390x",
	specs.ArchPARISC:      "parisc",
	specs.ArchPARISC64:    "parisc64",
	specs.ArchRISCV64:     "riscv64",
}

// FlagTSYNC is SECCOMP_FILTER_FLAG_TSYNC, which runc accepts and ignores
// (runtime-spec's Go types have no constant for it). rt accepts and ignores
// it too: it would sync the filter to the other threads of the loading
// process, and rt-init loads it on the one thread that then execs, the only
// thread the program has.
const FlagTSYNC specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// Flags are the filter flags Load accepts: LOG, SPEC_ALLOW and
// WAIT_KILLABLE_RECV (with a listener only; Linux 5.19) it sets, TSYNC
// means nothing here (FlagTSYNC).
var Flags = []specs.LinuxSeccompFlag{
	specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, FlagTSYNC, specs.LinuxSeccompFlagWaitKillableRecv,
}

// notifyRefused are the syscalls rt-init makes between loading a filter
// with a listener and rt handing the listener to the agent (the message
// saying so, the fd itself): notified, they would wait for an agent that
// cannot answer yet. runc refuses write for the same reason.
var notifyRefused = []string{"write", "sendmsg"}

// Notifies reports whether s has SCMP_ACT_NOTIFY rules: its filter is
// then loaded with a listener, which goes to s.ListenerPath.
func Notifies(s *specs.LinuxSeccomp) bool {
	if s == nil {
		return false
	}
	if s.DefaultAction == specs.ActNotify {
		return true
	}
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

// ArchNames lists the keys of Archs, sorted.
func ArchNames() []string {
	out := make([]string, 0, len(Archs))
	for a := range Archs {
		out = append(out, string(a))
	}
	sort.Strings(out)
	return out
}

// Validate refuses what Load would refuse, so create fails before anything
// exists. Unknown syscall names are not errors: profiles list syscalls
// newer than the kernel or libseccomp, and runc skips them too.
func Validate(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("linux.seccomp: "+format, a...)
	}
	if !knownAction(s.DefaultAction) {
		return bad("defaultAction %q: %w", s.DefaultAction, ErrUnsupported)
	}
	for _, a := range s.Architectures {
		if _, ok := Archs[a]; !ok {
			return bad("architecture %q: %w (known: %s)", a, ErrUnsupported, strings.Join(ArchNames(), ", "))
		}
	}
	for _, f := range s.Flags {
		if !contains(Flags, f) {
			return bad("flag %q: %w", f, ErrUnsupported)
		}
	}
	if err := validateNotify(s); err != nil {
		return bad("%w", err)
	}
	// What the spec says MUST NOT be: an errno for an action that returns
	// none, metadata for no listener, a rule without a syscall.
	if s.DefaultErrnoRet != nil && !takesErrno(s.DefaultAction) {
		return bad("defaultErrnoRet is set but defaultAction %s returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", s.DefaultAction)
	}
	if s.DefaultErrnoRet != nil && *s.DefaultErrnoRet > maxErrnoRet {
		return bad("defaultErrnoRet %d: %s", *s.DefaultErrnoRet, errnoRange)
	}
	for i, sc := range s.Syscalls {
		if !knownAction(sc.Action) {
			return bad("syscalls[%d] %q: action %q: %w", i, sc.Names, sc.Action, ErrUnsupported)
		}
		if len(sc.Names) == 0 {
			return bad("syscalls[%d]: names is empty (a rule needs at least one syscall)", i)
		}
		if sc.ErrnoRet != nil && !takesErrno(sc.Action) {
			return bad("syscalls[%d] %q: errnoRet is set but action %s returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", i, sc.Names, sc.Action)
		}
		if sc.ErrnoRet != nil && *sc.ErrnoRet > maxErrnoRet {
			return bad("syscalls[%d] %q: errnoRet %d: %s", i, sc.Names, *sc.ErrnoRet, errnoRange)
		}
		for _, arg := range sc.Args {
			if !contains(Operators, arg.Op) {
				return bad("syscalls[%d] %q: operator %q: %w", i, sc.Names, arg.Op, ErrUnsupported)
			}
			if arg.Index > 5 {
				return bad("syscalls[%d] %q: argument index %d: a syscall has 6 arguments", i, sc.Names, arg.Index)
			}
		}
	}
	return nil
}

// validateNotify checks what goes with SCMP_ACT_NOTIFY: a listenerPath,
// and the other way round, so that neither is set to no effect.
func validateNotify(s *specs.LinuxSeccomp) error {
	notifies := Notifies(s)
	switch {
	case notifies && s.ListenerPath == "":
		return errors.New("SCMP_ACT_NOTIFY needs listenerPath, the agent's socket that gets the listener")
	case !notifies && s.ListenerPath != "":
		return errors.New("listenerPath is set but no rule uses SCMP_ACT_NOTIFY")
	case s.ListenerMetadata != "" && s.ListenerPath == "":
		return errors.New("listenerMetadata is set without listenerPath")
	case !notifies && contains(s.Flags, specs.LinuxSeccompFlagWaitKillableRecv):
		return fmt.Errorf("flag %s needs a listener: no rule uses SCMP_ACT_NOTIFY", specs.LinuxSeccompFlagWaitKillableRecv)
	}
	if s.DefaultAction == specs.ActNotify {
		return fmt.Errorf("defaultAction SCMP_ACT_NOTIFY would notify %s, which rt-init makes before the agent has the listener", strings.Join(notifyRefused, " and "))
	}
	for i, sc := range s.Syscalls {
		for _, name := range sc.Names {
			if sc.Action == specs.ActNotify && contains(notifyRefused, name) {
				return fmt.Errorf("syscalls[%d]: SCMP_ACT_NOTIFY cannot be used for %s: rt-init makes it before the agent has the listener", i, name)
			}
		}
	}
	return nil
}

func knownAction(a specs.LinuxSeccompAction) bool { return contains(Actions, a) }

// takesErrno reports whether action a returns an errno (errnoRet applies).
// maxErrnoRet is the largest errno a filter's action holds (16 bits): a
// larger one would wrap, 65536 becoming 0, a denied syscall "succeeding"
// without running. runc passes it on; rt refuses it.
const maxErrnoRet = 0xffff

const errnoRange = "out of range: a seccomp action's errno is 16 bits (at most 65535; the kernel returns at most 4095)"

func takesErrno(a specs.LinuxSeccompAction) bool { return a == specs.ActErrno || a == specs.ActTrace }

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
