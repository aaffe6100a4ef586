package systemd

// linux.resources.unified as unit properties, on a pure cgroup2 host.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// unifiedMemory are the cgroup2 memory files with a systemd property.
var unifiedMemory = map[string]string{
	"memory.min":      "MemoryMin",
	"memory.low":      "MemoryLow",
	"memory.high":     "MemoryHigh",
	"memory.max":      "MemoryMax",
	"memory.swap.max": "MemorySwapMax",
}

// unified converts the linux.resources.unified keys systemd has a property
// for; the others are the files' alone. The values are checked here, as
// the cgroupfs driver leaves them to the kernel, which would refuse them
// only after systemd had them. Unlike a field's, a rounded quota in
// cpu.max stays as given in the file.
func (c *propConverter) unified(u map[string]string) {
	idle := strings.TrimSpace(u["cpu.idle"]) == "1" && c.version >= sdCPUIdle
	for _, key := range slices.Sorted(maps.Keys(u)) {
		field := fmt.Sprintf("%sunified[%q]", res, key)
		v := strings.TrimSpace(u[key])
		switch key {
		case "memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.max":
			if n, ok := c.maxOrNumber(field, v); ok {
				c.add(unifiedMemory[key], n)
			}
		case "pids.max":
			if n, ok := c.maxOrNumber(field, v); ok {
				c.add("TasksMax", max(n, 1)) // systemd has no 0
			}
		case "cpu.idle":
			if idle {
				c.add("CPUWeight", uint64(0))
			}
		case "cpu.weight":
			if idle {
				continue // idle is weight 0 to systemd, and the kernel refuses a weight for an idle group
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n < 1 || n > 10000 {
				c.bad(field, "%q is not a weight (1-10000)", v)
				continue
			}
			c.add("CPUWeight", n)
		case "cpu.max":
			quota, period, ok := parseCPUMax(v)
			if !ok {
				c.bad(field, `%q is not "$MAX [$PERIOD]" ($MAX "max" or at least 1000 µs, $PERIOD 1000-1000000 µs)`, v)
				continue
			}
			c.cpuQuota(field, quota, period)
		case "cpuset.cpus":
			c.cpuset(field, "AllowedCPUs", v)
		case "cpuset.mems":
			c.cpuset(field, "AllowedMemoryNodes", v)
		}
	}
}

// maxOrNumber parses a cgroup2 limit: "max" (infinity) or a number.
func (c *propConverter) maxOrNumber(field, v string) (uint64, bool) {
	if v == "max" {
		return infinity, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		c.bad(field, `%q is neither "max" nor a number`, v)
		return 0, false
	}
	return n, true
}

// parseCPUMax parses cgroup2's cpu.max, "$MAX [$PERIOD]", with the
// kernel's ranges. The quota is -1 for "max"; the period 0 if not given.
func parseCPUMax(v string) (quota int64, period uint64, ok bool) {
	f := strings.Fields(v)
	if len(f) < 1 || len(f) > 2 {
		return 0, 0, false
	}
	quota = -1
	if f[0] != "max" {
		q, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || q < 1000 {
			return 0, 0, false
		}
		quota = q
	}
	if len(f) == 2 {
		p, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil || p < 1000 || p > 1000000 {
			return 0, 0, false
		}
		period = p
	}
	return quota, period, true
}
