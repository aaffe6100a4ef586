package fs

// linux.resources.network: net_cls and net_prio, which cgroup2 does not have.

import (
	"fmt"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

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
