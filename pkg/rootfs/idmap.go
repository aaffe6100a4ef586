package rootfs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IDMap is how a bind mount is idmapped: runtime-spec 1.1's
// mounts[].uidMappings/gidMappings, 1.2's idmap and ridmap options.
//
// An idmapped mount shows a file owned by N on disk as owned by the kernel
// id the mapping gives container id N, and writes back the other way: with
// 0 → 100000, the host's root files are seen as uid 100000, which is the
// root of a container whose user namespace maps 0 → 100000 too.
//
// mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user namespace
// of the filesystem (the host's) and a mount no namespace holds yet, so rt
// makes the mount (OpenIDMapped), on the host, and passes it to rt-init,
// which moves it into place (Config.Trees), as runc's parent passes "mount
// sources" to runc init.
type IDMap struct {
	// Recursive (ridmap): every mount of the tree is idmapped, not only
	// its top.
	Recursive bool
	// Tree (rbind): the source's submounts come with it.
	Tree bool
	// UIDs and GIDs are the mount's own mappings. Both nil: the mappings
	// of the container's user namespace (the idmap option alone).
	UIDs, GIDs []specs.LinuxIDMapping
}

// MountIDMap returns how m is idmapped, nil if it is not: the idmap or
// ridmap option (the last one given wins, as runc reads them), or
// uidMappings/gidMappings alone, which runc takes as idmap.
func MountIDMap(m specs.Mount) *IDMap {
	p := parseOptions(m.Options)
	if !p.idmap && m.UIDMappings == nil && m.GIDMappings == nil {
		return nil
	}
	return &IDMap{Recursive: p.ridmap, Tree: p.flags&unix.MS_REC != 0, UIDs: m.UIDMappings, GIDs: m.GIDMappings}
}

// OpenIDMapped returns a detached copy of the mount at the host path src
// (with its submounts when idm.Tree), idmapped through the user namespace
// userns. The copy is in no mount namespace until moved: closing it
// unmounts it.
func OpenIDMapped(src string, idm *IDMap, userns *os.File) (*os.File, error) {
	// The same step and wording as a bind's missing source in rt-init.
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if idm.Tree {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, fmt.Errorf("idmap: open_tree %s: %w", src, err)
	}
	tree := os.NewFile(uintptr(fd), src)
	at := unix.AT_EMPTY_PATH
	if idm.Recursive {
		at |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", uint(at), attr); err != nil {
		tree.Close()
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = fmt.Sprintf(" (a filesystem of %s cannot be idmapped on this kernel)", src)
		}
		return nil, fmt.Errorf("idmap: mount_setattr(MOUNT_ATTR_IDMAP): %w%s", err, hint)
	}
	return tree, nil
}

// moveTree moves the detached tree rt made for a bind (OpenIDMapped) onto
// dst, an O_PATH handle inside the root.
func moveTree(tree, dst *os.File) error {
	if err := unix.MoveMount(int(tree.Fd()), "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount of the idmapped mount: %w", err)
	}
	return nil
}

// treePropagation gives a moved idmapped mount the propagation of a bind
// made in the container's mount namespace. rt copied it from the host's
// namespace, where it joined the peer group of a shared mount: whatever the
// container mounted under it would appear on the host. A bind made in the
// container copies the propagation of "/" there, which Prepare set from
// linux.rootfsPropagation (rslave by default): the same is applied here, to
// the whole tree. In rt's own namespace (HostMounts), slaveBind made it
// rslave.
func (c *Config) treePropagation(target string) error {
	if c.HostMounts != nil {
		return nil
	}
	flag, err := rootfsPropagation(c.Spec)
	if err != nil {
		return err
	}
	if flag == 0 {
		flag = unix.MS_SLAVE
	}
	if err := unix.Mount("", target, "", flag|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make the idmapped mount %s: %w", propagationName(flag|unix.MS_REC), err)
	}
	return nil
}

// treeIsDir reports whether the tree's root is a directory (a bind of a
// file otherwise), which decides what its destination is made as.
func treeIsDir(tree *os.File) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return false, fmt.Errorf("stat the idmapped mount: %w", err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// closeTrees closes every tree; one not moved is unmounted with it.
func closeTrees(trees map[int]*os.File) {
	for _, t := range trees {
		t.Close()
	}
}
