package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
)

// inChild runs the test named by t again in a child process with fds
// (ExtraFiles: 3, 4, …) and returns what the child printed; a test calls
// it first thing and, in the child, does its work when it returns "".
// The fd work must not touch the go test process's own fds.
func inChild(t *testing.T, fds ...*os.File) string {
	t.Helper()
	if os.Getenv("INITPROC_CHILD") == t.Name() {
		return ""
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "INITPROC_CHILD="+t.Name())
	cmd.ExtraFiles = fds
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return string(out)
}

// createFiles creates the named files in a temporary directory, open
// until the test ends.
func createFiles(t *testing.T, names ...string) []*os.File {
	t.Helper()
	dir := t.TempDir()
	var files []*os.File
	for _, name := range names {
		f, err := os.Create(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

func fdTarget(fd int) string {
	s, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "closed"
	}
	return s
}

func cloexec(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && flags&unix.FD_CLOEXEC != 0
}

// TestCloseHostFds: past the preserved fds, an fd naming a host file is
// replaced by an anonymous one under the same number (Go objects may hold
// it), anonymous fds stay, and everything there is close-on-exec; the
// protocol's and the preserved fds are left alone.
func TestCloseHostFds(t *testing.T) {
	// fds 3 (socket slot), 4 (fifo slot), 5 (preserved), 6 (a host file).
	if out := inChild(t, createFiles(t, "sock", "fifo", "preserved", "host")...); out != "" {
		if !strings.Contains(out, "PASS") {
			t.Fatalf("child:\n%s", out)
		}
		return
	}
	host := initproto.FdPreserved + 1
	if err := closeHostFds(1); err != nil {
		t.Fatal(err)
	}
	for fd, want := range map[int]string{3: "/sock", 4: "/fifo", initproto.FdPreserved: "/preserved"} {
		if got := fdTarget(fd); !strings.HasSuffix(got, want) {
			t.Errorf("fd %d = %s, want the untouched %s", fd, got, want)
		}
	}
	if got := fdTarget(host); !strings.HasPrefix(got, "anon_inode:") {
		t.Errorf("host fd %d = %s, want an anonymous inode", host, got)
	}
	if !cloexec(host) {
		t.Errorf("fd %d is not close-on-exec", host)
	}
}

// TestMovePreservedFds: the preserved fds land on 3… in order, over the
// socket and fifo slots, and whatever is above them closes at exec.
func TestMovePreservedFds(t *testing.T) {
	if out := inChild(t, createFiles(t, "sock", "fifo", "p0", "p1", "above")...); out != "" {
		if !strings.Contains(out, "PASS") {
			t.Fatalf("child:\n%s", out)
		}
		return
	}
	if err := movePreservedFds(2); err != nil {
		t.Fatal(err)
	}
	for fd, want := range map[int]string{3: "/p0", 4: "/p1"} {
		if got := fdTarget(fd); !strings.HasSuffix(got, want) {
			t.Errorf("fd %d = %s, want %s", fd, got, want)
		}
		if cloexec(fd) {
			t.Errorf("fd %d (a preserved one) is close-on-exec", fd)
		}
	}
	for _, fd := range []int{5, 6, 7} {
		if !cloexec(fd) {
			t.Errorf("fd %d (%s) stays open at exec", fd, fdTarget(fd))
		}
	}
}
