package fs

// linux.resources.unified: raw cgroup2 files, on a hybrid host's unified mount or on cgroup2.

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

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
