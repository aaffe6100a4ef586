package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountCopyUp mounts a tmpfs on dest (dst, a handle opened before the
// mount) that starts with a copy of what dest holds. The tmpfs goes straight
// onto dest and the copy is made through dst, which still names the
// directory underneath; the new tmpfs is reached anew by path. Nothing is
// mounted anywhere else: a staging directory in /tmp would be the host's
// /tmp for a container without a mount namespace of its own, and moving a
// mount out of a shared parent is refused by the kernel.
func mountCopyUp(r *root, dest, source string, dst *os.File, flags uintptr, data string) error {
	if err := unix.Mount(source, fdPath(dst), "tmpfs", flags&^unix.MS_RDONLY, data); err != nil {
		return err
	}
	mnt, err := r.reopen(dest)
	if err != nil {
		return err
	}
	defer mnt.Close()
	// "/." makes the walk enter the directory the magic link names, the
	// one under the tmpfs ("." does not cross into a mount on it).
	if err := copyTree(fdPath(dst)+"/.", fdPath(mnt)); err != nil {
		return err
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", fdPath(mnt), "", unix.MS_REMOUNT|flags, data); err != nil {
			return fmt.Errorf("remount read-only: %w", err)
		}
	}
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
