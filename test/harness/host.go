package harness

// What a client suite (test/clients, test/cri) asks of the host: which of
// its processes, mounts and cgroups are left, and a command on a pty.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/rtkit/rt/pkg/console"
)

// Cmdline is pid's command line, its arguments joined by spaces.
func Cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// ProcessesWith lists the pids (not this process's) whose command line
// has arg as one of its words: what is still running with a test's root.
func ProcessesWith(arg string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err != nil || !slices.Contains(strings.Split(string(data), "\x00"), arg) {
			continue
		}
		if pid := filepath.Base(filepath.Dir(p)); pid != strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

// ProcessesUnder lists the pids (but this process, its parent and those
// skip names) whose command line or root names dir: a client's daemons,
// shims and container processes all do when their files are under dir.
func ProcessesUnder(dir string, skip func(pid int) bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pid == os.Getppid() || (skip != nil && skip(pid)) {
			continue
		}
		// dir+"/": another run's dir with a longer suffix is not ours.
		if cl := Cmdline(pid) + " "; strings.Contains(cl, dir+"/") || strings.Contains(cl, dir+" ") {
			pids = append(pids, pid)
			continue
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && strings.HasPrefix(root+"/", dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// MountsUnder lists the mount points at or under dir in this mount
// namespace, deepest first.
func MountsUnder(dir string) []string {
	ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// CgroupTrees lists the cgroup directories at or below /<name> in every
// hierarchy (v1 and cgroup2), for each of names, deepest first.
func CgroupTrees(names ...string) []string {
	var out, tops []string
	for _, n := range names {
		ms, _ := filepath.Glob("/sys/fs/cgroup/*/" + n)
		tops = append(tops, ms...)
		if _, err := os.Stat("/sys/fs/cgroup/" + n); err == nil {
			tops = append(tops, "/sys/fs/cgroup/"+n)
		}
	}
	for _, top := range tops {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// CgroupDirsOf lists the cgroup directories, in any hierarchy and up to
// three levels down, whose name contains id (runc and rt name them after
// the container id; podman's are libpod-<id>).
func CgroupDirsOf(id string) []string {
	var out []string
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	hier = append(hier, "/sys/fs/cgroup")
	for _, h := range hier {
		for _, pattern := range []string{"*", "*/*", "*/*/*"} {
			ms, _ := filepath.Glob(filepath.Join(h, pattern))
			for _, m := range ms {
				if strings.Contains(filepath.Base(m), id) {
					if fi, err := os.Stat(m); err == nil && fi.IsDir() {
						out = append(out, m)
					}
				}
			}
		}
	}
	return out
}

// RemoveCgroups thaws the directories dirs (deepest first), kills what is
// in them and removes them, returning what it found there and could not
// remove, a line each.
func RemoveCgroups(dirs []string) []string {
	var problems []string
	for _, d := range dirs {
		// A paused container keeps its processes: SIGKILL waits for a thaw.
		os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0o644)
		os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0o644)
	}
	for _, d := range dirs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				problems = append(problems, fmt.Sprintf("process %d left in %s: killed", pid, d))
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, d := range dirs {
		var err error
		for i := 0; i < 50; i++ {
			if err = syscall.Rmdir(d); err != syscall.EBUSY {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil && err != syscall.ENOENT {
			problems = append(problems, fmt.Sprintf("cgroup dir %s: %v", d, err))
		}
	}
	return problems
}

// WaitFor polls cond for up to d, failing t if it never holds.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

// PtyRun runs name args (under `timeout -k 5`) with a new pty as its
// stdin, stdout and stderr (a client's -t needs its own console), and
// returns what the pty showed and the exit code.
func PtyRun(t testing.TB, timeout time.Duration, env []string, name string, args ...string) (string, int) {
	t.Helper()
	master, slavePath, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	full := append([]string{"-k", "5", strconv.Itoa(int(timeout / time.Second)), name}, args...)
	cmd := exec.Command("timeout", full...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	err = cmd.Start()
	slave.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	// The reader ends with EIO once the last slave fd (the container's
	// too) is closed.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		master.Close()
		<-done
	}
	return out.String(), code
}

// QuietTB is the testing.TB of a teardown that may run when no test is
// running (a reaper): it logs nothing and panics where a test would stop.
type QuietTB struct{ testing.TB }

func (QuietTB) Helper()                   {}
func (QuietTB) Logf(string, ...any)       {}
func (QuietTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (QuietTB) Fatal(a ...any)            { panic(fmt.Sprint(a...)) }

// AssertNothingLeft fails t for each process (but skip's), mount under
// dir, cgroup directory of cgroupTrees, or network link that a client
// suite left after its teardown: links are those of `ip -o link` then, by
// name, against ipLink (its output before the suite), but for the names
// other matches (another suite running at the same time makes those).
func AssertNothingLeft(t testing.TB, dir string, skip func(pid int) bool, ipLink string, other *regexp.Regexp, cgroupTrees ...string) {
	t.Helper()
	if pids := ProcessesUnder(dir, skip); len(pids) > 0 {
		t.Errorf("processes left: %v", pids)
	}
	if ms := MountsUnder(dir); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if ds := CgroupTrees(cgroupTrees...); len(ds) > 0 {
		t.Errorf("cgroup dirs left: %v", ds)
	}
	now, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Errorf("ip -o link: %v", err)
		return
	}
	before := linkNames(ipLink, other)
	for _, name := range linkNames(string(now), other) {
		if !slices.Contains(before, name) {
			t.Errorf("link left: %s", name)
		}
	}
}

// linkNames are the link names in `ip -o link` output (without @peer), but
// those other matches.
func linkNames(out string, other *regexp.Regexp) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if other == nil || !other.MatchString(name) {
			names = append(names, name)
		}
	}
	return names
}
