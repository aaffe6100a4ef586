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
	for _, p := range c.Spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	for _, p := range c.Spec.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
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

// maskPath hides path: /dev/null over a file, an empty read-only tmpfs over
// a directory; a missing path is fine.
func maskPath(path string) error {
	err := unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, unix.ENOTDIR) {
		if err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "size=0k"); err == nil {
			return nil
		}
	}
	if strings.Contains(path, "\x00") {
		return fmt.Errorf("masked path %q: bad path", path)
	}
	return fmt.Errorf("masked path %s: %w", path, err)
}
