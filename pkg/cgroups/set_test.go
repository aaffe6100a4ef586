package cgroups

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// dev is a block device for the blockIO lists.
func dev(major, minor int64) specs.LinuxBlockIODevice {
	return specs.LinuxBlockIODevice{Major: major, Minor: minor}
}

// setCase is one Set on a fresh fake tree: prepare changes the tree first,
// want is every write in order (paths below the cgroup mounts).
type setCase struct {
	name    string
	prepare func(f *fakeTree)
	r       specs.LinuxResources
	want    []string
}

func runSetCases(t *testing.T, fake func(*testing.T) *fakeTree, tests []setCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			if err := f.m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.writes, tc.want) {
				t.Errorf("writes:\n  %s\nwant:\n  %s", strings.Join(f.writes, "\n  "), strings.Join(tc.want, "\n  "))
			}
			f.checkLastWrites(t)
		})
	}
}

func TestSetV1Writes(t *testing.T) {
	const mem = "memory/c1/"
	runSetCases(t, newFakeV1, []setCase{
		{name: "nil sections write nothing", r: specs.LinuxResources{}, want: nil},
		{name: "memory limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}},
			want: []string{mem + "memory.limit_in_bytes=1073741824"}},
		{name: "zero is unset", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](0), Swap: ptr[int64](0)},
			CPU:    &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0)},
		}, want: nil},
		{name: "limit and swap from unlimited: limit first", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)},
		}, want: []string{mem + "memory.limit_in_bytes=1073741824", mem + "memory.memsw.limit_in_bytes=2147483648"}},
		{name: "limit and swap raised above the current limit: swap first",
			prepare: func(f *fakeTree) { f.file(f.path(mem+"memory.limit_in_bytes"), "104857600\n") },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)}},
			want:    []string{mem + "memory.memsw.limit_in_bytes=2147483648", mem + "memory.limit_in_bytes=1073741824"}},
		{name: "unlimited memory lifts memory+swap first", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{mem + "memory.memsw.limit_in_bytes=-1", mem + "memory.limit_in_bytes=-1"}},
		{name: "unlimited memory without swap accounting",
			prepare: func(f *fakeTree) { os.Remove(f.path(mem + "memory.memsw.limit_in_bytes")) },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:    []string{mem + "memory.limit_in_bytes=-1"}},
		{name: "every other memory field, kernel memory ignored", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](64 << 20), KernelTCP: ptr[int64](16 << 20), Reservation: ptr[int64](256 << 20),
			Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true),
			Limit: ptr[int64](512 << 20), CheckBeforeUpdate: ptr(true),
		}}, want: []string{
			mem + "memory.limit_in_bytes=536870912",
			mem + "memory.soft_limit_in_bytes=268435456",
			mem + "memory.swappiness=10",
			mem + "memory.oom_control=1",
			mem + "memory.use_hierarchy=1",
		}},
		{name: "oom killer back on", r: specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(false)}},
			want: []string{mem + "memory.oom_control=0"}},
		// Whatever their value: runc does not look at it either.
		{name: "kernel memory alone: nothing", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](-3), KernelTCP: ptr[int64](1 << 20),
		}}, want: nil},
		{name: "kernel memory without its files: nothing",
			prepare: func(f *fakeTree) {
				os.Remove(f.path(mem + "memory.kmem.limit_in_bytes"))
				os.Remove(f.path(mem + "memory.kmem.tcp.limit_in_bytes"))
			},
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20), Limit: ptr[int64](1 << 30)}},
			want: []string{mem + "memory.limit_in_bytes=1073741824"}},
		{name: "cpu", r: specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](10000),
			RealtimeRuntime: ptr[int64](95000), RealtimePeriod: ptr[uint64](1000000), Idle: ptr[int64](0),
		}}, want: []string{
			"cpu/c1/cpu.idle=0",
			"cpu/c1/cpu.shares=512",
			"cpu/c1/cpu.cfs_period_us=100000",
			"cpu/c1/cpu.cfs_burst_us=10000",
			"cpu/c1/cpu.cfs_quota_us=50000",
			"cpu/c1/cpu.rt_period_us=1000000",
			"cpu/c1/cpu.rt_runtime_us=95000",
		}},
		{name: "no quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}},
			want: []string{"cpu/c1/cpu.cfs_quota_us=-1"}},
		{name: "cpuset", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1-2,3", Mems: "0"}},
			want: []string{"cpuset/c1/cpuset.cpus=1-2,3", "cpuset/c1/cpuset.mems=0"}},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}},
			want: []string{"pids/c1/pids.max=100"}},
		{name: "pids unlimited", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want: []string{"pids/c1/pids.max=max"}},
		{name: "pids zero is one", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}},
			want: []string{"pids/c1/pids.max=1"}},
		{name: "blkio on BFQ", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr[uint16](500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1048576}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 2097152}, {LinuxBlockIODevice: dev(8, 16), Rate: 0}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 100}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 200}},
		}}, want: []string{
			"blkio/c1/blkio.bfq.weight=500",
			"blkio/c1/blkio.bfq.weight_device=8:0 300",
			"blkio/c1/blkio.throttle.read_bps_device=8:0 1048576",
			"blkio/c1/blkio.throttle.write_bps_device=8:0 2097152",
			"blkio/c1/blkio.throttle.write_bps_device=8:16 0",
			"blkio/c1/blkio.throttle.read_iops_device=8:0 100",
			"blkio/c1/blkio.throttle.write_iops_device=8:0 200",
		}},
		{name: "blkio on CFQ",
			prepare: func(f *fakeTree) {
				for _, name := range []string{"blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device"} {
					f.file(f.path("blkio/c1/"+name), "")
				}
			},
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](500), LeafWeight: ptr[uint16](200),
				WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300), LeafWeight: ptr[uint16](100)}},
			}},
			want: []string{
				"blkio/c1/blkio.weight=500",
				"blkio/c1/blkio.leaf_weight=200",
				"blkio/c1/blkio.weight_device=8:0 300",
				"blkio/c1/blkio.leaf_weight_device=8:0 100",
			}},
		{name: "hugetlb", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
			{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 0},
		}}, want: []string{
			"hugetlb/c1/hugetlb.2MB.limit_in_bytes=1073741824",
			"hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes=1073741824",
			"hugetlb/c1/hugetlb.1GB.limit_in_bytes=0",
		}},
		{name: "network", r: specs.LinuxResources{Network: &specs.LinuxNetwork{
			ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 2}},
		}}, want: []string{
			"net_cls/c1/net_cls.classid=1048577",
			"net_prio/c1/net_prio.ifpriomap=eth0 5",
			"net_prio/c1/net_prio.ifpriomap=lo 2",
		}},
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
			"mlx5_1": {HcaObjects: ptr[uint32](1000)}, "mlx5_0": {HcaHandles: ptr[uint32](10), HcaObjects: ptr[uint32](100)},
		}}, want: []string{
			"rdma/c1/rdma.max=mlx5_0 hca_handle=10 hca_object=100",
			"rdma/c1/rdma.max=mlx5_1 hca_handle=max hca_object=1000",
		}},
		{name: "devices: deny all, then the rules in order", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
			{Allow: true, Type: "c", Access: "m"},
			{Allow: true, Type: "b", Major: ptr[int64](8), Minor: ptr[int64](-1), Access: "r"},
			{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
		}}, want: []string{
			"devices/c1/devices.deny=a",
			"devices/c1/devices.deny=a",
			"devices/c1/devices.allow=c 1:3 rwm",
			"devices/c1/devices.allow=c *:* m",
			"devices/c1/devices.allow=b 8:* r",
			"devices/c1/devices.deny=c 1:3 w",
		}},
		{name: "devices: an empty list denies everything", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}},
			want: []string{"devices/c1/devices.deny=a"}},
		{name: "devices: allow all (privileged)", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: true, Access: "rwm"},
		}}, want: []string{"devices/c1/devices.deny=a", "devices/c1/devices.allow=a"}},
		{name: "unified on a hybrid host, controller enabled there",
			prepare: func(f *fakeTree) {
				f.file(f.path("unified/cgroup.subtree_control"), "hugetlb\n")
				f.file(f.path("unified/c1/hugetlb.2MB.max"), "max")
			},
			r:    specs.LinuxResources{Unified: map[string]string{"hugetlb.2MB.max": "1048576"}},
			want: []string{"unified/c1/hugetlb.2MB.max=1048576"}},
		{name: "unified core file on a hybrid host",
			r:    specs.LinuxResources{Unified: map[string]string{"cgroup.freeze": "0"}},
			want: []string{"unified/c1/cgroup.freeze=0"}},
	})
}

func TestSetV2Writes(t *testing.T) {
	const c1 = "pod/c1/"
	enable := func(ctrls ...string) []string {
		var w []string
		for _, level := range []string{"", "pod/"} {
			for _, c := range ctrls {
				w = append(w, level+"cgroup.subtree_control=+"+c)
			}
		}
		return w
	}
	with := func(a []string, b ...string) []string { return append(slices.Clip(a), b...) }
	runSetCases(t, newFakeV2, []setCase{
		{name: "memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30), Reservation: ptr[int64](512 << 20), UseHierarchy: ptr(true),
		}}, want: with(enable("memory"),
			c1+"memory.swap.max=1073741824",
			c1+"memory.max=1073741824",
			c1+"memory.low=536870912")},
		{name: "unlimited memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: with(enable("memory"), c1+"memory.swap.max=max", c1+"memory.max=max")},
		{name: "kernel memory ignored", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 30), Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20),
		}}, want: with(enable("memory"), c1+"memory.max=1073741824")},
		{name: "kernel memory alone: nothing", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20),
		}}, want: nil},
		{name: "swap equal to the limit is no swap", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](1 << 30)}},
			want: with(enable("memory"), c1+"memory.swap.max=0", c1+"memory.max=1073741824")},
		{name: "no swap accounting: unlimited swap dropped",
			prepare: func(f *fakeTree) { os.Remove(f.path(c1 + "memory.swap.max")) },
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want:    with(enable("memory"), c1+"memory.max=max")},
		{name: "checkBeforeUpdate above usage", r: specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](16 << 20), Swap: ptr[int64](32 << 20), CheckBeforeUpdate: ptr(true),
		}}, want: with(enable("memory"), c1+"memory.swap.max=16777216", c1+"memory.max=16777216")},
		{name: "cpu", r: specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](20000), Period: ptr[uint64](50000), Burst: ptr[uint64](1000), Idle: ptr[int64](0),
		}}, want: with(enable("cpu"),
			c1+"cpu.idle=0",
			c1+"cpu.weight=59",
			c1+"cpu.max.burst=1000",
			c1+"cpu.max=20000 50000")},
		{name: "default shares are the default weight", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}},
			want: with(enable("cpu"), c1+"cpu.weight=100")},
		{name: "quota alone keeps the period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}},
			want: with(enable("cpu"), c1+"cpu.max=max")},
		{name: "period alone keeps the quota", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](20000)}},
			want: with(enable("cpu"), c1+"cpu.max=50000 20000")},
		{name: "cpuset", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0"}},
			want: with(enable("cpuset"), c1+"cpuset.cpus=0-1", c1+"cpuset.mems=0")},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want: with(enable("pids"), c1+"pids.max=max")},
		{name: "io without BFQ: io.weight, converted", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr[uint16](500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1048576}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 0}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 10}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 20}},
		}}, want: with(enable("io"),
			c1+"io.weight=4950",
			c1+"io.weight=8:0 2930",
			c1+"io.max=8:0 rbps=1048576",
			c1+"io.max=8:0 wbps=max",
			c1+"io.max=8:0 riops=10",
			c1+"io.max=8:0 wiops=20")},
		{name: "io with BFQ: same scale",
			prepare: func(f *fakeTree) { f.file(f.path(c1+"io.bfq.weight"), "default 100\n") },
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:       ptr[uint16](500),
				WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](300)}},
			}}, want: with(enable("io"), c1+"io.bfq.weight=500", c1+"io.bfq.weight=8:0 300")},
		{name: "hugetlb", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
			{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 1 << 30},
		}}, want: with(enable("hugetlb"),
			c1+"hugetlb.2MB.max=1073741824",
			c1+"hugetlb.2MB.rsvd.max=1073741824",
			c1+"hugetlb.1GB.max=1073741824")},
		{name: "rdma", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3)}}},
			want: with(enable("rdma"), c1+"rdma.max=mlx5_0 hca_handle=3 hca_object=max")},
		{name: "unified enables the key's controller; one write a line",
			prepare: func(f *fakeTree) { f.file(f.path(c1+"memory.high"), "max") },
			r: specs.LinuxResources{Unified: map[string]string{
				"memory.high": "1073741824", "io.max": "8:0 rbps=1\n8:16 wbps=2\n", "cgroup.freeze": "0",
			}},
			want: []string{
				"cgroup.subtree_control=+io", "cgroup.subtree_control=+memory",
				"pod/cgroup.subtree_control=+io", "pod/cgroup.subtree_control=+memory",
				c1 + "cgroup.freeze=0",
				c1 + "io.max=8:0 rbps=1",
				c1 + "io.max=8:16 wbps=2",
				c1 + "memory.high=1073741824",
			}},
		{name: "controllers already enabled are left",
			prepare: func(f *fakeTree) {
				f.file(f.path("cgroup.subtree_control"), "cpu memory pids\n")
				f.file(f.path("pod/cgroup.subtree_control"), "memory\n")
			},
			r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}, Pids: &specs.LinuxPids{Limit: ptr[int64](9)}},
			want: []string{
				"pod/cgroup.subtree_control=+pids",
				c1 + "memory.max=1048576",
				c1 + "pids.max=9",
			}},
	})
}

// badCase is a Set that must fail before writing anything.
type badCase struct {
	name    string
	v2      bool
	prepare func(f *fakeTree)
	r       specs.LinuxResources
	want    string // the whole error after "cgroups: ", with ROOT for the tree
}

func TestSetRefusesBeforeWriting(t *testing.T) {
	mem := func(m specs.LinuxMemory) specs.LinuxResources { return specs.LinuxResources{Memory: &m} }
	cpu := func(c specs.LinuxCPU) specs.LinuxResources { return specs.LinuxResources{CPU: &c} }
	blk := func(b specs.LinuxBlockIO) specs.LinuxResources { return specs.LinuxResources{BlockIO: &b} }
	devs := func(d ...specs.LinuxDeviceCgroup) specs.LinuxResources { return specs.LinuxResources{Devices: d} }
	// Every case also has a valid memory limit, so "nothing written" means
	// the check came before the first write, not that nothing was asked.
	tests := []badCase{
		// Values.
		{name: "memory limit", r: mem(specs.LinuxMemory{Limit: ptr[int64](-2)}),
			want: "linux.resources.memory.limit: -2 is not a limit (bytes, or -1 for none)"},
		{name: "memory reservation", r: mem(specs.LinuxMemory{Reservation: ptr[int64](-5)}),
			want: "linux.resources.memory.reservation: -5 is not a limit (bytes, or -1 for none)"},
		{name: "swap below limit", r: mem(specs.LinuxMemory{Limit: ptr[int64](200), Swap: ptr[int64](100)}),
			want: "linux.resources.memory.swap: 100 is below limit 200 (swap is memory+swap)"},
		{name: "swap with unlimited memory", r: mem(specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](100)}),
			want: "linux.resources.memory.swap: 100 with no memory limit (swap is memory+swap, so it needs a limit at most as large)"},
		{name: "swappiness", r: mem(specs.LinuxMemory{Swappiness: ptr[uint64](101)}),
			want: "linux.resources.memory.swappiness: 101 is out of range (0-100)"},
		{name: "shares low", r: cpu(specs.LinuxCPU{Shares: ptr[uint64](1)}), want: "linux.resources.cpu.shares: 1 is out of range (2-262144)"},
		{name: "shares high", r: cpu(specs.LinuxCPU{Shares: ptr[uint64](262145)}), want: "linux.resources.cpu.shares: 262145 is out of range (2-262144)"},
		{name: "quota small", r: cpu(specs.LinuxCPU{Quota: ptr[int64](999)}),
			want: "linux.resources.cpu.quota: 999 is out of range (at least 1000 µs, or -1 for none)"},
		{name: "quota negative", r: cpu(specs.LinuxCPU{Quota: ptr[int64](-2)}),
			want: "linux.resources.cpu.quota: -2 is out of range (at least 1000 µs, or -1 for none)"},
		{name: "period small", r: cpu(specs.LinuxCPU{Period: ptr[uint64](999)}), want: "linux.resources.cpu.period: 999 is out of range (1000-1000000 µs)"},
		{name: "period large", r: cpu(specs.LinuxCPU{Period: ptr[uint64](1000001)}), want: "linux.resources.cpu.period: 1000001 is out of range (1000-1000000 µs)"},
		{name: "burst above quota", r: cpu(specs.LinuxCPU{Quota: ptr[int64](10000), Burst: ptr[uint64](10001)}),
			want: "linux.resources.cpu.burst: 10001 is above quota 10000"},
		{name: "realtime runtime negative", r: cpu(specs.LinuxCPU{RealtimeRuntime: ptr[int64](-2)}),
			want: "linux.resources.cpu.realtimeRuntime: -2 is out of range (µs, or -1 for none)"},
		{name: "realtime runtime above period", r: cpu(specs.LinuxCPU{RealtimeRuntime: ptr[int64](2000), RealtimePeriod: ptr[uint64](1000)}),
			want: "linux.resources.cpu.realtimeRuntime: 2000 is above realtimePeriod 1000"},
		{name: "idle", r: cpu(specs.LinuxCPU{Idle: ptr[int64](2)}), want: "linux.resources.cpu.idle: 2 is neither 0 nor 1"},
		{name: "idle with shares", r: cpu(specs.LinuxCPU{Idle: ptr[int64](1), Shares: ptr[uint64](512)}),
			want: "linux.resources.cpu.shares: 512 with idle 1: an idle cgroup has no weight"},
		{name: "cpus offline", r: cpu(specs.LinuxCPU{Cpus: "2-7"}),
			want: `linux.resources.cpu.cpus: "2-7": CPU 4 is not online (ROOT/host/cpu-online: 0-3)`},
		{name: "cpus malformed", r: cpu(specs.LinuxCPU{Cpus: "0,,1"}),
			want: `linux.resources.cpu.cpus: "0,,1": "" is not a number or a range`},
		{name: "cpus reversed range", r: cpu(specs.LinuxCPU{Cpus: "3-1"}),
			want: `linux.resources.cpu.cpus: "3-1": "3-1" is not a number or a range`},
		{name: "mems offline", r: cpu(specs.LinuxCPU{Mems: "1"}),
			want: `linux.resources.cpu.mems: "1": memory node 1 is not online (ROOT/host/node-online: 0)`},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-2)}},
			want: "linux.resources.pids.limit: -2 is out of range (a number of tasks, or -1 for none)"},
		{name: "blkio weight low", r: blk(specs.LinuxBlockIO{Weight: ptr[uint16](9)}), want: "linux.resources.blockIO.weight: 9 is out of range (10-1000)"},
		{name: "blkio weight high", r: blk(specs.LinuxBlockIO{Weight: ptr[uint16](1001)}), want: "linux.resources.blockIO.weight: 1001 is out of range (10-1000)"},
		{name: "blkio leaf weight", r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](5)}), want: "linux.resources.blockIO.leafWeight: 5 is out of range (10-1000)"},
		{name: "blkio device weight", r: blk(specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: ptr[uint16](2000)}}}),
			want: "linux.resources.blockIO.weightDevice[0].weight: 2000 is out of range (10-1000)"},
		{name: "blkio device number", r: blk(specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0)}, {LinuxBlockIODevice: dev(-1, 0)}}}),
			want: "linux.resources.blockIO.throttleReadBpsDevice[1]: device -1:0 is not a block device number"},
		{name: "hugepage size", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "4MB", Limit: 1}}},
			want: `linux.resources.hugepageLimits[0].pageSize: "4MB" is not a huge page size of this host (1GB 2MB)`},
		{name: "interface name", r: specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth 0"}}}},
			want: `linux.resources.network.priorities[0].name: "eth 0" is not an interface name`},
		{name: "rdma device", r: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"": {}}},
			want: `linux.resources.rdma: "" is not an RDMA device name`},
		{name: "unified path", r: specs.LinuxResources{Unified: map[string]string{"memory/../../x.y": "1"}},
			want: `linux.resources.unified["memory/../../x.y"]: not a cgroup2 file name (controller.name)`},
		{name: "unified no controller", r: specs.LinuxResources{Unified: map[string]string{"max": "1"}},
			want: `linux.resources.unified["max"]: not a cgroup2 file name (controller.name)`},
		{name: "unified procs", r: specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}},
			want: `linux.resources.unified["cgroup.procs"]: moves or kills processes; it is not a resource`},
		{name: "device type", r: devs(specs.LinuxDeviceCgroup{Type: "p", Access: "r"}), want: `linux.resources.devices[0].type: "p" is not a, b or c`},
		{name: "device access", r: devs(specs.LinuxDeviceCgroup{Type: "c", Access: "rx"}),
			want: `linux.resources.devices[0].access: "rx" is not a combination of r, w and m`},
		{name: "device access twice", r: devs(specs.LinuxDeviceCgroup{Type: "c", Access: "rr"}),
			want: `linux.resources.devices[0].access: "rr" is not a combination of r, w and m`},
		{name: "device access empty", r: devs(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1)}),
			want: "linux.resources.devices[0].access: empty: give a combination of r, w and m"},
		{name: "device number", r: devs(specs.LinuxDeviceCgroup{Type: "c", Major: ptr[int64](-2), Access: "r"}),
			want: "linux.resources.devices[0]: device -2:-1: numbers are -1 (any) or more"},
		{name: "every device with numbers", r: devs(specs.LinuxDeviceCgroup{Type: "a", Major: ptr[int64](1), Access: "rwm"}),
			want: "linux.resources.devices[0]: a rule for every device (type a) always covers all numbers and access rwm; give neither numbers nor other access"},
		{name: "every device partly", r: devs(specs.LinuxDeviceCgroup{Allow: true, Access: "r"}),
			want: "linux.resources.devices[0]: a rule for every device (type a) always covers all numbers and access rwm; give neither numbers nor other access"},

		// What cgroup2 has no file for.
		{name: "v2 swappiness", v2: true, r: mem(specs.LinuxMemory{Swappiness: ptr[uint64](0)}),
			want: "linux.resources.memory.swappiness: cgroup2 has no per-cgroup swappiness"},
		{name: "v2 OOM killer", v2: true, r: mem(specs.LinuxMemory{DisableOOMKiller: ptr(true)}),
			want: "linux.resources.memory.disableOOMKiller: cgroup2 cannot disable the OOM killer of a cgroup"},
		{name: "v2 flat accounting", v2: true, r: mem(specs.LinuxMemory{UseHierarchy: ptr(false)}),
			want: "linux.resources.memory.useHierarchy: false: cgroup2 accounting is always hierarchical"},
		{name: "v2 swap without limit", v2: true, r: mem(specs.LinuxMemory{Swap: ptr[int64](1 << 20)}),
			want: "linux.resources.memory.swap: 1048576 without limit: cgroup2's memory.swap.max is swap alone, the difference of the two"},
		{name: "v2 realtime", v2: true, r: cpu(specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}),
			want: "linux.resources.cpu.realtimeRuntime: cgroup2 has no realtime group scheduling"},
		{name: "v2 leaf weight", v2: true, r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.leafWeight: cgroup2 has no leaf weight"},
		{name: "v2 network", v2: true, r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			want: "linux.resources.network: cgroup2 has no net_cls or net_prio controller (use eBPF or nftables on the cgroup)"},
		{name: "v2 controller missing", v2: true,
			prepare: func(f *fakeTree) { f.file(f.path("cgroup.controllers"), "cpu memory\n") },
			r:       specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}},
			want:    "linux.resources.pids.limit: the cgroup2 hierarchy has no pids controller (ROOT/cgroup/cgroup.controllers lists: cpu memory)"},

		// What this host lacks.
		{name: "hierarchy not mounted", prepare: func(f *fakeTree) { delete(f.m.paths, "net_cls") },
			r:    specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			want: "linux.resources.network.classID: no net_cls hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
		{name: "no swap accounting", prepare: func(f *fakeTree) { os.Remove(f.path("memory/c1/memory.memsw.limit_in_bytes")) },
			r:    mem(specs.LinuxMemory{Swap: ptr[int64](2 << 20)}),
			want: "linux.resources.memory.swap: ROOT/cgroup/memory/c1/memory.memsw.limit_in_bytes does not exist: swap accounting is off (the kernel needs CONFIG_MEMCG_SWAP and swapaccount=1)"},
		{name: "no leaf weight", r: blk(specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.leafWeight: ROOT/cgroup/blkio/c1/blkio.leaf_weight does not exist: leaf weights were CFQ's, which Linux 5.0 removed"},
		{name: "no weight at all", prepare: func(f *fakeTree) { os.Remove(f.path("blkio/c1/blkio.bfq.weight")) },
			r:    blk(specs.LinuxBlockIO{Weight: ptr[uint16](100)}),
			want: "linux.resources.blockIO.weight: ROOT/cgroup/blkio/c1/blkio.weight (nor blkio.bfq.weight) does not exist: no proportional-weight I/O scheduler: CFQ is gone since Linux 5.0 and BFQ is not loaded"},
		{name: "no burst", prepare: func(f *fakeTree) { os.Remove(f.path("cpu/c1/cpu.cfs_burst_us")) },
			r:    cpu(specs.LinuxCPU{Burst: ptr[uint64](1000)}),
			want: "linux.resources.cpu.burst: ROOT/cgroup/cpu/c1/cpu.cfs_burst_us does not exist: CPU burst needs Linux 5.14"},
		{name: "unified controller not enabled on a hybrid host", r: specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}},
			want: `linux.resources.unified["memory.max"]: ROOT/cgroup/unified/c1/memory.max does not exist: the memory controller is not enabled in the cgroup2 hierarchy of this hybrid host (enabled: none); its v1 hierarchy has it`},
		{name: "before Apply", prepare: func(f *fakeTree) { os.RemoveAll(f.path("pids/c1")) },
			r:    specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}},
			want: "linux.resources.pids.limit: stat ROOT/cgroup/pids/c1: no such file or directory (Set needs the cgroup Apply makes)"},
		{name: "checkBeforeUpdate", r: mem(specs.LinuxMemory{Limit: ptr[int64](4 << 20), CheckBeforeUpdate: ptr(true)}),
			want: "linux.resources.memory.limit: 4194304 is below the current usage 8388608 (ROOT/cgroup/memory/c1/memory.usage_in_bytes; memory.checkBeforeUpdate is set)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeV1
			if tc.v2 {
				fake = newFakeV2
			}
			f := fake(t)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			r := tc.r
			if r.Memory == nil {
				r.Memory = &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}
			}
			before := f.snapshot(t)
			err := f.m.Set(&r)
			want := "cgroups: " + strings.ReplaceAll(tc.want, "ROOT", f.root)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant   %s", err, want)
			}
			if len(f.writes) > 0 {
				t.Errorf("written before the error: %q", f.writes)
			}
			if after := f.snapshot(t); !maps.Equal(before, after) {
				t.Error("the tree changed")
			}
		})
	}
}

// On cgroup2 the controllers are enabled before the files are looked for,
// as they appear only then: a missing file fails after that, still before
// any limit is written.
func TestSetV2MissingFileAfterEnabling(t *testing.T) {
	f := newFakeV2(t)
	os.Remove(f.path("pod/c1/cpu.max.burst"))
	err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr[uint64](10)}})
	want := "cgroups: linux.resources.cpu.burst: " + f.path("pod/c1/cpu.max.burst") + " does not exist: CPU burst needs Linux 5.14"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
	if want := []string{"cgroup.subtree_control=+cpu", "pod/cgroup.subtree_control=+cpu"}; !slices.Equal(f.writes, want) {
		t.Errorf("writes = %q, want only %q", f.writes, want)
	}
}

// A write the kernel refuses names the field, the file and the value; the
// writes before it stay.
func TestSetWriteFailure(t *testing.T) {
	f := newFakeV1(t)
	pids := f.path("pids/c1/pids.max")
	os.Remove(pids)
	if err := os.Mkdir(pids, 0o755); err != nil { // open for writing fails: EISDIR
		t.Fatal(err)
	}
	err := f.m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](10)},
	})
	want := "cgroups: linux.resources.pids.limit: " + pids + ": write 10: is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
	if want := []string{"memory/c1/memory.limit_in_bytes=1073741824"}; !slices.Equal(f.writes, want) {
		t.Errorf("writes = %q, want %q", f.writes, want)
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "0", want: []int{0}},
		{in: "0-3", want: []int{0, 1, 2, 3}},
		{in: "0-1,4,6-7", want: []int{0, 1, 4, 6, 7}},
		{in: "", bad: true},
		{in: "1,", bad: true},
		{in: "a", bad: true},
		{in: "2-1", bad: true},
		{in: "-1", bad: true},
		{in: "0-", bad: true},
		{in: "99999999", bad: true},
	} {
		got, err := parseList(tc.in)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("parseList(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHugePageSizes(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"hugepages-64kB", "hugepages-2048kB", "hugepages-1048576kB", "not-a-size"} {
		if err := os.Mkdir(dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := hugePageSizes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1GB", "2MB", "64KB"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
