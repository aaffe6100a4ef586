package fs

// The files of cgroupfs: directories made below a floor, pids written,
// files read and written without following links.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

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
