package fs

// linux.resources.hugepageLimits, on v1 and cgroup2.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func (p *planner) hugetlb(limits []specs.LinuxHugepageLimit) {
	if len(limits) == 0 {
		return
	}
	sizes, err := hugePageSizes(p.m.hostFiles().Hugepages)
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
