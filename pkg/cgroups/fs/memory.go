package fs

// linux.resources.memory, on v1 and cgroup2.

import (
	"fmt"
	"path/filepath"
	"strings"

	libcg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func (p *planner) memory(mem *specs.LinuxMemory) {
	if mem == nil {
		return
	}
	const f = res + "memory."
	// kernel and kernelTCP are ignored: see DropIgnored.
	limit, swap, resv := i64(mem.Limit), i64(mem.Swap), i64(mem.Reservation)
	p.limit(f+"limit", limit)
	p.limit(f+"swap", swap)
	p.limit(f+"reservation", resv)
	if mem.Swappiness != nil && *mem.Swappiness > 100 {
		p.bad(f+"swappiness", "%d is out of range (0-100)", *mem.Swappiness)
	}
	// swap is memory+swap: it cannot be below the memory limit.
	switch {
	case swap > 0 && limit > 0 && swap < limit:
		p.bad(f+"swap", "%d is below limit %d (swap is memory+swap)", swap, limit)
	case swap > 0 && limit == -1:
		p.bad(f+"swap", "%d with no memory limit (swap is memory+swap, so it needs a limit at most as large)", swap)
	}
	if p.v2 {
		p.memoryV2(mem, limit, swap, resv)
	} else {
		p.memoryV1(mem, limit, swap, resv)
	}
}

func (p *planner) memoryV1(mem *specs.LinuxMemory, limit, swap, resv int64) {
	const f = res + "memory."
	if limit == 0 && swap == 0 && resv == 0 &&
		mem.Swappiness == nil && mem.DisableOOMKiller == nil && mem.UseHierarchy == nil {
		return // checkBeforeUpdate alone checks nothing
	}
	dir, ok := p.dir("memory", f[:len(f)-1])
	if !ok {
		return
	}
	lim := step{field: f + "limit", dir: dir, file: "memory.limit_in_bytes", value: itoa(limit)}
	// Unlimited memory+swap restated without swap accounting changes
	// nothing, so a missing file is no error then.
	sw := step{field: f + "swap", dir: dir, file: "memory.memsw.limit_in_bytes", value: itoa(swap), optional: swap == -1}
	if limit == -1 && swap == 0 {
		// memory+swap may not be below memory: lifting the memory limit
		// lifts memory+swap too (none without swap accounting).
		sw.value, sw.optional = "-1", true
		swap = -1
	}
	switch {
	case limit != 0 && swap != 0:
		// The kernel keeps memory+swap >= memory at every write, so the
		// order depends on where the limit is now: raising memory+swap
		// above the current memory limit goes first, lowering it second.
		cur, err := readInt(filepath.Join(dir, "memory.limit_in_bytes"))
		if err != nil {
			p.bad(f+"swap", "%v", err)
			return
		}
		if swap == -1 || cur < swap {
			p.add(sw)
			p.add(lim)
		} else {
			p.add(lim)
			p.add(sw)
		}
	case limit != 0:
		p.add(lim)
	case swap != 0:
		p.add(sw)
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		p.checkUsage(f+"limit", limit, filepath.Join(dir, "memory.usage_in_bytes"))
		p.checkUsage(f+"swap", swap, filepath.Join(dir, "memory.memsw.usage_in_bytes"))
	}
	if resv != 0 {
		p.add(step{field: f + "reservation", dir: dir, file: "memory.soft_limit_in_bytes", value: itoa(resv)})
	}
	if mem.Swappiness != nil {
		p.add(step{field: f + "swappiness", dir: dir, file: "memory.swappiness", value: utoa(*mem.Swappiness)})
	}
	if mem.DisableOOMKiller != nil {
		p.add(step{field: f + "disableOOMKiller", dir: dir, file: "memory.oom_control", value: boolValue(*mem.DisableOOMKiller)})
	}
	if mem.UseHierarchy != nil {
		p.add(step{field: f + "useHierarchy", dir: dir, file: "memory.use_hierarchy", value: boolValue(*mem.UseHierarchy)})
	}
}

func (p *planner) memoryV2(mem *specs.LinuxMemory, limit, swap, resv int64) {
	const f = res + "memory."
	if mem.Swappiness != nil {
		p.bad(f+"swappiness", "cgroup2 has no per-cgroup swappiness")
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		p.bad(f+"disableOOMKiller", "cgroup2 cannot disable the OOM killer of a cgroup")
	}
	if mem.UseHierarchy != nil && !*mem.UseHierarchy {
		p.bad(f+"useHierarchy", "false: cgroup2 accounting is always hierarchical")
	}
	if swap > 0 && limit == 0 {
		p.bad(f+"swap", "%d without limit: cgroup2's memory.swap.max is swap alone, the difference of the two", swap)
	}
	if limit == 0 && swap == 0 && resv == 0 {
		return
	}
	dir, ok := p.dir("memory", f[:len(f)-1])
	if !ok {
		return
	}
	// memory.swap.max is swap alone; the library's conversion is runc's.
	v2swap, err := libcg.ConvertMemorySwapToCgroupV2Value(swap, limit)
	if err != nil {
		p.bad(f+"swap", "%d with limit %d: %v", swap, limit, err)
		return
	}
	switch {
	case v2swap != 0:
		// Unlimited swap restated without swap accounting changes nothing.
		p.add(step{field: f + "swap", dir: dir, file: "memory.swap.max", value: maxOr(v2swap), optional: v2swap == -1})
	case swap > 0:
		// swap == limit: no swap at all.
		p.add(step{field: f + "swap", dir: dir, file: "memory.swap.max", value: "0", optional: true})
	}
	if limit != 0 {
		p.add(step{field: f + "limit", dir: dir, file: "memory.max", value: maxOr(limit)})
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		p.checkUsage(f+"limit", limit, filepath.Join(dir, "memory.current"))
		if swap > 0 {
			cur, sw := filepath.Join(dir, "memory.current"), filepath.Join(dir, "memory.swap.current")
			p.checks = append(p.checks, func() error {
				return usageCheck(f+"swap", swap, cur, sw)
			})
		}
	}
	if resv != 0 {
		p.add(step{field: f + "reservation", dir: dir, file: "memory.low", value: maxOr(resv)})
	}
}

// checkUsage adds memory.checkBeforeUpdate's check of a new limit v
// against the usage file(s).
func (p *planner) checkUsage(field string, v int64, files ...string) {
	if v <= 0 {
		return
	}
	p.checks = append(p.checks, func() error { return usageCheck(field, v, files...) })
}

func usageCheck(field string, v int64, files ...string) error {
	var used int64
	for _, file := range files {
		n, err := readInt(file)
		if err != nil {
			return fmt.Errorf("cgroups: %s: checkBeforeUpdate: %w", field, err)
		}
		used += n
	}
	if v < used {
		return fmt.Errorf("cgroups: %s: %d is below the current usage %d (%s; memory.checkBeforeUpdate is set)",
			field, v, used, strings.Join(files, " + "))
	}
	return nil
}
