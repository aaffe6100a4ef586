package store

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Holder is the process holding a container's lock, as /proc/locks and
// /proc/<pid>/cmdline tell it: what a command that has to wait reports.
type Holder struct {
	Pid     int
	Command string // its command line, "" if it is gone or unreadable
}

func (h Holder) String() string {
	if h.Pid <= 0 {
		return "another process"
	}
	if h.Command == "" {
		return fmt.Sprintf("pid %d", h.Pid)
	}
	return fmt.Sprintf("pid %d (%s)", h.Pid, h.Command)
}

// lockHolder finds who holds the flock on st's inode. The pid is the one
// that took the lock (0 when it is outside our pid namespace).
func lockHolder(st unix.Stat_t) Holder {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return Holder{}
	}
	pid := flockPid(data, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	if pid <= 0 {
		return Holder{}
	}
	return Holder{Pid: pid, Command: cmdline(pid)}
}

// flockPid returns the pid of the granted FLOCK on the inode in
// /proc/locks's text (waiters, "->" lines, are skipped), or 0.
func flockPid(data []byte, major, minor uint32, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// "1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<ino> <start> <end>"
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}

// cmdline is pid's command line, its arguments joined by spaces and cut
// to a line's worth.
func cmdline(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := string(bytes.ReplaceAll(bytes.TrimRight(data, "\x00"), []byte{0}, []byte{' '}))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
