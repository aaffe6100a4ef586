package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountCopyUp mounts a tmpfs on dst that starts with a copy of what dst
// holds: the tmpfs is mounted on a staging directory, filled, and moved
// over dst, so dst's own contents are read before anything covers them.
// The staging directory is in rt-init's private mount namespace.
func mountCopyUp(source string, dst *os.File, flags uintptr, data string) error {
	stage, err := os.MkdirTemp("", "rt-tmpcopyup-")
	if err != nil {
		return err
	}
	defer os.Remove(stage)
	if err := unix.Mount(source, stage, "tmpfs", flags&^unix.MS_RDONLY, data); err != nil {
		return err
	}
	moved := false
	defer func() {
		if !moved {
			unix.Unmount(stage, unix.MNT_DETACH)
		}
	}()
	// "/." makes the walk enter the directory the magic link names.
	if err := copyTree(fdPath(dst)+"/.", stage); err != nil {
		return err
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", stage, "", unix.MS_REMOUNT|flags, data); err != nil {
			return fmt.Errorf("remount read-only: %w", err)
		}
	}
	if err := unix.Mount(stage, fdPath(dst), "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move into place: %w", err)
	}
	moved = true
	return nil
}

// copyTree copies the contents of src into dst: directories, regular files,
// symlinks (never followed) and device nodes, with their modes and owners.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*unix.Stat_t)
		switch {
		case rel == ".":
			err = os.Chmod(dst, info.Mode().Perm()|info.Mode()&(fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid))
		case d.IsDir():
			err = os.Mkdir(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			var link string
			if link, err = os.Readlink(path); err == nil {
				err = os.Symlink(link, target)
			}
		case d.Type().IsRegular():
			err = copyFile(path, target, info.Mode().Perm())
		case st != nil:
			err = unix.Mknod(target, st.Mode, int(st.Rdev))
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		if st != nil {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("chown %s: %w", rel, err)
			}
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
