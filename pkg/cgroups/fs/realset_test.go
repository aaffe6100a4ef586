package fs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups/internal/cgtest"
)

// v1: devices.deny a, then the allows.
func TestRealDevicesV1(t *testing.T) {
	m := realManager(t, "dev1", false)
	dir := requireKey(t, m, "devices", "the test is of the v1 devices controller")
	c := startChild(t, nullScript)
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: denyNull}); err != nil {
		t.Fatal(err)
	}
	if got := cgtest.ReadTrim(t, filepath.Join(dir, "devices.list")); got != "c 1:5 rwm" {
		t.Errorf("devices.list = %q, want only c 1:5 rwm", got)
	}
	c.release(t)
	checkNullDenied(t, c)
}

// cgroup2: the library's eBPF program, here on the unified mount of a
// hybrid host (it needs no controller).
func TestRealDevicesV2(t *testing.T) {
	m := realManager(t, "dev2", true)
	c := startChild(t, nullScript)
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: denyNull}); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	checkNullDenied(t, c)
}

// utime is the user CPU time of pid in clock ticks (/proc/<pid>/stat field
// 14).
func utime(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces; count after its ")".
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	n, err := strconv.Atoi(fields[11])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A spinning process stops advancing while frozen and resumes once thawed:
// with the v1 freezer, and with cgroup2's cgroup.freeze.
func TestRealFreeze(t *testing.T) {
	for _, tc := range []struct {
		name   string
		onlyV2 bool
	}{{"v1 freezer", false}, {"cgroup2", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := realManager(t, "freeze", tc.onlyV2)
			if !tc.onlyV2 {
				requireKey(t, m, "freezer", "the test is of the v1 freezer")
			}
			c := startChild(t, "while :; do :; done")
			if err := m.Apply(c.pid()); err != nil {
				t.Fatal(err)
			}
			c.release(t)
			time.Sleep(100 * time.Millisecond)
			if frozen, err := m.Frozen(); err != nil || frozen {
				t.Fatalf("Frozen() before Freeze = %v, %v", frozen, err)
			}
			for range 2 { // freezing a frozen cgroup is fine
				if err := m.Freeze(); err != nil {
					t.Fatal(err)
				}
			}
			if frozen, err := m.Frozen(); err != nil || !frozen {
				t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
			}
			before := utime(t, c.pid())
			time.Sleep(300 * time.Millisecond)
			if after := utime(t, c.pid()); after != before {
				t.Errorf("utime advanced from %d to %d while frozen", before, after)
			}
			if err := m.Thaw(); err != nil {
				t.Fatal(err)
			}
			if frozen, err := m.Frozen(); err != nil || frozen {
				t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
			}
			before = utime(t, c.pid())
			time.Sleep(300 * time.Millisecond)
			if after := utime(t, c.pid()); after <= before {
				t.Errorf("utime stayed at %d after Thaw", before)
			}
		})
	}
}

// A busy child shows CPU time, memory and one pid; the JSON has runc's
// sections. On the cgroup2 mount of a hybrid host (no controllers) CPU
// time comes from the core cpu.stat and the pids from cgroup.procs.
func TestRealStats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		onlyV2 bool
	}{{"every hierarchy", false}, {"cgroup2", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := realManager(t, "stats", tc.onlyV2)
			// Memory is charged where it is allocated (v1 moves no
			// charges): the child allocates a megabyte once inside.
			c := startChild(t, `x=$(head -c 1000000 /dev/zero | tr '\0' a); while :; do :; done`)
			if err := m.Apply(c.pid()); err != nil {
				t.Fatal(err)
			}
			c.release(t)
			time.Sleep(200 * time.Millisecond)
			st, err := m.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cpu %+v memory usage %+v pids %+v", st.CPU.Usage, st.Memory.Usage, st.Pids)
			if st.CPU.Usage.Total == 0 || st.CPU.Usage.User == 0 {
				t.Errorf("no CPU time: %+v", st.CPU.Usage)
			}
			if _, ok := m.paths["cpuacct"]; ok && len(st.CPU.Usage.Percpu) == 0 {
				t.Errorf("no CPU time per CPU: %+v", st.CPU.Usage)
			}
			if _, ok := m.paths["memory"]; ok && (st.Memory.Usage.Usage == 0 || len(st.Memory.Raw) == 0) {
				t.Errorf("no memory use: %+v", st.Memory)
			}
			if st.Pids.Current != 1 {
				t.Errorf("pids current = %d, want 1", st.Pids.Current)
			}
			data, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(data, &top); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"} {
				if _, ok := top[k]; !ok {
					t.Errorf("stats JSON lacks %q: %s", k, data)
				}
			}
		})
	}
}

// Many containers with limits come and go: nothing may pile up.
func TestRealSetCycles(t *testing.T) {
	hs := cgtest.RequireCgroups(t)
	prefix := cgtest.Name("setcycle")
	const n = 200
	for i := range n {
		removeEverywhere(t, hs, fmt.Sprintf("/%s-%d", prefix, i))
	}
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](100)},
		Devices: denyNull,
	}
	for i := range n {
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		m, err := New("", fmt.Sprintf("%s-%d", prefix, i))
		if err == nil {
			err = m.Apply(cmd.Process.Pid)
		}
		if err == nil {
			err = m.Set(r)
		}
		cgtest.Stop(cmd)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := m.Destroy(); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	assertNoneLeft(t, hs, prefix)
}

// The kernel checks the burst against the current quota: a burst above
// it is written again once the new quota is in.
func TestRealCPUBurstRetry(t *testing.T) {
	m := realManager(t, "burst", false)
	dir := requireKey(t, m, "cpu", "the test is of the v1 cpu controller")
	if !exists(filepath.Join(dir, "..", "cpu.cfs_burst_us")) {
		t.Skip("no cpu.cfs_burst_us")
	}
	c := startChild(t, "exec sleep 600")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000)}}); err != nil {
		t.Fatal(err)
	}
	var writes []string
	m.record = func(path, value string) { writes = append(writes, filepath.Base(path)+"="+value) }
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Burst: ptr[uint64](30000)}}); err != nil {
		t.Fatal(err)
	}
	// The plan has the burst first; the kernel took it only after the quota.
	if want := []string{"cpu.cfs_quota_us=50000", "cpu.cfs_burst_us=30000"}; !slices.Equal(writes, want) {
		t.Errorf("successful writes %q, want %q", writes, want)
	}
	for file, want := range map[string]string{"cpu.cfs_quota_us": "50000", "cpu.cfs_burst_us": "30000"} {
		if got := cgtest.ReadTrim(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}
}

// What this host cannot apply, and how each says so. The cases that need
// a hierarchy or file the host has are skipped elsewhere.
// Long for its table of cases, which reads best in one place.
func TestRealHostRefusals(t *testing.T) {
	m := realManager(t, "refuse", false)
	memDir := requireKey(t, m, "memory", "the cases are about v1 hierarchies")
	// Anonymous memory the kernel cannot reclaim without swap: a 16 MB
	// shell variable.
	// (No exec: the shell keeps it while sleep runs.)
	c := startChild(t, `x=$(head -c 16000000 /dev/zero | tr '\0' a); echo ready; sleep 600 </dev/null >/dev/null 2>&1`)
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.out.String(), "ready"); {
		if time.Now().After(deadline) {
			t.Fatalf("child not ready: %s", c.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mem := func(mm specs.LinuxMemory) *specs.LinuxResources { return &specs.LinuxResources{Memory: &mm} }
	tests := []struct {
		name string
		skip func() string // why the host does not show it, or ""
		r    *specs.LinuxResources
		want string
	}{
		{name: "limit below usage", r: mem(specs.LinuxMemory{Limit: ptr[int64](1 << 20)}),
			want: "cgroups: linux.resources.memory.limit: " + memDir + "/memory.limit_in_bytes: write 1048576: device or resource busy (the cgroup uses more than that and the kernel could not reclaim enough)"},
		{name: "flat accounting", r: mem(specs.LinuxMemory{UseHierarchy: ptr(false)}),
			want: "cgroups: linux.resources.memory.useHierarchy: " + memDir + "/memory.use_hierarchy: write 0: invalid argument (this kernel no longer has non-hierarchical accounting)"},
		{name: "leaf weight", r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}},
			want: "cgroups: linux.resources.blockIO.leafWeight: " + m.paths["blkio"] + "/blkio.leaf_weight does not exist: leaf weights were CFQ's, which Linux 5.0 removed"},
		{name: "unknown block device", r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(250, 99), Rate: 100}}}},
			want: "cgroups: linux.resources.blockIO.throttleReadBpsDevice[0]: " + m.paths["blkio"] + `/blkio.throttle.read_bps_device: write "250:99 100": no such device (no such block device, or not a whole disk)`},
		{name: "net_cls", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			want: "cgroups: linux.resources.network.classID: no net_cls hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
		{name: "net_prio", r: &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}},
			want: "cgroups: linux.resources.network.priorities: no net_prio hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
		{name: "rdma", r: &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](1)}}},
			want: "cgroups: linux.resources.rdma: no rdma hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
		{name: "hugetlb", r: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			want: "cgroups: linux.resources.hugepageLimits: no hugetlb hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
		{name: "unified memory.max", r: &specs.LinuxResources{Unified: map[string]string{"memory.max": "1000000"}},
			want: `cgroups: linux.resources.unified["memory.max"]: ` + m.paths[""] + "/memory.max does not exist: the memory controller is not enabled in the cgroup2 hierarchy of this hybrid host (enabled: none); its v1 hierarchy has it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != nil {
				if why := tc.skip(); why != "" {
					t.Skip(why)
				}
			}
			for _, key := range []string{"net_cls", "net_prio", "rdma", "hugetlb"} {
				if _, ok := m.paths[key]; ok && strings.Contains(tc.want, "no "+key+" hierarchy") {
					t.Skipf("this host has %s", key)
				}
			}
			err := m.Set(tc.r)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant   %s", err, tc.want)
			}
		})
	}
	// Where BFQ is not the device's scheduler, a device weight fails at
	// the write: the first whole disk of the host, if its scheduler says so.
	t.Run("device weight without BFQ", func(t *testing.T) {
		disk, devno := firstDisk(t)
		sched, _ := os.ReadFile("/sys/block/" + disk + "/queue/scheduler")
		if strings.Contains(string(sched), "[bfq]") || !exists(filepath.Join(m.paths["blkio"], "blkio.bfq.weight_device")) {
			t.Skipf("%s uses BFQ or there is no blkio.bfq.weight_device", disk)
		}
		var major, minor int64
		fmt.Sscanf(devno, "%d:%d", &major, &minor)
		err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(major, minor), Weight: ptr[uint16](300)}}}})
		want := fmt.Sprintf(`cgroups: linux.resources.blockIO.weightDevice[0].weight: %s/blkio.bfq.weight_device: write "%s 300": operation not supported (the device does not use the BFQ scheduler)`,
			m.paths["blkio"], devno)
		if err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant   %s", err, want)
		}
	})
}

// The deprecated kernel memory limits are not written, whatever the host
// has: Set succeeds with them and the kmem files keep what they held
// (Linux 6.1+ has none; older kernels may accept a write and ignore it).
func TestRealKernelMemoryIgnored(t *testing.T) {
	m := realManager(t, "kmem", false)
	memDir := requireKey(t, m, "memory", "kernel memory limits are v1 files")
	if err := m.Apply(cgtest.StartSleep(t).Process.Pid); err != nil {
		t.Fatal(err)
	}
	files := []string{"memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"}
	before := map[string]string{}
	for _, f := range files {
		if data, err := os.ReadFile(filepath.Join(memDir, f)); err == nil {
			before[f] = string(data)
		}
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: ptr[int64](64 << 20), Kernel: ptr[int64](16 << 20), KernelTCP: ptr[int64](8 << 20),
	}})
	if err != nil {
		t.Fatalf("Set with kernel memory: %v", err)
	}
	if got := cgtest.ReadTrim(t, filepath.Join(memDir, "memory.limit_in_bytes")); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %s, want 67108864", got)
	}
	for f, was := range before {
		if now, _ := os.ReadFile(filepath.Join(memDir, f)); string(now) != was {
			t.Errorf("%s = %q, was %q", f, now, was)
		}
	}
}

// firstDisk is a whole disk of the host and its major:minor.
func firstDisk(t *testing.T) (string, string) {
	t.Helper()
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "loop") || strings.HasPrefix(e.Name(), "zram") {
			continue
		}
		if data, err := os.ReadFile("/sys/block/" + e.Name() + "/dev"); err == nil {
			return e.Name(), strings.TrimSpace(string(data))
		}
	}
	t.Skip("no disk")
	return "", ""
}
