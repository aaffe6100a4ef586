package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRealPrepareEntry starts a shell the way rt starts rt-init: born in
// the cgroup2 directory (CLONE_INTO_CGROUP) and writing "0" into each v1
// tasks file itself. /proc/self/cgroup must then name the test cgroup in
// every hierarchy; Destroy must leave nothing.
func TestRealPrepareEntry(t *testing.T) {
	m := realManager(t, "entry", false)
	e, err := m.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := 0
	for _, tg := range m.targets {
		if tg.h.Unified() {
			if e.Dir == nil {
				t.Errorf("cgroup2 hierarchy %s but no Dir in the entry", tg.h.Mountpoint)
			}
			continue
		}
		want++
	}
	if len(e.Tasks) != want {
		t.Fatalf("%d tasks files, want one per v1 hierarchy (%d)", len(e.Tasks), want)
	}
	var script strings.Builder
	for i := range e.Tasks {
		// dash redirects only single-digit fds: write through /proc.
		script.WriteString("echo 0 >/proc/self/fd/" + strconv.Itoa(3+i) + " && ")
	}
	script.WriteString("cat /proc/self/cgroup")
	cmd := exec.Command("/bin/sh", "-c", script.String())
	cmd.ExtraFiles = e.Tasks
	if e.Dir != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(e.Dir.Fd())}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	name := "/" + filepath.Base(m.targets[0].dir)
	lines := 0
	for line := range strings.Lines(string(out)) {
		// "4:memory:/path" or "0::/path"
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || parts[2] != name {
			t.Errorf("the child is in %q, want %s everywhere", line, name)
		}
		lines++
	}
	if lines < len(m.targets) {
		t.Errorf("/proc/self/cgroup of the child has %d lines, want one per hierarchy (%d):\n%s", lines, len(m.targets), out)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, tg := range m.targets {
		if _, err := os.Stat(tg.dir); !os.IsNotExist(err) {
			t.Errorf("%s left after Destroy (%v)", tg.dir, err)
		}
	}
}

// TestRealPrepareFailureLeavesNothing: a Prepare that cannot make its
// directory in the last hierarchy removes what it made there and in the
// others.
func TestRealPrepareFailureLeavesNothing(t *testing.T) {
	m := realManager(t, "entry-fail", false)
	if len(m.targets) < 2 {
		t.Skip("needs two hierarchies")
	}
	// Below the cgroup's own cgroup.procs: the cgroup is made, then the
	// next level fails (ENOTDIR).
	last := &m.targets[len(m.targets)-1]
	top := last.dir
	last.dir = filepath.Join(top, "cgroup.procs", "c")
	e, err := m.Prepare()
	if err == nil {
		e.Close()
		t.Fatalf("Prepare succeeded below a cgroup.procs file: %s", last.dir)
	}
	for _, dir := range []string{top, m.targets[0].dir} {
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
			t.Errorf("%s left after a failed Prepare (%v): %v", dir, serr, err)
		}
	}
}
