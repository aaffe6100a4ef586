package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// highFd is where the sealed rt-init copy is kept in rt, above any fd the
// child is given, so that the dup2s of exec.Cmd's ExtraFiles never overwrite
// it before execve reads /proc/self/fd/<highFd>.
const highFd = 200

// sealedInit returns a sealed, in-memory copy of rt-init to execute.
//
// CVE-2019-5736: the container's init runs rt-init inside the container's
// namespaces, where a hostile process can open /proc/<pid>/exe and, once
// rt-init has exec'd, write through it into the binary on the host. A memfd
// sealed against writes gives it nothing to write to: the host file is never
// what runs.
func sealedInit(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open rt-init: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("rt-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err != nil {
		// Kernels before 6.3 do not know MFD_EXEC; memfds are executable
		// there anyway.
		fd, err = unix.MemfdCreate("rt-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			return nil, fmt.Errorf("memfd for rt-init: %w", err)
		}
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, highFd)
	unix.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("memfd for rt-init: %w", err)
	}
	mem := os.NewFile(uintptr(high), "rt-init")
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy rt-init: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal rt-init: %w", err)
	}
	return mem, nil
}

// initPath is the configured rt-init, or the one next to rt.
func (r *Runtime) initPath() (string, error) {
	if r.cfg.Init != "" {
		return r.cfg.Init, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	return filepath.Join(filepath.Dir(self), "rt-init"), nil
}
