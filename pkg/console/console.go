// Package console owns the terminal plumbing of a container whose
// process.terminal is true:
//
//   - creating the pty pair through a ptmx device (OpenPty), which the
//     container's init does inside the container's mount namespace so the
//     slave lives in the container's own devpts instance;
//   - making the slave the stdin, stdout, stderr and controlling terminal of
//     the process about to execve the container's program (SetupSlave), and
//     sizing the terminal (Resize);
//   - passing the master between processes as SCM_RIGHTS over AF_UNIX
//     sockets (SendFd, RecvFd), from init to rt and from rt on to the
//     client's --console-socket (SendToSocket), the way runc does it so that
//     containerd's shim and podman's conmon accept it;
//   - relaying a foreground container's terminal through rt's own stdin and
//     stdout when no console socket was given (Relay), with rt's terminal in
//     raw mode and window size changes forwarded.
//
// It does not mount devpts or bind the slave onto /dev/console, change the
// slave's owner, or decide whether a process gets a terminal: the rootfs and
// init code do that and call in here for the terminal itself.
//
// The expected order in init is OpenPty, Resize (to the spec's consoleSize),
// SetupSlave, SendFd of the master, then closing the master, so that only
// the receiver holds it. Opening the slave before the master is handed on is
// not required by the kernel (reads on a master whose slave was never opened
// block rather than fail) but it makes sure the terminal exists before
// anyone relays it.
//
// Everything here is Linux-specific.
package console

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenPty opens a new pty pair through ptmx, the path of a ptmx device in
// the caller's mount namespace: normally "/dev/ptmx", which inside a
// container is a symlink to the container's own pts/ptmx.
//
// It returns the master, opened O_RDWR|O_NOCTTY|O_CLOEXEC and named ptmx
// (its Name is what SendToSocket sends as the payload, as runc does), and
// the path of the slave, already unlocked so it can be opened. The slave's
// directory is the devpts instance that ptmx belongs to: the directory ptmx
// resolves into when that is a devpts mount (pts/ptmx), or else the "pts"
// directory next to it, which is where the kernel looks for the instance
// when a /dev/ptmx device node is opened. For the usual paths the slave is
// therefore "/dev/pts/N".
//
// The master is non-blocking and registered with Go's poller, so deadlines
// and Close from another goroutine interrupt reads on it. Non-blocking mode
// belongs to the open file, so whoever is sent the master gets it
// non-blocking too (as from runc, whose master is opened the same way). The
// caller owns the master and must close it; OpenPty closes it on error.
func OpenPty(ptmx string) (master *os.File, slavePath string, err error) {
	// O_NOCTTY: the opener must not gain the master as its controlling
	// terminal; only the slave is ever a controlling terminal, and only of
	// the container's process.
	m, err := os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open pty master: %w", err)
	}
	slavePath, err = setupMaster(m, ptmx)
	if err != nil {
		m.Close()
		return nil, "", err
	}
	return m, slavePath, nil
}

// setupMaster unlocks the new pty behind master and returns its slave path.
func setupMaster(master *os.File, ptmx string) (string, error) {
	var n uint32
	err := withFd(master, func(fd int) error {
		var ierr error
		// TIOCGPTN reads a 32-bit int: IoctlGetUint32 matches that size on
		// every architecture, where IoctlGetInt would not.
		if n, ierr = unix.IoctlGetUint32(fd, unix.TIOCGPTN); ierr != nil {
			return fmt.Errorf("get pty number of %s (not a ptmx device?): %w", ptmx, ierr)
		}
		// A new pty starts locked so that nobody can open the slave before
		// its creator has set it up; there is nothing to set up here.
		if ierr = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); ierr != nil {
			return fmt.Errorf("unlock pty %d of %s: %w", n, ptmx, ierr)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	dir, err := ptsDir(ptmx)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, strconv.FormatUint(uint64(n), 10)), nil
}

// ptsDir returns the directory holding the slaves of the ptys that ptmx
// creates. A devpts instance's own ptmx (pts/ptmx, or a /dev/ptmx symlink to
// it) lives inside the instance; a ptmx device node outside any devpts
// reaches the instance mounted on the "pts" directory beside it (the
// kernel's own rule since Linux 4.7). Guessing "/dev/pts" would be wrong for
// a ptmx reached through another root, such as a rootfs path seen from the
// host.
func ptsDir(ptmx string) (string, error) {
	resolved, err := filepath.EvalSymlinks(ptmx)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ptmx, err)
	}
	dir := filepath.Dir(resolved)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == unix.DEVPTS_SUPER_MAGIC {
		return dir, nil
	}
	return filepath.Join(dir, "pts"), nil
}

// SetupSlave opens slavePath and makes it fds 0, 1 and 2 and the controlling
// terminal of the calling process. Call it in the process that will execve
// the container's program, right before doing so.
//
// It starts a new session first (setsid), because only a session leader
// without a controlling terminal may acquire one; if the caller already is a
// session leader (e.g. started with SysProcAttr.Setsid) that session is kept,
// and it must then have no controlling terminal yet. The process group
// created by setsid also makes the container's program the terminal's
// foreground group, so ^C on the terminal signals it.
//
// The three descriptors are left without FD_CLOEXEC so they survive execve.
// Caveats: os.Stdin, os.Stdout and os.Stderr keep referring to descriptors
// 0-2 and so now to the terminal, but any state Go attached to the old
// descriptors (such as poller registration) is stale, which is why this
// belongs right before execve. Whatever was on 0-2 before is closed.
func SetupSlave(slavePath string) error {
	if sid, err := unix.Getsid(0); err != nil || sid != unix.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid before taking terminal %s: %w", slavePath, err)
		}
	}

	// O_NOCTTY and then an explicit TIOCSCTTY: acquiring the terminal as a
	// side effect of open() is implicit and easy to break by reordering.
	fd, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open pty slave: %w", &os.PathError{Op: "open", Path: slavePath, Err: err})
	}
	if err := setupSlaveFd(fd, slavePath); err != nil {
		if fd > 2 {
			unix.Close(fd)
		}
		return err
	}
	if fd > 2 {
		// Only 0-2 should refer to the slave: a stray extra copy would be
		// inherited by nothing (it is close-on-exec) but is closed anyway
		// so that nothing in this process keeps the terminal alive.
		unix.Close(fd)
	}
	return nil
}

func setupSlaveFd(fd int, slavePath string) error {
	// Argument 0: never steal a terminal that already is another session's
	// controlling terminal (1 would, with CAP_SYS_ADMIN).
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", slavePath, err)
	}
	for target := 0; target <= 2; target++ {
		if target == fd {
			// open() reused a free stdio slot: dup3 onto itself is EINVAL,
			// so just drop the close-on-exec flag open() set.
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return fmt.Errorf("clear close-on-exec on fd %d (%s): %w", fd, slavePath, err)
			}
			continue
		}
		if err := unix.Dup3(fd, target, 0); err != nil {
			return fmt.Errorf("make %s fd %d: %w", slavePath, target, err)
		}
	}
	return nil
}

// Resize sets the window size of the pty that f is either side of, as rows
// (height) and columns (width), the order of the spec's consoleSize. The
// kernel sends SIGWINCH to the terminal's foreground process group when the
// size changes.
//
// Sizes above 65535 are rejected: the kernel stores them in 16 bits, and
// silently truncating would give the container a nonsense size. A zero
// size is passed on as is (it means "unknown" to most programs).
func Resize(f *os.File, height, width uint) error {
	if height > math.MaxUint16 || width > math.MaxUint16 {
		return fmt.Errorf("resize %s to %dx%d: size exceeds %d", f.Name(), height, width, math.MaxUint16)
	}
	ws := &unix.Winsize{Row: uint16(height), Col: uint16(width)}
	return withFd(f, func(fd int) error {
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("resize %s to %dx%d: %w", f.Name(), height, width, err)
		}
		return nil
	})
}

// withFd runs fn with f's descriptor. It goes through SyscallConn rather
// than f.Fd() because Fd() switches the descriptor to blocking mode and
// takes it off Go's poller as a side effect, which would break deadlines
// and Close-to-interrupt on a pty master.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("access %s: %w", f.Name(), err)
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("access %s: %w", f.Name(), err)
	}
	return fnErr
}

// isTerminal reports whether f is a terminal: TCGETS succeeds only on one.
func isTerminal(f *os.File) bool {
	err := withFd(f, func(fd int) error {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	})
	return err == nil
}

// OpenSlave opens master's slave without looking up its path
// (TIOCGPTPEER, Linux 4.13), not as a controlling terminal and
// close-on-exec: a name in /dev/pts can be raced, the peer of an open
// master cannot.
func OpenSlave(master *os.File) (*os.File, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil, fmt.Errorf("open pty slave of %s: %w", master.Name(), errno)
	}
	return os.NewFile(fd, "pty-slave"), nil
}
