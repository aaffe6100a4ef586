// Package harness is what rt's integration tests share: the binaries (built
// once per test binary, or taken from $RT_TEST_BIN), a busybox rootfs and
// bundle made by the test itself, and a runner that gives each test its own
// --root and deletes whatever the test left there, even when it fails.
package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bins are the paths of the three binaries under test.
type Bins struct {
	Dir        string
	RT         string
	Checkpoint string
	Init       string
}

var bins Bins

// Main builds the binaries (unless $RT_TEST_BIN names a directory holding
// them), runs the tests and removes what it built. Call it from TestMain.
func Main(m *testing.M) { main(m, nil) }

// MainWithTags is Main for a package whose tests all run binaries built
// with extra Go build tags (test/crash: rt_killpoints): those become the
// binaries under test, built once, whatever $RT_TEST_BIN says (its
// binaries lack the tags), and no untagged build is made for nothing.
func MainWithTags(m *testing.M, tags ...string) { main(m, tags) }

func main(m *testing.M, tags []string) {
	Reap(suiteReaperEnv, reapSuite)
	code, err := run(m, tags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(m *testing.M, tags []string) (int, error) {
	defer removeTagged()
	// Before the build, so that binaries built into TMPDIR go with it.
	if err := startSuiteReaper(); err != nil {
		return 0, fmt.Errorf("suite reaper: %w", err)
	}
	dir := os.Getenv("RT_TEST_BIN")
	if dir == "" || len(tags) > 0 {
		tmp, err := os.MkdirTemp("", "rt-test-bin-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(tmp)
		if err := build(tmp, tags...); err != nil {
			return 0, err
		}
		dir = tmp
	}
	dir, _ = filepath.Abs(dir)
	bins = Bins{Dir: dir, RT: filepath.Join(dir, "rt"), Checkpoint: filepath.Join(dir, "rt-checkpoint"), Init: filepath.Join(dir, "rt-init")}
	for _, p := range []string{bins.RT, bins.Checkpoint, bins.Init} {
		if _, err := os.Stat(p); err != nil {
			return 0, fmt.Errorf("binary under test: %w", err)
		}
	}
	return m.Run(), nil
}

func build(out string, tags ...string) error {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	// The Makefile's build, so that the tests run the binaries as shipped
	// (static, same flags).
	cmd := exec.Command("make", "-s", "-C", root, "BIN="+out, "TAGS="+strings.Join(tags, ","), "build")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make build TAGS=%s: %v\n%s", strings.Join(tags, ","), err, b)
	}
	return nil
}

// tagged are the builds of BuildWithTags, by tag list, removed when the
// test binary ends.
var tagged struct {
	sync.Mutex
	bins map[string]Bins
	errs map[string]error
	dirs []string
}

// BuildWithTags builds the three binaries as `make build` does, with extra
// Go build tags (the Makefile's TAGS), into a temp dir removed when the
// test binary ends, once per tag list per test binary; it fails the test
// if the build fails. test/security's positive controls build with
// rt_nodefence, which turns the race defences off. It builds even when
// $RT_TEST_BIN names the binaries under test: those are not built with the
// tags.
func BuildWithTags(t testing.TB, tags ...string) Bins {
	t.Helper()
	key := strings.Join(tags, ",")
	tagged.Lock()
	defer tagged.Unlock()
	if b, ok := tagged.bins[key]; ok {
		return b
	}
	if err, ok := tagged.errs[key]; ok {
		t.Fatal(err)
	}
	if tagged.bins == nil {
		tagged.bins, tagged.errs = map[string]Bins{}, map[string]error{}
	}
	dir, err := os.MkdirTemp("", "rt-test-bin-tags-")
	if err == nil {
		tagged.dirs = append(tagged.dirs, dir)
		err = build(dir, tags...)
	}
	if err != nil {
		tagged.errs[key] = err
		t.Fatal(err)
	}
	b := Bins{Dir: dir, RT: filepath.Join(dir, "rt"), Checkpoint: filepath.Join(dir, "rt-checkpoint"), Init: filepath.Join(dir, "rt-init")}
	tagged.bins[key] = b
	return b
}

func removeTagged() {
	tagged.Lock()
	defer tagged.Unlock()
	for _, d := range tagged.dirs {
		os.RemoveAll(d)
	}
}

// Binaries returns the binaries under test; TestMain must have called Main.
func Binaries(t testing.TB) Bins {
	t.Helper()
	if bins.RT == "" {
		t.Fatal("harness.Main was not called from TestMain")
	}
	return bins
}

// RequireRoot skips a test that needs root, saying so.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers need namespaces, mounts and cgroups")
	}
}

// RequireCRIU skips unless root and a criu on PATH that passes `criu
// check` (make deps installs one that does: on this project's hosts such a
// skip is a failure, test/skipcheck).
func RequireCRIU(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	criu, err := exec.LookPath("criu")
	if err != nil {
		t.Skip("needs criu (scripts/install-criu.sh installs it): not on PATH")
	}
	if out, err := exec.Command(criu, "check").CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("criu check fails on this host: %v: %s", err, lines[len(lines)-1])
	}
}

// Busybox is the static busybox the rootfs is made from.
const Busybox = "/bin/busybox"

// Rootfs makes a busybox root filesystem in dir: /bin/busybox with a link
// for every applet, and the directories and /etc files a shell expects.
func Rootfs(t testing.TB, dir string) {
	t.Helper()
	out, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		t.Skipf("needs busybox-static at %s (make deps installs it): %v", Busybox, err)
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root", "home", "var", "usr/bin", "usr/sbin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	data, err := os.ReadFile(Busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		os.Symlink("busybox", filepath.Join(dir, "bin", applet))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home:/bin/sh\n",
		"etc/group":  "root:x:0:\ntty:x:5:\nnogroup:x:65534:\nuser:x:1000:\n",
		"etc/hosts":  "127.0.0.1 localhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Bundle makes a bundle in a temp dir: a busybox rootfs and the config.json
// of `rt spec`, changed by edit (which may be nil). It returns the bundle dir.
func Bundle(t testing.TB, edit func(*specs.Spec)) string {
	t.Helper()
	b := Binaries(t)
	dir := t.TempDir()
	Rootfs(t, filepath.Join(dir, "rootfs"))
	if out, err := exec.Command(b.RT, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("rt spec: %v: %s", err, out)
	}
	if edit != nil {
		EditConfig(t, dir, edit)
	}
	return dir
}

// EditConfig rewrites the config.json of bundle through edit.
func EditConfig(t testing.TB, bundle string, edit func(*specs.Spec)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	edit(&s)
	if data, err = json.MarshalIndent(&s, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Runner runs rt for one test with its own --root. At cleanup it deletes
// every container left under that root (delete --force) and fails the test
// if any state directory remains.
type Runner struct {
	t    testing.TB
	Bins Bins
	Root string
	// Env is the environment of each command; nil means the test's.
	Env []string
}

// Compared is the runtime $RT_TEST_COMPARE names (another runtime with
// runc's command line, e.g. /usr/sbin/runc), or "". Runners then run it in
// place of rt, so a suite can show that what it checks is the contract and
// not rt's quirks.
var Compared = os.Getenv("RT_TEST_COMPARE")

// NewRunner returns a runner with a fresh root, running Compared instead of
// rt when it is set.
func NewRunner(t testing.TB) *Runner {
	t.Helper()
	r := &Runner{t: t, Bins: Binaries(t), Root: filepath.Join(t.TempDir(), "root")}
	if Compared != "" {
		r.Bins.RT = Compared
	}
	registerRoot(r.Bins.RT, r.Root)
	t.Cleanup(r.cleanup)
	return r
}

var seq atomic.Int64

// ID returns a container id unique in this test run.
func ID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
}

// RT runs `rt --root <root> args...`.
func (r *Runner) RT(args ...string) Result {
	return r.Exec(r.Bins.RT, append([]string{"--root", r.Root}, args...)...)
}

// Exec runs any binary with the runner's environment.
func (r *Runner) Exec(bin string, args ...string) Result {
	r.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = r.Env
	return r.Run(cmd)
}

// Command is `rt --root <root> args...` to adjust (Dir, ExtraFiles, Stdin)
// before Run.
func (r *Runner) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.Bins.RT, append([]string{"--root", r.Root}, args...)...)
	cmd.Env = r.Env
	return cmd
}

// Run runs cmd with files as its stdout and stderr and returns what it
// wrote and its exit code. Files, not pipes: a detached container inherits
// rt's stdout and stderr, and a pipe would keep Run waiting until the
// container exits.
func (r *Runner) Run(cmd *exec.Cmd) Result {
	r.t.Helper()
	stdout, stderr := tempFile(r.t), tempFile(r.t)
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res := Result{Stdout: readAll(stdout), Stderr: readAll(stderr)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return res
}

func (r *Runner) cleanup() {
	entries, err := os.ReadDir(r.Root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if res := r.RT("delete", "--force", e.Name()); res.Code != 0 {
			r.t.Errorf("cleanup: delete --force %s: %s", e.Name(), res)
		}
	}
	if left, _ := os.ReadDir(r.Root); len(left) > 0 {
		r.t.Errorf("cleanup: %d entries left in %s", len(left), r.Root)
	}
}

// AssertNoTrace fails the test if anything of container id is left on the
// host: its state dir under the runner's root, a cgroup directory named
// after it in any hierarchy, a mount under dir (the bundle), or a process
// whose root is inside dir.
func (r *Runner) AssertNoTrace(t testing.TB, id, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(r.Root, id)); err == nil {
		t.Errorf("state dir of %s left", id)
	}
	if ms, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", id)); len(ms) > 0 {
		t.Errorf("cgroup dirs of %s left: %v", id, ms)
	}
	if ms, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", id)); len(ms) > 0 {
		t.Errorf("cgroup dir of %s left: %v", id, ms)
	}
	if dir != "" {
		left, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
		if err != nil {
			t.Errorf("mounts: %v", err)
		}
		for _, m := range left {
			t.Errorf("mount left: %s (%s)", m.Mountpoint, m.FSType)
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/root")
		for _, p := range procs {
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, dir) {
				t.Errorf("process left with its root in %s: %s", dir, p)
			}
		}
	}
}

func tempFile(t testing.TB) *os.File {
	f, err := os.CreateTemp("", "rt-test-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readAll(f *os.File) string {
	var b bytes.Buffer
	f.Seek(0, 0)
	b.ReadFrom(f)
	return b.String()
}

// TempFile is a file in the test's temp dir, closed at cleanup: for
// output a container inherits and a test reads by name afterwards.
func TempFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
