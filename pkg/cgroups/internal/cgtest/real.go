package cgtest

// Helpers for tests on the host's real cgroups.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/cgroups"
)

// RequireCgroups skips a test that needs to make cgroups and move
// processes, and returns the host's hierarchies.
func RequireCgroups(t *testing.T) []cgroups.Mount {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups and moves processes between them")
	}
	hs, err := cgroups.Mounts()
	if err != nil {
		t.Skipf("no cgroup hierarchy to test on: %v", err)
	}
	return hs
}

// Name is a cgroup name no other test run uses.
func Name(what string) string {
	return fmt.Sprintf("rt-cgtest-%d-%s", os.Getpid(), what)
}

// StartSleep starts a process to move around; it is killed when the test
// ends.
func StartSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(cmd) })
	return cmd
}

// Stop kills cmd and reaps it; repeating it is harmless.
func Stop(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// ProcCgroup is /proc/<pid>/cgroup.
func ProcCgroup(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroups.ParseProcCgroup(data)
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

// CheckGone fails if any of dirs exists.
func CheckGone(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", d, err)
		}
	}
}

// DirsOf is m's directories, each once.
func DirsOf(m cgroups.Manager) []string {
	var dirs []string
	for _, d := range m.Paths() {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// ReadTrim is the content of path without surrounding space.
func ReadTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
