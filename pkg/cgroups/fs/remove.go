package fs

// Removing a container's cgroup directories, with its processes gone.

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/killpoint"
)

func (m *Manager) Destroy() error {
	// One deadline for all hierarchies: the processes leave them all at once,
	// and a container whose processes are still there should fail in half a
	// second, not half a second per hierarchy.
	deadline := time.Now().Add(busyRetry)
	var errs []string
	for i := range m.targets {
		t := &m.targets[i]
		// One rmdir is the whole job in the common case: the container made
		// no cgroups of its own and its processes are gone.
		killpoint.Hit("cgroups.remove")
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
