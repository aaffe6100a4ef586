package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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
