package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// pidTempTries bounds the temporary names writePidFile tries: each is
// random, so only names planted on purpose ever collide.
const pidTempTries = 8

// pidTempName returns a name for the temporary file of the pid file base:
// hidden, in the same directory (rename needs it), and unpredictable, so
// nobody can plant anything at it beforehand. A variable for the tests.
var pidTempName = func(base string) string {
	var b [12]byte
	rand.Read(b[:])
	return "." + base + "." + hex.EncodeToString(b[:])
}

// WritePidFile writes pid in decimal with no newline, atomically, as
// containerd and conmon read it: into a new temporary file, synced, then
// renamed over path (create, run, exec and restore's --pid-file).
//
// rt runs as root and writes where the caller says, often a directory
// others can write to. A name created there by a path lookup could be a
// symlink planted to have root write the pid into /etc/shadow, as a
// predictable ".<name>.tmp" opened with os.WriteFile once was. So the
// directory is opened once and everything is done relative to it; the
// temporary file has a random name and is created with O_CREAT|O_EXCL (as
// runc's createPidFile), which never follows a symlink and fails on
// anything already there, and then another name is tried; the rename
// replaces a symlink at path itself, never its target.
func WritePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	dir, base := filepath.Split(path)
	d, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	defer d.Close()
	dfd := int(d.Fd())
	tmp, err := writePidTemp(dfd, base, pid)
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, base)
	}
	if err != nil {
		if tmp != "" {
			unix.Unlinkat(dfd, tmp, 0)
		}
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	// The rename is the directory's to keep.
	if err := unix.Fsync(dfd); err != nil {
		return fmt.Errorf("pid file %s: sync directory: %w", path, err)
	}
	return nil
}

// writePidTemp writes pid into a new file in the directory dfd, synced
// (so that after a crash the final name holds the whole pid or its old
// content, never nothing), and returns its temporary name. Where the file
// system has O_TMPFILE the file gets a name only once written: a kill
// before the rename leaves a named temp file only between two syscalls.
func writePidTemp(dfd int, base string, pid int) (string, error) {
	fd, err := openPidTmpfile(dfd)
	var f *os.File
	tmp := ""
	if err == nil {
		f = os.NewFile(uintptr(fd), "pid file")
	} else if f, tmp, err = createPidTemp(dfd, base); err != nil {
		return "", err
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if err == nil {
		err = f.Sync()
	}
	if err == nil && tmp == "" {
		tmp, err = linkPidTemp(f, dfd, base)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return tmp, err
}

// openPidTmpfile opens an unnamed file in dfd; a variable so that the
// tests can take the path of a file system without O_TMPFILE.
var openPidTmpfile = func(dfd int) (int, error) {
	return unix.Openat(dfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
}

// linkPidTemp gives the O_TMPFILE file f a fresh pidTempName in dfd.
// linkat never follows or replaces what is at the new name.
func linkPidTemp(f *os.File, dfd int, base string) (string, error) {
	return freshPidTemp(base, "link", func(tmp string) error {
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), dfd, tmp, unix.AT_SYMLINK_FOLLOW)
	})
}

// createPidTemp creates a new file in the directory dfd under a fresh
// pidTempName, never opening anything that exists.
func createPidTemp(dfd int, base string) (*os.File, string, error) {
	var f *os.File
	tmp, err := freshPidTemp(base, "create", func(tmp string) error {
		fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			f = os.NewFile(uintptr(fd), tmp)
		}
		return err
	})
	return f, tmp, err
}

// freshPidTemp calls try (which must fail with EEXIST on a name taken)
// on up to pidTempTries fresh pidTempNames and returns the one it made;
// verb names the operation in its errors.
func freshPidTemp(base, verb string, try func(tmp string) error) (string, error) {
	var err error
	for range pidTempTries {
		tmp := pidTempName(base)
		if err = try(tmp); err == nil {
			return tmp, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return "", fmt.Errorf("%s %s: %w", verb, tmp, err)
		}
	}
	return "", fmt.Errorf("%s a temporary file: %d names taken: %w", verb, pidTempTries, err)
}
