package runtime

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestSealedInitWays checks both ways of protecting rt-init (CVE-2019-5736):
// the result runs, has the file's bytes, refuses every writer, and sits above
// the fds a child is given. A copy of /bin/true stands in for rt-init.
func TestSealedInitWays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs and tmpfs mounts need CAP_SYS_ADMIN")
	}
	src, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true to stand in for rt-init")
	}
	// A path with a ':' checks the escaping of overlayfs' lowerdir.
	dir := filepath.Join(t.TempDir(), "a:b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rt-init")
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		open func(string) (*os.File, error)
		// refused is the error an open for writing, or the write, fails with.
		refused syscall.Errno
	}{
		{"overlay", overlayInit, syscall.EROFS},
		{"memfd", memfdInit, syscall.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Fd() < highFd {
				t.Errorf("fd %d, want at least %d", f.Fd(), highFd)
			}
			self := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
			got, err := os.ReadFile(self)
			if err != nil || !bytes.Equal(got, src) {
				t.Errorf("content: %d bytes, err %v; want the %d bytes of the file", len(got), err, len(src))
			}
			// A memfd opens for writing, but its seals refuse the write.
			for _, flags := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND} {
				w, err := os.OpenFile(self, flags, 0)
				if err == nil {
					_, err = w.Write([]byte("pwned"))
					w.Close()
				}
				if !errors.Is(err, tt.refused) {
					t.Errorf("open and write (flags %#x): %v, want %v", flags, err, tt.refused)
				}
			}
			if out, err := exec.Command(self).CombinedOutput(); err != nil {
				t.Errorf("run %s: %v: %s", self, err, out)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, src) {
				t.Errorf("the file on disk changed (%v)", err)
			}
		})
	}
}

// TestOverlayInitLeavesNoMount: the overlay is detached; nothing appears in
// the mount table, before or after the fd is closed.
func TestOverlayInitLeavesNoMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs and tmpfs mounts need CAP_SYS_ADMIN")
	}
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	f, err := overlayInit("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	during, _ := os.ReadFile("/proc/self/mountinfo")
	f.Close()
	if !bytes.Equal(before, during) {
		t.Errorf("the mount table changed:\nbefore:\n%s\nduring:\n%s", before, during)
	}
}
