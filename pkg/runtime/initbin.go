package runtime

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/sibling"
)

// highFd is where the sealed rt-init copy is kept in rt, above any fd the
// child is given, so that the dup2s of exec.Cmd's ExtraFiles never overwrite
// it before execve reads /proc/self/fd/<highFd>.
const highFd = 200

// sealedInit returns rt-init opened so that nothing can write to what
// runs, and with it the binary on the host.
//
// CVE-2019-5736: the container's init runs rt-init inside the container's
// namespaces, where a hostile process can open /proc/<pid>/exe and, once
// rt-init has exec'd, write through it into the binary on the host. Two
// ways to close that, tried in order:
//
//   - overlayInit: the file seen through a private, detached, read-only
//     overlayfs mount of its directory. Any open for writing fails with
//     EROFS, and the mount is nowhere in any mount table (it lives as long
//     as the fd and the process executing it). It costs ~0.2 ms and copies
//     nothing. Needs the new mount API (Linux 5.2) and overlayfs.
//   - memfdInit: a sealed in-memory copy (1-4 ms for 3 MB, paid by every
//     create and exec), where the host file is never what runs.
//
// runc 1.2 chose the same pair, in the same order.
func sealedInit(path string) (*os.File, error) {
	if f, err := overlayInit(path); err == nil {
		return f, nil
	}
	return memfdInit(path)
}

// overlayInit opens path through a detached read-only overlayfs whose
// layers are path's directory and an empty detached tmpfs (overlayfs wants
// two layers when it has no upper one, and a second directory of the host
// could overlap the first).
func overlayInit(path string) (*os.File, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Split(real)
	empty, err := detachedMount("tmpfs", map[string]string{"size": "4k", "nr_inodes": "2", "mode": "0500"}, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	// In lowerdir, ':' separates layers and '\' escapes.
	escape := strings.NewReplacer(`\`, `\\`, ":", `\:`)
	lower := escape.Replace(filepath.Clean(dir)) + ":/proc/self/fd/" + strconv.Itoa(empty)
	// xino=off: with layers on two file systems the kernel would enable it
	// and log a line per mount.
	mnt, err := detachedMount("overlay", map[string]string{"lowerdir": lower, "xino": "off"},
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in the overlay: %w", name, err)
	}
	defer unix.Close(fd)
	// Belt and braces: this must be a file that refuses writers.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in the overlay is not a regular file", name)
	}
	if w, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(w)
		return nil, fmt.Errorf("%s in the overlay opens for writing", name)
	} else if err != unix.EROFS {
		return nil, fmt.Errorf("open %s in the overlay for writing: %w, want EROFS", name, err)
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, highFd)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(high), "rt-init"), nil
}

// detachedMount makes a mount of fstype with opts that is attached nowhere
// and returns its fd.
func detachedMount(fstype string, opts map[string]string, attrs int) (int, error) {
	ctx, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(ctx)
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if err := unix.FsconfigSetString(ctx, k, opts[k]); err != nil {
			return -1, fmt.Errorf("%s option %s=%s: %w", fstype, k, opts[k], err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("create %s: %w", fstype, err)
	}
	fd, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return fd, nil
}

// memfdInit returns a sealed, in-memory copy of rt-init.
func memfdInit(path string) (*os.File, error) {
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
	if err := copyFile(mem, src); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy rt-init %s: %w", path, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal rt-init: %w", err)
	}
	return mem, nil
}

// copyFile copies src to dst with sendfile: the kernel copies page cache
// to memfd pages in one go. (io.Copy, which falls back to 32 KB reads and
// writes here because copy_file_range refuses to cross file systems, took
// 4-6 ms in a fresh rt against ~1 ms.)
func copyFile(dst, src *os.File) error {
	st, err := src.Stat()
	if err != nil {
		return err
	}
	var off int64
	for off < st.Size() {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(st.Size()-off))
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
		case err != nil:
			return fmt.Errorf("sendfile: %w", err)
		case n == 0:
			return fmt.Errorf("sendfile: file shrank to %d bytes while copied", off)
		}
	}
	return nil
}

// initPath is the configured rt-init, or the one next to rt.
func (r *Runtime) initPath() (string, error) {
	if r.cfg.Init != "" {
		return r.cfg.Init, nil
	}
	return sibling.Path(nil, "rt-init")
}

// initCopy is a sealed copy of rt-init made in the background: the copy
// (3 MB, 1-3 ms in a fresh process) runs while rt reads the spec and makes
// the state dir, instead of before the start of rt-init.
type initCopy struct {
	path string
	done chan struct{}
	bin  *os.File
	err  error
}

// copyInit starts copying the configured rt-init.
func (r *Runtime) copyInit() *initCopy {
	c := &initCopy{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if c.path, c.err = r.initPath(); c.err == nil {
			c.bin, c.err = sealedInit(c.path)
		}
	}()
	return c
}

// file waits for the copy. The copy stays c's to close.
func (c *initCopy) file() (*os.File, error) {
	<-c.done
	return c.bin, c.err
}

// Close waits for the copy and closes it.
func (c *initCopy) Close() {
	<-c.done
	if c.bin != nil {
		c.bin.Close()
	}
}
