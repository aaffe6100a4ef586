package fs

// linux.resources.rdma, on v1 and cgroup2.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

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
