package systemd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// TestSystemdDriverLifecycle is a container's life under the systemd
// driver: Apply starts the unit with the process, Set gives systemd the
// limits and then writes them, Destroy stops the unit and can be
// repeated, also from a manager loaded from the saved paths.
// Long for its table of cases, which reads best in one place.
func TestSystemdDriverLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v2    bool
		r     specs.LinuxResources
		props []string
		// writes are some of the files Set must write, below the unit's
		// directory of the hierarchy ("memory/…").
		writes []string
	}{
		{name: "hybrid", r: specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
			CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](1500)},
			Pids:    &specs.LinuxPids{Limit: ptr[int64](100)},
			Devices: sdDeviceRules,
		}, props: append([]string{"MemoryLimit=1073741824", "CPUShares=512", "CPUQuotaPerSecUSec=20000", "TasksMax=100"}, sdDeviceProps...),
			writes: []string{"memory=memory.limit_in_bytes=1073741824", "cpu=cpu.shares=512", "cpu=cpu.cfs_quota_us=2000", "pids=pids.max=100",
				"devices=devices.deny=a", "devices=devices.allow=c 1:3 rwm"}},
		// No devices on cgroup2: the files' eBPF program needs a real
		// cgroup.
		{name: "cgroup2", v2: true, r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)},
			CPU:    &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0-1"},
			Pids:   &specs.LinuxPids{Limit: ptr[int64](-1)},
		}, props: []string{"MemoryMax=1073741824", "MemorySwapMax=1073741824", "CPUWeight=100", "CPUQuotaPeriodUSec=100000",
			"CPUQuotaPerSecUSec=500000", "AllowedCPUs=[3]", "TasksMax=infinity"},
			writes: []string{"unified=memory.max=1073741824", "unified=memory.swap.max=1073741824", "unified=cpu.weight=100",
				"unified=cpu.max=50000 100000", "unified=cpuset.cpus=0-1", "unified=pids.max=max"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSDHost(t, tc.v2)
			before := h.listing(t)

			if err := h.m.Apply(4242); err != nil {
				t.Fatal(err)
			}
			start := h.sd.lastProps("StartTransientUnit")
			h.checkCalls(t, sdStart)
			checkSignatures(t, start)
			if got, want := propStrings(start), propStrings(h.m.startProperties(4242)); !slices.Equal(got, want) {
				t.Errorf("the unit started with\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			for k, dir := range h.m.Paths() {
				if got, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || string(got) != "4242" {
					t.Errorf("hierarchy %q: cgroup.procs holds %q (%v), want 4242", k, got, err)
				}
			}

			if err := h.m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			set := h.sd.lastProps("SetUnitProperties")
			h.checkCalls(t, sdVersionGet, sdSet)
			checkSignatures(t, set)
			if got := propStrings(set); !slices.Equal(got, tc.props) {
				t.Errorf("properties set:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.props, "\n  "))
			}
			for _, w := range tc.writes {
				mount, write, _ := strings.Cut(w, "=")
				if want := mount + sdUnitDir + "/" + write; !slices.Contains(h.tree.Writes, want) {
					t.Errorf("Set did not write %s; it wrote:\n  %s", want, strings.Join(h.tree.Writes, "\n  "))
				}
			}
			h.tree.CheckLastWrites(t)

			// The version is asked once; a refused value reaches neither
			// systemd nor the files.
			h.tree.Writes = nil
			if err := h.m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](7)}}); err != nil {
				t.Fatal(err)
			}
			h.checkCalls(t, sdSet)
			err := h.m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](8)}, Memory: &specs.LinuxMemory{Limit: ptr[int64](-5)}})
			if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.limit") {
				t.Errorf("Set of a bad limit: error %v, want one naming linux.resources.memory.limit", err)
			}
			h.checkCalls(t)
			// (The fake cgroup.subtree_control files do not take "+pids"
			// as the kernel does, so Set enables pids again.)
			unitWrites := slices.DeleteFunc(slices.Clone(h.tree.Writes), func(w string) bool { return !strings.Contains(w, sdUnitDir+"/") })
			if want := []string{filepath.Join(map[bool]string{false: "pids", true: "unified"}[tc.v2], sdUnitDir, "pids.max=7")}; !slices.Equal(unitWrites, want) {
				t.Errorf("writes %v, want %v", h.tree.Writes, want)
			}

			if err := h.m.Destroy(); err != nil {
				t.Fatal(err)
			}
			h.checkCalls(t, sdStop, sdReset)
			h.checkSame(t, before)
			if err := h.m.Destroy(); err != nil {
				t.Fatalf("second Destroy: %v", err)
			}
			h.checkCalls(t, sdStop)

			// delete, from the saved state.
			lm, err := Load("", "c1", h.m.Paths())
			if err != nil {
				t.Fatal(err)
			}
			lm.(*manager).bus = h.bus
			if err := lm.Destroy(); err != nil {
				t.Fatalf("Destroy of the loaded manager: %v", err)
			}
			h.checkCalls(t, sdStop)
			h.checkSame(t, before)
		})
	}
}

// TestSystemdDriverJoinsRealHierarchy checks the join of a hierarchy
// systemd leaves alone on a real cgroup (root only): the driver makes the
// directory, moves the process in, and Destroy removes it.
func TestSystemdDriverJoinsRealHierarchy(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	base := filepath.Join(hs[0].Mountpoint, cgtest.Name("sd"))
	t.Cleanup(func() {
		if err := fs.Load(map[string]string{hs[0].Keys[0]: base}).Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	h := newSDHost(t, false, cgroups.Mount{Mountpoint: base, Root: "/", Keys: []string{"freezer-real"}})
	cmd := cgtest.StartSleep(t)
	pid := cmd.Process.Pid
	if err := h.m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	real := base + sdUnitDir
	data, err := os.ReadFile(filepath.Join(real, "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(pid) {
		t.Fatalf("%s/cgroup.procs holds %q (%v), want %d", real, data, err, pid)
	}
	if got := cgtest.ProcCgroup(t, pid)[hs[0].Keys[0]]; !strings.HasSuffix(got, filepath.Base(base)+sdUnitDir) {
		t.Errorf("/proc/%d/cgroup puts it in %s, want …%s", pid, got, filepath.Base(base)+sdUnitDir)
	}
	cgtest.Stop(cmd)
	if err := h.m.Destroy(); err != nil {
		t.Fatal(err)
	}
	cgtest.CheckGone(t, real)
}

// TestSystemdRealHost runs the driver against the host's systemd (root
// only, where systemd is the init): a scope in system.slice with a
// process, limits that systemd and the files agree on, and Destroy.
func TestSystemdRealHost(t *testing.T) {
	if !Running() {
		t.Skip("systemd is not PID 1 on this host (no /run/systemd/system): the systemd driver has no systemd to talk to (the fake systemd tests cover it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts units on the system instance of systemd and moves processes")
	}
	id := cgtest.Name("sdreal")
	path := "system.slice:rt-test:" + id
	mm, err := New(path, id)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*manager)
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	cmd := cgtest.StartSleep(t)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	cg := cgtest.ProcCgroup(t, pid)
	for k, dir := range m.Paths() {
		if !strings.HasSuffix(dir, "/system.slice/rt-test-"+id+".scope") {
			t.Errorf("hierarchy %q: directory %s is not the unit's", k, dir)
		}
		if got := cg[k]; got != "" && !strings.HasSuffix(got, "/rt-test-"+id+".scope") {
			t.Errorf("/proc/%d/cgroup: %q is %s, not the unit's", pid, k, got)
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Errorf("Pids() = %v, %v; want %d among them", pids, err, pid)
	}

	const limit = 256 << 20
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](limit)}, Pids: &specs.LinuxPids{Limit: ptr[int64](64)}}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	file, prop := filepath.Join(m.Paths()["memory"], "memory.limit_in_bytes"), "MemoryLimit"
	if m.v2 {
		file, prop = filepath.Join(m.Paths()[""], "memory.max"), "MemoryMax"
	}
	if got := cgtest.ReadTrim(t, file); got != strconv.Itoa(limit) {
		t.Errorf("%s holds %s, want %d", file, got, limit)
	}
	var got *sddbus.Property
	err = m.bus.call(func(c *sddbus.Conn) error {
		var err error
		got, err = c.GetUnitTypePropertyContext(context.Background(), m.unit.name, "Scope", prop)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Value.Value().(uint64); !ok || v != limit {
		t.Errorf("systemd's %s of %s is %v, want %d", prop, m.unit.name, got.Value, limit)
	}

	cgtest.Stop(cmd)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	cgtest.CheckGone(t, cgtest.DirsOf(m)...)
}

func ptr[T any](v T) *T { return &v }
