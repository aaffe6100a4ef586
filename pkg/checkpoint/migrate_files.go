package checkpoint

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// writeImageTar writes the regular files of the flat image directory dir
// to w as a tar (CRIU's images are one directory of *.img files, plus rt's
// records).
func writeImageTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	if err := addImageDir(tw, "", dir); err != nil {
		return err
	}
	return tw.Close()
}

// extractImageTar writes the image files of the tar r into dir: regular
// files with plain names only (the peer is not trusted with paths), never
// replacing one there (the page server wrote the memory images).
func extractImageTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for hdr, err := range tarEntries(tr) {
		if err != nil {
			return fmt.Errorf("images: %w", err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || name == "" || name != path.Base(name) || name == "." || name == ".." || strings.ContainsRune(name, 0) {
			return fmt.Errorf("images: entry %q: only plain files are allowed: %w", name, ErrBadArchive)
		}
		if err := unpackFile(tr, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("images: %w", err)
		}
	}
	return nil
}

// removeInRootfs removes paths (relative, deepest first, as
// migration.Diff orders them) from rootfs, each resolved inside it; a
// missing one is fine.
func removeInRootfs(rootfs string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	defer root.Close()
	for _, p := range paths {
		name, err := archiveName(p)
		if err != nil || name == "." {
			return fmt.Errorf("remove %q from the rootfs: a bad path", p)
		}
		if err := removeOne(root, name); err != nil {
			return fmt.Errorf("remove %s from the rootfs: %w", name, err)
		}
	}
	return nil
}

func removeOne(root *os.File, name string) error {
	parent, err := pathrs.OpenatInRoot(root, path.Dir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	dfd, base := int(parent.Fd()), path.Base(name)
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	return unix.Unlinkat(dfd, base, flags)
}

// criuVersion is the "Version:" line of `criu --version`, what both sides
// of a migration compare.
func criuVersion(criu string) (string, error) {
	out, err := exec.Command(criu, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("criu --version: %w", err)
	}
	for _, l := range bytes.Split(out, []byte("\n")) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(l), []byte("Version:")); ok {
			return string(bytes.TrimSpace(v)), nil
		}
	}
	return "", fmt.Errorf("criu --version printed no version: %q", out)
}
