package checkpoint

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// grandchild starts script in the background of a shell that exits at
// once, so that the script's process is not the test's child, and returns
// a pidfd of it.
func grandchild(t *testing.T, script string) int {
	t.Helper()
	out, err := exec.Command("sh", "-c", "("+script+") >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestExitOfNotAChild(t *testing.T) {
	tests := []struct {
		name   string
		script string
		kill   bool
		check  func(unix.WaitStatus) bool
	}{
		{"exit 0", "sleep 0.1", false, func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 0 }},
		{"exit 3", "sleep 0.1; exit 3", false, func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 3 }},
		{"killed", "sleep 10", true, func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGKILL }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Some inits reap orphans only every second or two.
			t.Parallel()
			fd := grandchild(t, tt.script)
			if tt.kill {
				if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
					t.Fatal(err)
				}
			}
			ws, err := exitOf(fd)
			if errors.Is(err, errNoExitStatus) {
				t.Skipf("the kernel cannot say how a process that is not our child ended: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(ws) {
				t.Errorf("wait status %#x (exited %v status %d, signaled %v signal %v)", ws, ws.Exited(), ws.ExitStatus(), ws.Signaled(), ws.Signal())
			}
		})
	}
}

// As a subreaper the test inherits the orphan, which stays a zombie unless
// exitOf reaps it.
func TestExitOfInheritedChild(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	fd := grandchild(t, "sleep 0.1; exit 5")
	ws, err := exitOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 5 {
		t.Errorf("wait status %#x, want exit 5", ws)
	}
	// Reaped: no zombie child left.
	if _, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); err != unix.ECHILD {
		t.Errorf("a child is left to reap (wait4: %v)", err)
	}
}
