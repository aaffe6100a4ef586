package rootfs

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The undefended* functions are what runc did before its fixes, for the
// positive controls of test/security: they run instead of a defence only
// when defencesOff is true (the build tag rt_nodefence), and are dead code
// in every other build.

// undefendedDir resolves dest on the host, following symlinks out of the
// rootfs, instead of inside it (the /dev symlink class).
func undefendedDir(rootfs, dest string) (*os.File, error) {
	p := filepath.Join(rootfs, dest)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
}

// undefendedFile is undefendedDir for a file, created where missing.
func undefendedFile(rootfs, dest string) (*os.File, error) {
	p := filepath.Join(rootfs, dest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	f.Close()
	return os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
}

// undefendedMask binds whatever the name /dev/null resolves to over path
// (CVE-2025-31133).
func undefendedMask(path string) error {
	return unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
}

// undefendedConsole creates /dev/console and mounts the slave onto the name,
// following a symlink (CVE-2025-52565).
func undefendedConsole(slave *os.File) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("/dev/console: %w", err)
	}
	f.Close()
	return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", slave.Fd()), "/dev/console", "", unix.MS_BIND, "")
}
