// Package cgroups places a container's processes in its cgroup and removes
// that cgroup again: the cgroupfs driver (New, Load) for cgroup v1, hybrid
// and pure cgroup2 hosts, and the systemd driver (NewSystemd, LoadSystemd)
// for hosts that systemd boots, which makes each container's cgroup a
// transient unit and delegates the rest to the cgroupfs code.
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
// # Limits, freezer, stats
//
// Set writes linux.resources, Freeze/Thaw/Frozen pause the container,
// Stats reads its counters in the shape of runc's events --stats, and
// OOMNotify reports OOM kills.
//
// Which hierarchy a resource goes to: on a host with v1 hierarchies (v1 or
// hybrid), every resource goes to the v1 hierarchy of its controller, and
// the cgroup2 hierarchy of a hybrid host takes only linux.resources.unified
// (and the freezer, if no v1 freezer is mounted); a resource whose v1
// controller is not mounted is an error, even if cgroup2 has that
// controller, as runc's fs driver does. On a pure cgroup2 host everything
// goes to cgroup2, and Set first enables the controllers it needs in each
// ancestor's cgroup.subtree_control.
//
// What comes from github.com/opencontainers/cgroups and why:
//
//   - Set is rt's own code. rt validates every value before writing any and
//     names the spec field and the file in each error, and it refuses what
//     the library silently skips (a device weight without BFQ). The
//     library's Set wraps neither the field nor, for most writes, the file,
//     and works from its own Resources type, which would have to be
//     converted from the spec field by field anyway. Set takes the
//     library's v1→v2 conversions (shares→cpu.weight, blkio weight→io.weight,
//     swap) so rt and runc agree on the numbers.
//   - Devices on cgroup2 are the library's eBPF program (rt would otherwise
//     carry an eBPF assembler and the emulation of v1's rule semantics it
//     compiles from). On v1 rt writes devices.deny and devices.allow itself,
//     each error naming its rule; the library's v1 path would instead
//     compute a minimal transition from devices.list (no deny-all instant
//     on update, see Set) but report a failure without the rule.
//   - Freeze, Thaw and Frozen are the library's freezers: the v1 one retries
//     a cgroup stuck in FREEZING, which the kernel needs; the v2 one waits
//     for cgroup.events to say frozen.
//   - Stats is the library's reading of the stat files (dozens of formats
//     across kernels), converted to runc's events shape (type Stats).
//   - OOMNotify is rt's own: the library has none.
//
// rt never calls the library's Apply or Destroy: the library managers are
// built on the directories from Paths, so placement stays rt's.
//
// The library's costs: the binary grows by about 0.9 MB (its devices
// package brings cilium/ebpf and, through its systemd support, godbus and
// logrus); loading a device program raises the process's RLIMIT_MEMLOCK
// to infinity first (inherited by whatever rt starts afterwards; it fails,
// ignored, without CAP_SYS_RESOURCE, and matters only before Linux 5.11,
// which charges BPF memory to the memory cgroup instead); and the library
// logs the odd warning through logrus, whose default output is stderr.
//
// # Planned
//
//   - a rootless systemd driver (the user's systemd instance).
//   - the systemd driver freezing the container around a device rule
//     update on v1, as runc does, and OOMPolicy from memory.oom.group.
package cgroups

import (
	"errors"
	"maps"
	"os"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
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

	// Prepare is Apply for a process that is not started yet and will move
	// itself in: it makes the directories as Apply does (and on failure
	// removes them again) and returns the open Entry to them. A move made
	// this way costs microseconds, where Apply's moves of another process
	// wait for an RCU grace period (see Entry). Managers that cannot hand
	// out an Entry (systemd places the process itself) return
	// errors.ErrUnsupported; the caller then uses Apply.
	Prepare() (*Entry, error)

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

	// Set writes the limits of r (nil: nothing) into the container's
	// directories, which Apply made. It is for create and for update: fields
	// that are nil, or 0 where runc takes 0 as unset (see below), are left as
	// they are.
	//
	// Everything is checked before the first write: each value's range and
	// form, cpus and mems against the host's online CPUs and memory nodes,
	// hugepage sizes against the host's, that the controller of every field
	// is there, that every file to write exists (swap accounting, BFQ, …
	// come and go with kernel versions and options), and, with
	// memory.checkBeforeUpdate, that a new limit is not below the
	// current usage. Any of these fails with an error naming the spec field
	// ("linux.resources.memory.limit") and nothing is written. On a pure
	// cgroup2 host the controllers are enabled in the ancestors'
	// cgroup.subtree_control before the files are looked for, as they appear
	// only then.
	//
	// Once writing, the kernel may still refuse a value (a limit below what
	// the cgroup uses, cpus outside the parent's cpuset, an unknown block
	// device); the error names the field and the file ("linux.resources.memory.limit:
	// /sys/fs/cgroup/memory/c1/memory.limit_in_bytes: write 1024: device or
	// resource busy") and the writes before it stay: Set is not a
	// transaction, as it is not in runc.
	//
	// Zero as unset, as runc: memory limit, reservation and swap; cpu
	// shares, quota, period, realtimeRuntime and realtimePeriod; blockIO
	// weight and leafWeight (and those of a device).
	// pids.limit 0 is written as 1, as runc does for parity with systemd,
	// which cannot express 0.
	//
	// Converted for cgroup2 as runc does: shares to cpu.weight, blkio weight
	// to io.bfq.weight (same scale) or else io.weight, swap (memory+swap) to
	// memory.swap.max (swap alone), -1 to "max", a throttle rate of 0 to
	// "max" (v1 takes 0 as "no limit"). Fields cgroup2 has no file for
	// (swappiness, disableOOMKiller, leafWeight, realtime*, network) are
	// errors there, not silently dropped.
	//
	// Ignored, v1 and cgroup2 alike, as runc ignores them: the deprecated
	// memory.kernel and memory.kernelTCP (see DropIgnored, which callers
	// use to warn about them).
	//
	// Devices on v1: "a" to devices.deny (deny everything), then each rule in
	// order to devices.allow or devices.deny, which is what the kernel's own
	// rule semantics and runc's result agree on. Caveat: on an update of a
	// running container there is an instant between the deny-all and the
	// allows in which opening a device fails; runc avoids it by computing a
	// minimal transition, rt does not yet. On cgroup2 the rules become one
	// eBPF program attached to the directory (replacing the previous one).
	// Set adds no rule of its own: runc's default device allowances (null,
	// zero, tty, …) are the caller's to include. A nil list leaves the
	// device rules as they are; an empty one denies every device.
	Set(r *specs.LinuxResources) error

	// Freeze stops every process of the container and returns once the
	// kernel reports the cgroup frozen: the v1 freezer's freezer.state reads
	// FROZEN (retrying while it is stuck in FREEZING, as new processes can
	// keep it there; if it never freezes it is thawed again and an error
	// returned), or on cgroup2 (where no v1 freezer is mounted)
	// cgroup.events says "frozen 1". Freezing a frozen container succeeds.
	Freeze() error

	// Thaw resumes the processes Freeze stopped. Thawing a running container
	// succeeds.
	Thaw() error

	// Frozen reports whether the container's cgroup is frozen by its own
	// freezer (what state calls "paused"); a cgroup frozen only because an
	// ancestor is reports false on v1, as runc does. A cgroup still
	// freezing is waited for.
	Frozen() (bool, error)

	// Stats reads the container's counters: cpu, cpuset, memory, pids,
	// blkio and hugetlb, from whichever hierarchy holds each (see Stats).
	Stats() (*Stats, error)

	// OOMNotify returns a channel that receives one value each time the
	// kernel's OOM killer kills a process of the container, counting from
	// the call; a goroutine watches until the channel closes.
	//
	// On v1 it listens on memory.oom_control through cgroup.event_control
	// (an eventfd) and then reads the oom_kill count, which the kernel
	// raises only after it notified (so each notification costs up to half
	// a second of waiting for the count when nothing gets killed: with
	// disableOOMKiller, which sends nothing). The channel closes when the
	// cgroup is removed. On cgroup2 it watches memory.events (inotify) for
	// its oom_kill count; the kernel reports no removal there, so the
	// channel closes when the cgroup has no process left (cgroup.events
	// "populated 0"), after the last kills are sent. Either way it also
	// closes when stop is closed.
	//
	// The channel is unbuffered and the count is kept, so a slow reader
	// loses no kill; but the goroutine waits for it, so the caller reads
	// until the channel closes or closes stop.
	OOMNotify(stop <-chan struct{}) (<-chan struct{}, error)
}

// Entry is the way into a container's cgroups for a process that enters
// them by itself at its start, from Manager.Prepare.
//
// Why: a process moved into a cgroup by another (Apply: a write of its pid
// to cgroup.procs) takes the kernel's global cgroup_threadgroup_rwsem for
// writing, and the first writer after a quiet spell waits for an RCU grace
// period, 10-20 ms on a small VM: most of a container's start. Two moves
// skip that lock. A single-threaded process that writes "0" to a v1
// hierarchy's tasks file moves only itself, and recent kernels (6.18 on the
// test VM: 0.04 ms against 13 ms for Apply's write) skip the lock for that;
// an older kernel takes it, and the move is as slow as Apply's, but
// correct. And a process created by
// clone3 with CLONE_INTO_CGROUP (Linux 5.7+) is born in the cgroup2
// directory, taking the lock only for reading, as any fork does.
//
// So rt starts the container's first process with Dir as its clone3 cgroup
// (syscall.SysProcAttr.CgroupFD), and that process, still single-threaded
// in rt-init's C stage, writes "0" to each of Tasks before anything else,
// and closes them; what it forks afterwards is born in every cgroup.
//
// The files are opened by the caller of Prepare (root, in the host's
// namespaces), and the kernel checks a tasks write against the opener's
// credentials: the writer must not hand them to anything the container
// controls, and closes them once written.
type Entry struct {
	// Dir is the container's cgroup2 directory, opened read-only; nil on a
	// host without cgroup2.
	Dir *os.File
	// Tasks are the tasks files of the container's directories in the v1
	// hierarchies, opened for writing.
	Tasks []*os.File
}

// Close closes the files of e.
func (e *Entry) Close() error {
	var err error
	if e.Dir != nil {
		err = e.Dir.Close()
	}
	for _, f := range e.Tasks {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
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
	m, err := newManager(hs, path, id, ownCgroups)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

// newManager is New on the hierarchies hs; tests give it fake ones.
func newManager(hs []hierarchy, path, id string, own func() (map[string]string, error)) (*fsManager, error) {
	dirs, err := containerDirs(hs, path, id, own)
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
