package cgroups

import libcg "github.com/opencontainers/cgroups"

// Stats is the "data" of runc's events --stats: its JSON is that of runc's
// types.Stats field for field, so tools that parse runc's output parse
// rt's. Like runc's, most numbers are omitted when zero and the sections
// are always there.
//
// Caveats: rt has no Intel RDT support, so IntelRdt is always empty (runc
// prints the same "{}" on hosts without it). NetworkInterfaces is never
// filled here: the counters live in the container's network namespace,
// not its cgroup, so the caller adds them. Memory has no event_count: the
// cgroups library rt reads the files with does not collect it.
type Stats struct {
	CPU               CPUStats                `json:"cpu"`
	CPUSet            CPUSetStats             `json:"cpuset"`
	Memory            MemoryStats             `json:"memory"`
	Pids              PidsStats               `json:"pids"`
	Blkio             BlkioStats              `json:"blkio"`
	Hugetlb           map[string]HugetlbStats `json:"hugetlb"` // by page size ("2MB")
	IntelRdt          struct{}                `json:"intel_rdt"`
	NetworkInterfaces []*NetworkInterface     `json:"network_interfaces"`
}

// CPUStats is CPU time used and throttling. Times are nanoseconds.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	// PSI is pressure stall information: cgroup2 only, nil on v1.
	PSI *PSIStats `json:"psi,omitempty"`
}

// CPUUsage is CPU time in nanoseconds since the cgroup was made. On
// cgroup2 there is no per-CPU split, so the Percpu lists are empty.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Throttling counts the CFS periods the cgroup ran in and was throttled in;
// ThrottledTime is nanoseconds.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUSetStats is the v1 cpuset's settings (empty on cgroup2, as in runc).
type CPUSetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryStats is memory use in bytes. Swap is memory+swap, as v1's memsw
// files count it (on cgroup2 the library adds memory to swap to match).
// Raw is memory.stat as the kernel names it, which differs between v1 and
// v2.
type MemoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// MemoryEntry is one memory counter: current use, its peak, its limit (a
// huge number when none) and how often the limit was hit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats is the number of tasks and their limit (0: none).
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats is block I/O per device and operation, from the v1 blkio
// files or cgroup2's io.stat (which fills only the first two lists).
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

// BlkioEntry is one counter of one device ("Read", "Write", … in Op).
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// HugetlbStats is the use of one huge page size in bytes.
type HugetlbStats struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PSIStats is cgroup2's pressure stall information of one resource.
type PSIStats = libcg.PSIStats

// NetworkInterface is one interface's counters (see Stats: the caller
// fills them). runc gives its fields no JSON names, so neither does rt.
type NetworkInterface struct {
	Name string

	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}
