package process

// LSM labels (checked against the host, written to attr/) and sysctls:
// what rt-init writes through procfs, by pathrs-lite's procfs handles,
// never by a path in the container's /proc.

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/spec"
)

// ErrLSM is wrapped when an LSM label is asked for on a host without that
// LSM.
var ErrLSM = errors.New("LSM not enabled on this host")

// CheckMountLabel refuses linux.mountLabel on a host without SELinux: the
// context= mount option it becomes would fail every mount (runc fails
// half-way there).
func CheckMountLabel(label string) error {
	if label == "" {
		return nil
	}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		return fmt.Errorf("linux.mountLabel %q: %w (no /sys/fs/selinux)", label, ErrLSM)
	}
	return nil
}

// CheckLSM reports, before anything is set up, a label the host has no LSM
// for: a label that cannot be applied is an error, never ignored.
func CheckLSM(p *specs.Process) error {
	if p.ApparmorProfile != "" {
		if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
			return fmt.Errorf("apparmor profile %q: %w (no /sys/kernel/security/apparmor)", p.ApparmorProfile, ErrLSM)
		}
	}
	if p.SelinuxLabel != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
			return fmt.Errorf("selinux label %q: %w (no /sys/fs/selinux)", p.SelinuxLabel, ErrLSM)
		}
	}
	return nil
}

// SetLSM asks for the AppArmor profile and SELinux label of process for the
// next execve.
func SetLSM(p *specs.Process) error {
	if err := CheckLSM(p); err != nil {
		return err
	}
	if p.ApparmorProfile != "" {
		if err := writeAttr("apparmor/exec", "exec "+p.ApparmorProfile); err != nil {
			return fmt.Errorf("apparmor profile %q: %w", p.ApparmorProfile, err)
		}
	}
	if p.SelinuxLabel != "" {
		if err := writeAttr("exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("selinux label %q: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

// writeAttr writes this thread's /proc attr file: LSM exec labels are per
// thread. It runs after start, when rt-init has replaced pathrs-lite's
// process-wide cached procfs handle (see rt-init's closeHostFds), so it
// uses a private procfs instance of its own, which no mount in the
// container can cover (CVE-2025-52881), and reopens the file for writing
// through that instance's thread-self/fd, not through pathrs.Reopen (which
// would use the cached handle).
func writeAttr(name, value string) error { return writeThreadSelf("attr/"+name, value) }

// writeThreadSelf writes value to this thread's /proc/thread-self/<subpath>
// as writeAttr says.
func writeThreadSelf(subpath, value string) error {
	proc, err := procfs.OpenUnsafeProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	h, closeAttr, err := proc.OpenThreadSelf(subpath)
	if err != nil {
		return err
	}
	defer closeAttr()
	defer h.Close()
	fds, closeFds, err := proc.OpenThreadSelf("fd")
	if err != nil {
		return err
	}
	defer closeFds()
	defer fds.Close()
	fd, err := unix.Openat(int(fds.Fd()), strconv.Itoa(int(h.Fd())), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", subpath, err)
	}
	f := os.NewFile(uintptr(fd), subpath)
	defer f.Close()
	if err := sameInode(h, f); err != nil {
		return fmt.Errorf("reopen %s: %w", subpath, err)
	}
	_, err = f.Write([]byte(value))
	return err
}

// sameInode checks that a and b are the same file.
func sameInode(a, b *os.File) error {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a.Fd()), &sa); err != nil {
		return err
	}
	if err := unix.Fstat(int(b.Fd()), &sb); err != nil {
		return err
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		return errors.New("reopened another file")
	}
	return nil
}

// Sysctl writes value to the sysctl key ("net.ipv4.ip_forward") of the
// calling process's namespaces.
//
// CVE-2025-52881: runc wrote sysctls (and LSM labels) through paths under the
// container's /proc, and a container able to get a mount placed over one of
// those files (a bind of /proc/sys/kernel/core_pattern over
// /proc/sys/net/..., through a mount shared with a racing container, or a
// config that mounts over /proc) had runc write its value into the host's
// file. Here the file is opened through pathrs-lite's procfs handle: a
// procfs of the caller's own that no mount of the container covers (a fresh
// detached instance, or a clone of /proc without its submounts), checked to
// be procfs, and reopened for writing from that handle.
func Sysctl(key, value string) error {
	if defencesOff {
		return undefendedSysctl(key, value)
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("sysctl %s: open procfs: %w", key, err)
	}
	defer proc.Close()
	h, err := proc.OpenRoot("sys/" + spec.SysctlPath(key))
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	defer h.Close()
	if err := writeHandle(h, value); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// writeHandle reopens the procfs file h (a path handle) for writing, safely,
// and writes value in one write, as procfs files want.
func writeHandle(h *os.File, value string) error {
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte(value))
	return err
}
