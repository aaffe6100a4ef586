package checkpoint

// Reading a checkpoint archive: decompressed, every entry checked, unpacked
// into a private directory.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// openArchive opens an archive file and returns its decompressed tar
// stream. The compression is told from the data's magic, not the name, so
// that a renamed archive still opens.
func openArchive(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	r, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("archive %s: %w", name, err)
	}
	return readCloser{Reader: r, close: func() error { r.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress wraps r in the decompressor its first bytes ask for.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case bytes.HasPrefix(head, gzipMagic):
		return gzip.NewReader(br)
	}
	return io.NopCloser(br), nil
}

// unpackArchive unpacks the archive file name into a new private (0700)
// temporary directory and returns it; the caller removes it. On error
// nothing is left.
func unpackArchive(name string) (dir string, retErr error) {
	r, err := openArchive(name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	tmp, err := os.MkdirTemp("", "rt-checkpoint-archive-")
	if err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o700); err != nil {
		return "", err
	}
	if err := readArchive(r, tmp); err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	return tmp, nil
}

// readArchive unpacks the tar stream r into the empty directory dest: the
// top-level files rt uses and the regular files of checkpoint/. Every
// entry, unpacked or not, is checked first by archiveName; only regular
// files and directories are allowed; names must be unique. Files are
// created 0600 with O_EXCL|O_NOFOLLOW, directories 0700: nothing the
// archive says about modes or owners is applied.
//
// A refused entry stops the read with an error wrapping ErrBadArchive; the
// caller removes dest.
func readArchive(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	for hdr, err := range tarEntries(tr) {
		if err != nil {
			return fmt.Errorf("not a readable tar archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w: %w", hdr.Name, err, ErrBadArchive)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		default:
			return fmt.Errorf("entry %q: %s: only files and directories are allowed: %w", hdr.Name, typeName(hdr.Typeflag), ErrBadArchive)
		}
		if sparse(hdr) {
			return fmt.Errorf("entry %q: a sparse file: %w", hdr.Name, ErrBadArchive)
		}
		if seen[name] {
			return fmt.Errorf("entry %q: appears twice: %w", hdr.Name, ErrBadArchive)
		}
		seen[name] = true
		if name == "." {
			continue
		}
		dir, base := path.Split(name)
		switch {
		case name == archiveImageDir && hdr.Typeflag == tar.TypeDir:
			if err := mkdirPrivate(filepath.Join(dest, archiveImageDir)); err != nil {
				return err
			}
		case dir == archiveImageDir+"/" && hdr.Typeflag == tar.TypeReg:
			if err := mkdirPrivate(filepath.Join(dest, archiveImageDir)); err != nil {
				return err
			}
			if err := unpackFile(tr, filepath.Join(dest, archiveImageDir, base)); err != nil {
				return err
			}
		case dir == "" && hdr.Typeflag == tar.TypeReg && archiveTopFiles[name]:
			if err := unpackFile(tr, filepath.Join(dest, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sparse reports whether hdr is a PAX sparse file, which Go's tar reader
// hands over as a regular file: its holes read as zeros, so a few bytes of
// archive could unpack into gigabytes. No archive rt reads has one.
func sparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// typeName names a tar entry type for an error.
func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "a symlink"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a fifo"
	case tar.TypeGNUSparse:
		return "a sparse file"
	}
	return fmt.Sprintf("type %q", t)
}

func mkdirPrivate(p string) error {
	err := os.Mkdir(p, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// unpackFile copies r into the new file p.
func unpackFile(r io.Reader, p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("unpack %s: %w", filepath.Base(p), err)
	}
	return f.Close()
}
