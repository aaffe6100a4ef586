package runtime

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
)

var cloneFlags = map[specs.LinuxNamespaceType]uint32{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsPlan is what the C stage is asked to do, and what rt-init needs to know
// about the result.
type nsPlan struct {
	msg initproto.Namespaces
	// has lists every namespace type the container has of its own or
	// joined (anything else it shares with rt).
	has map[specs.LinuxNamespaceType]bool
	// newUser/newNet/newCgroup: created, not joined.
	newUser, newNet, newCgroup bool
}

func planNamespaces(s *specs.Spec) nsPlan {
	p := nsPlan{has: map[specs.LinuxNamespaceType]bool{}}
	for _, ns := range s.Linux.Namespaces {
		p.has[ns.Type] = true
		flag := cloneFlags[ns.Type]
		if ns.Path != "" {
			p.msg.Join = append(p.msg.Join, initproto.Join{Type: flag, Path: ns.Path})
			continue
		}
		switch ns.Type {
		case specs.TimeNamespace:
			// clone(2) cannot take CLONE_NEWTIME (it overlaps the exit
			// signal bits): the C stage unshares it before the clone.
			p.msg.NewTime = true
			if o, ok := s.Linux.TimeOffsets["monotonic"]; ok {
				p.msg.MonoSec, p.msg.MonoNsec = o.Secs, int64(o.Nanosecs)
			}
			if o, ok := s.Linux.TimeOffsets["boottime"]; ok {
				p.msg.BootSec, p.msg.BootNsec = o.Secs, int64(o.Nanosecs)
			}
			continue
		case specs.UserNamespace:
			p.newUser = true
		case specs.NetworkNamespace:
			p.newNet = true
		case specs.CgroupNamespace:
			// Made by rt-init once it is in its cgroups, so that the
			// namespace's root is the container's cgroup.
			p.newCgroup = true
			continue
		}
		p.msg.CloneFlags |= flag
	}
	return p
}

// nsProcName is each namespace type's name under /proc/<pid>/ns.
var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// refuseHostSysctls refuses a sysctl whose namespace the container joins
// by a path that is rt's own namespace: writing it would change the host
// (runc refuses this for net.*; the same holds for ipc, uts and user).
// pkg/spec has checked that each sysctl's namespace is listed.
func refuseHostSysctls(s *specs.Spec) error {
	for k := range s.Linux.Sysctl {
		t, _ := spec.SysctlNamespace(k)
		var path string
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == t {
				path = ns.Path
			}
		}
		if path == "" {
			continue
		}
		own := "/proc/self/ns/" + nsProcName[t]
		same, err := sameFile(path, own)
		if err != nil {
			return fmt.Errorf("linux.sysctl %q: %s namespace: %w", k, t, err)
		}
		if same {
			return fmt.Errorf("%w: linux.sysctl %q is not allowed in the host's %s namespace (%s is rt's own): it would change the host",
				spec.ErrInvalid, k, t, path)
		}
	}
	return nil
}

// sameFile reports whether a and b name the same inode.
func sameFile(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b, err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// recordHostMounts returns, for a container without a mount namespace of
// its own, where rt-init's mounts will be in rt's mount namespace; nil for
// any other. It is saved with the first state, before rt-init exists, so
// that delete --force removes them after a create killed at any point.
func recordHostMounts(s *specs.Spec, rootfsPath string) (*rootfs.HostMounts, error) {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			return nil, nil
		}
	}
	return rootfs.RecordHostMounts(rootfsPath)
}

// unmountHost removes the mounts rt-init made in rt's mount namespace (a
// container without one of its own). From another mount namespace they
// cannot be reached: a warning, not an error, so that the container can
// still be deleted.
func (r *Runtime) unmountHost(st *store.State) error {
	if st.HostMounts == nil {
		return nil
	}
	err := st.HostMounts.Unmount()
	switch {
	case errors.Is(err, rootfs.ErrOtherMountNS):
		r.log.Warn("mounts not removed: delete the container from the mount namespace that created it", "id", st.ID, "error", err)
	case err != nil:
		return fmt.Errorf("container %q: %w", st.ID, err)
	}
	return nil
}
