package fs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/cgroups"
)

// Manager is the cgroupfs driver's cgroups.Manager: it works on the
// directories directly.
type Manager struct {
	paths   map[string]string
	targets []target // one per hierarchy

	// host names the host's files Set checks values against; nil is the
	// real ones (tests point it at a fake tree).
	host *HostFiles
	// record, if set, sees every write Set makes, in order: a test's view
	// of writes that a fake file would only show the last of.
	record func(path, value string)
}

// target is the container's directory in one hierarchy.
type target struct {
	dir  string
	keys []string
	// h is the hierarchy dir is in; nil in a loaded manager until Apply, or
	// a Destroy that finds more than an empty directory, needs it.
	h *cgroups.Mount
	// existing marks a loaded manager's directory: Apply and Prepare join
	// it and never make it, so that an exec racing a delete cannot bring
	// back the cgroup the delete removed.
	existing bool
}

// New returns the manager of a new container with linux.cgroupsPath path
// and id id; it creates nothing until Apply. An empty path means "/"+id,
// which runc's cgroupfs driver takes as the relative path id instead (the
// two agree when the runtime runs in the root cgroup). See
// cgroups.ContainerDirs for where the directories are.
func New(path, id string) (cgroups.Manager, error) {
	hs, err := cgroups.Mounts()
	if err != nil {
		return nil, err
	}
	m, err := NewIn(hs, path, id, cgroups.OwnCgroups)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

// NewIn is New on the hierarchies hs, with own giving the runtime's own
// cgroups for a relative path; the systemd driver and tests use it.
func NewIn(hs []cgroups.Mount, path, id string, own func() (map[string]string, error)) (*Manager, error) {
	dirs, err := cgroups.ContainerDirs(hs, path, id, own)
	if err != nil {
		return nil, err
	}
	m := &Manager{paths: dirs, targets: make([]target, len(hs))}
	for i := range hs {
		m.targets[i] = target{dir: dirs[hs[i].Keys[0]], keys: hs[i].Keys, h: &hs[i]}
	}
	return m, nil
}

// Load returns the manager of an existing container from the Paths its New
// manager returned (saved in the container's state). It trusts paths, which
// come from rt's own state that only root can write, except that Destroy
// will not empty the top of a hierarchy. Loading reads nothing from the
// host, so delete and ps stay cheap.
func Load(paths map[string]string) *Manager {
	byDir := map[string][]string{}
	for k, dir := range paths {
		if dir != "" {
			byDir[dir] = append(byDir[dir], k)
		}
	}
	m := &Manager{paths: maps.Clone(paths)}
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		keys := byDir[dir]
		slices.Sort(keys)
		m.targets = append(m.targets, target{dir: dir, keys: keys, existing: true})
	}
	return m
}

func (m *Manager) Paths() map[string]string { return maps.Clone(m.paths) }

// hierarchy returns the hierarchy t.dir is in, finding it for a loaded
// manager by the longest mountpoint that holds the directory.
func (t *target) hierarchy() (*cgroups.Mount, error) {
	if t.h != nil {
		return t.h, nil
	}
	hs, err := cgroups.Mounts()
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if below(t.dir, hs[i].Mountpoint) && (t.h == nil || len(hs[i].Mountpoint) > len(t.h.Mountpoint)) {
			t.h = &hs[i]
		}
	}
	if t.h == nil {
		return nil, errors.New("not a cgroup below the top of a mounted hierarchy")
	}
	return t.h, nil
}

// summarize makes one line of errs: the first, and how many more there are
// (they are alike: the same step in other hierarchies).
func summarize(prefix string, errs []string) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errors.New(prefix + errs[0])
	}
	return fmt.Errorf("%s%s (and %d more)", prefix, errs[0], len(errs)-1)
}

func (m *Manager) Pids() ([]int, error) {
	dir := ""
	for _, k := range []string{"freezer", "pids", ""} {
		if d, ok := m.paths[k]; ok {
			dir = d
			break
		}
	}
	if dir == "" && len(m.targets) > 0 {
		dir = m.targets[0].dir
	}
	if dir == "" {
		return nil, fmt.Errorf("cgroups: list processes: %w", cgroups.ErrNoCgroup)
	}
	var pids []int
	if err := collectPids(dir, &pids); err != nil {
		return nil, fmt.Errorf("cgroups: list processes in %s: %w", dir, err)
	}
	return pids, nil
}

// collectPids appends the pids in dir's cgroup.procs and in those of the
// cgroups below it.
func collectPids(dir string, pids *[]int) error {
	data, err := readFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return &os.PathError{Op: "read", Path: filepath.Join(dir, "cgroup.procs"), Err: err}
	}
	for f := range strings.FieldsSeq(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("parse %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		*pids = append(*pids, pid)
	}
	subs, err := subdirs(dir)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := collectPids(s, pids); err != nil && !errors.Is(err, unix.ENOENT) {
			return err // a sub-cgroup removed meanwhile had no process to list
		}
	}
	return nil
}

// subdirs lists the cgroups directly below dir.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(dir, e.Name()))
		}
	}
	return dirs, nil
}
