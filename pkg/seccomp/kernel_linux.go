package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// kernelFlags are the flags whose support depends on the kernel, with
// the flags the kernel wants beside them.
var kernelFlags = map[specs.LinuxSeccompFlag]uintptr{
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV |
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER,
}

// KernelHas reports whether this kernel takes filter flag f: asked with no
// program, a kernel that knows the flags answers EFAULT (and loads
// nothing), one that does not EINVAL. A flag rt does not set itself
// (TSYNC) counts as taken.
func KernelHas(f specs.LinuxSeccompFlag) bool {
	bits, ok := kernelFlags[f]
	if !ok {
		return true
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, bits, 0)
	return errors.Is(errno, unix.EFAULT)
}
