package checkpoint

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/migration"
)

// rootfs-diff.tar: the files of the container's rootfs that changed since
// it was created.
//
// rt runs plain directory rootfs and knows no base layer to diff against,
// so "changed" is decided by time: an entry is in the diff when its ctime
// (which, unlike the mtime, no program can set back) is after the
// container's creation time, which rt records in its state before it
// touches the rootfs. What this catches: files and directories created,
// written, renamed, chmod'ed or chown'ed from inside the container (or by
// anyone on the host) since create. What it cannot catch: deletions (there
// is no list of what was there; no deleted.files is written), and changes
// made before create to a rootfs that the destination does not have: the
// destination bundle must hold the rootfs the container was created from.
// For a restored container the reference time is the restore's, so an
// export of it holds only what changed after that restore.
//
// Only directories, regular files and symlinks are recorded; sockets,
// fifos and device nodes are skipped, and so is anything on another
// filesystem than the rootfs's (a mount on the host under the rootfs).

// writeRootfsDiff writes to w a tar of the entries under rootfs whose ctime
// is after since, in walk order (parents before children). It returns how
// many entries it wrote.
func writeRootfsDiff(w io.Writer, rootfs string, since time.Time) (int, error) {
	return writeRootfsTar(w, rootfs, func(_ string, st *unix.Stat_t) bool {
		return time.Unix(st.Ctim.Unix()).After(since)
	})
}

// writeRootfsTar writes to w a tar of the entries under rootfs that include
// accepts (given the slash-separated relative path and the lstat), in walk
// order; only directories, regular files and symlinks on the rootfs's own
// filesystem. It returns how many entries it wrote.
func writeRootfsTar(w io.Writer, rootfs string, include func(rel string, st *unix.Stat_t) bool) (int, error) {
	tw := tar.NewWriter(w)
	n := 0
	err := migration.WalkRootfs(rootfs, func(p, rel string, st *unix.Stat_t) error {
		if !include(rel, st) {
			return nil
		}
		hdr := &tar.Header{
			Name: rel, Mode: int64(st.Mode & 0o7777),
			Uid: int(st.Uid), Gid: int(st.Gid), ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX,
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
			n++
			return tw.WriteHeader(hdr)
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
			n++
			return tw.WriteHeader(hdr)
		case unix.S_IFREG:
			if err := copyTarFile(tw, hdr, p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rootfs diff of %s: %w", rootfs, err)
	}
	return n, tw.Close()
}

// checkRootfsDiff reads a whole rootfs-diff.tar and refuses it (wrapping
// ErrBadArchive) if an entry has a bad name (archiveName) or a type other
// than directory, regular file or symlink. applyRootfsDiff applies only a
// checked diff, so that a bad one changes nothing.
func checkRootfsDiff(r io.Reader) error {
	return eachDiffEntry(r, "not a readable tar archive: ", func(hdr *tar.Header, _ string, _ io.Reader) error {
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink:
		default:
			return fmt.Errorf("%s: entry %q: %s: only files, directories and symlinks are allowed: %w", rootfsDiffFile, hdr.Name, typeName(hdr.Typeflag), ErrBadArchive)
		}
		if sparse(hdr) {
			return fmt.Errorf("%s: entry %q: a sparse file: %w", rootfsDiffFile, hdr.Name, ErrBadArchive)
		}
		return nil
	})
}

// eachDiffEntry calls fn for every entry of the rootfs-diff.tar r, global
// headers skipped, with its name checked and cleaned (archiveName; a bad
// one wraps ErrBadArchive). A read error is reported after readErr.
func eachDiffEntry(r io.Reader, readErr string, fn func(hdr *tar.Header, name string, data io.Reader) error) error {
	tr := tar.NewReader(r)
	for hdr, err := range tarEntries(tr) {
		if err != nil {
			return fmt.Errorf("%s: %s%w", rootfsDiffFile, readErr, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return fmt.Errorf("%s: entry %q: %w: %w", rootfsDiffFile, hdr.Name, err, ErrBadArchive)
		}
		if err := fn(hdr, name, tr); err != nil {
			return err
		}
	}
	return nil
}

// applyRootfsDiffFile checks, then applies, the rootfs-diff.tar at p onto
// rootfs; a missing p is an empty diff.
func applyRootfsDiffFile(p, rootfs string) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkRootfsDiff(f); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return applyRootfsDiff(f, rootfs)
}

// applyRootfsDiff writes the entries of the tar r into rootfs, with their
// modes, owners and modification times. Every path is resolved inside
// rootfs as the container would see it (pathrs-lite: a symlink in the
// rootfs, absolute or not, never leads out), and the last component is
// never followed: an existing entry of another kind is replaced.
func applyRootfsDiff(r io.Reader, rootfs string) error {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	defer root.Close()
	return eachDiffEntry(r, "", func(hdr *tar.Header, name string, data io.Reader) error {
		if name == "." {
			return nil
		}
		if err := applyEntry(root, name, hdr, data); err != nil {
			return fmt.Errorf("%s: apply %q: %w", rootfsDiffFile, name, err)
		}
		return nil
	})
}

// applyEntry writes one entry, name being checked and cleaned.
func applyEntry(root *os.File, name string, hdr *tar.Header, r io.Reader) error {
	parent, err := pathrs.MkdirAllHandle(root, path.Dir(name), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	dfd, base := int(parent.Fd()), path.Base(name)
	mode := uint32(hdr.Mode & 0o7777)
	var st unix.Stat_t
	exists := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if exists && !(isDir && hdr.Typeflag == tar.TypeDir) {
		flags := 0
		if isDir {
			// A directory replaced by a file or a link: only an
			// empty one goes; the error says so otherwise.
			flags = unix.AT_REMOVEDIR
		}
		if err := unix.Unlinkat(dfd, base, flags); err != nil {
			return fmt.Errorf("replace the existing entry: %w", err)
		}
	}
	mtime := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, dfd, base); err != nil {
			return err
		}
		if err := unix.Fchownat(dfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return unix.UtimesNanoAt(dfd, base, mtime, unix.AT_SYMLINK_NOFOLLOW)
	case tar.TypeDir:
		if !isDir {
			if err := unix.Mkdirat(dfd, base, 0o700); err != nil {
				return err
			}
		}
		fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return setAttrs(fd, hdr, mode, nil)
	case tar.TypeReg:
		fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return err
		}
		return setAttrs(fd, hdr, mode, []unix.Timeval{unix.NsecToTimeval(hdr.ModTime.UnixNano()), unix.NsecToTimeval(hdr.ModTime.UnixNano())})
	}
	return fmt.Errorf("type %q: %w", hdr.Typeflag, ErrBadArchive)
}

// setAttrs sets owner, then mode (chown clears set-id bits), then, if
// given, the times of the open file fd.
func setAttrs(fd int, hdr *tar.Header, mode uint32, times []unix.Timeval) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	if times == nil {
		return nil
	}
	return unix.Futimes(fd, times)
}
