package checkpoint

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A pidfd is how rt waits for and kills a process that is not its child:
// the page server is a child of `criu swrk`, and is inherited by init (or
// by a subreaper) when swrk exits. Unlike a pid, a pidfd never names
// another process once this one is gone.

// pidfdInfo is the kernel's struct pidfd_info as of Linux 6.15
// (PIDFD_INFO_SIZE_VER0, 64 bytes): enough for the exit code.
type pidfdInfo struct {
	Mask     uint64
	CgroupID uint64
	Pid      uint32
	Tgid     uint32
	Ppid     uint32
	IDs      [8]uint32 // ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid
	ExitCode int32     // a wait status, as waitpid's
}

const (
	// pidfdInfoExit asks for (and says there is) the exit code.
	pidfdInfoExit = 1 << 3
	// pidfdGetInfo is _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info).
	pidfdGetInfo = 0xC0000000 | uintptr(unsafe.Sizeof(pidfdInfo{}))<<16 | 0xFF<<8 | 11
)

// errNoExitStatus means the kernel cannot tell how a process that is not
// rt's child ended (PIDFD_GET_INFO is Linux 6.15's), or the process was
// not reaped in time for it to know.
var errNoExitStatus = errors.New("exit status unknown")

// errNotReaped is pidfdExitInfo's answer before the process is reaped.
var errNotReaped = errors.New("not reaped yet")

// pidfdExitInfo asks the kernel how the process of pidfd ended. It knows
// once the process has been reaped, by whichever parent it had.
func pidfdExitInfo(pidfd int) (unix.WaitStatus, error) {
	info := pidfdInfo{Mask: pidfdInfoExit}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), pidfdGetInfo, uintptr(unsafe.Pointer(&info))); e != 0 {
		if e == unix.ENOTTY || e == unix.EINVAL {
			return 0, fmt.Errorf("%w: this kernel has no PIDFD_GET_INFO (Linux 6.15)", errNoExitStatus)
		}
		return 0, fmt.Errorf("PIDFD_GET_INFO: %w", e)
	}
	if info.Mask&pidfdInfoExit == 0 {
		return 0, errNotReaped
	}
	return unix.WaitStatus(info.ExitCode), nil
}

// pollExited blocks until the process of pidfd has exited (its whole
// thread group: pidfd's POLLIN).
func pollExited(pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil {
			return nil
		}
		if err != unix.EINTR {
			return fmt.Errorf("poll pidfd: %w", err)
		}
	}
}

// reapIfChild reaps the process of pidfd if it is rt's child (rt a
// subreaper that inherited it: it would stay a zombie otherwise) and
// returns its status; ok is false if it is not rt's child.
func reapIfChild(pidfd int) (unix.WaitStatus, bool) {
	var si siginfoChld
	const pPidfd = 3 // P_PIDFD
	for {
		err := unix.Waitid(pPidfd, pidfd, (*unix.Siginfo)(unsafe.Pointer(&si)), unix.WEXITED|unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || si.Pid == 0 {
			return 0, false
		}
		return si.status(), true
	}
}

// siginfoChld is the start of a SIGCHLD siginfo_t (64-bit layout), which
// waitid fills in.
type siginfoChld struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      int32
	Pid    int32
	UID    uint32
	Status int32
	_      [100]byte // the rest of the 128 bytes of a siginfo_t
}

// status is si as a wait status.
func (si *siginfoChld) status() unix.WaitStatus {
	switch si.Code {
	case 1: // CLD_EXITED
		return unix.WaitStatus(si.Status&0xff) << 8
	case 3: // CLD_DUMPED
		return unix.WaitStatus(si.Status&0x7f) | 0x80
	default: // CLD_KILLED
		return unix.WaitStatus(si.Status & 0x7f)
	}
}

// reapWait is how long exitOf waits for the kernel to know the exit code
// of a process that is not rt's child: it knows once the process's parent
// (init, usually) has reaped it. systemd reaps at once; some VMs' init
// only every second or two.
const reapWait = 10 * time.Second

// exitOf waits for the process of pidfd, not rt's child, to exit and
// returns how it ended, or errNoExitStatus when the kernel cannot say.
func exitOf(pidfd int) (unix.WaitStatus, error) {
	if err := pollExited(pidfd); err != nil {
		return 0, err
	}
	if ws, ok := reapIfChild(pidfd); ok {
		return ws, nil
	}
	deadline := time.Now().Add(reapWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		ws, err := pidfdExitInfo(pidfd)
		if !errors.Is(err, errNotReaped) {
			return ws, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: the process was not reaped within %s", errNoExitStatus, reapWait)
		}
		time.Sleep(delay)
	}
}
