package rootfs

import (
	"errors"
	"fmt"
	"github.com/moby/sys/mountinfo"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is what the rootfs setup needs from the container's configuration.
type Config struct {
	// Rootfs is the absolute path of the root filesystem.
	Rootfs string
	Spec   *specs.Spec
	// NoPivot uses MS_MOVE and chroot instead of pivot_root (for rootfs on
	// ramfs, where pivot_root is not possible).
	NoPivot bool
	// HostMounts is set when the container has no mount namespace of its
	// own: the mounts are made in rt's, the caller's, under a rootfs bind
	// of their own, and the root is entered with chroot (NoPivot is moot).
	HostMounts *HostMounts
	// UserNS: the container has its own user namespace, where mknod is not
	// allowed; devices are bound from the host.
	UserNS bool
	// CgroupNS: the container has its own cgroup namespace, so cgroup
	// mounts show its own cgroup as their root.
	CgroupNS bool
	// CgroupPaths are the container's cgroup dirs on the host by hierarchy
	// ("" is cgroup2), bound into cgroup mounts when there is no cgroup ns.
	CgroupPaths map[string]string
	// Trees are the idmapped mounts rt made for the spec's idmapped binds
	// (OpenIDMapped), by index in Spec.Mounts. MountAll moves each into
	// place, and closes them all.
	Trees map[int]*os.File
	// Joined blocks until the process is in the container's cgroups (and
	// in its cgroup namespace). MountAll calls it once, before the first
	// cgroup mount or, failing one, at its end; nil means already done.
	Joined func() error
}

// Prepare makes the mount namespace private to the container (as
// linux.rootfsPropagation asks, default rslave) and turns the rootfs into a
// mount point of its own, which pivot_root needs.
//
// Without a mount namespace of the container's own, the namespace is the
// caller's: its "/" and the rootfs's parent keep their propagation; the
// rootfs bind is made rslave, and linux.rootfsPropagation applies to it
// alone, once the mounts are made (HostMounts).
func Prepare(c *Config) error {
	flag, err := rootfsPropagation(c.Spec)
	if err != nil {
		return err
	}
	if c.HostMounts != nil {
		return c.HostMounts.bindRootfs()
	}
	if flag == 0 {
		flag = unix.MS_SLAVE | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", flag, ""); err != nil {
		return fmt.Errorf("make / %s: %w", propagationName(flag), err)
	}
	// pivot_root refuses a new root whose parent mount is shared.
	if err := makeParentPrivate(c.Rootfs); err != nil {
		return err
	}
	if err := unix.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", c.Rootfs, err)
	}
	return nil
}

// rootfsPropagation is linux.rootfsPropagation as a mount flag, 0 if unset.
func rootfsPropagation(s *specs.Spec) (uintptr, error) {
	p := s.Linux.RootfsPropagation
	if p == "" {
		return 0, nil
	}
	o, ok := Options[p]
	if !ok || !o.Propagation {
		return 0, fmt.Errorf("linux.rootfsPropagation %q: not a propagation mode", p)
	}
	return o.Flag, nil
}

func propagationName(flag uintptr) string {
	for n, o := range Options {
		if o.Propagation && o.Flag == flag {
			return n
		}
	}
	return "0x" + strconv.FormatUint(uint64(flag), 16)
}

// makeParentPrivate makes the mount holding path private if it is shared.
func makeParentPrivate(path string) error {
	mnt, shared, err := mountOf(path)
	if err != nil {
		return err
	}
	if !shared {
		return nil
	}
	if err := unix.Mount("", mnt, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", mnt, err)
	}
	return nil
}

// mountOf finds the mount point holding path and whether it is shared.
func mountOf(path string) (string, bool, error) {
	infos, err := mountinfo.GetMounts(nil)
	if err != nil {
		return "", false, err
	}
	best, shared := "", false
	for _, info := range infos {
		mp := info.Mountpoint
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, shared = mp, false
			for opt := range strings.FieldsSeq(info.Optional) {
				if strings.HasPrefix(opt, "shared:") {
					shared = true
				}
			}
		}
	}
	if best == "" {
		return "", false, fmt.Errorf("no mount holds %s", path)
	}
	return best, shared, nil
}

// root is an open handle on the rootfs through which every destination is
// resolved: pathrs-lite walks paths with RESOLVE_IN_ROOT semantics, so a
// symlink or ".." in the rootfs can never lead outside it.
type root struct {
	path string
	f    *os.File
}

func openRoot(path string) (*root, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	return &root{path: path, f: f}, nil
}

func (r *root) close() { r.f.Close() }

// dir returns an O_PATH handle of the directory dest inside the root,
// creating missing components. It never creates through a symlink that
// leads nowhere in the rootfs; the error then says so (explain).
func (r *root) dir(dest string) (*os.File, error) {
	if defencesOff {
		return undefendedDir(r.path, dest)
	}
	h, err := pathrs.MkdirAllHandle(r.f, dest, 0o755)
	if err != nil {
		return nil, r.explain(dest, true, fmt.Errorf("mkdir %s in rootfs: %w", dest, err))
	}
	return h, nil
}

// file returns an O_PATH handle of the file dest inside the root, creating
// it (and its parent directories) when missing. A dangling symlink at dest
// is not followed to create its target: the error says what it is
// (explain).
func (r *root) file(dest string) (*os.File, error) {
	if defencesOff {
		return undefendedFile(r.path, dest)
	}
	if h, err := pathrs.OpenatInRoot(r.f, dest); err == nil {
		return h, nil
	}
	parent, err := r.dir(filepath.Dir(filepath.Clean("/" + dest)))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, r.explain(dest, false, fmt.Errorf("create %s in rootfs: %w", dest, err))
	}
	if err == nil {
		unix.Close(fd)
	}
	h, err := pathrs.OpenatInRoot(r.f, dest)
	if err != nil {
		return nil, r.explain(dest, false, fmt.Errorf("open %s in rootfs: %w", dest, err))
	}
	return h, nil
}

// reopen returns a handle of dest after something was mounted on it: a
// handle opened before the mount names the directory underneath.
func (r *root) reopen(dest string) (*os.File, error) {
	h, err := pathrs.OpenatInRoot(r.f, dest)
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs after mount: %w", dest, err)
	}
	return h, nil
}

// fdPath names an open handle for mount(2) and friends.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// isDir reports whether the host path src is a directory (following
// symlinks, as a bind mount does).
func isDir(src string) bool {
	st, err := os.Stat(src)
	return err == nil && st.IsDir()
}
