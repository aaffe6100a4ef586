package systemd

import (
	"context"
	"errors"
	iofs "io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
)

// TestSystemdApplyFailures checks that each way Apply fails is reported,
// naming the unit, and leaves nothing behind.
// Long for its subtests, which share the set-up above them and read as one story.
func TestSystemdApplyFailures(t *testing.T) {
	t.Run("a failed unit of the same name is reset", func(t *testing.T) {
		h := newSDHost(t, false)
		h.sd.with(func(f *fakeSystemd) { f.units[sdUnit] = &fakeUnit{failed: true} })
		before := h.listing(t)
		if err := h.m.Apply(4242); err != nil {
			t.Fatal(err)
		}
		h.checkCalls(t, sdStart, sdReset, sdStart)
		if err := h.m.Destroy(); err != nil {
			t.Fatal(err)
		}
		h.checkSame(t, before)
	})

	t.Run("a running unit of the same name", func(t *testing.T) {
		h := newSDHost(t, false)
		h.sd.with(func(f *fakeSystemd) { f.units[sdUnit] = &fakeUnit{} })
		before := h.listing(t)
		err := h.m.Apply(4242)
		if err == nil || !strings.Contains(err.Error(), "cgroups: systemd: start unit rt-c1.scope: unit rt-c1.scope already exists") {
			t.Fatalf("error %v, want unit rt-c1.scope already exists", err)
		}
		if !isDBusError(err, errUnitExists) {
			t.Errorf("error %v does not wrap the D-Bus error %s", err, errUnitExists)
		}
		h.checkCalls(t, sdStart, sdReset, sdStart)
		h.checkSame(t, before)
	})

	t.Run("the start job fails", func(t *testing.T) {
		h := newSDHost(t, false)
		h.sd.with(func(f *fakeSystemd) { f.startResult = "failed" })
		before := h.listing(t)
		err := h.m.Apply(4242)
		if err == nil || !strings.Contains(err.Error(), `cgroups: systemd: start unit rt-c1.scope: the start job's result is "failed"`) {
			t.Fatalf("error %v, want the job's result", err)
		}
		h.checkCalls(t, sdStart, sdStop, sdReset)
		h.checkSame(t, before)
		h.sd.with(func(f *fakeSystemd) {
			if len(f.units) != 0 {
				t.Errorf("units left loaded: %v", slices.Collect(maps.Keys(f.units)))
			}
		})
	})

	t.Run("systemd reports no job", func(t *testing.T) {
		h := newSDHost(t, true)
		h.sd.with(func(f *fakeSystemd) { f.silent = true })
		h.m.timeout = 200 * time.Millisecond
		before := h.listing(t)
		err := h.m.Apply(4242)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cgroups: systemd: start unit rt-c1.scope: no result of the start job after 200ms") {
			t.Fatalf("error %v, want a timeout", err)
		}
		h.checkCalls(t, sdStart, sdStop, sdReset)
		h.checkSame(t, before)
	})

	t.Run("joining the other hierarchies fails", func(t *testing.T) {
		// A hierarchy systemd leaves to the driver, where the fake tree
		// has no cgroup.procs for the driver to write.
		root := t.TempDir()
		h := newSDHost(t, false, cgroups.Mount{Mountpoint: root, Root: "/", Keys: []string{"perf_event"}})
		before := h.listing(t)
		err := h.m.Apply(4242)
		if err == nil || !strings.Contains(err.Error(), "cgroups: join "+root+sdUnitDir) {
			t.Fatalf("error %v, want the driver's join error", err)
		}
		h.checkCalls(t, sdStart, sdStop, sdReset)
		h.checkSame(t, before)
		if _, err := os.Stat(root + sdUnitDir); !errors.Is(err, iofs.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", root+sdUnitDir, err)
		}
	})

	t.Run("systemd refuses the properties", func(t *testing.T) {
		h := newSDHost(t, false)
		if err := h.m.Apply(4242); err != nil {
			t.Fatal(err)
		}
		h.sd.with(func(f *fakeSystemd) {
			f.setErr = dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"Cannot set property MemoryLimit"})
		})
		h.checkCalls(t, sdStart)
		err := h.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}})
		if err == nil || !strings.Contains(err.Error(), "cgroups: systemd: set properties of unit rt-c1.scope: Cannot set property MemoryLimit") {
			t.Fatalf("error %v, want systemd's", err)
		}
		if len(h.tree.Writes) != 0 {
			t.Errorf("written after systemd refused: %v", h.tree.Writes)
		}
		h.checkCalls(t, sdVersionGet, sdSet)
	})
}

// TestSystemdDriverMisuse covers the calls made out of turn or without
// a usable systemd: each fails with an error saying which, and leaves
// nothing behind.
func TestSystemdDriverMisuse(t *testing.T) {
	t.Run("set before apply", func(t *testing.T) {
		h := newSDHost(t, true)
		err := h.m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}})
		if err == nil || !strings.Contains(err.Error(), "Set needs the cgroup Apply makes") {
			t.Fatalf("error %v, want the missing cgroup", err)
		}
		h.checkCalls(t) // checked before systemd is asked anything
	})

	t.Run("an unreadable version", func(t *testing.T) {
		h := newSDHost(t, false)
		h.sd.with(func(f *fakeSystemd) { f.version = "unknown" })
		if err := h.m.Apply(4242); err != nil {
			t.Fatal(err)
		}
		err := h.m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](7)}})
		if err == nil || !strings.Contains(err.Error(), `cgroups: systemd: read systemd's version for unit rt-c1.scope: parse systemd version "\"unknown\""`) {
			t.Fatalf("error %v, want the version's", err)
		}
		if err := h.m.Destroy(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("invalid pid", func(t *testing.T) {
		h := newSDHost(t, false)
		if err := h.m.Apply(0); err == nil || !strings.Contains(err.Error(), "invalid pid 0") {
			t.Fatalf("error %v, want invalid pid", err)
		}
		h.checkCalls(t)
	})

	t.Run("the stop job fails", func(t *testing.T) {
		h := newSDHost(t, false)
		if err := h.m.Apply(4242); err != nil {
			t.Fatal(err)
		}
		h.sd.with(func(f *fakeSystemd) { f.stopResult = "failed" })
		err := h.m.Destroy()
		if err == nil || !strings.Contains(err.Error(), `cgroups: systemd: stop unit rt-c1.scope: the stop job's result is "failed"`) {
			t.Fatalf("error %v, want the stop job's result", err)
		}
		// Destroy went on to the directories, which the fake's regular
		// files keep.
		if !strings.Contains(err.Error(), "(and: cgroups: remove ") {
			t.Errorf("error %v does not report the directories left", err)
		}
	})

	t.Run("the connection closed meanwhile", func(t *testing.T) {
		h := newSDHost(t, false)
		before := h.listing(t)
		if err := h.m.Apply(4242); err != nil {
			t.Fatal(err)
		}
		h.bus.mu.Lock()
		h.bus.conn.Close() // as when dbus-daemon restarts
		h.bus.mu.Unlock()
		if err := h.m.Destroy(); err != nil {
			t.Fatal(err)
		}
		h.checkCalls(t, sdStart, sdStop, sdReset)
		h.checkSame(t, before)
	})

	t.Run("no bus", func(t *testing.T) {
		h := newSDHost(t, false)
		h.m.bus = &systemdBus{dial: func() (*sddbus.Conn, error) {
			return sddbus.NewConnection(func() (*dbus.Conn, error) { return dialBus("unix:path=/nonexistent/bus") })
		}}
		err := h.m.Destroy()
		if err == nil || !strings.Contains(err.Error(), "cgroups: systemd: stop unit rt-c1.scope: connect to systemd over D-Bus: ") {
			t.Fatalf("error %v, want the connection's", err)
		}
	})
}
