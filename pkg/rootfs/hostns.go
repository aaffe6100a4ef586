package rootfs

import (
	"errors"
	"fmt"
	"github.com/moby/sys/mountinfo"

	"golang.org/x/sys/unix"
)

// HostMounts describes a container without a mount namespace of its own
// (linux.namespaces has no "mount": the runtime spec's "inherit the
// runtime's"). rt-init then mounts in rt's mount namespace, the caller's,
// and enters the rootfs with chroot, as runc does; unlike runc, it changes
// nothing of the caller's mounts but the ones it creates, and delete
// removes those (runc leaves them).
//
// Everything rt-init mounts is under one mount of its own: the rootfs bound
// onto itself, stacked on the mount that was topmost at Rootfs. rt records
// that parent before rt-init starts, so delete --force finds the bind (and
// everything under it) after a create killed at any point.
type HostMounts struct {
	// Rootfs is the container's rootfs: absolute, symlinks resolved, as
	// mountinfo shows the bind's mount point.
	Rootfs string `json:"rootfs"`
	// Parent is the id (mountinfo's first field) of the mount the bind
	// stacks on: the topmost mount at Rootfs when create began.
	Parent int `json:"parentMountId"`
	// MountNS is the inode of the mount namespace they are in, rt's at
	// create: mount ids and paths mean nothing in another.
	MountNS uint64 `json:"mountNamespace"`
}

// ErrOtherMountNS means the mounts are in a mount namespace other than the
// caller's, where they can be neither seen nor removed.
var ErrOtherMountNS = errors.New("in another mount namespace")

// RecordHostMounts returns the record of a container whose rootfs is at
// rootfs (absolute, symlinks resolved), to be saved before rt-init starts.
func RecordHostMounts(rootfs string) (*HostMounts, error) {
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	defer unix.Close(fd)
	parent, err := mountID(fd)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	ns, err := mountNS()
	if err != nil {
		return nil, err
	}
	return &HostMounts{Rootfs: rootfs, Parent: parent, MountNS: ns}, nil
}

// bindRootfs binds the rootfs onto itself, on top of h.Parent, and makes
// the bind (with the copies of any mounts under the rootfs it took along)
// rslave, as a mount namespace of the container's own is by default: it
// receives the host's mount events and sends none, so nothing mounted under
// it appears in the parent's peers, the host's other mount namespaces. The
// caller's "/" and the rootfs's parent keep their propagation (runc makes
// the caller's "/" rslave and the parent private: the host's propagation
// changes for good).
//
// The bind itself, attached under a shared parent, still appears in the
// parent's peers, as any mount there does; unmounting it at delete
// propagates the same way.
func (h *HostMounts) bindRootfs() error {
	fd, err := unix.Open(h.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(fd)
	if id, err := mountID(fd); err != nil {
		return fmt.Errorf("rootfs %s: %w", h.Rootfs, err)
	} else if id != h.Parent {
		return fmt.Errorf("rootfs %s: its mount is %d, not %d as when create began: something was mounted on it meanwhile", h.Rootfs, id, h.Parent)
	}
	self := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Mount(self, self, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", h.Rootfs, err)
	}
	top, err := h.open()
	if err != nil {
		return err
	}
	defer unix.Close(top)
	if err := unix.Mount("", fmt.Sprintf("/proc/self/fd/%d", top), "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make the rootfs bind rslave: %w", err)
	}
	return nil
}

// slaveBind makes a bind just made under the rootfs, target, rslave when
// the mounts are in the caller's mount namespace: a bind of a shared host
// mount is its peer, and whatever is mounted under it later (a nested
// mount of the spec, a hook's) would appear in the host's mount too. In a
// mount namespace of the container's own, "/" was made rslave (or as
// rootfsPropagation says) before any bind: nothing to do.
func (c *Config) slaveBind(target string) error {
	if c.HostMounts == nil {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make the bind rslave: %w", err)
	}
	return nil
}

// open returns an O_PATH fd of the rootfs bind, checking that the topmost
// mount at h.Rootfs is the one stacked on h.Parent.
func (h *HostMounts) open() (int, error) {
	fd, err := unix.Open(h.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open rootfs bind: %w", err)
	}
	id, err := mountID(fd)
	if err == nil {
		var ms []mountEntry
		if ms, err = readMountinfo(); err == nil {
			if e, ok := findMount(ms, id); !ok || e.parent != h.Parent || e.point != h.Rootfs {
				err = fmt.Errorf("the topmost mount at %s (%d) is not the container's rootfs bind (on mount %d)", h.Rootfs, id, h.Parent)
			}
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Enter makes the rootfs bind the process's root: chroot, since there is
// no mount namespace of the container's own to pivot_root in (and an
// MS_MOVE over "/", --no-pivot's way, would cover the caller's root). A
// process in it with CAP_SYS_CHROOT can leave it: without a mount namespace
// the container has no filesystem isolation but its root directory. rt exec
// calls it: there is no mount namespace to join that would set the root.
// Enter of a nil *HostMounts does nothing.
func (h *HostMounts) Enter() error {
	if h == nil {
		return nil
	}
	return h.enter(0)
}

// enter is Enter for the init, which first applies rootfsPropagation
// (propagation, 0 if unset) to the rootfs bind, once every mount is made,
// as runc applies it to "/" after its chroot.
func (h *HostMounts) enter(propagation uintptr) error {
	top, err := h.open()
	if err != nil {
		return err
	}
	defer unix.Close(top)
	if propagation != 0 {
		if err := unix.Mount("", fmt.Sprintf("/proc/self/fd/%d", top), "", propagation, ""); err != nil {
			return fmt.Errorf("make the rootfs bind %s: %w", propagationName(propagation), err)
		}
	}
	// Through the fd checked to be on the bind: a path looked up again
	// could meet a mount made meanwhile.
	if err := unix.Fchdir(top); err != nil {
		return fmt.Errorf("chdir rootfs: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", h.Rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chroot: chdir /: %w", err)
	}
	return nil
}

// Unmount removes the rootfs bind and every mount under it from the
// caller's mount namespace, deepest first, each detached (MNT_DETACH: the
// container's processes are gone, but a host process may still hold one
// open). Each is unmounted through an fd opened without following a
// symlink and checked to be on that very mount, so that a path the
// container changed cannot turn the unmount to a mount of the host. No bind
// (create was killed before it, or it is gone already) is no error.
func (h *HostMounts) Unmount() error {
	ns, err := mountNS()
	if err != nil {
		return err
	}
	if ns != h.MountNS {
		return fmt.Errorf("mounts of rootfs %s: %w (mnt:[%d]; this is mnt:[%d])", h.Rootfs, ErrOtherMountNS, h.MountNS, ns)
	}
	ms, err := readMountinfo()
	if err != nil {
		return fmt.Errorf("mounts of rootfs %s: %w", h.Rootfs, err)
	}
	top, ok := h.find(ms)
	if !ok {
		return nil
	}
	var errs []error
	for _, e := range subtreeDeepestFirst(ms, top) {
		if err := unmountExact(e); err != nil {
			errs = append(errs, err)
		}
	}
	// A mount left under the bind went with it (MNT_DETACH detaches the
	// whole tree): what counts is that the bind is gone.
	if ms, err = readMountinfo(); err != nil {
		return fmt.Errorf("mounts of rootfs %s: %w", h.Rootfs, err)
	}
	if _, ok := h.find(ms); ok {
		return fmt.Errorf("unmount the rootfs bind of %s: %w", h.Rootfs, errors.Join(errs...))
	}
	return nil
}

// find returns the rootfs bind: the mount at Rootfs stacked on Parent.
func (h *HostMounts) find(ms []mountEntry) (mountEntry, bool) {
	for _, e := range ms {
		if e.point == h.Rootfs && e.parent == h.Parent {
			return e, true
		}
	}
	return mountEntry{}, false
}

// subtreeDeepestFirst lists top and every mount under it, children before
// their parents (a mount stacked on another is its child).
func subtreeDeepestFirst(ms []mountEntry, top mountEntry) []mountEntry {
	children := map[int][]mountEntry{}
	for _, e := range ms {
		if e.id != e.parent {
			children[e.parent] = append(children[e.parent], e)
		}
	}
	var out []mountEntry
	var walk func(e mountEntry, depth int)
	walk = func(e mountEntry, depth int) {
		if depth > len(ms) {
			return // a cycle: mountinfo changed under the reads
		}
		for _, c := range children[e.id] {
			walk(c, depth+1)
		}
		out = append(out, e)
	}
	walk(top, 0)
	return out
}

// unmountExact detaches mount e, reached by its mount point without
// following any symlink, and only if that path is on e.
func unmountExact(e mountEntry) error {
	fd, err := unix.Openat2(unix.AT_FDCWD, e.point, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("unmount %s: %w", e.point, err)
	}
	defer unix.Close(fd)
	if id, err := mountID(fd); err != nil {
		return fmt.Errorf("unmount %s: %w", e.point, err)
	} else if id != e.id {
		return fmt.Errorf("unmount %s: the path is on mount %d, not %d", e.point, id, e.id)
	}
	if err := unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", fd), unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", e.point, err)
	}
	return nil
}

// mountID is the id of the mount fd is on, as mountinfo numbers it.
func mountID(fd int) (int, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("statx gives no mount id (Linux 5.8 or later needed)")
	}
	return int(stx.Mnt_id), nil
}

// mountNS is the inode of the caller's mount namespace.
func mountNS() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		return 0, fmt.Errorf("mount namespace: %w", err)
	}
	return st.Ino, nil
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	id, parent int
	point      string
}

func readMountinfo() ([]mountEntry, error) {
	infos, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	out := make([]mountEntry, 0, len(infos))
	for _, info := range infos {
		out = append(out, mountEntry{id: info.ID, parent: info.Parent, point: info.Mountpoint})
	}
	return out, nil
}

func findMount(ms []mountEntry, id int) (mountEntry, bool) {
	for _, e := range ms {
		if e.id == id {
			return e, true
		}
	}
	return mountEntry{}, false
}
