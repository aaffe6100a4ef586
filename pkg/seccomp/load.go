//go:build cgo && linux

package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter, ready to load without allocating: rt-init
// compiles before the container's rlimits are in force (libseccomp's
// compiler allocates, and a low RLIMIT_AS leaves a Go process no room for
// any new mapping) and loads as the last step before execve.
type Program struct {
	filter []unix.SockFilter
	flags  uintptr
	// loaded: LoadListener loaded it already.
	loaded bool
}

// Compile turns s into a Program (nil for a nil s).
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, nil
	}
	f, err := build(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	mem, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	file := os.NewFile(uintptr(mem), "seccomp-bpf")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(file, 0, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	size := int(unsafe.Sizeof(unix.SockFilter{}))
	if len(raw) == 0 || len(raw)%size != 0 {
		return nil, fmt.Errorf("seccomp: export filter: %d bytes is not a BPF program", len(raw))
	}
	p := &Program{filter: make([]unix.SockFilter, len(raw)/size)}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&p.filter[0])), len(raw)), raw)
	for _, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			p.flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			p.flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			p.flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		case FlagTSYNC:
			// Nothing to sync: see FlagTSYNC.
		}
	}
	if Notifies(s) {
		p.flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return p, nil
}

// Load installs the program on the calling thread, which must be the thread
// that calls execve (filters are per thread, and the program inherits the
// exec'ing thread's). Without no_new_privs, loading needs CAP_SYS_ADMIN:
// the caller loads before it drops capabilities in that case. It makes one
// system call and allocates nothing.
func (p *Program) Load() error {
	if p == nil || p.loaded {
		return nil
	}
	_, err := p.load()
	return err
}

// Listener reports whether p is loaded with a listener (LoadListener).
func (p *Program) Listener() bool {
	return p != nil && p.flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
}

// LoadListener loads a Listener program on the calling thread, as Load
// does, and returns the listener: the filter is in force from here, not
// as the last step, because the listener must reach the agent while rt
// still waits. Load does nothing afterwards.
func (p *Program) LoadListener() (*os.File, error) {
	if !p.Listener() || p.loaded {
		return nil, errors.New("seccomp: no listener to load")
	}
	fd, err := p.load()
	if err != nil {
		return nil, err
	}
	p.loaded = true
	return os.NewFile(fd, "seccomp listener"), nil
}

func (p *Program) load() (uintptr, error) {
	prog := unix.SockFprog{Len: uint16(len(p.filter)), Filter: &p.filter[0]}
	fd, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p)
	switch {
	case errno == unix.EINVAL && p.flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 && !KernelHas(specs.LinuxSeccompFlagWaitKillableRecv):
		return 0, fmt.Errorf("seccomp: load filter: flag %s: %w (Linux 5.19 has it)", specs.LinuxSeccompFlagWaitKillableRecv, errno)
	case errno != 0:
		return 0, fmt.Errorf("seccomp: load filter: %w", errno)
	}
	return fd, nil
}

// build makes the libseccomp filter of s; the flags are the Program's.
func build(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	if err := Validate(s); err != nil {
		return nil, err
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	if err := addAll(f, s, def); err != nil {
		f.Release()
		return nil, err
	}
	return f, nil
}

// addAll adds the architectures and rules of s to f.
func addAll(f *libseccomp.ScmpFilter, s *specs.LinuxSeccomp, def libseccomp.ScmpAction) error {
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(Archs[a])
		if err != nil {
			return fmt.Errorf("seccomp: architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			if errors.Is(err, unix.EDOM) {
				native, _ := libseccomp.GetNativeArch()
				return fmt.Errorf("seccomp: add architecture %s: %w (its byte order is not that of this host's %s: libseccomp cannot mix both in one filter)", a, err, native)
			}
			return fmt.Errorf("seccomp: add architecture %s: %w", a, err)
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
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("seccomp: action %q: %w", a, ErrUnsupported)
}
