package fs

// The plan of Set: its steps, and the planner that builds them.

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Plan is what Set will do, built before anything is written.
type Plan struct {
	v2    bool     // a pure cgroup2 host: everything goes to unified
	top   string   // v2: the top of the cgroup2 hierarchy
	avail []string // v2: the controllers top's cgroup.controllers lists
	steps []step
	// checks run after the controllers are enabled and before the first
	// write: what needs a file of the cgroup (memory.checkBeforeUpdate).
	checks []func() error
	// enable lists the cgroup2 controllers the steps need, each with the
	// first field that needs it, in the order first needed.
	enable []need
}

type need struct{ ctrl, field string }

// step is one write of the plan.
type step struct {
	field string // the spec field it comes from: every error names it
	dir   string
	file  string
	value string
	// alt is the file to write altValue to instead when file does not
	// exist (BFQ's weight file where CFQ's is gone, io.weight without BFQ).
	alt, altValue string
	// valueFn, if set, computes value at preflight, when the files it
	// reads exist (cgroup2's cpu.max with only a new period keeps the
	// current quota).
	valueFn func() (string, error)
	// optional drops the step when its file does not exist: only for
	// writes that restate a default the kernel cannot have changed
	// (unlimited swap without swap accounting, a burst of 0) or that only
	// add to another (a hugetlb reservation limit before Linux 5.7).
	optional bool
	// group and retry: the kernel checks some values against another
	// file's current value (cfs period against the quota, rt period
	// against the runtime), so a value it refuses with EINVAL is written
	// again after the group's last step.
	group string
	retry bool
	// hint explains a missing file where the file name alone would not.
	hint string
	// run, if set, is the step instead of a write (the eBPF device filter).
	run func() error
}

// path is where the step writes.
func (s *step) path() string { return filepath.Join(s.dir, s.file) }

// fail wraps a write error with the field and the file.
func (s *step) fail(err error) error {
	if s.run != nil {
		return fmt.Errorf("cgroups: %s: %w", s.field, err)
	}
	v := s.value
	if strings.ContainsAny(v, " \t") || v == "" {
		v = fmt.Sprintf("%q", v)
	}
	hint := errnoHint(s.file, err)
	if hint != "" {
		hint = " (" + hint + ")"
	}
	return fmt.Errorf("cgroups: %s: %s: write %s: %w%s", s.field, s.path(), v, err, hint)
}

// planner builds a plan for one manager.
type planner struct {
	m *Manager
	Plan
	// err is the first validation error; the builders go on after it only
	// to keep their code linear, and nothing they add is used once it is
	// set.
	err error
}

// bad records a validation error for field; the first one wins.
func (p *planner) bad(field, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("cgroups: %s: %s", field, fmt.Sprintf(format, args...))
	}
}

// add appends a write.
func (p *planner) add(s step) { p.steps = append(p.steps, s) }

func (m *Manager) plan(r *specs.LinuxResources) (*Plan, error) {
	p := &planner{m: m}
	p.v2 = IsPureV2(m.paths)
	if p.v2 {
		top, avail, err := m.unifiedTop()
		if err != nil {
			return nil, err
		}
		p.top, p.avail = top, avail
	}
	p.memory(r.Memory)
	p.cpuset(r.CPU)
	p.cpu(r.CPU)
	p.pids(r.Pids)
	p.blockIO(r.BlockIO)
	p.hugetlb(r.HugepageLimits)
	p.network(r.Network)
	p.rdma(r.Rdma)
	p.devices(r.Devices)
	// Last, so that a raw key overrides a field that wrote the same file,
	// as in runc.
	p.unified(r.Unified)
	if p.err != nil {
		return nil, p.err
	}
	return &p.Plan, nil
}

// IsPureV2 reports whether paths are those of a host without v1
// controllers: only cgroup2, perhaps with named v1 hierarchies beside it.
func IsPureV2(paths map[string]string) bool {
	if _, ok := paths[""]; !ok {
		return false
	}
	for k := range paths {
		if k != "" && !strings.HasPrefix(k, "name=") {
			return false
		}
	}
	return true
}

// unifiedTop returns the top of the cgroup2 hierarchy the container is in
// and the controllers it has.
func (m *Manager) unifiedTop() (string, []string, error) {
	for i := range m.targets {
		t := &m.targets[i]
		if len(t.keys) != 1 || t.keys[0] != "" {
			continue
		}
		h, err := t.hierarchy()
		if err != nil {
			return "", nil, fmt.Errorf("cgroups: %s: %w", t.dir, err)
		}
		file := filepath.Join(h.Mountpoint, "cgroup.controllers")
		data, err := readFile(file)
		if err != nil {
			return "", nil, fmt.Errorf("cgroups: read %s: %w", file, err)
		}
		return h.Mountpoint, strings.Fields(string(data)), nil
	}
	return "", nil, errors.New("cgroups: no cgroup2 directory among the container's paths")
}

// dir returns the container's directory for controller ctrl, or records an
// error naming field if it has none. On cgroup2 it notes ctrl to be enabled.
func (p *planner) dir(ctrl, field string) (string, bool) {
	if p.v2 {
		if !slices.Contains(p.avail, ctrl) {
			p.bad(field, "the cgroup2 hierarchy has no %s controller (%s lists: %s)",
				ctrl, filepath.Join(p.top, "cgroup.controllers"), listOrNone(p.avail))
			return "", false
		}
		if !slices.ContainsFunc(p.enable, func(n need) bool { return n.ctrl == ctrl }) {
			p.enable = append(p.enable, need{ctrl, field})
		}
		return p.m.paths[""], true
	}
	if d, ok := p.m.paths[ctrl]; ok {
		return d, true
	}
	why := ""
	if _, ok := p.m.paths[""]; ok {
		why = "; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"
	}
	p.bad(field, "no %s hierarchy (cgroup v1) is mounted%s", ctrl, why)
	return "", false
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, " ")
}
