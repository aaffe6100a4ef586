package systemd

import (
	"fmt"
	"math"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	libcg "github.com/opencontainers/cgroups"
	sdlib "github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups/fs"
)

// infinity is systemd's "no limit" in a uint64 property (CGROUP_LIMIT_MAX,
// USEC_INFINITY): what -1 is in the spec.
const infinity = uint64(math.MaxUint64)

// defaultCPUPeriod is the kernel's CFS period (µs), the one a quota given
// without a period is relative to.
const defaultCPUPeriod = 100000

// Versions of systemd that introduced the properties the conversion
// depends on; older ones refuse the properties, so they are left out
// there (the files still get the values).
const (
	sdCPUQuotaPeriod = 242 // CPUQuotaPeriodUSec
	sdAllowedCPUs    = 244 // AllowedCPUs, AllowedMemoryNodes
	sdCPUIdle        = 252 // CPUWeight=0 meaning cpu.idle 1
)

// res prefixes the spec fields errors name.
const res = "linux.resources."

// orZero reads an optional number, nil being 0 (unset), as Set does.
func orZero[T int64 | uint64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

func newProp(name string, value any) sddbus.Property {
	return sddbus.Property{Name: name, Value: dbus.MakeVariant(value)}
}

// unitProperties converts r to the properties of a systemd unit, those of
// a pure cgroup2 host if v2 (else v1's, which a hybrid host's systemd
// takes), for systemd version. It returns r, or a copy of it whose CPU
// quota is what systemd will make of it (see cpuQuota), for the files to
// get the same.
//
// What converts, as runc's systemd driver does:
//   - v1: memory.limit as MemoryLimit; cpu.shares as CPUShares;
//     blockIO.weight as BlockIOWeight.
//   - cgroup2: memory.limit as MemoryMax, reservation as MemoryLow, swap
//     (memory+swap) as MemorySwapMax (swap alone, the library's
//     conversion); cpu.shares as CPUWeight (the library's conversion), or
//     CPUWeight=0 for cpu.idle 1 (systemd 252+); cpu.cpus and mems as
//     AllowedCPUs and AllowedMemoryNodes (244+; CPU bitmask bytes, the
//     library's RangeToBits); blockIO.weight as IOWeight (converted as
//     for io.weight); and the unified keys systemd has properties for
//     (memory.min/low/high/max/swap.max, pids.max, cpu.weight, cpu.idle,
//     cpu.max, cpuset.cpus/mems), after the fields, as the files take
//     them after the fields too.
//   - both: cpu.quota and period as CPUQuotaPerSecUSec and
//     CPUQuotaPeriodUSec (242+); pids.limit as TasksMax (0 as 1, as in
//     the files: systemd has no 0); devices as DevicePolicy and
//     DeviceAllow (the library's GenerateDeviceProps).
//
// -1 is infinity. Zero and nil fields are unset, as in Set, and convert
// to nothing: systemd keeps what it has.
//
// r is expected to have passed the cgroupfs driver's checks (Set checks
// first). What the conversion cannot express it still refuses, with the
// field in the error, rather than sending systemd a wrong number: a value
// out of range, an unparsable unified value, a quota too large for
// systemd's microseconds per second.
func unitProperties(r *specs.LinuxResources, v2 bool, version int) ([]sddbus.Property, *specs.LinuxResources, error) {
	c := &propConverter{v2: v2, version: version}
	out := r
	c.memory(r.Memory)
	if r.CPU != nil {
		if q := c.cpu(r.CPU); q != orZero(r.CPU.Quota) {
			cpu, rr := *r.CPU, *r
			cpu.Quota, rr.CPU = &q, &cpu
			out = &rr
		}
	}
	c.pids(r.Pids)
	c.blockIO(r.BlockIO)
	c.devices(r.Devices)
	if v2 {
		// On a hybrid host the unified keys go to the unified mount, whose
		// controllers systemd does not manage.
		c.unified(r.Unified)
	}
	if c.err != nil {
		return nil, nil, c.err
	}
	return c.props, out, nil
}

// propConverter collects the properties of unitProperties and its first
// error; the converters go on after an error only to keep their code
// linear.
type propConverter struct {
	v2      bool
	version int
	props   []sddbus.Property
	err     error
}

func (c *propConverter) add(name string, value any) { c.props = append(c.props, newProp(name, value)) }

// bad records an error for field; the first one wins.
func (c *propConverter) bad(field, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("cgroups: systemd: %s: %s", field, fmt.Sprintf(format, args...))
	}
}

// limit is a byte limit of the spec: -1 none, or not negative.
func (c *propConverter) limit(field string, v int64) uint64 {
	switch {
	case v == -1:
		return infinity
	case v < 0:
		c.bad(field, "%d is not a limit (bytes, or -1 for none)", v)
	}
	return uint64(v)
}

func (c *propConverter) memory(mem *specs.LinuxMemory) {
	if mem == nil {
		return
	}
	const f = res + "memory."
	limit, swap, resv := orZero(mem.Limit), orZero(mem.Swap), orZero(mem.Reservation)
	if !c.v2 {
		// systemd has no v1 property for memory+swap or the soft limit.
		if limit != 0 {
			c.add("MemoryLimit", c.limit(f+"limit", limit))
		}
		return
	}
	if limit != 0 {
		c.add("MemoryMax", c.limit(f+"limit", limit))
	}
	if resv != 0 {
		c.add("MemoryLow", c.limit(f+"reservation", resv))
	}
	v2swap, err := libcg.ConvertMemorySwapToCgroupV2Value(swap, limit)
	switch {
	case err != nil:
		c.bad(f+"swap", "%d with limit %d: %v", swap, limit, err)
	case v2swap != 0:
		c.add("MemorySwapMax", c.limit(f+"swap", v2swap))
	case swap > 0:
		// swap == limit: no swap at all, which the library's 0 ("unset")
		// would leave as it was; the files get 0 too.
		c.add("MemorySwapMax", uint64(0))
	}
}

// cpu converts the cpu section and returns the quota as systemd will
// apply it.
func (c *propConverter) cpu(cpu *specs.LinuxCPU) int64 {
	const f = res + "cpu."
	shares := orZero(cpu.Shares)
	if !c.v2 {
		if shares != 0 {
			c.add("CPUShares", shares)
		}
		return c.cpuQuota(f+"quota", orZero(cpu.Quota), orZero(cpu.Period))
	}
	switch {
	case cpu.Idle != nil && *cpu.Idle == 1 && c.version >= sdCPUIdle:
		// An idle cgroup has no weight (the checks refuse shares with
		// it); systemd spells idle as weight 0.
		c.add("CPUWeight", uint64(0))
	case shares != 0:
		c.add("CPUWeight", libcg.ConvertCPUSharesToCgroupV2Value(shares))
	}
	quota := c.cpuQuota(f+"quota", orZero(cpu.Quota), orZero(cpu.Period))
	c.cpuset(f+"cpus", "AllowedCPUs", cpu.Cpus)
	c.cpuset(f+"mems", "AllowedMemoryNodes", cpu.Mems)
	return quota
}

// cpuQuota adds systemd's CPU bandwidth properties for quota and period in
// µs (quota -1: none; 0: unchanged) and returns the quota systemd will
// write, which the files are to get too.
//
// systemd keeps a quota as a share of one CPU in whole percent
// (CPUQuotaPerSecUSec is quota/period in µs per second, but stored as
// 10 ms steps), so a quota that is not a whole 10 ms per second is rounded
// up to one, as runc does: rounding down could give the container less
// than it asked for.
//
// A period without a quota sends only the period: systemd keeps its quota
// per second, where the files keep the quota in µs (a new period changes
// the share). Give both to have them agree.
func (c *propConverter) cpuQuota(field string, quota int64, period uint64) int64 {
	if period != 0 && c.version >= sdCPUQuotaPeriod {
		c.add("CPUQuotaPeriodUSec", period)
	}
	switch {
	case quota == -1:
		c.add("CPUQuotaPerSecUSec", infinity)
	case quota < -1:
		c.bad(field, "%d is out of range (µs, or -1 for none)", quota)
	case quota > math.MaxInt64/1000000:
		c.bad(field, "%d µs is more than systemd's microseconds per second can hold", quota)
	case quota > 0:
		p := period
		if p == 0 {
			p = defaultCPUPeriod
		}
		perSec := uint64(quota) * 1e6 / p
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
			quota = int64(perSec * p / 1e6)
		}
		c.add("CPUQuotaPerSecUSec", perSec)
	}
	return quota
}

// cpuset adds AllowedCPUs or AllowedMemoryNodes (prop) for a cpu list.
func (c *propConverter) cpuset(field, prop, list string) {
	if list == "" || c.version < sdAllowedCPUs {
		return
	}
	bits, err := sdlib.RangeToBits(list)
	if err != nil {
		c.bad(field, "%q: %v", list, err)
		return
	}
	c.add(prop, bits)
}

func (c *propConverter) pids(pids *specs.LinuxPids) {
	if pids == nil || pids.Limit == nil {
		return
	}
	switch v := *pids.Limit; {
	case v == -1:
		c.add("TasksMax", infinity)
	case v == 0:
		c.add("TasksMax", uint64(1)) // systemd has no TasksMax=0; the files get 1 too
	case v > 0:
		c.add("TasksMax", uint64(v))
	default:
		c.bad(res+"pids.limit", "%d is out of range (a number of tasks, or -1 for none)", v)
	}
}

// blockIO converts the weight; systemd's per-device properties name
// devices by path, not by number, and are left to the files.
func (c *propConverter) blockIO(b *specs.LinuxBlockIO) {
	if b == nil || b.Weight == nil || *b.Weight == 0 {
		return
	}
	w := *b.Weight
	switch {
	case w < 10 || w > 1000:
		c.bad(res+"blockIO.weight", "%d is out of range (10-1000)", w)
	case c.v2:
		c.add("IOWeight", libcg.ConvertBlkIOToIOWeightValue(w))
	default:
		c.add("BlockIOWeight", uint64(w))
	}
}

// devices converts the device rules with the library's GenerateDeviceProps:
// DevicePolicy=strict and a DeviceAllow list, or DevicePolicy=auto for
// "allow everything". systemd has no deny rules: a list that allows
// everything but some devices becomes a strict empty list (deny all, the
// library warns) until the files get the real rules, and a rule for any
// major number of one minor is left out. A nil list converts to nothing,
// an empty one denies every device, as in Set.
func (c *propConverter) devices(list []specs.LinuxDeviceCgroup) {
	if list == nil {
		return
	}
	lib, err := fs.DeviceRules(list)
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		return
	}
	if sdlib.GenerateDeviceProps == nil {
		// Installed by the library's devices package, which fs/devices.go
		// imports.
		c.bad(res+"devices", "the library's systemd device conversion is not linked in")
		return
	}
	props, err := sdlib.GenerateDeviceProps(&libcg.Resources{Devices: lib}, c.version)
	if err != nil {
		c.bad(res+"devices", "%v", err)
		return
	}
	c.props = append(c.props, props...)
}
