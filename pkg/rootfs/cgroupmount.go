package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountCgroup mounts the cgroup hierarchies at m.Destination. With a cgroup
// namespace each hierarchy is mounted fresh and shows the container's cgroup
// as its root; without one the container's own cgroup dirs are bound from
// the host, so the container still sees only itself. On a v1 (or hybrid)
// host, Destination becomes a tmpfs holding one dir per hierarchy, as
// /sys/fs/cgroup looks on the host.
func mountCgroup(c *Config, r *root, m specs.Mount, p parsedOptions, check func(*os.File, string) error) error {
	fail := func(step string, err error) error {
		return fmt.Errorf("mount cgroup on %s: %s: %w", m.Destination, step, err)
	}
	hier, err := HostHierarchies()
	if err != nil {
		return fail("find hierarchies", err)
	}
	dst, err := r.dir(m.Destination)
	if err != nil {
		return fail("mkdir", err)
	}
	defer func() { dst.Close() }() // dst is replaced below
	if err := check(dst, ""); err != nil {
		return err
	}
	ro := p.flags&unix.MS_RDONLY != 0
	flags := p.flags &^ unix.MS_RDONLY
	if len(hier) == 1 && hier[0].V2 && hier[0].Mountpoint == "/sys/fs/cgroup" {
		return mountHierarchy(c, r, m.Destination, hier[0], flags, ro, fail)
	}
	if err := unix.Mount("tmpfs", fdPath(dst), "tmpfs", flags, "mode=755"); err != nil {
		return fail("tmpfs", err)
	}
	// dst is the directory under the new tmpfs; its root is reached anew.
	dst.Close()
	if dst, err = r.reopen(m.Destination); err != nil {
		return fail("reopen", err)
	}
	for _, h := range hier {
		rel := strings.TrimPrefix(h.Mountpoint, "/sys/fs/cgroup/")
		if err := mountHierarchy(c, r, filepath.Join(m.Destination, rel), h, flags, ro, fail); err != nil {
			return err
		}
	}
	if ro {
		if err := remountBind(fdPath(dst), flags|unix.MS_RDONLY); err != nil {
			return fail("remount tmpfs read-only", err)
		}
	}
	return nil
}

func mountHierarchy(c *Config, r *root, dest string, h Hierarchy, flags uintptr, ro bool, fail func(string, error) error) error {
	if ro {
		flags |= unix.MS_RDONLY
	}
	dst, err := r.dir(dest)
	if err != nil {
		return fail("mkdir", err)
	}
	defer dst.Close()
	target := fdPath(dst)
	if c.CgroupNS {
		typ, data := h.Type()
		if err := unix.Mount("cgroup", target, typ, flags, data); err != nil {
			return fail("mount "+h.Mountpoint, err)
		}
		return nil
	}
	src := h.BindSource(c.CgroupPaths)
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fail("bind "+src, err)
	}
	// target names the directory under the bind; remount through the
	// mount itself.
	mnt, err := r.reopen(dest)
	if err != nil {
		return fail("reopen", err)
	}
	defer mnt.Close()
	if err := c.slaveBind(fdPath(mnt)); err != nil {
		return fail("bind "+src, err)
	}
	if err := remountBind(fdPath(mnt), flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
		return fail("remount "+src, err)
	}
	return nil
}

// Hierarchy is one cgroup mount of the host under /sys/fs/cgroup.
type Hierarchy struct {
	// Mountpoint is its path; Options its v1 controllers as mount options
	// ("memory", "name=systemd"), empty for cgroup2.
	Mountpoint, Options string
	V2                  bool
}

// Type is the filesystem type and data of a fresh mount of h, as a
// container with a cgroup namespace gets it.
func (h Hierarchy) Type() (typ, data string) {
	if h.V2 {
		return "cgroup2", ""
	}
	return "cgroup", h.Options
}

// BindSource is the host directory a container without a cgroup namespace
// gets bound for h: its own cgroup in paths (keyed by controller, a
// co-mounted hierarchy found under any of its names; "" for cgroup2), else
// the hierarchy's root.
func (h Hierarchy) BindSource(paths map[string]string) string {
	key := ""
	if !h.V2 {
		key, _, _ = strings.Cut(h.Options, ",")
	}
	if src, ok := paths[key]; ok {
		return src
	}
	return h.Mountpoint
}

// HostHierarchies lists the cgroup mounts under /sys/fs/cgroup as this
// process sees them: rt-init before pivot_root (the host's, copied into its
// namespace), rt when it builds the fast path's plan.
func HostHierarchies() ([]Hierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter("/sys/fs/cgroup"))
	if err != nil {
		return nil, err
	}
	var out []Hierarchy
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			out = append(out, Hierarchy{Mountpoint: m.Mountpoint, V2: true})
		case "cgroup":
			var ctrl []string
			for o := range strings.SplitSeq(m.VFSOptions, ",") {
				switch o {
				case "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "clone_children", "xattr":
					continue
				}
				if strings.HasPrefix(o, "release_agent=") {
					continue
				}
				ctrl = append(ctrl, o)
			}
			out = append(out, Hierarchy{Mountpoint: m.Mountpoint, Options: strings.Join(ctrl, ",")})
		}
	}
	return out, nil
}
