package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sha(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// node is one path of a test tree.
type node struct {
	path string
	typ  string // "d", "f", "l" or "p" (a fifo)
	mode os.FileMode
	data []byte // a file's content
	link string
}

// makeTree creates nodes under root (which it creates), in order, with
// their exact modes.
func makeTree(t *testing.T, root string, nodes []node) {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		p := filepath.Join(root, n.path)
		var err error
		switch n.typ {
		case "d":
			err = os.Mkdir(p, 0o700)
		case "f":
			err = os.WriteFile(p, n.data, 0o600)
		case "l":
			err = os.Symlink(n.link, p)
		case "p":
			err = unix.Mkfifo(p, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n.typ != "l" {
			// Not os.Chmod: it would not pass set-id and sticky bits
			// given as plain permission bits.
			if err := unix.Chmod(p, uint32(n.mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func scan(t *testing.T, root string, cache HashCache) *Manifest {
	t.Helper()
	m, err := Scan(root, cache)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func paths(m *Manifest) []string {
	var ps []string
	for _, e := range m.Entries {
		ps = append(ps, e.Path)
	}
	return ps
}

func entry(t *testing.T, m *Manifest, p string) Entry {
	t.Helper()
	for _, e := range m.Entries {
		if e.Path == p {
			return e
		}
	}
	t.Fatalf("no entry %s in %v", p, paths(m))
	return Entry{}
}

// noRacyWindow lets a test cache the hashes of files it has just written.
func noRacyWindow(t *testing.T) {
	old := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = old })
}

// mountFS mounts a filesystem of type fstype on dir for the test, or skips
// it where mounting is not allowed.
func mountFS(t *testing.T, fstype, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("none", dir, fstype, 0, ""); err != nil {
		t.Skipf("mount %s: %v", fstype, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

var testTree = []node{
	{path: "a-dangling", typ: "l", link: "nowhere"},
	{path: "big", typ: "f", mode: 0o644, data: patterned(3<<20 + 1)},
	{path: "dir", typ: "d", mode: 0o750},
	{path: "dir/file", typ: "f", mode: 0o640, data: []byte("hello\n")},
	{path: "dir/sub", typ: "d", mode: 0o700},
	{path: "dir/sub/empty", typ: "f", mode: 0o600},
	{path: "dir/sub/up", typ: "l", link: "../../big"},
	{path: "exec", typ: "f", mode: 0o4755 | 0o2000, data: []byte("#!/bin/sh\n")},
	{path: "fifo", typ: "p", mode: 0o644},
	{path: "link", typ: "l", link: "/dir/file"},
	{path: "sticky", typ: "d", mode: 0o1777},
	{path: "sticky/fifo", typ: "p", mode: 0o600},
}

func TestScan(t *testing.T) {
	root := filepath.Join(t.TempDir(), "rootfs")
	makeTree(t, root, testTree)
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if uid == 0 {
		// Owners other than the test's own.
		for p, id := range map[string]uint32{"dir/file": 1234, "link": 4321} {
			if err := os.Lchown(filepath.Join(root, p), int(id), int(id+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []Entry
	for _, n := range testTree {
		e := Entry{Path: n.path, Type: n.typ, Mode: uint32(n.mode), UID: uid, GID: gid}
		switch n.typ {
		case "p":
			continue // not compared
		case "f":
			e.Size, e.Hash = int64(len(n.data)), sha(n.data)
		case "l":
			e.Mode, e.Link = 0o777, n.link
		}
		if uid == 0 && n.path == "dir/file" {
			e.UID, e.GID = 1234, 1235
		}
		if uid == 0 && n.path == "link" {
			e.UID, e.GID = 4321, 4322
		}
		want = append(want, e)
	}
	for _, cache := range []HashCache{nil, {}} {
		m := scan(t, root, cache)
		if !reflect.DeepEqual(m.Entries, want) {
			t.Fatalf("Scan (cache %v):\n got %+v\nwant %+v", cache != nil, m.Entries, want)
		}
	}
	// The same rootfs through another path to it is described the same.
	m := scan(t, root+"/", nil)
	if !reflect.DeepEqual(m.Entries, want) {
		t.Fatalf("Scan of %s/: %v", root, paths(m))
	}
}

func TestScanEmpty(t *testing.T) {
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, root string }{
		{"missing root", filepath.Join(tmp, "missing")},
		{"missing parent", filepath.Join(tmp, "missing", "rootfs")},
		{"empty directory", empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := HashCache{}
			m, err := Scan(tt.root, cache)
			if err != nil || m == nil || len(m.Entries) != 0 || len(cache) != 0 {
				t.Fatalf("Scan: %+v, %v", m, err)
			}
			if send, remove := Diff(m, m); send != nil || remove != nil {
				t.Fatalf("Diff of nothing: %v, %v", send, remove)
			}
		})
	}
}

func TestScanError(t *testing.T) {
	// A root that cannot be looked up for another reason than its
	// absence is an error, not an empty rootfs (which would have the
	// target remove everything).
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := Scan(filepath.Join(file, "rootfs"), nil); err == nil {
		t.Fatalf("Scan under a file: %+v", m)
	}
}

// TestScanOtherFilesystem: what is mounted under the rootfs is not part of
// it.
func TestScanOtherFilesystem(t *testing.T) {
	root := filepath.Join(t.TempDir(), "rootfs")
	makeTree(t, root, []node{{path: "a", typ: "f", mode: 0o644, data: []byte("a")}, {path: "mnt", typ: "d", mode: 0o755}, {path: "z", typ: "d", mode: 0o755}})
	mountFS(t, "tmpfs", filepath.Join(root, "mnt"))
	makeTree(t, filepath.Join(root, "mnt"), []node{{path: "x", typ: "f", mode: 0o644, data: []byte("x")}, {path: "sub", typ: "d", mode: 0o755}})
	if got := paths(scan(t, root, nil)); !slices.Equal(got, []string{"a", "z"}) {
		t.Fatalf("Scan: %v, want [a z]", got)
	}
}

func TestHashCache(t *testing.T) {
	noRacyWindow(t)
	root := filepath.Join(t.TempDir(), "rootfs")
	makeTree(t, root, testTree)
	cache := HashCache{}
	first := scan(t, root, cache)
	files := 0
	for _, e := range first.Entries {
		if e.Type != "f" {
			if _, ok := cache[e.Path]; ok {
				t.Fatalf("%s (%s) cached", e.Path, e.Type)
			}
			continue
		}
		files++
		if c, ok := cache[e.Path]; !ok || c.hash != e.Hash || c.size != e.Size {
			t.Fatalf("%s: cache entry %+v for %+v", e.Path, c, e)
		}
	}
	if len(cache) != files {
		t.Fatalf("%d cache entries for %d files", len(cache), files)
	}

	// Mark the cache entries of the files that stay: a scan that uses
	// them reports the mark, one that reads the file its real hash.
	for _, p := range []string{"dir/file", "dir/sub/empty"} {
		c := cache[p]
		c.hash = "cached:" + p
		cache[p] = c
	}
	// The same content in a new file (a new inode, and the old mtime).
	oldBig := entry(t, first, "big")
	big := filepath.Join(root, "big")
	st, err := os.Stat(big)
	if err != nil {
		t.Fatal(err)
	}
	c := cache["big"]
	c.hash = "cached:big"
	cache["big"] = c
	tmp := filepath.Join(root, ".big.tmp")
	if err := os.WriteFile(tmp, patterned(3<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, big); err != nil {
		t.Fatal(err)
	}
	// New content of the same size. The mtime is set apart too, so that
	// the change shows even on a filesystem whose clock has not ticked
	// since the first scan.
	exec := filepath.Join(root, "exec")
	newExec := []byte("#!/bin/bash")[:len("#!/bin/sh\n")]
	if err := os.WriteFile(exec, newExec, 0); err != nil {
		t.Fatal(err)
	}
	past := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	if err := os.Chtimes(exec, past, past); err != nil {
		t.Fatal(err)
	}
	// A new file.
	if err := os.WriteFile(filepath.Join(root, "new"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}

	second := scan(t, root, cache)
	for _, tt := range []struct{ path, hash string }{
		{"dir/file", "cached:dir/file"},
		{"dir/sub/empty", "cached:dir/sub/empty"},
		{"big", oldBig.Hash},
		{"exec", sha(newExec)},
		{"new", sha([]byte("new"))},
	} {
		if got := entry(t, second, tt.path).Hash; got != tt.hash {
			t.Errorf("%s: hash %s, want %s", tt.path, got, tt.hash)
		}
		if got := cache[tt.path].hash; got != tt.hash {
			t.Errorf("%s: cached %s, want %s", tt.path, got, tt.hash)
		}
	}
	if len(cache) != files+1 {
		t.Fatalf("%d cache entries for %d files", len(cache), files+1)
	}
	// Without the cache, every file is read.
	if got := entry(t, scan(t, root, nil), "dir/file").Hash; got != sha([]byte("hello\n")) {
		t.Fatalf("Scan without a cache: %s", got)
	}
}

// TestHashCacheRacy: a file changed in the same tick of the filesystem's
// clock as its hash was taken may change again unseen, with the same size
// and times; its hash is not kept for the next scan. ramfs keeps coarse
// timestamps (as every filesystem did before Linux 6.13's fine-grained
// ones), so there a same-size rewrite right after a scan keeps the times
// it read.
func TestHashCacheRacy(t *testing.T) {
	for _, fs := range []string{"", "ramfs"} {
		t.Run("fs="+fs, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "rootfs")
			if fs != "" {
				mountFS(t, fs, root)
			} else if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, "db")
			for i := range 200 {
				old, new := []byte("page 0000"), []byte("page 1111")
				if err := os.WriteFile(p, old, 0o644); err != nil {
					t.Fatal(err)
				}
				cache := HashCache{}
				scan(t, root, cache)
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.WriteAt(new, 0)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if got := entry(t, scan(t, root, cache), "db").Hash; got != sha(new) {
					t.Fatalf("round %d: the second scan has the old content's hash", i)
				}
			}
		})
	}
}

// TestHashCacheWindow: a file is cached once its ctime is older than the
// racy window.
func TestHashCacheWindow(t *testing.T) {
	old := racyWindow
	racyWindow = 200 * time.Millisecond
	t.Cleanup(func() { racyWindow = old })
	root := filepath.Join(t.TempDir(), "rootfs")
	makeTree(t, root, []node{{path: "f", typ: "f", mode: 0o644, data: []byte("x")}})
	cache := HashCache{}
	scan(t, root, cache)
	if len(cache) != 0 {
		t.Fatalf("a file changed just now was cached: %v", cache)
	}
	time.Sleep(2 * racyWindow)
	m := scan(t, root, cache)
	if c, ok := cache["f"]; !ok || c.hash != sha([]byte("x")) || m.Entries[0].Hash != c.hash {
		t.Fatalf("not cached after the window: %+v", cache)
	}
}

func d(p string, mode uint32) Entry { return Entry{Path: p, Type: "d", Mode: mode} }
func f(p, content string) Entry {
	return Entry{Path: p, Type: "f", Mode: 0o644, Size: int64(len(content)), Hash: sha([]byte(content))}
}
func l(p, target string) Entry { return Entry{Path: p, Type: "l", Mode: 0o777, Link: target} }

func TestDiff(t *testing.T) {
	base := []Entry{d("etc", 0o755), f("etc/hosts", "127.0.0.1 localhost\n"), l("etc/localtime", "/usr/share/zoneinfo/UTC"), d("usr", 0o755), d("usr/bin", 0o755), f("usr/bin/sh", "ELF")}
	// replace puts e where p and what is under it were in base.
	replace := func(p string, e ...Entry) []Entry {
		var out []Entry
		for _, b := range base {
			switch {
			case b.Path == p:
				out = append(out, e...)
			case !strings.HasPrefix(b.Path, p+"/"):
				out = append(out, b)
			}
		}
		return out
	}
	// change changes only p's entry.
	change := func(p string, f func(*Entry)) []Entry {
		out := slices.Clone(base)
		for i := range out {
			if out[i].Path == p {
				f(&out[i])
			}
		}
		return out
	}
	tests := []struct {
		name         string
		have, want   []Entry
		send, remove []string
	}{
		{"both empty", nil, nil, nil, nil},
		{"identical", base, base, nil, nil},
		{"nothing there", nil, base, []string{"etc", "etc/hosts", "etc/localtime", "usr", "usr/bin", "usr/bin/sh"}, nil},
		{"new file", base, append(slices.Clone(base), f("usr/bin/ls", "ELF2")), []string{"usr/bin/ls"}, nil},
		{"changed content of the same size", base, replace("usr/bin/sh", f("usr/bin/sh", "ELG")), []string{"usr/bin/sh"}, nil},
		{"file mode", base, change("usr/bin/sh", func(e *Entry) { e.Mode = 0o4755 }), []string{"usr/bin/sh"}, nil},
		{"directory mode", base, change("usr/bin", func(e *Entry) { e.Mode = 0o700 }), []string{"usr/bin"}, nil},
		{"owner", base, change("etc/hosts", func(e *Entry) { e.UID = 1000 }), []string{"etc/hosts"}, nil},
		{"group", base, change("usr", func(e *Entry) { e.GID = 5 }), []string{"usr"}, nil},
		{"symlink owner", base, change("etc/localtime", func(e *Entry) { e.UID = 7 }), []string{"etc/localtime"}, nil},
		{"a size alone", base, change("usr/bin/sh", func(e *Entry) { e.Size++ }), []string{"usr/bin/sh"}, nil},
		{"symlink target", base, replace("etc/localtime", l("etc/localtime", "/usr/share/zoneinfo/Europe/Paris")), []string{"etc/localtime"}, nil},
		{"file to directory", base, replace("etc/hosts", d("etc/hosts", 0o755), f("etc/hosts/a", "a")), []string{"etc/hosts", "etc/hosts/a"}, nil},
		{"directory to file", base, replace("usr/bin", f("usr/bin", "x")), []string{"usr/bin"}, []string{"usr/bin/sh"}},
		{"symlink to file", base, replace("etc/localtime", f("etc/localtime", "TZif")), []string{"etc/localtime"}, nil},
		{"file to symlink", base, replace("etc/hosts", l("etc/hosts", "hosts.real")), []string{"etc/hosts"}, nil},
		{"directory to symlink", base, replace("usr/bin", l("usr/bin", "/bin")), []string{"usr/bin"}, []string{"usr/bin/sh"}},
		{"a file removed", base, replace("etc/hosts"), nil, []string{"etc/hosts"}},
		{"everything removed", base, nil, nil, []string{"usr/bin/sh", "etc/hosts", "etc/localtime", "usr/bin", "etc", "usr"}},
		{
			"removals deepest first",
			[]Entry{d("a", 0o755), d("a/b", 0o755), f("a/b/c", "c"), d("a/b/d", 0o755), f("a/b/d/e", "e"), f("a/f", "f"), d("x", 0o755), f("x/y", "y"), f("z", "z")},
			[]Entry{d("a", 0o755), f("z", "z")},
			nil,
			[]string{"a/b/d/e", "a/b/c", "a/b/d", "a/b", "a/f", "x/y", "x"},
		},
		{"send in the wanted order", nil, []Entry{f("z", "z"), d("a", 0o755), f("a/b", "b")}, []string{"z", "a", "a/b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, want := &Manifest{Entries: tt.have}, &Manifest{Entries: tt.want}
			send, remove := Diff(have, want)
			if !slices.Equal(send, tt.send) || !slices.Equal(remove, tt.remove) {
				t.Fatalf("Diff:\n send %q\nwant %q\n remove %q\nwant %q", send, tt.send, remove, tt.remove)
			}
			if len(tt.have) > 0 && !reflect.DeepEqual(have.Entries, tt.have) || len(tt.want) > 0 && !reflect.DeepEqual(want.Entries, tt.want) {
				t.Fatal("Diff changed its manifests")
			}
			// Nothing differs from itself.
			if send, remove := Diff(want, want); send != nil || remove != nil {
				t.Fatalf("Diff(want, want): %v, %v", send, remove)
			}
		})
	}
}

// TestDiffScanned: two scanned trees, compared as the migration does,
// also after their manifests crossed the wire as JSON.
func TestDiffScanned(t *testing.T) {
	tmp := t.TempDir()
	target, source := filepath.Join(tmp, "target"), filepath.Join(tmp, "source")
	common := []node{
		{path: "bin", typ: "d", mode: 0o755},
		{path: "bin/sh", typ: "f", mode: 0o755, data: []byte("shell")},
		{path: "etc", typ: "d", mode: 0o755},
		{path: "etc/motd", typ: "f", mode: 0o644, data: []byte("hi")},
	}
	makeTree(t, target, append(slices.Clone(common),
		node{path: "etc/conf", typ: "f", mode: 0o644, data: []byte("v=1")},
		node{path: "etc/link", typ: "l", link: "motd"},
		node{path: "old", typ: "d", mode: 0o755},
		node{path: "old/file", typ: "f", mode: 0o644, data: []byte("gone")},
		node{path: "var", typ: "d", mode: 0o755},
	))
	makeTree(t, source, append(slices.Clone(common),
		node{path: "etc/conf", typ: "f", mode: 0o644, data: []byte("v=2")},
		node{path: "etc/link", typ: "l", link: "conf"},
		node{path: "etc/new", typ: "f", mode: 0o600, data: []byte("new")},
		node{path: "var", typ: "d", mode: 0o700},
		node{path: "var/fifo", typ: "p", mode: 0o600},
	))
	have, want := scan(t, target, nil), scan(t, source, nil)
	for _, m := range []*Manifest{have, want} {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Manifest
		if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(&back, m) {
			t.Fatalf("manifest through JSON: %v", err)
		}
	}
	send, remove := Diff(have, want)
	if w := []string{"etc/conf", "etc/link", "etc/new", "var"}; !slices.Equal(send, w) {
		t.Errorf("send %q, want %q", send, w)
	}
	if w := []string{"old/file", "old"}; !slices.Equal(remove, w) {
		t.Errorf("remove %q, want %q", remove, w)
	}
	if n := want.Bytes(send); n != int64(len("v=2")+len("new")) {
		t.Errorf("Bytes(send) = %d", n)
	}
}

func TestManifestBytes(t *testing.T) {
	m := &Manifest{Entries: []Entry{d("d", 0o755), f("d/a", "12345"), f("d/b", "1234567890"), l("l", "d/a"), f("empty", "")}}
	tests := []struct {
		name  string
		paths []string
		want  int64
	}{
		{"none", nil, 0},
		{"one file", []string{"d/a"}, 5},
		{"two files", []string{"d/a", "d/b"}, 15},
		{"directories and symlinks weigh nothing", []string{"d", "l"}, 0},
		{"an empty file", []string{"empty"}, 0},
		{"unknown paths", []string{"nope", "d/a/x"}, 0},
		{"a path named twice counts once", []string{"d/b", "d/b"}, 10},
		{"everything", []string{"d", "d/a", "d/b", "l", "empty"}, 15},
	}
	for _, tt := range tests {
		if got := m.Bytes(tt.paths); got != tt.want {
			t.Errorf("%s: Bytes(%q) = %d, want %d", tt.name, tt.paths, got, tt.want)
		}
	}
	if got := (&Manifest{}).Bytes([]string{"a"}); got != 0 {
		t.Errorf("empty manifest: %d", got)
	}
}
