package systemd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	sdlib "github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
)

// Package systemd is the systemd cgroup driver: on a host that systemd
// boots, a container's cgroup is a transient unit that systemd makes over
// D-Bus, with its limits as unit properties too, since systemd resets
// what it does not know of; the cgroupfs driver (package fs) does the
// rest on the same directories. docs/architecture.md says who does what.
// New returns the manager of a new container under the systemd driver,
// for linux.cgroupsPath path and container id id; it creates nothing until
// Apply.
//
// path is runc's systemd form "slice:prefix:name". The unit is the scope
// prefix-name.scope (name.scope if prefix is empty) in slice, or, for a
// name ending in .slice, that slice itself, which must then be a child of
// slice (its name starts with the slice's, as in
// "system.slice:rt:system-rt.slice"). An empty slice is system.slice; an
// empty path is "system.slice:rt:<id>". A slice name is checked as
// systemd reads it (the library's ExpandSlice): it ends in .slice, and its
// dashes, which make the hierarchy, are neither doubled nor at an end.
//
// The container's directory in every hierarchy is where systemd puts the
// unit: <mountpoint>/<slice's path>/<unit>, the slice's path expanded from
// its dashes (a-b.slice is /a.slice/a-b.slice), e.g.
// /sys/fs/cgroup/memory/system.slice/rt-c1.scope. Paths has the same keys
// as the cgroupfs driver's; a later command gets the manager back with
// this package's Load, not fs.Load, so that Destroy stops the unit.
//
// It fails with errors.ErrUnsupported where systemd is not the host's
// init (Running). It talks to the system instance as root; rootless
// containers under a user's systemd are not supported.
func New(path, id string) (cgroups.Manager, error) {
	if !Running() {
		return nil, fmt.Errorf("cgroups: systemd driver: systemd is not the init of this host (no /run/systemd/system): %w", errors.ErrUnsupported)
	}
	hs, err := cgroups.Mounts()
	if err != nil {
		return nil, err
	}
	m, err := newManager(hs, path, id, hostBus)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

// Load returns the manager of an existing container created by
// New(path, id), whose Paths() were paths (saved in the state).
//
// Like fs.Load it reads nothing from the host and opens no connection until
// a method needs systemd, and it trusts paths, which come from rt's own
// state, with one check: every directory must be the unit's (end in
// /<slice's path>/<unit>), so that a state written by the cgroupfs driver,
// or with another cgroupsPath, is refused instead of stopping an unrelated
// unit. It does not check that systemd runs: Destroy then fails on
// connecting, naming the unit.
func Load(path, id string, paths map[string]string) (cgroups.Manager, error) {
	u, err := parseSystemdPath(path, id)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(paths)) {
		if mp, ok := strings.CutSuffix(paths[k], u.dir); !ok || mp == "" {
			return nil, fmt.Errorf("cgroups: systemd driver: saved path %s (hierarchy %q) is not the directory of unit %s (%s); was the container made by another driver or cgroupsPath?", paths[k], k, u.name, u.dir)
		}
	}
	return &manager{fs: fs.Load(paths), unit: u, id: id, v2: fs.IsPureV2(paths), bus: hostBus, timeout: jobTimeout}, nil
}

// Running reports whether systemd is the host's init
// (/run/systemd/system exists, as sd_booted(3) checks), i.e. whether the
// systemd driver can work here. It is checked once per process.
func Running() bool { return sdlib.IsRunningSystemd() }

// jobTimeout is how long a step waits for systemd: the D-Bus call and the
// job it queues. runc waits as long; systemd itself gives up on a job
// after 90 s by default, and a caller should hear of a hung systemd
// before that.
const jobTimeout = 30 * time.Second

// The D-Bus errors systemd answers that the driver acts on.
const (
	errUnitExists = "org.freedesktop.systemd1.UnitExists"
	errNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
)

// manager is the systemd driver: systemd makes and removes the
// unit, fs does the rest on the same directories (see New).
//
// The methods that are fs's alone delegate one by one rather than through
// an embedded *fs.Manager: a method later added to the cgroupfs driver
// must not become the systemd driver's unseen.
type manager struct {
	fs   *fs.Manager
	unit systemdUnit
	id   string
	// v2 is a pure cgroup2 host, where systemd takes cgroup2's properties
	// (MemoryMax, CPUWeight, IOWeight…) instead of v1's.
	v2  bool
	bus *systemdBus
	// timeout bounds each step (jobTimeout; tests shorten it).
	timeout time.Duration
	// version is systemd's, read on the first Set; 0 until then.
	version int
}

// newManager is New on the hierarchies hs, talking to bus.
func newManager(hs []cgroups.Mount, path, id string, bus *systemdBus) (*manager, error) {
	u, err := parseSystemdPath(path, id)
	if err != nil {
		return nil, err
	}
	fsm, err := fs.NewIn(hs, u.dir, "", nil)
	if err != nil {
		return nil, err
	}
	return &manager{fs: fsm, unit: u, id: id, v2: fs.IsPureV2(fsm.Paths()), bus: bus, timeout: jobTimeout}, nil
}

// systemdError is the one-line error of a step on the unit.
func (m *manager) systemdError(step string, err error) error {
	return fmt.Errorf("cgroups: systemd: %s %s: %w", step, m.unit.name, err)
}

// Prepare returns errors.ErrUnsupported: systemd places the container's
// process itself, given its pid, so there is no Entry to hand out; the
// caller uses Apply.
func (m *manager) Prepare() (*cgroups.Entry, error) {
	return nil, m.systemdError("prepare unit", fmt.Errorf("systemd places the process itself, given its pid (use Apply): %w", errors.ErrUnsupported))
}

// Set validates r as the cgroupfs driver does, converts what systemd has
// properties for (see unitProperties) and sets them on the unit, then
// writes every limit to the files with the cgroupfs driver, as runc does:
// systemd would otherwise put its own idea of the limits back the next
// time it re-applies the unit's settings. The properties are set for the
// runtime only (systemctl set-property --runtime): a transient unit does
// not outlive a reboot.
//
// Nothing reaches systemd unless the whole of r passes the cgroupfs
// driver's checks (and, on cgroup2, its controllers are enabled and every
// file to write exists): a value Set refuses is refused before systemd
// sees it. A CPU quota is rounded up as systemd rounds it (to 10 ms per
// second), and the files get the rounded quota too, as in runc, so that
// the two agree.
//
// Caveat: systemd applies what it is given itself, so on v1 a new device
// list briefly denies everything before its allows are in, as the
// cgroupfs driver's own write does (see docs/architecture.md).
func (m *manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	// fs.Manager.Set, split around the properties: checks first, writes
	// after systemd took them.
	p, err := m.fs.Check(r)
	if err != nil {
		return err
	}
	version, err := m.systemdVersion()
	if err != nil {
		return err
	}
	props, rounded, err := unitProperties(r, m.v2, version)
	if err != nil {
		return err
	}
	if rounded != r {
		// Rounding up keeps a valid quota valid; the plan is made again
		// only for its value.
		if p, err = m.fs.Check(rounded); err != nil {
			return err
		}
	}
	if len(props) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
		defer cancel()
		err := m.bus.call(func(c *sddbus.Conn) error { return c.SetUnitPropertiesContext(ctx, m.unit.name, true, props...) })
		if err != nil {
			return m.systemdError("set properties of unit", err)
		}
	}
	return m.fs.Write(p)
}

// Destroy stops the unit and waits for the job (systemd then removes its
// cgroup in the hierarchies it manages), resets it if it had failed, and
// then removes the container's directories with the cgroupfs driver's
// Destroy: those in the hierarchies systemd does not manage, and anything
// systemd left (systemd 239 did not remove a scope's sub-cgroups). A unit
// that is not loaded (never started, or stopped already) is no error, so
// Destroy can be repeated, as Manager.Destroy requires. The processes must
// be gone, as for the cgroupfs driver: systemd would otherwise signal them
// and wait, up to the unit's stop timeout, longer than Destroy waits.
func (m *manager) Destroy() error {
	stopErr := m.stop()
	fsErr := m.fs.Destroy()
	switch {
	case stopErr != nil && fsErr != nil:
		return fmt.Errorf("%w (and: %v)", stopErr, fsErr)
	case stopErr != nil:
		return stopErr
	}
	return fsErr
}

// The rest is the cgroupfs driver's on the same directories.

func (m *manager) Paths() map[string]string { return m.fs.Paths() }

func (m *manager) Pids() ([]int, error) { return m.fs.Pids() }

func (m *manager) Freeze() error { return m.fs.Freeze() }

func (m *manager) Thaw() error { return m.fs.Thaw() }

func (m *manager) Frozen() (bool, error) { return m.fs.Frozen() }

func (m *manager) Stats() (*cgroups.Stats, error) { return m.fs.Stats() }

func (m *manager) OOMNotify(stop <-chan struct{}) (<-chan struct{}, error) {
	return m.fs.OOMNotify(stop)
}
