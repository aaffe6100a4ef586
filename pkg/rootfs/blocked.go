package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// blockedError is the error of a destination that could not be made or
// opened inside the root because a component of its path is in the way
// (a symlink leading nowhere in the rootfs, a file where a directory must
// be). It reads as that diagnosis alone, which says more than the safe
// walk's own error ("openat2 …/rootfs/link: not a directory"), and wraps
// the latter for errors.Is.
type blockedError struct {
	why string
	err error
}

func (e *blockedError) Error() string { return e.why }
func (e *blockedError) Unwrap() error { return e.err }

// explain returns err, the failure of making or opening dest inside the
// root, or in its place a blockedError saying which component of dest is
// in the way and why, when one is. dir says dest itself must be a
// directory (else it must only exist).
//
// It runs only after the safe operation failed, and only reads, every
// lookup resolved inside the root (pathrs-lite) and the links read with
// readlinkat from a parent so resolved: nothing is made or mounted on what
// it finds, which is why it may look at a symlink at all (resolving first
// and acting on the result is the race of CVE-2024-45310). The rootfs can
// change in between; then the diagnosis is missing or stale, never the
// mount less safe, and without one err is returned as it is.
func (r *root) explain(dest string, dir bool, err error) error {
	clean := filepath.Clean("/" + dest)
	if clean == "/" {
		return err
	}
	parts := strings.Split(clean[1:], "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		why, stop := r.blocker(p, dir || i < len(parts)-1)
		if why != "" {
			return &blockedError{why: why, err: err}
		}
		if stop {
			break
		}
	}
	return err
}

// blocker looks at the component p of a destination: ("", false) when p
// is a directory, or exists where needDir is false, and the walk goes on;
// the reason when p is in the way; ("", true) when p does not exist (the
// failed operation would have made it, so something else failed) or
// cannot be looked at.
func (r *root) blocker(p string, needDir bool) (string, bool) {
	target, isLink := r.readlink(p)
	h, err := pathrs.OpenatInRoot(r.f, p)
	if err != nil {
		switch {
		case !isLink:
			return "", true
		case errors.Is(err, unix.ENOENT):
			return fmt.Sprintf("%s is a symlink to %s, which does not exist in the rootfs", p, target), true
		default:
			return fmt.Sprintf("%s is a symlink to %s, which cannot be followed in the rootfs: %v", p, target, errnoOf(err)), true
		}
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return "", true
	}
	if !needDir || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return "", false
	}
	if isLink {
		return fmt.Sprintf("%s is a symlink to %s, which is not a directory", p, target), true
	}
	return fmt.Sprintf("%s is not a directory", p), true
}

// readlink returns the target of p, and whether p is a symlink, reading
// the link from p's parent resolved inside the root.
func (r *root) readlink(p string) (string, bool) {
	parent, err := pathrs.OpenatInRoot(r.f, filepath.Dir(p))
	if err != nil {
		return "", false
	}
	defer parent.Close()
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(parent.Fd()), filepath.Base(p), buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

// errnoOf is the errno at the bottom of err, else err: the walk's wrapping
// names host paths that mean nothing to the reader of a diagnosis.
func errnoOf(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
