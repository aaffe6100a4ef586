//go:build cgo && linux

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Load compiles s and loads it on the calling thread, which must be the
// thread that calls execve (seccomp filters are per thread unless
// synchronised, and the program inherits the exec'ing thread's). Without
// no_new_privs, loading needs CAP_SYS_ADMIN: the caller loads before it
// drops capabilities in that case.
func Load(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	if err := Validate(s); err != nil {
		return err
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return fmt.Errorf("seccomp: new filter: %w", err)
	}
	defer f.Release()
	// rt-init sets no_new_privs itself, as process.noNewPrivileges says.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(Archs[a])
		if err != nil {
			return fmt.Errorf("seccomp: architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return fmt.Errorf("seccomp: add architecture %s: %w", a, err)
		}
	}
	for _, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			err = f.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = f.SetSSB(true)
		}
		if err != nil {
			return fmt.Errorf("seccomp: flag %s: %w", fl, err)
		}
	}
	for _, sc := range s.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return err
		}
		if act == def {
			continue // libseccomp refuses a rule equal to the default
		}
		for _, name := range sc.Names {
			id, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown to this libseccomp: nothing to filter
			}
			if err := addRules(f, id, act, sc.Args); err != nil {
				return fmt.Errorf("seccomp: syscall %s: %w", name, err)
			}
		}
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("seccomp: load filter: %w", err)
	}
	return nil
}

// addRules adds the rule for one syscall. libseccomp takes one comparison
// per argument in a rule; a profile with several for the same argument
// means any of them (as runc reads it), so each becomes a rule of its own.
func addRules(f *libseccomp.ScmpFilter, id libseccomp.ScmpSyscall, act libseccomp.ScmpAction, args []specs.LinuxSeccompArg) error {
	if len(args) == 0 {
		return f.AddRule(id, act)
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		c, err := condition(a)
		if err != nil {
			return err
		}
		conds = append(conds, c)
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
	}
	if !repeated {
		return f.AddRuleConditional(id, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(id, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

func condition(a specs.LinuxSeccompArg) (libseccomp.ScmpCondition, error) {
	op, ok := operators[a.Op]
	if !ok {
		return libseccomp.ScmpCondition{}, fmt.Errorf("operator %s: %w", a.Op, ErrUnsupported)
	}
	if a.Op == specs.OpMaskedEqual {
		return libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
	}
	return libseccomp.MakeCondition(a.Index, op, a.Value)
}

func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		ret := uint(unix.EPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		return libseccomp.ActErrno.SetReturnCode(int16(ret)), nil
	case specs.ActTrace:
		ret := uint(unix.EPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		return libseccomp.ActTrace.SetReturnCode(int16(ret)), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("seccomp: action %q: %w", a, ErrUnsupported)
}
