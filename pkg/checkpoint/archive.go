package checkpoint

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// A checkpoint archive is one tar file holding everything a restore on
// another host needs, in the layout podman (`podman container checkpoint
// --export`) and Kubernetes (CRI-O, the kubelet's checkpoint API) use, so
// that checkpointctl reads rt's archives:
//
//	config.dump      podman's container config, the fields checkpointctl shows
//	spec.dump        the container's OCI spec
//	checkpoint/      the CRIU images (and rt's files beside them)
//	rootfs-diff.tar  the rootfs files changed since the container was created
//	stats-dump       CRIU's dump statistics
//
// Names as checkpointctl's lib/metadata.go spells them.
const (
	configDumpFile  = "config.dump"
	specDumpFile    = "spec.dump"
	archiveImageDir = "checkpoint"
	rootfsDiffFile  = "rootfs-diff.tar"
)

// archiveTopFiles are the top-level files an import unpacks; other entries
// of a podman or CRI-O archive (network.status, deleted.files, volumes/, …)
// are checked like every entry but not unpacked: rt has no use for them.
var archiveTopFiles = map[string]bool{
	configDumpFile: true, specDumpFile: true, rootfsDiffFile: true, statsDumpFile: true,
}

// containerConfig is the part of podman's ContainerConfig (config.dump)
// that checkpointctl reads (its lib.ContainerConfig): the JSON names are
// podman's.
type containerConfig struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// RootfsImageName is the image the rootfs came from: rt runs plain
	// directories and never knows one, so it is always empty.
	RootfsImageName string `json:"rootfsImageName,omitempty"`
	// OCIRuntime is the runtime's name: "rt".
	OCIRuntime  string    `json:"runtime,omitempty"`
	CreatedTime time.Time `json:"createdTime"`
}

// ociRuntimeName is what config.dump names the runtime.
const ociRuntimeName = "rt"

// compression is how an archive file is compressed.
type compression int

const (
	compressNone compression = iota
	compressGzip
	compressZstd
)

// compressionFor picks the compression from the archive's file name: .tar
// plain, .tar.gz or .tgz gzip, .tar.zst zstd. Anything else is refused: a
// suffix that says nothing would make a file no tool opens by its name.
func compressionFor(name string) (compression, error) {
	switch {
	case strings.HasSuffix(name, ".tar"):
		return compressNone, nil
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return compressGzip, nil
	case strings.HasSuffix(name, ".tar.zst"):
		return compressZstd, nil
	}
	return 0, fmt.Errorf("archive %s: unknown suffix, want .tar, .tar.gz or .tar.zst", name)
}

// archiveContent is what writeArchive puts into an archive.
type archiveContent struct {
	Config containerConfig
	// Spec is the container's OCI spec, written as spec.dump.
	Spec any
	// ImageDir holds the CRIU images; its regular files go under
	// checkpoint/, and its stats-dump also at the top, where podman has it.
	ImageDir string
	// RootfsDiff, if not empty, is a file holding rootfs-diff.tar.
	RootfsDiff string
}

// writeArchive writes the archive file name atomically: into a temporary
// file beside it (0600: the images hold the container's memory), renamed
// over name once complete, so that a failed export leaves no half archive.
func writeArchive(name string, c archiveContent) (retErr error) {
	comp, err := compressionFor(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	defer func() {
		if retErr != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.WriteCloser = nopCloser{bw}
	switch comp {
	case compressGzip:
		w = gzip.NewWriter(bw)
	case compressZstd:
		if w, err = zstd.NewWriter(bw); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
	}
	if err := writeArchiveTar(w, c); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// writeArchiveTar writes the tar stream of an archive.
func writeArchiveTar(w io.Writer, c archiveContent) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	addBytes := func(name string, data []byte) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	cfg, err := json.MarshalIndent(c.Config, "", "  ")
	if err != nil {
		return err
	}
	if err := addBytes(configDumpFile, cfg); err != nil {
		return err
	}
	spec, err := json.MarshalIndent(c.Spec, "", "  ")
	if err != nil {
		return err
	}
	if err := addBytes(specDumpFile, spec); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: archiveImageDir + "/", Mode: 0o700, ModTime: now}); err != nil {
		return err
	}
	if err := addImageDir(tw, archiveImageDir+"/", c.ImageDir); err != nil {
		return err
	}
	if err := addTarFile(tw, statsDumpFile, filepath.Join(c.ImageDir, statsDumpFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if c.RootfsDiff != "" {
		if err := addTarFile(tw, rootfsDiffFile, c.RootfsDiff); err != nil {
			return err
		}
	}
	return tw.Close()
}

// addImageDir adds the regular files of the image directory dir to tw,
// each named prefix+name. CRIU's image directory is flat; a pre-dump's
// "parent" symlink is not followed (an export or a migration is never a
// pre-dump).
func addImageDir(tw *tar.Writer, prefix, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := addTarFile(tw, prefix+e.Name(), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// addTarFile adds the regular file src to tw as name (mode 0600).
func addTarFile(tw *tar.Writer, name, src string) error {
	return copyTarFile(tw, &tar.Header{Name: name, Mode: 0o600}, src)
}

// copyTarFile writes hdr, completed with src's size (and its mtime when
// hdr has none), and src's bytes to tw. src must be a regular file, not a
// link; one that shrinks while it is read is an error, one that grows is
// cut at the size the header gave.
func copyTarFile(tw *tar.Writer, hdr *tar.Header, src string) error {
	f, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
	if hdr.ModTime.IsZero() {
		hdr.ModTime = fi.ModTime()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("%s changed size while archived: %w", src, err)
	}
	return nil
}

// tarEntries yields the entries of tr to its end, and a read error (with
// a nil header) as the last.
func tarEntries(tr *tar.Reader) iter.Seq2[*tar.Header, error] {
	return func(yield func(*tar.Header, error) bool) {
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) || !yield(hdr, err) || err != nil {
				return
			}
		}
	}
}

// ErrBadArchive is wrapped when an archive is refused: an entry whose path
// is absolute, climbs out with "..", is a link or a device, or appears
// twice. An archive is untrusted input: a restore may be fed one made
// anywhere.
var ErrBadArchive = errors.New("refused checkpoint archive")

// archiveName checks one entry's name and returns it cleaned and relative
// ("./a//b/" is "a/b"); "." for the archive's root. Refused: empty names,
// NUL bytes, absolute paths and any ".." component (even one that would
// stay inside once cleaned: no honest writer makes one).
func archiveName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("NUL in name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New("path leaves the archive (..)")
		}
	}
	return path.Clean(name), nil
}
