package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// PivotRoot makes the rootfs the root of the mount namespace and detaches
// the old root, so nothing of the host's filesystem stays reachable.
func PivotRoot(c *Config) error {
	if c.HostMounts != nil {
		// No mount namespace of the container's own: pivot_root would
		// swap the caller's root, and --no-pivot's MS_MOVE cover it.
		flag, err := rootfsPropagation(c.Spec)
		if err != nil {
			return err
		}
		return c.HostMounts.enter(flag)
	}
	if c.NoPivot {
		return moveRoot(c.Rootfs)
	}
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(c.Rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open rootfs: %w", err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("pivot_root: chdir rootfs: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one, so no
	// directory for it is needed inside the rootfs.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", c.Rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("pivot_root: chdir old root: %w", err)
	}
	// Keep the unmount from propagating to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("pivot_root: detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: chdir /: %w", err)
	}
	return nil
}

// moveRoot is --no-pivot: move the rootfs mount over / and chroot into it.
// The host's mounts stay below in the namespace, hidden but not detached.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("no-pivot: chdir rootfs: %w", err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("no-pivot: move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("no-pivot: chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("no-pivot: chdir /: %w", err)
	}
	return nil
}

// Finish applies what must come after the switch of root: masked and
// read-only paths, and a read-only root.
func Finish(c *Config) error {
	if c.HostMounts != nil && (len(c.Spec.Linux.ReadonlyPaths) > 0 || len(c.Spec.Linux.MaskedPaths) > 0) {
		// spec.Validate refuses them; runc does too.
		return errors.New("linux.maskedPaths and linux.readonlyPaths need a mount namespace of the container's own")
	}
	for _, p := range c.Spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	if len(c.Spec.Linux.MaskedPaths) > 0 {
		null, err := openNull()
		if err != nil {
			return err
		}
		defer unix.Close(null)
		for _, p := range c.Spec.Linux.MaskedPaths {
			if err := maskPath(null, p); err != nil {
				return err
			}
		}
	}
	if c.Spec.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("remount root read-only: %w", err)
		}
	}
	return nil
}

// readonlyPath binds path onto itself read-only; a missing path is fine.
func readonlyPath(path string) error {
	if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("readonly path %s: %w", path, err)
	}
	if err := remountBind(path, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
		return fmt.Errorf("readonly path %s: remount: %w", path, err)
	}
	return nil
}

// openNull opens the container's /dev/null for masking, once, and checks
// that it is the null device.
//
// CVE-2025-31133: runc bind-mounted whatever "/dev/null" resolved to when it
// masked each path, and a container that could swap /dev/null for a
// symlink (through a mount shared with a racing container) had runc bind,
// say, /proc/sys/kernel/core_pattern writable over a masked path. Here the
// node is opened without following a symlink and checked (character device
// 1:3), and every mask is cloned from that fd (open_tree), so what is
// mounted is what was checked, whatever happens to the name meanwhile.
func openNull() (int, error) {
	if defencesOff {
		return -1, nil
	}
	fd, err := unix.Open("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("masked paths: open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("masked paths: stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, fmt.Errorf("masked paths: /dev/null in the container is not the null device (mode %#o, device %d:%d): refusing to mount it over masked paths",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return fd, nil
}

// maskPath hides path: the checked null device (fd null) over a file, an
// empty read-only tmpfs over a directory; a missing path is fine.
func maskPath(null int, path string) error {
	if strings.Contains(path, "\x00") {
		return fmt.Errorf("masked path %q: bad path", path)
	}
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "size=0k")
	case defencesOff:
		err = undefendedMask(path)
	default:
		err = bindFd(null, path)
		if errors.Is(err, os.ErrNotExist) {
			// path was statted above: ENOENT is the source, the null
			// device unlinked by a container sharing this /dev. Never
			// skip the mask for it (the race tests caught the fast path
			// doing so).
			return fmt.Errorf("masked path %s: /dev/null in the container is not the null device any more (unlinked while masking): %w", path, err)
		}
	}
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("masked path %s: %w", path, err)
}

// bindFd bind-mounts the file fd refers to onto path: a clone of its mount
// (open_tree), attached with move_mount, so the source is the inode fd holds
// and never a name looked up again. Kernels before 5.2 (ENOSYS) get a bind
// of /proc/self/fd/<fd>, which reaches the same inode.
func bindFd(fd int, path string) error {
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOSYS) {
		return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), path, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	return unix.MoveMount(tree, "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// BindConsole mounts the terminal's slave over /dev/console, as runc does
// for a container's init, so that what opens /dev/console (init systems,
// getty, some daemons' last-resort logging) reaches the container's
// terminal. It runs after the switch of root, in the container's /dev.
//
// CVE-2025-52565: runc mounted onto the name /dev/console, which a racing
// container could swap for a symlink, so that the mount landed on a file of
// its choosing (masking it, or exposing the pty where it should not be).
// Here the target is created, or opened, without following a symlink,
// checked to be a regular file or a character device, and the slave is
// attached to that very inode (move_mount to the fd), whatever happens to
// the name meanwhile.
func BindConsole(slave *os.File) error {
	if defencesOff {
		return undefendedConsole(slave)
	}
	target, err := unix.Open("/dev/console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		// An empty file to mount onto, as runc makes; O_EXCL with
		// O_NOFOLLOW refuses a symlink planted meanwhile.
		var f int
		if f, err = unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600); err == nil {
			unix.Close(f)
			target, err = unix.Open("/dev/console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return fmt.Errorf("/dev/console: stat: %w", err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		return fmt.Errorf("/dev/console is not a file or a device (mode %#o): refusing to mount the terminal on it", st.Mode)
	}
	tree, err := unix.OpenTree(int(slave.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOSYS) {
		err = unix.Mount(fmt.Sprintf("/proc/self/fd/%d", slave.Fd()), fmt.Sprintf("/proc/self/fd/%d", target), "", unix.MS_BIND, "")
		if err != nil {
			return fmt.Errorf("bind the terminal onto /dev/console: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("bind the terminal onto /dev/console: open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind the terminal onto /dev/console: %w", err)
	}
	return nil
}
