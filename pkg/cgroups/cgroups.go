// Package cgroups places a container's processes in its cgroup and removes
// that cgroup again: the cgroupfs driver for cgroup v1, hybrid and pure
// cgroup2 hosts.
//
// A container has one directory in every cgroup hierarchy mounted on the
// host: each v1 hierarchy (cpu, memory, …, and named ones like
// name=systemd) and the cgroup2 one, which on a hybrid host is the extra
// mount at /sys/fs/cgroup/unified. Joining all of them, not only those with
// controllers, is what keeps "which container does this process belong to"
// answerable from any hierarchy. Where the directories are is decided once,
// by New, from linux.cgroupsPath (see New for the rules); the result
// (Manager.Paths) is saved in the container's state, and later commands get
// the same manager back with Load without looking at the host again.
//
// The hierarchies are found by reading /proc/self/mountinfo once per process
// (nothing walks /sys/fs/cgroup); /proc/self/cgroup is read only for a
// relative path.
//
// # Planned (issue 4)
//
// Manager will grow the methods that act on the cgroup; none exist yet, so a
// caller cannot mistake a no-op for a limit:
//
//   - Set(*specs.LinuxResources) error: write the limits (memory, cpu,
//     cpuset, pids, blkio/io, hugetlb, devices, …) for create and update; on
//     cgroup2 it first enables the needed controllers in each ancestor's
//     cgroup.subtree_control.
//   - Freeze() / Thaw() error: pause and resume, through the v1 freezer or
//     cgroup.freeze.
//   - Stats() (*Stats, error): the counters behind rt events.
//   - Join(pid int) error: put an exec'd process into the existing cgroup,
//     creating nothing.
//
// and a systemd driver (NewSystemd) will return the same interface, its
// directories being whatever systemd made for the transient unit. The
// resource code is expected to come from github.com/opencontainers/cgroups
// (its fs and fs2 managers accept the directories from Paths, so rt keeps
// choosing them); this package keeps the placement, the cleanup and the
// error wording.
package cgroups

import (
	"errors"
	"maps"
	"slices"
)

// Manager manages one container's cgroup across the host's hierarchies. It is
// not safe for concurrent use.
type Manager interface {
	// Apply creates the container's directory in every hierarchy (with any
	// missing parents, mode 0755) and moves pid, with all its threads, into
	// each. In a v1 cpuset hierarchy every level it creates gets cpuset.cpus
	// and cpuset.mems from its parent when they are empty, as a process cannot
	// join a cpuset without CPUs or memory nodes. An existing directory is
	// joined as it is.
	//
	// If it fails, nothing it made is left: in the hierarchies it had joined
	// it moves pid back to the caller's own cgroup (where a child of the
	// caller started; the top of the hierarchy if that fails) and removes the
	// directories it created there and in the failing one. Where the
	// container's directory existed before, pid is left in it. Either way the
	// caller is expected to kill pid.
	Apply(pid int) error

	// Paths maps each hierarchy to the container's directory in it: every
	// controller of a v1 hierarchy is a key of its own ("cpu" and "cpuacct"
	// both name the directory of a co-mounted cpu,cpuacct hierarchy), a named
	// hierarchy is "name=<name>" ("name=systemd"), and cgroup2 is "". It is
	// what the state file keeps and what Load takes back. The map is a copy.
	Paths() map[string]string

	// Pids lists the processes in the container's cgroup, including those in
	// cgroups the container made below it, in no particular order. They are
	// read from one hierarchy: the v1 freezer one if mounted (kill --all can
	// freeze it before signalling, and then lists exactly what it froze),
	// else the v1 pids one, else cgroup2. Another process can join or leave while it
	// reads; a caller that needs a stable list freezes first.
	Pids() ([]int, error)

	// Destroy removes the container's directory in every hierarchy, cgroups
	// the container made below it first, deepest first. The processes must be
	// gone already: busy directories are retried for half a second in all (a
	// process that was just killed takes a moment to leave), then reported.
	// A missing directory is not an error, so Destroy can be repeated and is
	// safe after an Apply that never happened or failed. A directory that is
	// the top of a hierarchy (a damaged state) is refused, not emptied.
	// Parents that Apply made for a nested path (/a/b for /a/b/c) are left:
	// other containers may share them, as runc leaves them too.
	Destroy() error
}

// ErrNoCgroup is returned by Pids of a manager with no paths: a container
// whose create stopped before its cgroups were chosen.
var ErrNoCgroup = errors.New("the container has no cgroup")

// New returns the manager of a new container with linux.cgroupsPath path and
// id id; it creates nothing until Apply. An empty path means "/"+id. (runc's
// cgroupfs driver takes an empty path as the relative path id instead, below
// its own cgroup; the two agree when the runtime runs in the root cgroup, and
// containerd, CRI-O and podman always pass a path.)
//
// An absolute path is the directory below the top of each hierarchy as
// mounted in this mount namespace. A relative path is below the runtime's own
// cgroup, as runc's cgroupfs driver places it: in each v1 hierarchy below the
// cgroup /proc/self/cgroup names for it, in cgroup2 below the parent of that
// cgroup (the runtime's own cgroup has processes, so cgroup2 would not let it
// hand controllers to a child). rt uses the cgroup2 rule for the unified
// mount of a hybrid host too, where runc's fs driver uses the top of that
// mount; they differ only when the runtime is not in the root cgroup2 cgroup.
//
// The path is cleaned the way runc cleans it, so it never escapes the
// hierarchy: "/../../etc" is "/etc", and "../../etc" is "etc" below the
// runtime's own cgroup. A path naming the top of a hierarchy ("/") or the
// runtime's own cgroup (".") is refused, since Destroy would remove it.
func New(path, id string) (Manager, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	dirs, err := containerDirs(hs, path, id, ownCgroups)
	if err != nil {
		return nil, err
	}
	m := &fsManager{paths: dirs, targets: make([]target, len(hs))}
	for i := range hs {
		m.targets[i] = target{dir: dirs[hs[i].keys[0]], keys: hs[i].keys, h: &hs[i]}
	}
	return m, nil
}

// Load returns the manager of an existing container from the Paths its New
// manager returned (saved in the container's state). It trusts paths, which
// come from rt's own state that only root can write, except that Destroy
// will not empty the top of a hierarchy. Loading reads nothing from the host,
// so delete and ps stay cheap.
func Load(paths map[string]string) Manager {
	byDir := map[string][]string{}
	for k, dir := range paths {
		if dir != "" {
			byDir[dir] = append(byDir[dir], k)
		}
	}
	m := &fsManager{paths: maps.Clone(paths)}
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		keys := byDir[dir]
		slices.Sort(keys)
		m.targets = append(m.targets, target{dir: dir, keys: keys})
	}
	return m
}
