package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// tree lists every path under dir (symlinks not followed).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		out = append(out, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A destination behind a symlink that leads nowhere in the rootfs (or to a
// file, or in a loop), or behind a file, is refused with nothing made, and
// the error names the component, its target and why; the safe walk's own
// error stays reachable with errors.Is. A symlink to a directory of the
// rootfs is followed, inside it.
func TestBlockedDestination(t *testing.T) {
	host := t.TempDir() // a directory outside the root, for a link to point at
	tests := []struct {
		name  string
		links map[string]string // root path → symlink target
		dest  string
		file  bool   // resolve as a file (bind of a file), not a directory
		want  string // "" for success
		errno unix.Errno
	}{
		{name: "absolute, dangling", links: map[string]string{"link": "/some/dir"}, dest: "/link/newsub",
			want: "/link is a symlink to /some/dir, which does not exist in the rootfs", errno: unix.ENOTDIR},
		{name: "relative, dangling, deeper", links: map[string]string{"a/rel": "../nowhere/x"}, dest: "a/rel/b/c",
			want: "/a/rel is a symlink to ../nowhere/x, which does not exist in the rootfs", errno: unix.ENOTDIR},
		{name: "dangling destination, directory", links: map[string]string{"link": "/some/dir"}, dest: "/link",
			want: "/link is a symlink to /some/dir, which does not exist in the rootfs", errno: unix.ENOTDIR},
		{name: "dangling destination, file", links: map[string]string{"dev/link": "/some/file"}, dest: "/dev/link", file: true,
			want: "/dev/link is a symlink to /some/file, which does not exist in the rootfs", errno: unix.ENOENT},
		{name: "dangling parent of a file", links: map[string]string{"link": "/some/dir"}, dest: "/link/f", file: true,
			want: "/link is a symlink to /some/dir, which does not exist in the rootfs", errno: unix.ENOTDIR},
		{name: "to the host, which is not the rootfs", links: map[string]string{"esc": host}, dest: "/esc/sub",
			want: "/esc is a symlink to " + host + ", which does not exist in the rootfs", errno: unix.ENOTDIR},
		{name: "to a file", links: map[string]string{"flink": "/etc/hosts"}, dest: "/flink/sub",
			want: "/flink is a symlink to /etc/hosts, which is not a directory", errno: unix.ENOTDIR},
		{name: "a file in the way", dest: "/etc/hosts/sub",
			want: "/etc/hosts is not a directory", errno: unix.ENOTDIR},
		{name: "a loop", links: map[string]string{"loop": "/loop"}, dest: "/loop/sub",
			want: "/loop is a symlink to /loop, which cannot be followed in the rootfs: too many levels of symbolic links"},
		{name: "to a directory: followed inside", links: map[string]string{"good": "/etc"}, dest: "/good/newsub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "etc/hosts"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			for p, target := range tt.links {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
				if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			before := tree(t, dir)
			r, err := openRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			var h *os.File
			if tt.file {
				h, err = r.file(tt.dest)
			} else {
				h, err = r.dir(tt.dest)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				h.Close()
				if _, err := os.Stat(filepath.Join(dir, "etc/newsub")); err != nil {
					t.Errorf("not made inside the root: %v", err)
				}
				return
			}
			if err == nil {
				h.Close()
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err, tt.want)
			}
			if tt.errno != 0 && !errors.Is(err, tt.errno) {
				t.Errorf("err %q does not wrap %v", err, tt.errno)
			}
			if after := tree(t, dir); !slices.Equal(after, before) {
				t.Errorf("the root changed: %q, was %q", after, before)
			}
			if entries, _ := os.ReadDir(host); len(entries) > 0 {
				t.Errorf("made on the host: %s holds %v", host, entries)
			}
		})
	}
}

// explain returns the error it is given, the same value, when no component
// of the destination is in the way.
func TestExplainNothingInTheWay(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	sentinel := errors.New("mkdir failed for another reason")
	for _, dest := range []string{"/", "/a/b", "/a/b/missing/deeper", "/missing"} {
		if got := r.explain(dest, true, sentinel); got != sentinel {
			t.Errorf("explain(%q) = %v, want the error given", dest, got)
		}
	}
}
