package fs

import (
	"os"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.cpu: the cpu controller (cfs and rt bandwidth, with their retried order) and cpuset.

func TestCPUV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
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
	})
}

func TestCPUV2(t *testing.T) {
	const c1 = "pod/c1/"
	runSetCases(t, newFakeV2, []setCase{
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
	})
}

func TestCPURefused(t *testing.T) {
	cpu := func(c specs.LinuxCPU) specs.LinuxResources { return specs.LinuxResources{CPU: &c} }
	runBadCases(t, []badCase{
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
		{name: "v2 realtime", v2: true, r: cpu(specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}),
			want: "linux.resources.cpu.realtimeRuntime: cgroup2 has no realtime group scheduling"},
		{name: "no burst", prepare: func(f *fakeTree) { os.Remove(f.Path("cpu/c1/cpu.cfs_burst_us")) },
			r:    cpu(specs.LinuxCPU{Burst: ptr[uint64](1000)}),
			want: "linux.resources.cpu.burst: ROOT/cgroup/cpu/c1/cpu.cfs_burst_us does not exist: CPU burst needs Linux 5.14"},
	})
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
