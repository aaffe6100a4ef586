package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ProcOvermounts are the paths under /proc a mount may cover: runc's list
// (checkProcMount in libcontainer/rootfs_linux.go, 1.2 and later). The
// first eight are the files lxcfs emulates per container; CRIU inside a
// container writes ns_last_pid to restore pids; fips_enabled is covered to
// make programs believe FIPS mode is on or off. runc 1.4 dropped
// /proc/net/dev: it is a symlink into /proc/self, never per container.
//
// Anything else under /proc is refused. A mount there changes what the
// container, and a runtime that wrote through the container's /proc, take
// for the kernel's own files: /proc/self/attr/exec for the LSM label
// (CVE-2019-16884, CVE-2019-19921), /proc/sys/... for sysctls
// (CVE-2025-52881).
var ProcOvermounts = []string{
	"/proc/cpuinfo",
	"/proc/diskstats",
	"/proc/meminfo",
	"/proc/stat",
	"/proc/swaps",
	"/proc/uptime",
	"/proc/loadavg",
	"/proc/slabinfo",
	"/proc/sys/kernel/ns_last_pid",
	"/proc/sys/crypto/fips_enabled",
}

// ErrProcMount is wrapped by every refusal of a mount in /proc. The words
// after it are runc's.
var ErrProcMount = errors.New("cannot be mounted")

// ProcDestination checks a mount whose destination is dest, an absolute
// path as the container sees it (the spec's, cleaned; or where it resolved
// to inside the rootfs), as runc's checkProcMount does:
//
//   - outside /proc: allowed;
//   - /proc itself: a fresh procfs (type "proc"); a bind only of a procfs,
//     which ProcDestination cannot see from the path: procSource is then
//     true and the caller checks the source (ProcSource);
//   - under /proc: only ProcOvermounts.
//
// The error wraps ErrProcMount.
func ProcDestination(dest string, m specs.Mount) (procSource bool, err error) {
	dest = filepath.Clean("/" + dest)
	if dest != "/proc" && !strings.HasPrefix(dest, "/proc/") {
		return false, nil
	}
	if dest == "/proc" {
		switch {
		case isBind(m):
			return true, nil
		case m.Type == "proc":
			return false, nil
		}
		return false, fmt.Errorf("%w because it is not of type proc (%s)", ErrProcMount, describeType(m.Type))
	}
	for _, ok := range ProcOvermounts {
		if dest == ok {
			return false, nil
		}
	}
	return false, fmt.Errorf("%w because it is inside /proc (only %s may be)", ErrProcMount, strings.Join(ProcOvermounts, ", "))
}

// ProcSource checks the source of a bind mount on /proc: it must be a
// procfs (the host's /proc, say), as runc requires. It is statted as the
// bind will open it, following symlinks.
func ProcSource(src string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(src, &st); err != nil {
		return fmt.Errorf("source: %w", &os.PathError{Op: "statfs", Path: src, Err: err})
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%w because it is not of type proc (the bind's source %s is not a procfs)", ErrProcMount, src)
	}
	return nil
}

func describeType(typ string) string {
	if typ == "" {
		return "no type given"
	}
	return "type " + strconv.Quote(typ)
}

// isBind reports whether m is a bind mount, as mountOne decides it.
func isBind(m specs.Mount) bool {
	return m.Type == "bind" || parseOptions(m.Options).flags&unix.MS_BIND != 0
}

// checkResolved applies ProcDestination to where dst, a handle of m's
// destination opened inside the root, really is: a destination outside
// /proc can lead into it through a symlink in the rootfs. src is the bind's
// source, "" for other mounts. The path is read back from the handle, as
// runc does: it names what will be mounted on.
func (r *root) checkResolved(dst *os.File, m specs.Mount, src string) error {
	if defencesOff {
		// test/security's controls: the sysctl race needs the mount
		// onto /proc to happen to show what the write does.
		return nil
	}
	full, err := os.Readlink(fdPath(dst))
	if err != nil {
		return fmt.Errorf("read back the destination: %w", err)
	}
	rel, err := filepath.Rel(r.path, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("the destination resolved to %s, outside the rootfs %s", full, r.path)
	}
	in := filepath.Clean("/" + rel)
	procSource, err := ProcDestination(in, m)
	if err == nil && procSource {
		err = ProcSource(src)
	}
	if err != nil && in != filepath.Clean("/"+m.Destination) {
		return fmt.Errorf("resolves to %s in the rootfs: %w", in, err)
	}
	return err
}
