package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fsManager is the cgroupfs driver: it works on the directories directly.
type fsManager struct {
	paths   map[string]string
	targets []target // one per hierarchy

	// host names the host's files Set checks values against; nil is the
	// real ones (tests point it at a fake tree).
	host *hostFiles
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
	h *hierarchy
}

// joined is what Apply did in one hierarchy, for undoing it.
type joined struct {
	created []string // directories made, parents first
	moved   bool     // pid was written into the directory
	err     error
}

func (m *fsManager) Paths() map[string]string { return maps.Clone(m.paths) }

// Apply joins the hierarchies one after the other, stopping at the first
// failure.
//
// Not in parallel: it measured no faster. On the test VM (kernel 6.18, hybrid,
// 10 hierarchies; 3 runs of 60 Applies each way, interleaved, a fresh sleep
// process and a 60 ms pause before each) the medians were 10.5/9.9/9.9 ms
// sequential and 9.9/10.2/10.0 ms with a goroutine per hierarchy, p90 about
// 15 ms for both. Nearly all of it is one RCU grace period: the first write to
// a cgroup.procs after a quiet spell waits for one (5–20 ms) while taking
// cgroup_threadgroup_rwsem, which is global, not per hierarchy, so writers in
// parallel queue behind the same wait; the nine writes after it took 10–80 µs
// each and the ten mkdirs 250–380 µs in all.
func (m *fsManager) Apply(pid int) error {
	if pid <= 0 {
		// Writing 0 to cgroup.procs would move the writer itself.
		return fmt.Errorf("cgroups: apply: invalid pid %d", pid)
	}
	done := make([]joined, len(m.targets))
	for i := range m.targets {
		if done[i] = m.targets[i].join(pid); done[i].err != nil {
			if err := m.undo(pid, done[:i+1]); err != nil {
				return fmt.Errorf("%w (undo: %v)", done[i].err, err)
			}
			return done[i].err
		}
	}
	return nil
}

// join makes t's directory and moves pid into it.
func (t *target) join(pid int) (j joined) {
	if j = t.make(); j.err != nil {
		return j
	}
	if err := writePid(t.dir, pid); err != nil {
		j.err = fmt.Errorf("cgroups: join %s: %w", t.dir, err)
		return j
	}
	j.moved = true
	return j
}

// make makes t's directory (with its parents), ready to be joined.
func (t *target) make() (j joined) {
	h, err := t.hierarchy()
	if err != nil {
		j.err = fmt.Errorf("cgroups: join %s: %w", t.dir, err)
		return j
	}
	if j.created, err = mkdirAll(t.dir, h.mountpoint); err != nil {
		j.err = fmt.Errorf("cgroups: join %s: %w", t.dir, err)
		return j
	}
	if slices.Contains(t.keys, "cpuset") && len(j.created) > 0 {
		if err := inheritCpuset(j.created); err != nil {
			j.err = fmt.Errorf("cgroups: join %s: %w", t.dir, err)
			return j
		}
	}
	return j
}

// Prepare makes the directories as Apply does and opens the entry to each.
func (m *fsManager) Prepare() (*Entry, error) {
	e := &Entry{}
	done := make([]joined, len(m.targets))
	for i := range m.targets {
		t := &m.targets[i]
		if done[i] = t.make(); done[i].err == nil {
			done[i].err = e.open(t)
		}
		if err := done[i].err; err != nil {
			e.Close()
			if uerr := m.undo(0, done[:i+1]); uerr != nil {
				return nil, fmt.Errorf("%w (undo: %v)", err, uerr)
			}
			return nil, err
		}
	}
	return e, nil
}

// open adds t's way in to e: the cgroup2 directory, or a v1 tasks file.
func (e *Entry) open(t *target) error {
	if t.h.unified() {
		if e.Dir != nil {
			return fmt.Errorf("cgroups: join %s: a second cgroup2 hierarchy (%s)", t.dir, e.Dir.Name())
		}
		fd, err := open(t.dir, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("cgroups: join %s: %w", t.dir, &os.PathError{Op: "open", Path: t.dir, Err: err})
		}
		e.Dir = os.NewFile(uintptr(fd), t.dir)
		return nil
	}
	tasks := filepath.Join(t.dir, "tasks")
	fd, err := open(tasks, unix.O_WRONLY)
	if err != nil {
		return fmt.Errorf("cgroups: join %s: %w", t.dir, &os.PathError{Op: "open", Path: tasks, Err: err})
	}
	e.Tasks = append(e.Tasks, os.NewFile(uintptr(fd), tasks))
	return nil
}

// hierarchy returns the hierarchy t.dir is in, finding it for a loaded
// manager by the longest mountpoint that holds the directory.
func (t *target) hierarchy() (*hierarchy, error) {
	if t.h != nil {
		return t.h, nil
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if below(t.dir, hs[i].mountpoint) && (t.h == nil || len(hs[i].mountpoint) > len(t.h.mountpoint)) {
			t.h = &hs[i]
		}
	}
	if t.h == nil {
		return nil, errors.New("not a cgroup below the top of a mounted hierarchy")
	}
	return t.h, nil
}

// undo reverses what Apply did, last hierarchy first. It removes only the
// directories Apply made, never what may have appeared below them meanwhile
// (another container's cgroup under a shared new parent).
func (m *fsManager) undo(pid int, done []joined) error {
	var mine map[string]string
	var errs []string
	deadline := time.Now().Add(busyRetry)
	for i := len(done) - 1; i >= 0; i-- {
		j, t := &done[i], &m.targets[i]
		if len(j.created) == 0 {
			continue
		}
		if j.moved {
			// The directories cannot go while pid is in them. It came from the
			// caller's cgroup (the caller started it); failing that, the top of
			// the hierarchy takes any process.
			if mine == nil {
				mine, _ = ownCgroups()
			}
			back := t.h.mountpoint
			if cg, ok := mine[t.keys[0]]; ok {
				if rel, err := filepath.Rel(t.h.root, cg); err == nil && !escapes(rel) {
					back = filepath.Join(t.h.mountpoint, rel)
				}
			}
			if err := writePid(back, pid); err != nil && back != t.h.mountpoint {
				_ = writePid(t.h.mountpoint, pid)
			}
		}
		for k := len(j.created) - 1; k >= 0; k-- {
			if err := removeDir(j.created[k], deadline); err != nil {
				errs = append(errs, fmt.Sprintf("remove %s: %v", j.created[k], err))
				break
			}
		}
	}
	return summarize("", errs)
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

// escapes reports whether a filepath.Rel result climbs out of its base.
func escapes(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, "../")
}

// mkdirAll is mkdir -p below floor, which must exist: it returns the
// directories it made, parents first, also when it fails partway. The common
// case (the parent exists) is one mkdir.
func mkdirAll(dir, floor string) ([]string, error) {
	err := mkdir(dir)
	switch {
	case err == nil:
		return []string{dir}, nil
	case err == unix.EEXIST:
		return nil, nil
	case err != unix.ENOENT:
		return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	parent := filepath.Dir(dir)
	if !below(parent, floor) {
		// The hierarchy's mount itself is gone; never create it.
		return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	created, perr := mkdirAll(parent, floor)
	if perr != nil {
		return created, perr
	}
	switch err := mkdir(dir); err {
	case nil:
		created = append(created, dir)
	case unix.EEXIST: // made by someone else meanwhile
	default:
		return created, &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return created, nil
}

// below reports whether path is strictly inside dir.
func below(path, dir string) bool {
	return path != dir && (dir == "/" || strings.HasPrefix(path, dir+"/"))
}

func mkdir(dir string) error {
	for {
		if err := unix.Mkdir(dir, 0o755); err != unix.EINTR {
			return err
		}
	}
}

// inheritCpuset gives each newly made v1 cpuset directory (parents first) its
// parent's cpuset.cpus and cpuset.mems where they are empty: the kernel
// refuses a process in a cpuset without CPUs or memory nodes (ENOSPC), and
// leaves them empty in a new cgroup unless cgroup.clone_children is set.
func inheritCpuset(created []string) error {
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		var fromParent []byte // the value of the previous level, once known
		for _, dir := range created {
			file := name
			own, err := readFile(filepath.Join(dir, file))
			if errors.Is(err, unix.ENOENT) {
				// A hierarchy mounted with -o noprefix names them cpus and mems.
				file = strings.TrimPrefix(name, "cpuset.")
				own, err = readFile(filepath.Join(dir, file))
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", filepath.Join(dir, file), err)
			}
			if len(strings.TrimSpace(string(own))) > 0 {
				fromParent = own
				continue
			}
			if fromParent == nil {
				parent := filepath.Dir(dir)
				if fromParent, err = readFile(filepath.Join(parent, file)); err != nil {
					return fmt.Errorf("read %s: %w", filepath.Join(parent, file), err)
				}
			}
			if err := writeFile(filepath.Join(dir, file), fromParent); err != nil {
				return fmt.Errorf("copy %s from the parent into %s: %w", file, dir, err)
			}
		}
	}
	return nil
}

// writePid writes pid into dir's cgroup.procs. EINVAL is retried for up to
// ~30 ms: the kernel gives it for a process still being set up by fork.
func writePid(dir string, pid int) error {
	fd, err := open(filepath.Join(dir, "cgroup.procs"), unix.O_WRONLY)
	if err != nil {
		return fmt.Errorf("open cgroup.procs: %w", err)
	}
	defer unix.Close(fd)
	b := strconv.AppendInt(nil, int64(pid), 10)
	for delay := time.Millisecond; ; {
		_, err = unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != unix.EINVAL || delay > 16*time.Millisecond {
			break
		}
		time.Sleep(delay)
		delay *= 2
	}
	if err != nil {
		return fmt.Errorf("write cgroup.procs: %w", err)
	}
	return nil
}

// open, readFile and writeFile use the raw system calls: an os.File would
// register every cgroupfs and procfs file with the netpoller (they support
// poll), two more system calls for each file.
func open(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func readFile(path string) ([]byte, error) {
	fd, err := open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, err
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
	}
}

func writeFile(path string, data []byte) error {
	fd, err := open(path, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, data)
		if err != unix.EINTR {
			return err
		}
	}
}

func (m *fsManager) Pids() ([]int, error) {
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
		return nil, fmt.Errorf("cgroups: list processes: %w", ErrNoCgroup)
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

func (m *fsManager) Destroy() error {
	// One deadline for all hierarchies: the processes leave them all at once,
	// and a container whose processes are still there should fail in half a
	// second, not half a second per hierarchy.
	deadline := time.Now().Add(busyRetry)
	var errs []string
	for i := range m.targets {
		t := &m.targets[i]
		// One rmdir is the whole job in the common case: the container made
		// no cgroups of its own and its processes are gone.
		err := rmdir(t.dir)
		if err == nil || err == unix.ENOENT {
			continue
		}
		// Before removing what is below, make sure dir is a cgroup inside a
		// hierarchy and not the top of one: a damaged state file must not
		// empty the host's hierarchy.
		if _, err := t.hierarchy(); err != nil {
			errs = append(errs, fmt.Sprintf("remove %s: %v", t.dir, err))
			continue
		}
		if err := removeTree(t.dir, deadline); err != nil {
			errs = append(errs, fmt.Sprintf("remove %s: %v", t.dir, err))
		}
	}
	return summarize("cgroups: ", errs)
}

// busyRetry is how long Destroy keeps retrying busy cgroups.
const busyRetry = 500 * time.Millisecond

// removeTree removes the cgroup dir and the cgroups below it, deepest first,
// retrying a busy one until deadline. A missing dir is success. Its errors
// leave dir for the caller to name.
func removeTree(dir string, deadline time.Time) error {
	subs, err := subdirs(dir)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	for _, s := range subs {
		if err := removeTree(s, deadline); err != nil {
			return fmt.Errorf("remove %s: %w", s, err)
		}
	}
	return removeDir(dir, deadline)
}

// removeDir removes the cgroup dir, retrying while it is busy until
// deadline: a process that was just killed takes a moment to leave. A
// missing dir is success.
func removeDir(dir string, deadline time.Time) error {
	for delay := time.Millisecond; ; delay = min(2*delay, 64*time.Millisecond) {
		err := rmdir(dir)
		switch {
		case err == nil || err == unix.ENOENT:
			return nil
		case err == unix.EBUSY && time.Now().Before(deadline):
			time.Sleep(min(delay, time.Until(deadline)))
		case err == unix.EBUSY:
			return fmt.Errorf("rmdir: %w (processes still in it?)", err)
		default:
			return fmt.Errorf("rmdir: %w", err)
		}
	}
}

func rmdir(dir string) error {
	for {
		if err := unix.Rmdir(dir); err != unix.EINTR {
			return err
		}
	}
}
