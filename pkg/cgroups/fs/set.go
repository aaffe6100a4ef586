package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/killpoint"
)

// Set builds a plan of every write r asks for, checking each value as it
// goes, then (cgroup2) enables the controllers the plan needs, checks that
// every file of the plan exists and runs the plan's checks, and only then
// writes. What it does on v1 and on cgroup2 is in docs/architecture.md.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	p, err := m.Check(r)
	if err != nil {
		return err
	}
	return m.Write(p)
}

// Check is Set up to its first write: the plan for r, checked, with the
// cgroup2 controllers it needs enabled. The systemd driver tells systemd
// between Check and Write.
func (m *Manager) Check(r *specs.LinuxResources) (*Plan, error) {
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

// enableControllers writes "+ctrl" into cgroup.subtree_control of each
// ancestor of the container's cgroup2 directory, top first, where it is
// not there yet: a controller's files appear in a cgroup only when its
// parent hands the controller down.
func (m *Manager) enableControllers(p *Plan) error {
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
func (m *Manager) preflight(p *Plan) error {
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

// Write runs the plan's steps in order; see step.retry for the one
// exception.
func (m *Manager) Write(p *Plan) error {
	last := map[string]int{}
	for i, s := range p.steps {
		if s.group != "" {
			last[s.group] = i
		}
	}
	pending := map[string][]int{}
	for i := range p.steps {
		s := &p.steps[i]
		killpoint.Hit("cgroups.write")
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
func (m *Manager) do(s *step) error {
	if s.run != nil {
		return s.run()
	}
	return m.writeValue(s.path(), s.value)
}

// writeValue writes value to the cgroup file path, truncating it as a
// shell's > would (the kernel ignores the truncation; a fake tree in a test
// then holds exactly the last value).
func (m *Manager) writeValue(path, value string) error {
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

// HostFiles are the host's files Set checks values against.
type HostFiles struct {
	CPUOnline  string // the online CPUs, for cpu.cpus
	NodeOnline string // the online memory nodes, for cpu.mems
	Hugepages  string // a directory per huge page size
}

var realHost = HostFiles{
	CPUOnline:  "/sys/devices/system/cpu/online",
	NodeOnline: "/sys/devices/system/node/online",
	Hugepages:  "/sys/kernel/mm/hugepages",
}

func (m *Manager) hostFiles() *HostFiles {
	if m.host != nil {
		return m.host
	}
	return &realHost
}

// UseHost makes Set check values against host's files instead of the real
// ones and report every write it makes to record (a fake file would show
// only the last): for tests on a fake tree.
func (m *Manager) UseHost(host *HostFiles, record func(path, value string)) {
	m.host, m.record = host, record
}
