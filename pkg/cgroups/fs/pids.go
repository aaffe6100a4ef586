package fs

// linux.resources.pids, on v1 and cgroup2.

import "github.com/opencontainers/runtime-spec/specs-go"

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
