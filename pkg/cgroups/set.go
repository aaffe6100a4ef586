package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set builds a plan of every write r asks for, checking each value as it
// goes, then (cgroup2) enables the controllers the plan needs, checks that
// every file of the plan exists and runs the plan's checks, and only then
// writes. See Manager.Set.
func (m *fsManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	p, err := m.check(r)
	if err != nil {
		return err
	}
	return m.write(p)
}

// check is Set up to its first write: the plan for r, checked, with the
// cgroup2 controllers it needs enabled. The systemd driver tells systemd
// between check and write.
func (m *fsManager) check(r *specs.LinuxResources) (*plan, error) {
	p, err := m.plan(r)
	if err != nil {
		return nil, err
	}
	if err := m.enableControllers(p); err != nil {
		return nil, err
	}
	if err := m.preflight(p); err != nil {
		return nil, err
	}
	return p, nil
}

// plan is what Set will do, built before anything is written.
type plan struct {
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
	m *fsManager
	plan
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

func (m *fsManager) plan(r *specs.LinuxResources) (*plan, error) {
	p := &planner{m: m}
	p.v2 = isPureV2(m.paths)
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
	return &p.plan, nil
}

// isPureV2 reports whether paths are those of a host without v1
// controllers: only cgroup2, perhaps with named v1 hierarchies beside it.
func isPureV2(paths map[string]string) bool {
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
func (m *fsManager) unifiedTop() (string, []string, error) {
	for i := range m.targets {
		t := &m.targets[i]
		if len(t.keys) != 1 || t.keys[0] != "" {
			continue
		}
		h, err := t.hierarchy()
		if err != nil {
			return "", nil, fmt.Errorf("cgroups: %s: %w", t.dir, err)
		}
		file := filepath.Join(h.mountpoint, "cgroup.controllers")
		data, err := readFile(file)
		if err != nil {
			return "", nil, fmt.Errorf("cgroups: read %s: %w", file, err)
		}
		return h.mountpoint, strings.Fields(string(data)), nil
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

// enableControllers writes "+ctrl" into cgroup.subtree_control of each
// ancestor of the container's cgroup2 directory, top first, where it is
// not there yet: a controller's files appear in a cgroup only when its
// parent hands the controller down.
func (m *fsManager) enableControllers(p *plan) error {
	if !p.v2 || len(p.enable) == 0 {
		return nil
	}
	dir := m.paths[""]
	var levels []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		levels = append(levels, d)
		if d == p.top || !below(d, p.top) {
			break
		}
	}
	slices.Reverse(levels)
	for _, level := range levels {
		file := filepath.Join(level, "cgroup.subtree_control")
		data, err := readFile(file)
		if err != nil {
			return fmt.Errorf("cgroups: %s: read %s: %w", p.enable[0].field, file, err)
		}
		have := strings.Fields(string(data))
		for _, n := range p.enable {
			if slices.Contains(have, n.ctrl) {
				continue
			}
			if err := m.writeValue(file, "+"+n.ctrl); err != nil {
				hint := ""
				if errors.Is(err, unix.EBUSY) {
					hint = " (the cgroup has processes of its own, and cgroup2 hands controllers only to the children of one without)"
				}
				return fmt.Errorf("cgroups: %s: enable the %s controller: %s: write +%s: %w%s", n.field, n.ctrl, file, n.ctrl, err, hint)
			}
		}
	}
	return nil
}

// preflight resolves alternative files, drops optional steps whose file is
// missing, fails on any other missing file, computes the late values and
// runs the checks. Nothing is written.
func (m *fsManager) preflight(p *plan) error {
	dirs := map[string]bool{}
	kept := p.steps[:0]
	for _, s := range p.steps {
		if !dirs[s.dir] {
			if _, err := os.Stat(s.dir); err != nil {
				return fmt.Errorf("cgroups: %s: %w (Set needs the cgroup Apply makes)", s.field, err)
			}
			dirs[s.dir] = true
		}
		if s.run != nil {
			kept = append(kept, s)
			continue
		}
		if !exists(s.path()) {
			switch {
			case s.alt != "" && exists(filepath.Join(s.dir, s.alt)):
				s.file, s.value = s.alt, s.altValue
			case s.optional:
				continue
			default:
				return missing(&s)
			}
		}
		if s.valueFn != nil {
			v, err := s.valueFn()
			if err != nil {
				return fmt.Errorf("cgroups: %s: %w", s.field, err)
			}
			s.value = v
		}
		kept = append(kept, s)
	}
	p.steps = kept
	for _, check := range p.checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil
}

// write runs the plan's steps in order; see step.retry for the one
// exception.
func (m *fsManager) write(p *plan) error {
	last := map[string]int{}
	for i, s := range p.steps {
		if s.group != "" {
			last[s.group] = i
		}
	}
	pending := map[string][]int{}
	for i := range p.steps {
		s := &p.steps[i]
		if err := m.do(s); err != nil {
			if s.retry && errors.Is(err, unix.EINVAL) && last[s.group] > i {
				pending[s.group] = append(pending[s.group], i)
				continue
			}
			return s.fail(err)
		}
		if s.group != "" && last[s.group] == i {
			for _, j := range pending[s.group] {
				if err := m.do(&p.steps[j]); err != nil {
					return p.steps[j].fail(err)
				}
			}
		}
	}
	return nil
}

// do performs one step.
func (m *fsManager) do(s *step) error {
	if s.run != nil {
		return s.run()
	}
	return m.writeValue(s.path(), s.value)
}

// writeValue writes value to the cgroup file path, truncating it as a
// shell's > would (the kernel ignores the truncation; a fake tree in a test
// then holds exactly the last value).
func (m *fsManager) writeValue(path, value string) error {
	fd, err := open(path, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(value))
		if err != unix.EINTR {
			break
		}
	}
	if err == nil && m.record != nil {
		m.record(path, value)
	}
	return err
}

// hostFiles are the host's files Set checks values against.
type hostFiles struct {
	cpuOnline  string // the online CPUs, for cpu.cpus
	nodeOnline string // the online memory nodes, for cpu.mems
	hugepages  string // a directory per huge page size
}

var realHost = hostFiles{
	cpuOnline:  "/sys/devices/system/cpu/online",
	nodeOnline: "/sys/devices/system/node/online",
	hugepages:  "/sys/kernel/mm/hugepages",
}

func (m *fsManager) hostFiles() *hostFiles {
	if m.host != nil {
		return m.host
	}
	return &realHost
}
