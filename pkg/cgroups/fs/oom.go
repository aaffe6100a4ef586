package fs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OOMNotify uses the v1 memory hierarchy if mounted, else cgroup2's
// memory.events (docs/architecture.md says how each one ends).
func (m *Manager) OOMNotify(stop <-chan struct{}) (<-chan struct{}, error) {
	if dir, ok := m.paths["memory"]; ok {
		return oomV1(dir, stop)
	}
	if dir, ok := m.paths[""]; ok {
		if exists(filepath.Join(dir, "memory.events")) {
			return oomV2(dir, stop)
		}
		return nil, fmt.Errorf("cgroups: OOM notification: %s has no memory.events: the memory controller is not enabled for it", dir)
	}
	return nil, errors.New("cgroups: OOM notification: no memory hierarchy is mounted")
}

// oomKills reads the oom_kill count of memory.oom_control (v1) or
// memory.events (cgroup2); ok is false if the file has none (v1 before
// Linux 4.13).
func oomKills(file string) (n uint64, ok bool, err error) {
	data, err := readFile(file)
	if err != nil {
		return 0, false, err
	}
	for line := range bytes.Lines(data) {
		v, found := bytes.CutPrefix(bytes.TrimSpace(line), []byte("oom_kill "))
		if !found {
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("parse %s: %q", file, line)
		}
		return n, true, nil
	}
	return 0, false, nil
}

// oomSender turns oom_kill counts into one value a kill on ch.
type oomSender struct {
	file string
	seen uint64
	ch   chan struct{}
	stop <-chan struct{}
}

// catchUp sends one value for each kill counted since the last call; a
// count the file does not have (old v1 kernels) is taken from events, the
// number of notifications. It reports false when the reader should end:
// stop closed, or the file is gone with its cgroup.
//
// settle is for v1, whose notification comes when the cgroup runs out of
// memory, before the OOM killer has picked its victim: a count that has
// not moved yet is read again for up to half a second. (Nothing moves
// when the OOM killer is disabled or memory was found after all; that
// costs the wait and sends nothing.)
func (s *oomSender) catchUp(events uint64, settle bool) bool {
	n, ok, err := oomKills(s.file)
	for d := time.Millisecond; err == nil && ok && settle && n == s.seen && d <= 256*time.Millisecond; d *= 2 {
		time.Sleep(d)
		n, ok, err = oomKills(s.file)
	}
	if err != nil {
		return false
	}
	if !ok {
		n = s.seen + events
	}
	for ; s.seen < n; s.seen++ {
		select {
		case s.ch <- struct{}{}:
		case <-s.stop:
			return false
		}
	}
	return true
}

// oomV1 registers an eventfd for memory.oom_control through
// cgroup.event_control. The kernel signals it on each OOM of the cgroup
// and once more when the cgroup is removed.
func oomV1(dir string, stop <-chan struct{}) (<-chan struct{}, error) {
	control := filepath.Join(dir, "memory.oom_control")
	ofd, err := open(control, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("cgroups: OOM notification: open %s: %w", control, err)
	}
	// The registration holds no reference to this fd: the event lives
	// until the eventfd is closed or the cgroup is removed.
	defer unix.Close(ofd)
	// Non-blocking, so that os.NewFile gives it to the poller and Close
	// (on stop) wakes a pending Read.
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroups: OOM notification: eventfd: %w", err)
	}
	ef := os.NewFile(uintptr(efd), "eventfd")
	ec := filepath.Join(dir, "cgroup.event_control")
	if err := writeFile(ec, fmt.Appendf(nil, "%d %d", efd, ofd)); err != nil {
		ef.Close()
		return nil, fmt.Errorf("cgroups: OOM notification: write %s: %w", ec, err)
	}
	s := &oomSender{file: control, ch: make(chan struct{}), stop: stop}
	// Counted after registering: a kill in between is not lost but may be
	// counted before the call (it is in the baseline) and not reported.
	if s.seen, _, err = oomKills(control); err != nil {
		ef.Close()
		return nil, fmt.Errorf("cgroups: OOM notification: read %s: %w", control, err)
	}
	done := make(chan struct{})
	go closeOnStop(ef, stop, done)
	go func() {
		defer close(s.ch)
		defer close(done)
		var buf [8]byte
		for {
			if _, err := ef.Read(buf[:]); err != nil {
				return // closed on stop
			}
			if !exists(ec) {
				return // the cgroup was removed
			}
			if !s.catchUp(binary.NativeEndian.Uint64(buf[:]), true) {
				return
			}
		}
	}()
	return s.ch, nil
}

// closeOnStop closes f when stop closes, which ends a Read on it, unless
// the reader is done first.
func closeOnStop(f *os.File, stop <-chan struct{}, done <-chan struct{}) {
	select {
	case <-stop:
	case <-done:
	}
	f.Close()
}

// oomV2 watches memory.events with inotify. The kernel reports no removal
// of a cgroup2 file to inotify, so it also watches cgroup.events and ends
// when the cgroup has no process left ("populated 0"), which comes before
// any removal; the kills of the last processes are counted first.
func oomV2(dir string, stop <-chan struct{}) (<-chan struct{}, error) {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroups: OOM notification: inotify: %w", err)
	}
	f := os.NewFile(uintptr(ifd), "inotify")
	events := filepath.Join(dir, "memory.events")
	cgEvents := filepath.Join(dir, "cgroup.events")
	for _, file := range []string{events, cgEvents} {
		if _, err := unix.InotifyAddWatch(ifd, file, unix.IN_MODIFY); err != nil {
			f.Close()
			return nil, fmt.Errorf("cgroups: OOM notification: watch %s: %w", file, err)
		}
	}
	s := &oomSender{file: events, ch: make(chan struct{}), stop: stop}
	if s.seen, _, err = oomKills(events); err != nil {
		f.Close()
		return nil, fmt.Errorf("cgroups: OOM notification: read %s: %w", events, err)
	}
	done := make(chan struct{})
	go closeOnStop(f, stop, done)
	go func() {
		defer close(s.ch)
		defer close(done)
		buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed on stop
			}
			ignored := false
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				ignored = ignored || ev.Mask&unix.IN_IGNORED != 0
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
			if !s.catchUp(0, false) || ignored || !populated(cgEvents) {
				return
			}
		}
	}()
	return s.ch, nil
}

// populated reads cgroup.events: false once the cgroup has no process, or
// is gone.
func populated(file string) bool {
	data, err := readFile(file)
	if err != nil {
		return false
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("populated ")); ok {
			return string(v) != "0"
		}
	}
	return true
}
