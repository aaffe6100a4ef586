package clients_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

	reaper *harness.Reaper

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
	if s.reaper, err = harness.StartReaper(reaperEnv, s.dir); err != nil {
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
		note("process %d left (%s): killed", pid, harness.Cmdline(pid))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(processesUnder, dir, 5*time.Second)
	if cd := containerdFrom(dir); cd != nil {
		problems = append(problems, cd.removeShimSockets()...)
	}
	for _, m := range harness.MountsUnder(dir) {
		note("mount left: %s: unmounted", m)
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	problems = append(problems, harness.RemoveCgroups(cgroupDirsUnder(dir))...)
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

// processesUnder lists the suite's processes in dir (not the reaper).
func processesUnder(dir string) []int {
	return harness.ProcessesUnder(dir, harness.IsReaper(reaperEnv))
}

// cgroupDirsUnder lists the cgroup directories of the suite in dir (those
// under <name> and <name>-podman in every hierarchy), deepest first.
func cgroupDirsUnder(dir string) []string {
	return harness.CgroupTrees(suiteName(dir), suiteName(dir)+"-podman")
}

func waitGone(list func(string) []int, dir string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(list(dir)) == 0 {
			return true
		}
	}
	return len(list(dir)) == 0
}

var idSeq atomic.Int64

// uniq is a suffix unique in this run for container names and ids.
func uniq() string { return fmt.Sprintf("%d-%d", os.Getpid(), idSeq.Add(1)) }
