package clients_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// reaperEnv names the suite's directory in the environment of the reaper: the
// test binary started again, which waits for its stdin to close (the suite's
// process has ended) and then tears the suite down.
const reaperEnv = "RT_CLIENTS_REAPER"

// suiteName is the name of the suite's dir (rt-clients-<random>): it is
// the containerd namespace (so ctr's cgroupsPath is /<name>/<id>) and, with
// "-podman", podman's --cgroup-parent. Every cgroup the suite makes is under
// a directory of its own, not shared with another run of the suite.
func suiteName(dir string) string { return filepath.Base(dir) }

// suite is what the tests share: one temp dir holding everything, the
// runtime as the clients see it, the image archive, and the clients'
// environments, each started on first use.
type suite struct {
	dir     string // /tmp/rt-clients-*
	real    string // the runtime binary: rt or $RT_CLIENTS_RUNTIME
	runtime string // <dir>/runtime/runc: a symlink to real or the argv logger
	image   string // the OCI archive
	ipLink  string // `ip -o link` before the suite touched anything
	created []string

	reaperIn io.WriteCloser

	cdOnce sync.Once
	cd     *containerd
	cdErr  error

	pmOnce sync.Once
	pm     *podman
	pmErr  error
}

var (
	theSuite  *suite
	suiteErr  error
	suiteOnce sync.Once
)

// getSuite returns the shared suite, setting it up on first use.
func getSuite(t *testing.T) *suite {
	t.Helper()
	harness.RequireRoot(t)
	bins := harness.Binaries(t)
	suiteOnce.Do(func() { theSuite, suiteErr = newSuite(bins) })
	if suiteErr != nil {
		t.Fatalf("suite set-up: %v", suiteErr)
	}
	return theSuite
}

// suiteStarted: whether getSuite ran.
func suiteStarted() *suite { return theSuite }

func newSuite(bins harness.Bins) (*suite, error) {
	s := &suite{real: bins.RT}
	if compared != "" {
		s.real = compared
	}
	link, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -o link: %w", err)
	}
	s.ipLink = string(link)
	if s.dir, err = os.MkdirTemp("/tmp", "rt-clients-"); err != nil {
		return nil, err
	}
	// Directories outside the suite's dir that the clients create.
	for _, d := range []string{defaultRuncRoot + "/" + suiteName(s.dir), defaultRuncRoot, shimSocketDir, "/run/containerd/fifo", "/run/containerd"} {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			s.created = append(s.created, d)
		}
	}
	os.Chmod(s.dir, 0o755)
	if err := s.startReaper(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	os.WriteFile(filepath.Join(s.dir, "created-dirs"), []byte(strings.Join(s.created, "\n")), 0o644)
	if err := os.MkdirAll(filepath.Join(s.dir, "runtime"), 0o755); err != nil {
		return nil, err
	}
	s.runtime = filepath.Join(s.dir, "runtime", "runc")
	if log := os.Getenv("RT_CLIENTS_ARGV_LOG"); log != "" {
		log, _ = filepath.Abs(log)
		err = os.WriteFile(s.runtime, []byte(argvLogger(log, s.real)), 0o755)
	} else {
		err = os.Symlink(s.real, s.runtime)
	}
	if err != nil {
		return nil, err
	}
	s.image = imagePath(s.dir)
	if err := harness.BuildImageArchive(s.image, imageName); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return s, nil
}

// argvLogger is the shell script that logs each invocation of the runtime
// and then execs it: one record per call, written with a single printf.
func argvLogger(log, real string) string {
	return `#!/bin/sh
caller=$(cat /proc/$PPID/comm 2>/dev/null)
names=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort | tr '\n' ' ')
argv=
for a in "$@"; do argv="$argv [$a]"; done
printf 'caller=%s cwd=%s env=[%s]\nargv:%s\n' "$caller" "$(pwd)" "$names" "$argv" >>` + shellQuote(log) + `
exec ` + shellQuote(real) + ` "$@"
`
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// startReaper starts the test binary again as the reaper of s.dir. Its
// stdin is a pipe whose write end only this process holds: when it ends,
// however it ends, the reaper reads EOF and tears the suite down. Its
// output goes to /dev/null so that go test does not wait for it.
func (s *suite) startReaper() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), reaperEnv+"="+s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.reaperIn = in
	go cmd.Wait()
	return nil
}

// reap is the reaper's main: wait for EOF on stdin, then tear down.
func reap(dir string) {
	signal := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(signal) }()
	<-signal
	if _, err := os.Stat(dir); err != nil {
		return
	}
	teardown(dir)
}

// teardown stops everything the suite started under dir and removes dir.
// It returns what it had to clean up by force or could not clean up. It is
// what the last test and the reaper run; it reads what it needs from dir.
func teardown(dir string) []string {
	var problems []string
	note := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if pm := podmanFrom(dir); pm != nil {
		problems = append(problems, pm.teardown()...)
	}
	if cd := containerdFrom(dir); cd != nil {
		problems = append(problems, cd.teardown()...)
	}
	// Whatever is still running from the suite's directory: a shim, a
	// conmon, a container process. Killed by pid.
	for _, pid := range processesUnder(dir) {
		note("process %d left (%s): killed", pid, cmdline(pid))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(processesUnder, dir, 5*time.Second)
	if cd := containerdFrom(dir); cd != nil {
		problems = append(problems, cd.removeShimSockets()...)
	}
	for _, m := range mountsUnder(dir) {
		note("mount left: %s: unmounted", m)
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	// A container left paused keeps its processes (SIGKILL waits for the
	// thaw): thaw the suite's cgroups and kill what is in them.
	for _, d := range cgroupDirsUnder(dir) {
		if strings.HasPrefix(d, "/sys/fs/cgroup/freezer/") {
			os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0o644)
		}
		if _, err := os.Stat(filepath.Join(d, "cgroup.freeze")); err == nil {
			os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0o644)
		}
	}
	for _, d := range cgroupDirsUnder(dir) {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				note("process %d left in %s: killed", pid, d)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, d := range cgroupDirsUnder(dir) {
		var err error
		for i := 0; i < 50; i++ {
			if err = syscall.Rmdir(d); err != syscall.EBUSY {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			note("cgroup dir %s: %v", d, err)
		}
	}
	created, _ := os.ReadFile(filepath.Join(dir, "created-dirs"))
	if err := os.RemoveAll(dir); err != nil {
		note("remove %s: %v", dir, err)
	}
	for _, d := range strings.Fields(string(created)) {
		// Only if empty: a client of another user may have started meanwhile.
		syscall.Rmdir(d)
	}
	return problems
}

// result is a finished client command.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %q\nstderr: %q", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// out is stdout and stderr together (what the user sees).
func (r result) out() string { return r.stdout + r.stderr }

// cmdOpts are the knobs of runCmd.
type cmdOpts struct {
	env     []string      // nil: the test's
	stdin   io.Reader     // nil: /dev/null
	timeout time.Duration // 0: 60s
	stdout  *os.File      // nil: a temp file (read into the result)
	extra   []*os.File    // the command's fds 3...
}

// runCmd runs name args under `timeout -k 5 <timeout>` (ctr and podman
// forward SIGTERM into the container; the KILL comes 5s later), with files,
// not pipes, as stdout and stderr: a detached container may inherit them.
func runCmd(t testing.TB, o cmdOpts, name string, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	full := append([]string{"-k", "5", strconv.Itoa(int(o.timeout / time.Second)), name}, args...)
	cmd := exec.Command("timeout", full...)
	cmd.Env = o.env
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	so, se := o.stdout, tempFile(t)
	if so == nil {
		so = tempFile(t)
		defer so.Close()
	}
	defer se.Close()
	cmd.Stdout, cmd.Stderr = so, se
	err := cmd.Run()
	res := result{args: append([]string{name}, args...)}
	if o.stdout == nil {
		res.stdout = readAll(so)
	}
	res.stderr = readAll(se)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if res.code == 124 {
			t.Logf("timed out after %v: %s", o.timeout, res)
		}
	case err != nil:
		t.Fatalf("%s: %v", res.args, err)
	}
	return res
}

func tempFile(t testing.TB) *os.File {
	f, err := os.CreateTemp("", "rt-clients-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readAll(f *os.File) string {
	f.Seek(0, 0)
	b, _ := io.ReadAll(f)
	return string(b)
}

// processesUnder lists the pids whose command line or cwd names dir (the
// suite's containerd, shims, conmons and container processes all do).
func processesUnder(dir string) []int {
	var pids []int
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == os.Getppid() {
			continue
		}
		if isReaper(pid) {
			continue
		}
		// dir+"/": another run's /tmp/rt-clients-<longer suffix> is not ours.
		if cl := cmdline(pid) + " "; strings.Contains(cl, dir+"/") || strings.Contains(cl, dir+" ") {
			pids = append(pids, pid)
			continue
		}
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && strings.HasPrefix(root+"/", dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isReaper(pid int) bool {
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return strings.Contains(string(env), reaperEnv+"=")
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

func waitGone(list func(string) []int, dir string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(list(dir)) == 0 {
			return true
		}
	}
	return len(list(dir)) == 0
}

// mountsUnder lists the mount points under dir in this mount namespace,
// deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 {
			mp := unescapeMount(fs[4])
			if mp == dir || strings.HasPrefix(mp, dir+"/") {
				out = append(out, mp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupDirsUnder lists the cgroup directories of the suite in dir (those
// under /sys/fs/cgroup/*/<name> and <name>-podman, and the same directly
// under /sys/fs/cgroup), deepest first.
func cgroupDirsUnder(dir string) []string {
	var out []string
	var tops []string
	for _, n := range []string{suiteName(dir), suiteName(dir) + "-podman"} {
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

// cgroupDirsOf lists the cgroup directories on the host, in any hierarchy,
// whose name contains id (runc and rt name them after the container id;
// podman's are libpod-<id>).
func cgroupDirsOf(id string) []string {
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

// waitFor polls cond for up to d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

var idSeq atomic.Int64

// uniq is a suffix unique in this run for container names and ids.
func uniq() string { return fmt.Sprintf("%d-%d", os.Getpid(), idSeq.Add(1)) }
