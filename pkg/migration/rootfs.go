package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A rootfs is sent as what differs between the source's and the target's:
// the target describes what it has (a Manifest, empty when it has nothing),
// the source compares by content (SHA-256 of every regular file, plus type,
// mode, owner and link target) and sends only the entries that differ, and
// the paths the target has and the source has not are removed there. On
// shared storage, or for a rootfs that both hosts have from the same image,
// nothing but the manifests crosses. Only directories, regular files and
// symlinks are compared (what rt's rootfs diff carries); anything on
// another filesystem under the rootfs is skipped.

// Entry is one path of a rootfs.
type Entry struct {
	Path string `json:"p"`           // relative, slash-separated
	Type string `json:"t"`           // "d", "f" or "l"
	Mode uint32 `json:"m"`           // permission and set-id bits
	UID  uint32 `json:"u"`           //
	GID  uint32 `json:"g"`           //
	Size int64  `json:"s,omitempty"` // regular files
	Hash string `json:"h,omitempty"` // SHA-256 of a regular file's content
	Link string `json:"l,omitempty"` // a symlink's target
}

// Manifest is a rootfs's entries in walk order (parents first).
type Manifest struct {
	Entries []Entry `json:"entries"`
}

// HashCache keeps file hashes between two scans of one rootfs, keyed by
// what changes whenever content can have changed (inode, size, mtime and
// ctime), so that the scan after the freeze reads only changed files.
// Timestamps move in ticks of the filesystem's clock (jiffies, or seconds
// on some), and a file changed again in the tick of the ctime that was
// read keeps that ctime: the hash of a file whose ctime is within
// racyWindow of its reading is not kept (git's "racily clean" entries).
type HashCache map[string]cacheEntry

// racyWindow is longer than any filesystem's timestamp granularity.
var racyWindow = 2 * time.Second

type cacheEntry struct {
	ino, size    int64
	mtime, ctime int64
	hash         string
}

// Scan describes the rootfs at root. A missing root is an empty manifest.
// cache may be nil.
func Scan(root string, cache HashCache) (*Manifest, error) {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return &Manifest{}, nil
	}
	m := &Manifest{}
	err := WalkRootfs(root, func(p, rel string, st *unix.Stat_t) error {
		e, ok, err := entryOf(p, rel, st, cache)
		if err != nil {
			return err
		}
		if ok {
			m.Entries = append(m.Entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan rootfs %s: %w", root, err)
	}
	return m, nil
}

// WalkRootfs calls fn, in walk order (parents first), for every entry under
// root that is on root's own filesystem (a mount under it is skipped whole),
// with its path, its slash-separated path relative to root and its lstat.
// An entry that goes away during the walk (the container runs) is skipped.
func WalkRootfs(root string, fn func(p, rel string, st *unix.Stat_t) error) error {
	var rootSt unix.Stat_t
	if err := unix.Lstat(root, &rootSt); err != nil {
		return fmt.Errorf("rootfs %s: %w", root, err)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone since the directory was read
			}
			return err
		}
		if p == root {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st.Dev != rootSt.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return fn(p, filepath.ToSlash(rel), &st)
	})
}

// entryOf describes one path; ok is false for kinds that are not compared.
func entryOf(p, rel string, st *unix.Stat_t, cache HashCache) (Entry, bool, error) {
	e := Entry{Path: rel, Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		e.Type = "d"
	case unix.S_IFLNK:
		link, err := os.Readlink(p)
		if err != nil {
			return e, false, err
		}
		e.Type, e.Link = "l", link
	case unix.S_IFREG:
		e.Type, e.Size = "f", st.Size
		key := cacheEntry{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		if c, ok := cache[rel]; ok && c.ino == key.ino && c.size == key.size && c.mtime == key.mtime && c.ctime == key.ctime {
			e.Hash = c.hash
			return e, true, nil
		}
		start := time.Now()
		h, err := hashFile(p)
		if err != nil {
			return e, false, err
		}
		e.Hash = h
		switch {
		case cache == nil:
		case key.ctime < start.Add(-racyWindow).UnixNano():
			key.hash = h
			cache[rel] = key
		default:
			delete(cache, rel)
		}
	default:
		return e, false, nil
	}
	return e, true, nil
}

func hashFile(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff compares what the target has (have) with what the source has
// (want). send are the paths of want to send (new, or different in type,
// mode, owner, content or link target), in want's order; remove are the
// paths of have that want lacks, deepest first, so each is removed after
// what it contains.
func Diff(have, want *Manifest) (send, remove []string) {
	old := make(map[string]Entry, len(have.Entries))
	for _, e := range have.Entries {
		old[e.Path] = e
	}
	for _, e := range want.Entries {
		if o, ok := old[e.Path]; !ok || o != e {
			send = append(send, e.Path)
		}
		delete(old, e.Path)
	}
	for p := range old {
		remove = append(remove, p)
	}
	slices.SortFunc(remove, func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return send, remove
}

// Bytes is the content size of the entries of m named in paths.
func (m *Manifest) Bytes(paths []string) int64 {
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	var n int64
	for _, e := range m.Entries {
		if want[e.Path] {
			n += e.Size
		}
	}
	return n
}
