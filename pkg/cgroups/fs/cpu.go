package fs

// linux.resources.cpu: the cpu controller and cpuset, on v1 and cgroup2.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	libcg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

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
		p.cpuList(f+"cpus", c.Cpus, h.CPUOnline, "CPUs")
	}
	if c.Mems != "" {
		p.cpuList(f+"mems", c.Mems, h.NodeOnline, "memory nodes")
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
