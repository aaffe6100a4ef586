// Package cgroups is what callers of rt's cgroup drivers share: the
// Manager interface, the types its methods return (Entry, Stats), the
// mounted hierarchies (Mounts) and where a container's directories are in
// them (ContainerDirs, UnderParent). The drivers are its subpackages: fs
// (cgroupfs, for v1, hybrid and cgroup2 hosts) and systemd (a transient
// unit over D-Bus, the rest by fs). docs/architecture.md says what each
// driver takes from opencontainers/cgroups and why.
package cgroups

import (
	"errors"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Manager manages one container's cgroup across the host's hierarchies. It is
// not safe for concurrent use.
type Manager interface {
	// Apply makes the container's directory in every hierarchy and moves
	// pid, with all its threads, into each. On failure it removes what it
	// made, and the caller kills pid.
	Apply(pid int) error

	// Prepare is Apply for a process that will move itself in at its start:
	// it makes the directories and returns the open Entry to them. Managers
	// that place the process themselves return errors.ErrUnsupported.
	Prepare() (*Entry, error)

	// Paths maps each hierarchy key (a v1 controller, "name=<name>", or ""
	// for cgroup2) to the container's directory in it: what the state keeps
	// and the drivers' Load takes back. The map is a copy.
	Paths() map[string]string

	// Pids lists the processes in the container's cgroup and below it. A
	// caller that needs a stable list freezes first.
	Pids() ([]int, error)

	// Destroy removes the container's directories, sub-cgroups first. The
	// processes must be gone; a missing directory is no error.
	Destroy() error

	// Set writes the limits of r (nil: nothing); nil fields, and 0 where runc
	// takes 0 as unset, are left as they are. Every value is checked before
	// the first write and errors name the spec field; a write the kernel
	// refuses leaves the writes before it (no transaction, as in runc).
	Set(r *specs.LinuxResources) error

	// Freeze stops every process of the container and returns once the
	// kernel reports the cgroup frozen.
	Freeze() error

	// Thaw resumes the processes Freeze stopped.
	Thaw() error

	// Frozen reports whether the container's cgroup is frozen by its own
	// freezer (what state calls "paused").
	Frozen() (bool, error)

	// Stats reads the container's counters in runc's events shape.
	Stats() (*Stats, error)

	// OOMNotify returns a channel that receives one value for each OOM kill
	// in the container from the call on. It closes when the cgroup goes or
	// stop closes; the caller reads until then.
	OOMNotify(stop <-chan struct{}) (<-chan struct{}, error)
}

// Entry is the way into a container's cgroups for a process that enters
// them by itself at its start, from Manager.Prepare: born in Dir by clone3's
// CLONE_INTO_CGROUP, then writing "0" to each of Tasks (why: docs/
// architecture.md, "cgroups"). The files carry root's credentials: the
// writer must close them once written and hand them to nothing the
// container controls.
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

// ErrGone is a loaded manager's cgroup that no longer exists: the container
// was deleted meanwhile, or exec --cgroup named a sub-cgroup never made.
var ErrGone = errors.New("the cgroup does not exist")
