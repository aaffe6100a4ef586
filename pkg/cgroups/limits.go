package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	libcg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// The builders below turn one linux.resources section each into steps,
// v1 or cgroup2, validating as they go. They read only what exists before
// any write: host files, and on v1 the current value a write order depends
// on.

const res = "linux.resources."

// i64 and u64 read an optional number, nil being 0 (unset).
func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func u64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// maxOr is cgroup2's spelling of a v1 limit: -1 is "max".
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

// limit checks a byte limit that is -1 (none), 0 (unset) or positive.
func (p *planner) limit(field string, v int64) {
	if v < -1 {
		p.bad(field, "%d is not a limit (bytes, or -1 for none)", v)
	}
}

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

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// readInt reads a cgroup file holding one integer.
func readInt(path string) (int64, error) {
	data, err := readFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimSpace(string(data))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %q is not a number", path, s)
	}
	return v, nil
}

func (p *planner) cpu(c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	const f = res + "cpu."
	shares, quota, period := u64(c.Shares), i64(c.Quota), u64(c.Period)
	rtRuntime, rtPeriod := i64(c.RealtimeRuntime), u64(c.RealtimePeriod)
	if shares != 0 && (shares < 2 || shares > 262144) {
		p.bad(f+"shares", "%d is out of range (2-262144)", shares)
	}
	if quota < -1 || (quota > 0 && quota < 1000) {
		p.bad(f+"quota", "%d is out of range (at least 1000 µs, or -1 for none)", quota)
	}
	if period != 0 && (period < 1000 || period > 1000000) {
		p.bad(f+"period", "%d is out of range (1000-1000000 µs)", period)
	}
	if c.Burst != nil && quota > 0 && *c.Burst > uint64(quota) {
		p.bad(f+"burst", "%d is above quota %d", *c.Burst, quota)
	}
	if rtRuntime < -1 {
		p.bad(f+"realtimeRuntime", "%d is out of range (µs, or -1 for none)", rtRuntime)
	}
	if rtRuntime > 0 && rtPeriod != 0 && uint64(rtRuntime) > rtPeriod {
		p.bad(f+"realtimeRuntime", "%d is above realtimePeriod %d", rtRuntime, rtPeriod)
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		p.bad(f+"idle", "%d is neither 0 nor 1", *c.Idle)
	}
	if c.Idle != nil && *c.Idle == 1 && shares != 0 {
		// The kernel refuses a weight for an idle group.
		p.bad(f+"shares", "%d with idle 1: an idle cgroup has no weight", shares)
	}
	if shares == 0 && quota == 0 && period == 0 && c.Burst == nil && rtRuntime == 0 && rtPeriod == 0 && c.Idle == nil {
		return
	}
	dir, ok := p.dir("cpu", f[:len(f)-1])
	if !ok {
		return
	}
	if c.Idle != nil {
		// Before the weight: a group leaving idle takes one again only then.
		p.add(step{field: f + "idle", dir: dir, file: "cpu.idle", value: itoa(*c.Idle)})
	}
	if p.v2 {
		p.cpuV2(c, dir, shares, quota, period)
		return
	}
	if shares != 0 {
		p.add(step{field: f + "shares", dir: dir, file: "cpu.shares", value: utoa(shares)})
	}
	// The kernel checks the period and the burst against the current quota
	// (and the parent's), so either may be refused until the new quota is
	// in: retried after it.
	bw := "cfs"
	if quota == 0 {
		bw = ""
	}
	if period != 0 {
		p.add(step{field: f + "period", dir: dir, file: "cpu.cfs_period_us", value: utoa(period), group: bw, retry: true})
	}
	if c.Burst != nil {
		p.add(step{field: f + "burst", dir: dir, file: "cpu.cfs_burst_us", value: utoa(*c.Burst), group: bw, retry: true, optional: *c.Burst == 0})
	}
	if quota != 0 {
		p.add(step{field: f + "quota", dir: dir, file: "cpu.cfs_quota_us", value: itoa(quota), group: bw})
	}
	// Likewise the realtime period against the current runtime.
	rt := "rt"
	if rtRuntime == 0 {
		rt = ""
	}
	if rtPeriod != 0 {
		p.add(step{field: f + "realtimePeriod", dir: dir, file: "cpu.rt_period_us", value: utoa(rtPeriod), group: rt, retry: true})
	}
	if rtRuntime != 0 {
		p.add(step{field: f + "realtimeRuntime", dir: dir, file: "cpu.rt_runtime_us", value: itoa(rtRuntime), group: rt})
	}
}

func (p *planner) cpuV2(c *specs.LinuxCPU, dir string, shares uint64, quota int64, period uint64) {
	const f = res + "cpu."
	if i64(c.RealtimeRuntime) != 0 {
		p.bad(f+"realtimeRuntime", "cgroup2 has no realtime group scheduling")
	}
	if u64(c.RealtimePeriod) != 0 {
		p.bad(f+"realtimePeriod", "cgroup2 has no realtime group scheduling")
	}
	if shares != 0 {
		p.add(step{field: f + "shares", dir: dir, file: "cpu.weight", value: utoa(libcg.ConvertCPUSharesToCgroupV2Value(shares))})
	}
	bw := "cfs"
	if quota == 0 && period == 0 {
		bw = ""
	}
	if c.Burst != nil {
		p.add(step{field: f + "burst", dir: dir, file: "cpu.max.burst", value: utoa(*c.Burst), group: bw, retry: true, optional: *c.Burst == 0})
	}
	switch {
	case period == 0 && quota != 0:
		// One number in cpu.max sets the quota and keeps the period.
		p.add(step{field: f + "quota", dir: dir, file: "cpu.max", value: maxOr(quota), group: bw})
	case period != 0:
		field := f + "period"
		s := step{field: field, dir: dir, file: "cpu.max", group: bw}
		if quota != 0 {
			s.field = f + "quota"
			s.value = maxOr(quota) + " " + utoa(period)
		} else {
			// A period alone keeps the quota, which cpu.max must restate.
			path := filepath.Join(dir, "cpu.max")
			s.valueFn = func() (string, error) {
				data, err := readFile(path)
				if err != nil {
					return "", fmt.Errorf("read %s: %w", path, err)
				}
				cur, _, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
				return cur + " " + utoa(period), nil
			}
		}
		p.add(s)
	}
}

func (p *planner) cpuset(c *specs.LinuxCPU) {
	if c == nil || (c.Cpus == "" && c.Mems == "") {
		return
	}
	const f = res + "cpu."
	h := p.m.hostFiles()
	if c.Cpus != "" {
		p.cpuList(f+"cpus", c.Cpus, h.cpuOnline, "CPUs")
	}
	if c.Mems != "" {
		p.cpuList(f+"mems", c.Mems, h.nodeOnline, "memory nodes")
	}
	field := f + "cpus"
	if c.Cpus == "" {
		field = f + "mems"
	}
	dir, ok := p.dir("cpuset", field)
	if !ok {
		return
	}
	if c.Cpus != "" {
		p.add(step{field: f + "cpus", dir: dir, file: "cpuset.cpus", value: c.Cpus})
	}
	if c.Mems != "" {
		p.add(step{field: f + "mems", dir: dir, file: "cpuset.mems", value: c.Mems})
	}
}

// cpuList checks a cpus or mems list against the host's online ones in
// the file online.
func (p *planner) cpuList(field, list, online, what string) {
	want, err := parseList(list)
	if err != nil {
		p.bad(field, "%q: %v", list, err)
		return
	}
	data, err := readFile(online)
	if os.IsNotExist(err) && what == "memory nodes" {
		data = []byte("0") // a kernel without NUMA has node 0 only
	} else if err != nil {
		p.bad(field, "read %s: %v", online, err)
		return
	}
	have, err := parseList(strings.TrimSpace(string(data)))
	if err != nil {
		p.bad(field, "parse %s: %v", online, err)
		return
	}
	for _, n := range want {
		if !slices.Contains(have, n) {
			p.bad(field, "%q: %s %d is not online (%s: %s)", list, strings.TrimSuffix(what, "s"), n, online, strings.TrimSpace(string(data)))
			return
		}
	}
}

// parseList parses the kernel's list format: "0-3,5,7-8".
func parseList(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number or a range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a number or a range", part)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, int(n))
		}
	}
	return out, nil
}

func (p *planner) pids(pids *specs.LinuxPids) {
	if pids == nil || pids.Limit == nil {
		return
	}
	const f = res + "pids.limit"
	v := *pids.Limit
	value := itoa(v)
	switch {
	case v < -1:
		p.bad(f, "%d is out of range (a number of tasks, or -1 for none)", v)
	case v == -1:
		value = "max"
	case v == 0:
		value = "1" // systemd has no TasksMax=0; runc writes 1 too
	}
	if dir, ok := p.dir("pids", f); ok {
		p.add(step{field: f, dir: dir, file: "pids.max", value: value})
	}
}

// weight checks a blkio weight (10-1000, 0 unset).
func (p *planner) weight(field string, w *uint16) uint16 {
	if w == nil || *w == 0 {
		return 0
	}
	if *w < 10 || *w > 1000 {
		p.bad(field, "%d is out of range (10-1000)", *w)
	}
	return *w
}

// device checks a block device's numbers.
func (p *planner) device(field string, d specs.LinuxBlockIODevice) string {
	if d.Major < 0 || d.Minor < 0 {
		p.bad(field, "device %d:%d is not a block device number", d.Major, d.Minor)
	}
	return fmt.Sprintf("%d:%d", d.Major, d.Minor)
}

// blkio is linux.resources.blockIO, checked, for either hierarchy.
type blkio struct {
	weight, leaf uint16
	devices      []devWeight
	throttles    []throttle
}

// devWeight is one weightDevice entry; field names it in errors.
type devWeight struct {
	field, dev string
	w, leaf    uint16
}

// throttle is one throttle*Device entry with its v1 file and io.max key.
type throttle struct {
	field, dev, v1file, v2key string
	rate                      uint64
}

const blockIOField = res + "blockIO."

func (p *planner) blockIO(b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	const f = blockIOField
	bio := blkio{weight: p.weight(f+"weight", b.Weight), leaf: p.weight(f+"leafWeight", b.LeafWeight)}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf("%sweightDevice[%d]", f, i)
		dw := devWeight{field: field, dev: p.device(field, wd.LinuxBlockIODevice)}
		dw.w = p.weight(field+".weight", wd.Weight)
		dw.leaf = p.weight(field+".leafWeight", wd.LeafWeight)
		bio.devices = append(bio.devices, dw)
	}
	for _, t := range []struct {
		name, v1file, v2key string
		list                []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	} {
		for i, td := range t.list {
			field := fmt.Sprintf("%s%s[%d]", f, t.name, i)
			bio.throttles = append(bio.throttles, throttle{field, p.device(field, td.LinuxBlockIODevice), t.v1file, t.v2key, td.Rate})
		}
	}
	switch {
	case bio.weight == 0 && bio.leaf == 0 && len(bio.devices) == 0 && len(bio.throttles) == 0:
	case p.v2:
		p.ioV2(bio)
	default:
		p.blkioV1(bio)
	}
}

// ioV2 plans blockIO on cgroup2's io controller.
func (p *planner) ioV2(bio blkio) {
	const f = blockIOField
	if bio.leaf != 0 {
		p.bad(f+"leafWeight", "cgroup2 has no leaf weight")
	}
	for _, dw := range bio.devices {
		if dw.leaf != 0 {
			p.bad(dw.field+".leafWeight", "cgroup2 has no leaf weight")
		}
	}
	dir, ok := p.dir("io", f[:len(f)-1])
	if !ok {
		return
	}
	// BFQ's weight has the blkio scale; io.weight (the iocost
	// controller's) has 1-10000 and takes runc's conversion.
	if bio.weight != 0 {
		p.add(step{field: f + "weight", dir: dir, file: "io.bfq.weight", value: utoa(uint64(bio.weight)),
			alt: "io.weight", altValue: utoa(libcg.ConvertBlkIOToIOWeightValue(bio.weight))})
	}
	for _, dw := range bio.devices {
		if dw.w != 0 {
			p.add(step{field: dw.field + ".weight", dir: dir, file: "io.bfq.weight", value: dw.dev + " " + utoa(uint64(dw.w)),
				alt: "io.weight", altValue: dw.dev + " " + utoa(libcg.ConvertBlkIOToIOWeightValue(dw.w))})
		}
	}
	for _, t := range bio.throttles {
		rate := "max" // v1 takes 0 as no limit
		if t.rate != 0 {
			rate = utoa(t.rate)
		}
		p.add(step{field: t.field, dir: dir, file: "io.max", value: t.dev + " " + t.v2key + "=" + rate})
	}
}

// blkioV1 plans blockIO on the v1 blkio hierarchy: CFQ's files if the
// kernel still has them, else BFQ's.
func (p *planner) blkioV1(bio blkio) {
	const f = blockIOField
	dir, ok := p.dir("blkio", f[:len(f)-1])
	if !ok {
		return
	}
	if bio.weight != 0 {
		p.add(step{field: f + "weight", dir: dir, file: "blkio.weight", value: utoa(uint64(bio.weight)),
			alt: "blkio.bfq.weight", altValue: utoa(uint64(bio.weight))})
	}
	if bio.leaf != 0 {
		p.add(step{field: f + "leafWeight", dir: dir, file: "blkio.leaf_weight", value: utoa(uint64(bio.leaf))})
	}
	for _, dw := range bio.devices {
		if dw.w != 0 {
			v := dw.dev + " " + utoa(uint64(dw.w))
			p.add(step{field: dw.field + ".weight", dir: dir, file: "blkio.weight_device", value: v, alt: "blkio.bfq.weight_device", altValue: v})
		}
		if dw.leaf != 0 {
			p.add(step{field: dw.field + ".leafWeight", dir: dir, file: "blkio.leaf_weight_device", value: dw.dev + " " + utoa(uint64(dw.leaf))})
		}
	}
	for _, t := range bio.throttles {
		p.add(step{field: t.field, dir: dir, file: t.v1file, value: t.dev + " " + utoa(t.rate)})
	}
}

func (p *planner) hugetlb(limits []specs.LinuxHugepageLimit) {
	if len(limits) == 0 {
		return
	}
	sizes, err := hugePageSizes(p.m.hostFiles().hugepages)
	if err != nil {
		p.bad(res+"hugepageLimits", "%v", err)
		return
	}
	for i, l := range limits {
		if !slices.Contains(sizes, l.Pagesize) {
			p.bad(fmt.Sprintf("%shugepageLimits[%d].pageSize", res, i), "%q is not a huge page size of this host (%s)", l.Pagesize, listOrNone(sizes))
		}
	}
	dir, ok := p.dir("hugetlb", res+"hugepageLimits")
	if !ok {
		return
	}
	limit, rsvd := "limit_in_bytes", "rsvd.limit_in_bytes"
	if p.v2 {
		limit, rsvd = "max", "rsvd.max"
	}
	for i, l := range limits {
		field := fmt.Sprintf("%shugepageLimits[%d]", res, i)
		v := utoa(l.Limit)
		p.add(step{field: field, dir: dir, file: "hugetlb." + l.Pagesize + "." + limit, value: v})
		// The spec limits reservations too where the kernel has them
		// (5.7+): otherwise a mapping can reserve pages it may not fault in.
		p.add(step{field: field, dir: dir, file: "hugetlb." + l.Pagesize + "." + rsvd, value: v, optional: true})
	}
}

// hugePageSizes lists the host's huge page sizes as the hugetlb files name
// them ("2MB", "1GB") from dir (/sys/kernel/mm/hugepages).
func hugePageSizes(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sizes []string
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		kb, ok2 := strings.CutSuffix(kb, "kB")
		n, err := strconv.ParseUint(kb, 10, 64)
		if !ok || !ok2 || err != nil {
			continue
		}
		switch {
		case n%(1<<20) == 0:
			sizes = append(sizes, utoa(n>>20)+"GB")
		case n%(1<<10) == 0:
			sizes = append(sizes, utoa(n>>10)+"MB")
		default:
			sizes = append(sizes, utoa(n)+"KB")
		}
	}
	return sizes, nil
}

func (p *planner) network(n *specs.LinuxNetwork) {
	if n == nil || (n.ClassID == nil && len(n.Priorities) == 0) {
		return
	}
	const f = res + "network."
	for i, pr := range n.Priorities {
		if pr.Name == "" || strings.ContainsAny(pr.Name, " \t\n/") {
			p.bad(fmt.Sprintf("%spriorities[%d].name", f, i), "%q is not an interface name", pr.Name)
		}
	}
	if p.v2 {
		p.bad(f[:len(f)-1], "cgroup2 has no net_cls or net_prio controller (use eBPF or nftables on the cgroup)")
		return
	}
	if n.ClassID != nil {
		if dir, ok := p.dir("net_cls", f+"classID"); ok {
			p.add(step{field: f + "classID", dir: dir, file: "net_cls.classid", value: utoa(uint64(*n.ClassID))})
		}
	}
	if len(n.Priorities) > 0 {
		dir, ok := p.dir("net_prio", f+"priorities")
		if !ok {
			return
		}
		for i, pr := range n.Priorities {
			p.add(step{field: fmt.Sprintf("%spriorities[%d]", f, i), dir: dir, file: "net_prio.ifpriomap", value: pr.Name + " " + utoa(uint64(pr.Priority))})
		}
	}
}

func (p *planner) rdma(r map[string]specs.LinuxRdma) {
	if len(r) == 0 {
		return
	}
	for _, dev := range slices.Sorted(maps.Keys(r)) {
		if dev == "" || strings.ContainsAny(dev, " \t\n=") {
			p.bad(res+"rdma", "%q is not an RDMA device name", dev)
		}
	}
	dir, ok := p.dir("rdma", res+"rdma")
	if !ok {
		return
	}
	num := func(v *uint32) string {
		if v == nil {
			return "max"
		}
		return utoa(uint64(*v))
	}
	for _, dev := range slices.Sorted(maps.Keys(r)) {
		l := r[dev]
		p.add(step{field: fmt.Sprintf("%srdma[%q]", res, dev), dir: dir, file: "rdma.max",
			value: fmt.Sprintf("%s hca_handle=%s hca_object=%s", dev, num(l.HcaHandles), num(l.HcaObjects))})
	}
}

func (p *planner) unified(u map[string]string) {
	if len(u) == 0 {
		return
	}
	dir, ok := p.m.paths[""]
	if !ok {
		p.bad(res+"unified", "the host has no cgroup2 hierarchy")
		return
	}
	var avail []string
	if !p.v2 {
		// Hybrid: whatever the unified mount has is all there is.
		data, _ := readFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
		avail = strings.Fields(string(data))
	}
	for _, key := range slices.Sorted(maps.Keys(u)) {
		field := fmt.Sprintf("%sunified[%q]", res, key)
		ctrl, _, ok := strings.Cut(key, ".")
		switch {
		case !ok || ctrl == "" || strings.ContainsAny(key, "/\x00") || key == "." || key == "..":
			p.bad(field, "not a cgroup2 file name (controller.name)")
			continue
		case key == "cgroup.procs" || key == "cgroup.threads" || key == "cgroup.kill":
			p.bad(field, "moves or kills processes; it is not a resource")
			continue
		}
		hint := ""
		if p.v2 {
			// A controller the hierarchy has is enabled like a field's.
			if slices.Contains(p.avail, ctrl) {
				p.dir(ctrl, field)
			} else if ctrl != "cgroup" {
				hint = fmt.Sprintf("the cgroup2 hierarchy has no %s controller (it has: %s)", ctrl, listOrNone(p.avail))
			}
		} else if ctrl != "cgroup" && !slices.Contains(avail, ctrl) {
			hint = fmt.Sprintf("the %s controller is not enabled in the cgroup2 hierarchy of this hybrid host (enabled: %s); its v1 hierarchy has it", ctrl, listOrNone(avail))
		}
		// A multi-line value (io.max for several devices) is one write a
		// line, as the kernel parses one line per write.
		for line := range strings.SplitSeq(u[key], "\n") {
			if strings.TrimSpace(line) == "" && strings.Contains(u[key], "\n") {
				continue
			}
			p.add(step{field: field, dir: dir, file: key, value: line, hint: hint})
		}
	}
}
