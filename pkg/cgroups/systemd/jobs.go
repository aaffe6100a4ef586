package systemd

// The unit's jobs: starting it with the container's process, stopping it.

import (
	"context"
	"fmt"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

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
func (m *manager) Apply(pid int) error {
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
func (m *manager) startProperties(pid int) []sddbus.Property {
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
func (m *manager) start(props []sddbus.Property) error {
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
func (m *manager) abandon() error {
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
func (m *manager) resetFailed(ctx context.Context) error {
	return m.bus.call(func(c *sddbus.Conn) error { return c.ResetFailedUnitContext(ctx, m.unit.name) })
}

// stop stops the unit and waits for the job.
func (m *manager) stop() error {
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
