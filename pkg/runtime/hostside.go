package runtime

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fromHost does what only rt can do for an init past its C stage, from the
// host's namespaces with rt's privileges, before the init goes on (MsgGo):
// it writes the maps of the container's new user namespace and moves
// linux.netDevices into its network namespace, so that both are in place
// before anything of the container runs, and makes the idmapped mounts
// (after the maps: a mount without mappings of its own takes the user
// namespace's), which the caller sends after MsgConfig and closes.
func fromHost(pid int, s *specs.Spec, plan nsPlan, bundle string) (map[int]*os.File, error) {
	if plan.newUser {
		if err := writeIDMaps(pid, s.Linux); err != nil {
			return nil, err
		}
	}
	if err := moveNetDevices(pid, s); err != nil {
		return nil, err
	}
	return idmappedTrees(s, bundle, pid)
}

// writeIDMaps writes the user namespace's uid and gid maps for pid.
func writeIDMaps(pid int, l *specs.Linux) error {
	format := func(m []specs.LinuxIDMapping) []byte {
		var b strings.Builder
		for _, e := range m {
			fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
		}
		return []byte(b.String())
	}
	if os.Geteuid() != 0 && (!selfMapOnly(l.UIDMappings, os.Geteuid()) || !selfMapOnly(l.GIDMappings, os.Getegid())) {
		return writeSubIDMaps(pid, l)
	}
	if os.Geteuid() != 0 {
		// An unprivileged writer may only map itself, and only after
		// giving up setgroups.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("deny"), 0); err != nil {
			return fmt.Errorf("user namespace: write setgroups: %w", err)
		}
	}
	if len(l.UIDMappings) > 0 {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/uid_map", pid), format(l.UIDMappings), 0); err != nil {
			return fmt.Errorf("user namespace: write uid_map %v: %w", l.UIDMappings, err)
		}
	}
	if len(l.GIDMappings) > 0 {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/gid_map", pid), format(l.GIDMappings), 0); err != nil {
			return fmt.Errorf("user namespace: write gid_map %v: %w", l.GIDMappings, err)
		}
	}
	return nil
}

// rootHostIDs is the host uid and gid of the container's root when the
// container has a user namespace with mappings.
func rootHostIDs(s *specs.Spec) (uid, gid int, ok bool) {
	find := func(m []specs.LinuxIDMapping) (int, bool) {
		for _, e := range m {
			if e.ContainerID == 0 && e.Size > 0 {
				return int(e.HostID), true
			}
		}
		return 0, false
	}
	u, uok := find(s.Linux.UIDMappings)
	g, gok := find(s.Linux.GIDMappings)
	if !uok && !gok {
		return 0, 0, false
	}
	if !uok {
		u = -1
	}
	if !gok {
		g = -1
	}
	return u, g, true
}
