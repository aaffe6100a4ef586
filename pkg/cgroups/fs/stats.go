package fs

// Stats, read by the library and converted to runc's events shape.

import (
	"fmt"
	"maps"
	"strings"

	libcg "github.com/opencontainers/cgroups"
	libfs "github.com/opencontainers/cgroups/fs"

	"github.com/rtkit/rt/pkg/cgroups"
)

// Stats reads the counters with the library: on a host with v1
// hierarchies from those (the cgroup2 directory of a hybrid host has no
// counters worth adding), on a pure cgroup2 host from the cgroup2
// directory, which yields whatever controllers are enabled there (pids
// falls back to counting cgroup.procs).
func (m *Manager) Stats() (*cgroups.Stats, error) {
	var (
		st  *libcg.Stats
		err error
	)
	if IsPureV2(m.paths) {
		dir := m.paths[""]
		fm, ferr := fs2Manager(dir)
		if ferr != nil {
			return nil, fmt.Errorf("cgroups: stats of %s: %w", dir, ferr)
		}
		if st, err = fm.GetStats(); err != nil {
			return nil, fmt.Errorf("cgroups: stats of %s: %w", dir, err)
		}
		return convertStats(st), nil
	}
	v1 := maps.Clone(m.paths)
	for k := range v1 {
		if k == "" || strings.HasPrefix(k, "name=") {
			delete(v1, k)
		}
	}
	if len(v1) == 0 {
		return nil, fmt.Errorf("cgroups: stats: %w", cgroups.ErrNoCgroup)
	}
	fm, err := libfs.NewManager(&libcg.Cgroup{Resources: &libcg.Resources{}}, v1)
	if err != nil {
		return nil, fmt.Errorf("cgroups: stats: %w", err)
	}
	if st, err = fm.GetStats(); err != nil {
		return nil, fmt.Errorf("cgroups: stats: %w", err) // the library's errors name the file
	}
	return convertStats(st), nil
}

// convertStats maps the library's stats to runc's events shape, field by
// field as runc's own conversion does.
func convertStats(s *libcg.Stats) *cgroups.Stats {
	mem := func(d libcg.MemoryData) cgroups.MemoryEntry {
		return cgroups.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
	}
	blk := func(l []libcg.BlkioStatEntry) []cgroups.BlkioEntry {
		var out []cgroups.BlkioEntry
		for _, e := range l {
			out = append(out, cgroups.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return out
	}
	c := s.CpuStats
	out := &cgroups.Stats{
		CPU: cgroups.CPUStats{
			Usage: cgroups.CPUUsage{
				Total:        c.CpuUsage.TotalUsage,
				Percpu:       c.CpuUsage.PercpuUsage,
				PercpuKernel: c.CpuUsage.PercpuUsageInKernelmode,
				PercpuUser:   c.CpuUsage.PercpuUsageInUsermode,
				Kernel:       c.CpuUsage.UsageInKernelmode,
				User:         c.CpuUsage.UsageInUsermode,
			},
			Throttling: cgroups.Throttling{
				Periods:          c.ThrottlingData.Periods,
				ThrottledPeriods: c.ThrottlingData.ThrottledPeriods,
				ThrottledTime:    c.ThrottlingData.ThrottledTime,
			},
			PSI: c.PSI,
		},
		CPUSet: cgroups.CPUSetStats(s.CPUSetStats),
		Memory: cgroups.MemoryStats{
			Cache:     s.MemoryStats.Cache,
			Usage:     mem(s.MemoryStats.Usage),
			Swap:      mem(s.MemoryStats.SwapUsage),
			Kernel:    mem(s.MemoryStats.KernelUsage),
			KernelTCP: mem(s.MemoryStats.KernelTCPUsage),
			Raw:       s.MemoryStats.Stats,
			PSI:       s.MemoryStats.PSI,
		},
		Pids: cgroups.PidsStats{Current: s.PidsStats.Current, Limit: s.PidsStats.Limit},
		Blkio: cgroups.BlkioStats{
			IoServiceBytesRecursive: blk(s.BlkioStats.IoServiceBytesRecursive),
			IoServicedRecursive:     blk(s.BlkioStats.IoServicedRecursive),
			IoQueuedRecursive:       blk(s.BlkioStats.IoQueuedRecursive),
			IoServiceTimeRecursive:  blk(s.BlkioStats.IoServiceTimeRecursive),
			IoWaitTimeRecursive:     blk(s.BlkioStats.IoWaitTimeRecursive),
			IoMergedRecursive:       blk(s.BlkioStats.IoMergedRecursive),
			IoTimeRecursive:         blk(s.BlkioStats.IoTimeRecursive),
			SectorsRecursive:        blk(s.BlkioStats.SectorsRecursive),
			PSI:                     s.BlkioStats.PSI,
		},
		Hugetlb: make(map[string]cgroups.HugetlbStats, len(s.HugetlbStats)),
	}
	for size, h := range s.HugetlbStats {
		out.Hugetlb[size] = cgroups.HugetlbStats{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out
}
