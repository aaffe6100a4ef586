package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// parsedOptions is a mounts[].options list split by what applies it.
type parsedOptions struct {
	flags       uintptr   // mount(2) flags
	propagation []uintptr // one mount(2) call each, after the mount
	attrSet     uint64    // mount_setattr, recursive
	attrClr     uint64
	data        []string // filesystem data
	copyUp      bool     // tmpcopyup
	// idmap: idmap or ridmap was given, the last one recursive with
	// ridmap (runc reads them so).
	idmap, ridmap bool
}

func parseOptions(opts []string) parsedOptions {
	var p parsedOptions
	for _, o := range opts {
		def, ok := Options[o]
		switch {
		case !ok:
			p.data = append(p.data, o)
		case def.IDMap:
			p.idmap, p.ridmap = true, def.IDMapRecursive
		case def.CopyUp:
			p.copyUp = true
		case def.Propagation:
			p.propagation = append(p.propagation, def.Flag)
		case def.Recursive && def.Attr&unix.MOUNT_ATTR__ATIME == def.Attr:
			// The atime words share one field: the last one wins, and a
			// clearing word leaves the field at relatime (its zero).
			p.attrClr |= unix.MOUNT_ATTR__ATIME
			p.attrSet &^= unix.MOUNT_ATTR__ATIME
			if !def.AttrClear {
				p.attrSet |= def.Attr
			}
		case def.Recursive && def.AttrClear:
			p.attrClr |= def.Attr
			p.attrSet &^= def.Attr
		case def.Recursive:
			p.attrSet |= def.Attr
			p.attrClr &^= def.Attr
		case def.Clear:
			p.flags &^= def.Flag
		default:
			p.flags |= def.Flag
		}
	}
	return p
}

// MountAll performs the spec's mounts inside the rootfs, in order, then sets
// up /dev (default devices, linux.devices, the standard links).
func MountAll(c *Config) error {
	r, err := openRoot(c.Rootfs)
	if err != nil {
		return err
	}
	defer r.close()
	devIsMounted := false
	joined := c.Joined == nil
	join := func() error {
		if joined {
			return nil
		}
		joined = true
		return c.Joined()
	}
	defer join() // on early errors too: rt is waiting to be read
	defer closeTrees(c.Trees)
	for i, m := range c.Spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			if err := join(); err != nil {
				return err
			}
		}
		if err := mountOne(c, r, i, m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" {
			devIsMounted = true
		}
	}
	if err := join(); err != nil {
		return err
	}
	return setupDev(c, r, devIsMounted)
}

// mountOne makes mounts[i]. Every destination is checked where it
// resolved to before anything is mounted on it (checkResolved): the spec's
// path was checked by spec.Validate, but a symlink in the rootfs can lead
// from outside /proc into it.
func mountOne(c *Config, r *root, i int, m specs.Mount) error {
	p := parseOptions(m.Options)
	typ := m.Type
	if p.flags&unix.MS_BIND != 0 {
		typ = "bind"
	}
	fail := func(step string, err error) error {
		if step != "" {
			return fmt.Errorf("mount %s on %s: %s: %w", m.Source, m.Destination, step, err)
		}
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
	}
	if typ != "bind" && MountIDMap(m) != nil {
		// spec.Validate refuses it first (runc too): only a bind can be
		// made with the new mount API rt idmaps with.
		return fail("", errors.New("only bind mounts can be idmapped"))
	}
	// The refusal names the mount as spec.Validate's do.
	check := func(dst *os.File, src string) error {
		if err := r.checkResolved(dst, m, src); err != nil {
			return fmt.Errorf("mounts[%d] %q: %w", i, m.Destination, err)
		}
		return nil
	}
	switch typ {
	case "bind":
		tree := c.Trees[i]
		if tree == nil && MountIDMap(m) != nil {
			return fail("", errors.New("idmapped, but rt prepared no idmapped mount for it"))
		}
		return mountBind(c, r, m, p, tree, fail, check)
	case "cgroup", "cgroup2":
		return mountCgroup(c, r, m, p, check)
	default:
		dst, err := r.dir(m.Destination)
		if err != nil {
			return fail("", err)
		}
		defer dst.Close()
		if err := check(dst, ""); err != nil {
			return err
		}
		data := withMountLabel(strings.Join(p.data, ","), typ, mountLabel(c.Spec))
		if p.copyUp && typ == "tmpfs" {
			if err := mountCopyUp(r, m.Destination, m.Source, dst, p.flags, data); err != nil {
				return fail("tmpcopyup", err)
			}
		} else if err := mountLabelled(m.Source, fdPath(dst), typ, p.flags, data, strings.Join(p.data, ",")); err != nil {
			if errors.Is(err, unix.EPERM) && typ == "sysfs" && c.UserNS {
				return fail("", fmt.Errorf("%w (sysfs needs a network namespace owned by the container's user namespace; bind /sys instead)", err))
			}
			return fail("", err)
		}
		if len(p.propagation) == 0 && p.attrSet == 0 && p.attrClr == 0 {
			return nil
		}
		mnt, err := r.reopen(m.Destination)
		if err != nil {
			return fail("", err)
		}
		defer mnt.Close()
		return finishMount(fdPath(mnt), p, fail)
	}
}

// mountBind binds m.Source, or moves tree, the idmapped copy of it rt
// made (OpenIDMapped), onto m.Destination, then applies the options.
func mountBind(c *Config, r *root, m specs.Mount, p parsedOptions, tree *os.File, fail func(string, error) error, check func(*os.File, string) error) error {
	if len(p.data) > 0 {
		// spec.Validate refuses it first: a bind ignores the data.
		return fail("", fmt.Errorf("bind mounts cannot have filesystem-specific options: %q", p.data))
	}
	src := m.Source
	if !filepath.IsAbs(src) {
		// A relative source is relative to the bundle, which is the
		// working directory rt started rt-init in.
		abs, err := filepath.Abs(src)
		if err != nil {
			return fail("", err)
		}
		src = abs
	}
	var dir bool
	if tree != nil {
		var err error
		if dir, err = treeIsDir(tree); err != nil {
			return fail("", err)
		}
	} else {
		if _, err := os.Stat(src); err != nil {
			return fail("source", err)
		}
		dir = isDir(src)
	}
	var dst *os.File
	var err error
	if dir {
		dst, err = r.dir(m.Destination)
	} else {
		dst, err = r.file(m.Destination)
	}
	if err != nil {
		return fail("", err)
	}
	defer dst.Close()
	if err := check(dst, src); err != nil {
		return err
	}
	if tree != nil {
		err = moveTree(tree, dst)
	} else {
		err = unix.Mount(src, fdPath(dst), "", p.flags&(unix.MS_BIND|unix.MS_REC), "")
	}
	if err != nil {
		return fail("", err)
	}
	mnt, err := r.reopen(m.Destination)
	if err != nil {
		return fail("", err)
	}
	defer mnt.Close()
	// Before the options' propagation, which may ask for more.
	if err := c.slaveBind(fdPath(mnt)); err != nil {
		return fail("", err)
	}
	if tree != nil {
		if err := c.treePropagation(fdPath(mnt)); err != nil {
			return fail("", err)
		}
	}
	// The bind itself ignores every other flag; they need a remount.
	if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		if err := remountBind(fdPath(mnt), rest); err != nil {
			return fail("remount", err)
		}
	}
	return finishMount(fdPath(mnt), p, fail)
}

// remountBind applies flags to a bind mount, keeping the flags the mount
// already has that the caller cannot clear (a locked nodev from a user
// namespace, say).
func remountBind(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err == nil {
		flags |= statfsToMountFlags(st.Flags)
	}
	return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

func statfsToMountFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_RDONLY: unix.MS_RDONLY, unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

// finishMount applies propagation and recursive attributes.
func finishMount(target string, p parsedOptions, fail func(string, error) error) error {
	for _, fl := range p.propagation {
		if err := unix.Mount("", target, "", fl, ""); err != nil {
			return fail("set propagation", err)
		}
	}
	if p.attrSet != 0 || p.attrClr != 0 {
		attr := &unix.MountAttr{Attr_set: p.attrSet, Attr_clr: p.attrClr}
		if err := unix.MountSetattr(-1, target, unix.AT_RECURSIVE, attr); err != nil {
			return fail("mount_setattr", err)
		}
	}
	return nil
}
