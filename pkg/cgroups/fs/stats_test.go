package fs

import (
	"encoding/json"
	"testing"

	libcg "github.com/opencontainers/cgroups"
)

// The JSON is runc's events --stats data: the names below are runc's
// types.Stats tags.
func TestStatsJSONIsRuncs(t *testing.T) {
	in := libcg.NewStats()
	in.CpuStats.CpuUsage = libcg.CpuUsage{TotalUsage: 10, PercpuUsage: []uint64{4, 6}, PercpuUsageInKernelmode: []uint64{1, 2},
		PercpuUsageInUsermode: []uint64{3, 4}, UsageInKernelmode: 3, UsageInUsermode: 7}
	in.CpuStats.ThrottlingData = libcg.ThrottlingData{Periods: 5, ThrottledPeriods: 2, ThrottledTime: 900}
	in.CPUSetStats = libcg.CPUSetStats{CPUs: []uint16{0, 1}, Mems: []uint16{0}, SchedLoadBalance: 1}
	in.MemoryStats.Cache = 4096
	in.MemoryStats.Usage = libcg.MemoryData{Usage: 100, MaxUsage: 200, Failcnt: 1, Limit: 1000}
	in.MemoryStats.SwapUsage = libcg.MemoryData{Usage: 150, Limit: 2000}
	in.MemoryStats.KernelUsage = libcg.MemoryData{Usage: 7}
	in.MemoryStats.KernelTCPUsage = libcg.MemoryData{Usage: 8}
	in.MemoryStats.Stats["rss"] = 64
	in.PidsStats = libcg.PidsStats{Current: 3, Limit: 10}
	in.BlkioStats.IoServiceBytesRecursive = []libcg.BlkioStatEntry{{Major: 8, Minor: 0, Op: "Read", Value: 512}}
	in.BlkioStats.IoQueuedRecursive = []libcg.BlkioStatEntry{{Major: 8, Op: "Total", Value: 1}}
	in.HugetlbStats["2MB"] = libcg.HugetlbStats{Usage: 2097152, MaxUsage: 4194304, Failcnt: 1}

	got, err := json.Marshal(convertStats(in))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"cpu":{"usage":{"total":10,"percpu":[4,6],"percpu_kernel":[1,2],"percpu_user":[3,4],"kernel":3,"user":7},` +
		`"throttling":{"periods":5,"throttledPeriods":2,"throttledTime":900}},` +
		`"cpuset":{"cpus":[0,1],"cpu_exclusive":0,"mems":[0],"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,` +
		`"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":1,"sched_relax_domain_level":0},` +
		`"memory":{"cache":4096,"usage":{"limit":1000,"usage":100,"max":200,"failcnt":1},"swap":{"limit":2000,"usage":150,"failcnt":0},` +
		`"kernel":{"limit":0,"usage":7,"failcnt":0},"kernelTCP":{"limit":0,"usage":8,"failcnt":0},"raw":{"rss":64}},` +
		`"pids":{"current":3,"limit":10},` +
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":512}],"ioQueueRecursive":[{"major":8,"op":"Total","value":1}]},` +
		`"hugetlb":{"2MB":{"usage":2097152,"max":4194304,"failcnt":1}},"intel_rdt":{},"network_interfaces":null}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
