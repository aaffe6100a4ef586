package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSetupDevExisting: a linux.devices entry whose path is already taken
// in the rootfs by a file of another kind, or by a device with other
// numbers, is an error naming the path and what is there (the spec: the
// runtime MUST generate an error); the same device is kept as it is. An
// empty regular file is the mount point an earlier bind of the device left
// and is taken as the device's place. A default device (not in
// linux.devices) that the rootfs has as something else is replaced, as the
// spec requires the runtime to supply them.
func TestSetupDevExisting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod")
	}
	mode := os.FileMode(0o640)
	null := specs.LinuxDevice{Path: "/mydev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode}
	fifo := specs.LinuxDevice{Path: "/mydev/null", Type: "p", FileMode: &mode}
	tests := []struct {
		name   string
		device *specs.LinuxDevice // nil: only the default devices
		path   string             // in the rootfs, where make puts something
		make   func(path string) error
		want   string // words of the error; "" for success
		// node is what is at path afterwards (stat's %F major:minor perm)
		// when there is no error.
		node string
	}{
		{name: "nothing there", device: &null, path: "/mydev/null", node: "c 1:3 640"},
		{name: "regular file", device: &null, path: "/mydev/null",
			make: func(p string) error { return os.WriteFile(p, []byte("not a device\n"), 0o600) },
			want: "linux.devices: /mydev/null is a regular file in the rootfs, not character device 1:3"},
		{name: "empty regular file (a bind's mount point)", device: &null, path: "/mydev/null",
			make: func(p string) error { return os.WriteFile(p, nil, 0o600) }, node: "c 1:3 640"},
		{name: "directory", device: &null, path: "/mydev/null",
			make: func(p string) error { return os.Mkdir(p, 0o755) },
			want: "/mydev/null is a directory in the rootfs, not character device 1:3"},
		{name: "symlink", device: &null, path: "/mydev/null",
			make: func(p string) error { return os.Symlink("/dev/null", p) },
			want: "/mydev/null is a symlink in the rootfs, not character device 1:3"},
		{name: "device with other numbers", device: &null, path: "/mydev/null",
			make: func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))) },
			want: "/mydev/null is character device 1:5 in the rootfs, not character device 1:3"},
		{name: "block device with the same numbers", device: &null, path: "/mydev/null",
			make: func(p string) error { return unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(1, 3))) },
			want: "/mydev/null is block device 1:3 in the rootfs, not character device 1:3"},
		// Kept as it is, mode and owner included, as runc keeps it.
		{name: "the same device", device: &null, path: "/mydev/null",
			make: func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) },
			node: "c 1:3 600"},
		{name: "the same device, type u", device: &specs.LinuxDevice{Path: "/mydev/null", Type: "u", Major: 1, Minor: 3}, path: "/mydev/null",
			make: func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) },
			node: "c 1:3 600"},
		{name: "a fifo where a fifo is asked for", device: &fifo, path: "/mydev/null",
			make: func(p string) error { return unix.Mkfifo(p, 0o600) }, node: "p 0:0 600"},
		{name: "a fifo where a device is asked for", device: &null, path: "/mydev/null",
			make: func(p string) error { return unix.Mkfifo(p, 0o600) },
			want: "/mydev/null is a fifo in the rootfs, not character device 1:3"},
		{name: "default device over a regular file", path: "/dev/null",
			make: func(p string) error { return os.WriteFile(p, []byte("x"), 0o600) }, node: "c 1:3 666"},
		{name: "default device already there", path: "/dev/zero",
			make: func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))) }, node: "c 1:5 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{"dev", "mydev"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			host := filepath.Join(dir, tt.path)
			if tt.make != nil {
				if err := tt.make(host); err != nil {
					t.Fatal(err)
				}
			}
			s := &specs.Spec{Linux: &specs.Linux{}}
			if tt.device != nil {
				s.Linux.Devices = []specs.LinuxDevice{*tt.device}
			}
			r, err := openRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			err = setupDev(&Config{Rootfs: dir, Spec: s}, r, false)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("setupDev: %v, want an error containing %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("setupDev: %q is more than one line", err)
				}
				if tt.make != nil {
					if _, serr := os.Lstat(host); serr != nil {
						t.Errorf("what was at %s is gone: %v", tt.path, serr)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("setupDev: %v", err)
			}
			var st unix.Stat_t
			if err := unix.Lstat(host, &st); err != nil {
				t.Fatal(err)
			}
			kind := map[uint32]string{unix.S_IFCHR: "c", unix.S_IFBLK: "b", unix.S_IFIFO: "p"}[st.Mode&unix.S_IFMT]
			got := fmt.Sprintf("%s %d:%d %o", kind, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode&0o7777)
			if got != tt.node {
				t.Errorf("%s is %q, want %q", tt.path, got, tt.node)
			}
		})
	}
}

// TestChmodNoFollow: a symlink at the name is refused, its target left as it
// was; a plain node gets the mode.
func TestChmodNoFollow(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if err := chmodNoFollow(d, "link", 0o755); err == nil {
		t.Error("chmod of a symlink: no error")
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("the symlink's target got mode %v", fi.Mode().Perm())
	}
	if err := chmodNoFollow(d, "node", 0o640); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "node")); fi.Mode().Perm() != 0o640 {
		t.Errorf("node mode %v, want 0640", fi.Mode().Perm())
	}
}
