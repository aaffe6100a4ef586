package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
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
