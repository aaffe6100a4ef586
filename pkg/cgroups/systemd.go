package cgroups

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
)

// NewSystemd returns the manager of a new container under the systemd
// driver, for linux.cgroupsPath path and container id id; it creates
// nothing until Apply.
//
// Why a second driver: on a host that systemd boots, systemd owns the
// cgroup tree. A cgroup it does not know about can be moved or emptied
// when it re-applies its units' settings (daemon-reload, systemctl
// set-property), and limits written behind its back are reset then. So,
// as runc's systemd driver does, the container's cgroup is a transient
// unit that systemd makes over D-Bus, and its limits are also unit
// properties.
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
// as New's (every v1 controller, "name=systemd", "" for cgroup2); a later
// command gets the manager back with LoadSystemd, not Load, so that
// Destroy stops the unit.
//
// Who does what: systemd places the process in the hierarchies it
// manages and keeps the limits it has a property for; the cgroupfs
// driver's code, on the same directories, does everything else: it joins
// the hierarchies systemd leaves alone (on a hybrid host the v1 freezer,
// cpuset, net_cls, …), writes every limit (the ones systemd wrote too,
// with the same values), freezes, reads stats, watches for OOM kills and
// removes what systemd does not.
//
// Caveats: it fails with errors.ErrUnsupported where systemd is not the
// host's init (SystemdRunning), as there is nothing to talk to. It talks
// to the system instance as root (the system bus, or systemd's private
// socket without a dbus-daemon); rootless containers under a user's
// systemd are not supported. Limits systemd has no property for (swap
// and the soft limit on v1, swappiness, hugetlb, rdma,
// network, per-device block I/O, and the unified keys unitProperties does
// not convert) are in the files only: systemd does not know them, and
// does not reset them either.
func NewSystemd(path, id string) (Manager, error) {
	if !SystemdRunning() {
		return nil, fmt.Errorf("cgroups: systemd driver: systemd is not the init of this host (no /run/systemd/system): %w", errors.ErrUnsupported)
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	m, err := newSystemdManager(hs, path, id, hostBus)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

// LoadSystemd returns the manager of an existing container created by
// NewSystemd(path, id), whose Paths() were paths (saved in the state).
//
// Like Load it reads nothing from the host and opens no connection until
// a method needs systemd, and it trusts paths, which come from rt's own
// state, with one check: every directory must be the unit's (end in
// /<slice's path>/<unit>), so that a state written by the cgroupfs driver,
// or with another cgroupsPath, is refused instead of stopping an unrelated
// unit. It does not check that systemd runs: Destroy then fails on
// connecting, naming the unit.
func LoadSystemd(path, id string, paths map[string]string) (Manager, error) {
	u, err := parseSystemdPath(path, id)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(paths)) {
		if mp, ok := strings.CutSuffix(paths[k], u.dir); !ok || mp == "" {
			return nil, fmt.Errorf("cgroups: systemd driver: saved path %s (hierarchy %q) is not the directory of unit %s (%s); was the container made by another driver or cgroupsPath?", paths[k], k, u.name, u.dir)
		}
	}
	fs, ok := Load(paths).(*fsManager)
	if !ok {
		return nil, errors.New("cgroups: systemd driver: Load returned no cgroupfs manager to delegate to")
	}
	return &systemdManager{fs: fs, unit: u, id: id, v2: isPureV2(paths), bus: hostBus, timeout: jobTimeout}, nil
}

// SystemdRunning reports whether systemd is the host's init
// (/run/systemd/system exists, as sd_booted(3) checks), i.e. whether the
// systemd driver can work here. It is checked once per process.
func SystemdRunning() bool { return sdlib.IsRunningSystemd() }

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

// systemdManager is the systemd driver: systemd makes and removes the
// unit, fs does the rest on the same directories (see NewSystemd).
//
// The methods that are fs's alone delegate one by one rather than through
// an embedded *fsManager: a method later added to the cgroupfs driver
// must not become the systemd driver's unseen.
type systemdManager struct {
	fs   *fsManager
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

// newSystemdManager is NewSystemd on the hierarchies hs, talking to bus.
func newSystemdManager(hs []hierarchy, path, id string, bus *systemdBus) (*systemdManager, error) {
	u, err := parseSystemdPath(path, id)
	if err != nil {
		return nil, err
	}
	fs, err := newManager(hs, u.dir, "", nil)
	if err != nil {
		return nil, err
	}
	return &systemdManager{fs: fs, unit: u, id: id, v2: isPureV2(fs.paths), bus: bus, timeout: jobTimeout}, nil
}

// systemdError is the one-line error of a step on the unit.
func (m *systemdManager) systemdError(step string, err error) error {
	return fmt.Errorf("cgroups: systemd: %s %s: %w", step, m.unit.name, err)
}

// Apply asks systemd to start the unit with pid in it, then joins pid to
// the container's directory in every hierarchy with the cgroupfs driver's
// Apply: it makes the directories systemd did not (in the hierarchies
// systemd does not manage) and writes pid there, which is a no-op where
// systemd already put it. If that fails, the unit is stopped again; its
// stop job ends once the caller has killed pid, as Manager.Apply asks.
//
// A unit of the same name that is left over and failed (an earlier
// container that died) is reset and the start retried once; one that is
// running is an error. A slice unit gets no process from systemd, which
// puts processes only in scopes and services: the cgroupfs driver writes
// pid into the slice's directories.
func (m *systemdManager) Apply(pid int) error {
	if pid <= 0 {
		return m.systemdError("start unit", fmt.Errorf("invalid pid %d", pid))
	}
	if err := m.start(m.startProperties(pid)); err != nil {
		return err
	}
	if err := m.fs.Apply(pid); err != nil {
		if serr := m.abandon(); serr != nil {
			return fmt.Errorf("%w (stop unit %s again: %v)", err, m.unit.name, serr)
		}
		return err
	}
	return nil
}

// startProperties are the properties the unit starts with, runc's.
func (m *systemdManager) startProperties(pid int) []sddbus.Property {
	props := []sddbus.Property{sddbus.PropDescription("rt container " + m.id)}
	if m.unit.slice() {
		// A slice's place comes from its name; Wants= only makes sure
		// the parent is started.
		props = append(props, sddbus.PropWants(m.unit.parent))
	} else {
		props = append(props,
			sddbus.PropSlice(m.unit.parent),
			// The container may make cgroups of its own below its scope,
			// which systemd then leaves alone.
			newProp("Delegate", true),
			newProp("PIDs", []uint32{uint32(pid)}))
	}
	io := "BlockIOAccounting"
	if m.v2 {
		io = "IOAccounting"
	}
	// Accounting has systemd enable the controllers for the unit's cgroup
	// (on cgroup2 in its ancestors' subtree_control), which Set's limits
	// and Stats need, and from the start: runc notes kernel trouble with a
	// process whose v1 memory cgroup is joined only later.
	return append(props,
		newProp("MemoryAccounting", true),
		newProp("CPUAccounting", true),
		newProp(io, true),
		newProp("TasksAccounting", true),
		// No implicit ordering against shutdown.target and the like: the
		// container's life is rt's, not the boot's.
		newProp("DefaultDependencies", false))
}

// start starts the transient unit and waits for its job.
func (m *systemdManager) start(props []sddbus.Property) error {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	// Buffered: go-systemd sends the result holding its connection's lock,
	// also after a timeout made us stop listening.
	ch := make(chan string, 1)
	call := func() error {
		return m.bus.call(func(c *sddbus.Conn) error {
			_, err := c.StartTransientUnitContext(ctx, m.unit.name, "replace", props, ch)
			return err
		})
	}
	err := call()
	if isDBusError(err, errUnitExists) {
		// A failed unit stays loaded under its name until reset, so a
		// container that died leaves its name taken. A running unit is
		// not reset, and the retry tells.
		_ = m.resetFailed(ctx)
		if err = call(); isDBusError(err, errUnitExists) {
			return m.systemdError("start unit", fmt.Errorf("unit %s already exists and is not a failed leftover (another container with this cgroupsPath?): %w", m.unit.name, err))
		}
	}
	if err != nil {
		return m.systemdError("start unit", err)
	}
	select {
	case result := <-ch:
		if result == "done" {
			return nil
		}
		err = fmt.Errorf("the start job's result is %q, not \"done\" (journalctl -u %s may say why)", result, m.unit.name)
	case <-ctx.Done():
		err = fmt.Errorf("no result of the start job after %s: %w", m.timeout, ctx.Err())
	}
	if aerr := m.abandon(); aerr != nil {
		err = fmt.Errorf("%w (stop it again: %v)", err, aerr)
	}
	return m.systemdError("start unit", err)
}

// abandon stops the unit a failed Apply leaves, without waiting for the
// stop job: with a live process in the scope the job waits for it to
// die, which the caller of Apply makes happen only afterwards. It then
// resets the unit if it failed, so that its name is free again.
func (m *systemdManager) abandon() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	err := m.bus.call(func(c *sddbus.Conn) error {
		_, err := c.StopUnitContext(ctx, m.unit.name, "replace", nil)
		return err
	})
	_ = m.resetFailed(ctx)
	if err != nil && !isDBusError(err, errNoSuchUnit) {
		return err
	}
	return nil
}

// resetFailed asks systemd to forget that the unit failed, which unloads
// a failed transient unit. It fails for a unit that is not loaded; the
// callers use it where that is fine.
func (m *systemdManager) resetFailed(ctx context.Context) error {
	return m.bus.call(func(c *sddbus.Conn) error { return c.ResetFailedUnitContext(ctx, m.unit.name) })
}

// Prepare returns errors.ErrUnsupported: systemd places the container's
// process itself, given its pid, so there is no Entry to hand out; the
// caller uses Apply.
func (m *systemdManager) Prepare() (*Entry, error) {
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
// cgroupfs driver's own write does (see Manager.Set).
func (m *systemdManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	// fsManager.Set, split around the properties: checks first, writes
	// after systemd took them.
	p, err := m.fs.check(r)
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
		if p, err = m.fs.check(rounded); err != nil {
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
	return m.fs.write(p)
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
func (m *systemdManager) Destroy() error {
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

// stop stops the unit and waits for the job.
func (m *systemdManager) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	ch := make(chan string, 1)
	err := m.bus.call(func(c *sddbus.Conn) error {
		_, err := c.StopUnitContext(ctx, m.unit.name, "replace", ch)
		return err
	})
	if isDBusError(err, errNoSuchUnit) {
		return nil
	}
	if err != nil {
		return m.systemdError("stop unit", err)
	}
	select {
	case result := <-ch:
		// A unit that failed (its process was OOM-killed, say) stays
		// loaded, and its name taken, until reset.
		_ = m.resetFailed(ctx)
		if result != "done" {
			return m.systemdError("stop unit", fmt.Errorf("the stop job's result is %q, not \"done\"", result))
		}
		return nil
	case <-ctx.Done():
		return m.systemdError("stop unit", fmt.Errorf("no result of the stop job after %s (processes still in the unit?): %w", m.timeout, ctx.Err()))
	}
}

// The rest is the cgroupfs driver's on the same directories.

func (m *systemdManager) Paths() map[string]string { return m.fs.Paths() }

func (m *systemdManager) Pids() ([]int, error) { return m.fs.Pids() }

func (m *systemdManager) Freeze() error { return m.fs.Freeze() }

func (m *systemdManager) Thaw() error { return m.fs.Thaw() }

func (m *systemdManager) Frozen() (bool, error) { return m.fs.Frozen() }

func (m *systemdManager) Stats() (*Stats, error) { return m.fs.Stats() }

func (m *systemdManager) OOMNotify(stop <-chan struct{}) (<-chan struct{}, error) {
	return m.fs.OOMNotify(stop)
}
