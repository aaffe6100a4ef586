package lifecycle_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// thRtIn runs the runtime in dir with extra files from fd 3 on.
func thRtIn(t *testing.T, r *harness.Runner, dir string, extra []*os.File, args ...string) harness.Result {
	t.Helper()
	cmd := r.Command(args...)
	cmd.Dir, cmd.ExtraFiles = dir, extra
	return r.Run(cmd)
}

// TestStdioPidFile: create and run -d write the init's pid, in decimal without a
// newline, before they return; a relative path is relative to the
// runtime's working directory.
func TestStdioPidFile(t *testing.T) {
	r := thXrunner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	for _, tc := range []struct {
		args []string
		rel  bool
	}{
		{[]string{"create"}, false},
		{[]string{"create"}, true},
		{[]string{"run", "-d"}, false},
		{[]string{"run", "-d"}, true},
	} {
		id := harness.ID("pidfile")
		cwd := t.TempDir()
		path := filepath.Join(t.TempDir(), "abs.pid")
		arg := path
		if tc.rel {
			os.Mkdir(filepath.Join(cwd, "sub"), 0o755)
			arg, path = "sub/rel.pid", filepath.Join(cwd, "sub/rel.pid")
		}
		if res := thRtIn(t, r, cwd, nil, append(tc.args, "--pid-file", arg, "--bundle", b, id)...); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("%v --pid-file %s: %s", tc.args, arg, res)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v --pid-file %s: %v", tc.args, arg, err)
		} else if st := state(t, r, id); !regexp.MustCompile(`^[1-9][0-9]*$`).Match(data) || string(data) != strconv.Itoa(st.InitProcessPid) {
			t.Errorf("%v: pid file holds %q, state's pid is %d", tc.args, data, st.InitProcessPid)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
			t.Errorf("%v: temp files left beside the pid file: %v", tc.args, left)
		}
		if res := r.RT("delete", "--force", id); res.Code != 0 {
			t.Fatal(res)
		}
		r.AssertNoTrace(t, id, b)
	}
}

// TestStdioPreserveFds: --preserve-fds 2 passes fds 3 and 4 as they are, and
// nothing else above 2.
func TestStdioPreserveFds(t *testing.T) {
	r := thXrunner(t)
	dir := t.TempDir()
	three, four := filepath.Join(dir, "three"), filepath.Join(dir, "four")
	os.WriteFile(three, []byte("data-of-three\n"), 0o644)
	os.WriteFile(four, nil, 0o644)
	f3, err := os.Open(three)
	if err != nil {
		t.Fatal(err)
	}
	defer f3.Close()
	f4, err := os.Open(four)
	if err != nil {
		t.Fatal(err)
	}
	defer f4.Close()
	// ls lists the shell's fds (pid 1), not its own: not in a pipeline,
	// which has the shell hold pipe fds for a moment, and not last, where the
	// shell would exec ls in its place.
	b := bundle(t, sh(`cat <&3; readlink /proc/self/fd/4; stat -L -c %i /proc/self/fd/4; ls /proc/$$/fd; echo end`), nil)
	id := harness.ID("preserve")
	res := thRtIn(t, r, dir, []*os.File{f3, f4}, "run", "--preserve-fds", "2", "--bundle", b, id)
	if res.Code != 0 {
		t.Fatal(res)
	}
	var st4 syscall.Stat_t
	syscall.Stat(four, &st4)
	lines := strings.Split(res.Stdout, "\n")
	if len(lines) < 4 {
		t.Fatalf("output %q", res.Stdout)
	}
	if lines[0] != "data-of-three" {
		t.Errorf("fd 3 reads %q, want the first file's data", lines[0])
	}
	if !strings.HasSuffix(lines[1], "/four") || lines[2] != strconv.FormatUint(st4.Ino, 10) {
		t.Errorf("fd 4 is %s (inode %s), want %s (inode %d)", lines[1], lines[2], four, st4.Ino)
	}
	if fds := strings.Fields(strings.Join(lines[3:], " ")); !slices.Equal(fds, []string{"0", "1", "2", "3", "4", "end"}) {
		t.Errorf("the container's fds are %v, want 0-4", fds)
	}
	r.AssertNoTrace(t, id, b)

	// Without --preserve-fds, the runtime's fds 3 and 4 stay out.
	b = bundle(t, sh(`ls /proc/$$/fd; echo end`), nil)
	id = harness.ID("nopreserve")
	res = thRtIn(t, r, dir, []*os.File{f3, f4}, "run", "--bundle", b, id)
	if fds := strings.Fields(res.Stdout); res.Code != 0 || !slices.Equal(fds, []string{"0", "1", "2", "end"}) {
		t.Errorf("without --preserve-fds: %s, want fds 0-2 only", res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestStdioListenFds: socket activation, as podman uses it. The runtime's
// $LISTEN_FDS fds (when $LISTEN_PID is the runtime) come first from fd 3,
// then --preserve-fds more, and the process gets LISTEN_FDS and LISTEN_PID=1
// (runc's "stdio + $LISTEN_FDS + N").
func TestStdioListenFds(t *testing.T) {
	r := thXrunner(t)
	dir := t.TempDir()
	var files []*os.File
	for _, name := range []string{"listen", "preserved"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(name+"-data\n"), 0o644)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	b := bundle(t, sh(`ls /proc/$$/fd; env | grep ^LISTEN_ | sort; cat <&3; cat <&4`), nil)
	id := harness.ID("listenfds")
	// exec keeps the shell's pid, so LISTEN_PID names the runtime.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`,
		r.Bins.RT, "--root", r.Root, "run", "--preserve-fds", "1", "--bundle", b, id)
	cmd.ExtraFiles = files
	res := r.Run(cmd)
	r.AssertNoTrace(t, id, b)
	want := "0\n1\n2\n3\n4\nLISTEN_FDS=1\nLISTEN_PID=1\nlisten-data\npreserved-data\n"
	if res.Code != 0 || res.Stdout != want {
		thBug(t, fmt.Sprintf("$LISTEN_FDS is ignored (got %s), though --preserve-fds's help says \"stdio + "+
			"$LISTEN_FDS + N\" and runc passes them (podman's socket activation relies on it): pkg/runtime/create.go "+
			"passes only opts.PreserveFDs fds from 3 on; when $LISTEN_PID is rt's pid, pass $LISTEN_FDS fds from 3 first, "+
			"then --preserve-fds more from 3+$LISTEN_FDS, and add LISTEN_FDS=<n> and LISTEN_PID=1 to the process's env", res))
		t.Errorf("socket activation: %s, want stdout %q", res, want)
	}
}

// TestStdioStdin: the container reads the runtime's stdin.
func TestStdioStdin(t *testing.T) {
	r := thXrunner(t)
	b := bundle(t, sh("cat"), nil)
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "line %d of the input\n", i)
	}
	id := harness.ID("stdin")
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "run", "--bundle", b, id)
	cmd.Stdin = strings.NewReader(in.String())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if out.String() != in.String() {
		t.Errorf("output (%d bytes) is not the input (%d bytes)", out.Len(), in.Len())
	}
	r.AssertNoTrace(t, id, b)
}

// TestRunKeepFlag: run --keep leaves the stopped container for delete; without
// it the container is gone when run returns.
func TestRunKeepFlag(t *testing.T) {
	r := thXrunner(t)
	b := bundle(t, sh("exit 3"), nil)
	id := harness.ID("keep")
	if res := r.RT("run", "--keep", "--bundle", b, id); res.Code != 3 {
		t.Fatalf("run --keep: %s, want exit 3", res)
	}
	if st := state(t, r, id); st.Status != api.StatusStopped {
		t.Errorf("kept container: %+v", st)
	}
	if res := r.RT("delete", id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	r.AssertNoTrace(t, id, b)

	id = harness.ID("nokeep")
	if res := r.RT("run", "--bundle", b, id); res.Code != 3 {
		t.Fatalf("run: %s, want exit 3", res)
	}
	if res := r.RT("state", id); res.Code == 0 {
		t.Errorf("container left after run without --keep: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestStdioInherited: without a terminal the container's fds 0-2 are the
// runtime's own (no relay in between), in the foreground and detached, and
// create, start and run -d print nothing.
func TestStdioInherited(t *testing.T) {
	r := thXrunner(t)
	b := bundle(t, sh("readlink /proc/self/fd/0; readlink /proc/self/fd/2; stat -L -c %i /proc/self/fd/1"), nil)
	for _, detached := range []bool{false, true} {
		id := harness.ID("stdio")
		inR, inW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		out := harness.TempFile(t)
		in, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", inR.Fd()))
		errp, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", errW.Fd()))
		var st syscall.Stat_t
		syscall.Fstat(int(out.Fd()), &st)
		want := []string{in, errp, strconv.FormatUint(st.Ino, 10)}

		rt := func(args ...string) error {
			cmd := exec.Command(r.Bins.RT, append([]string{"--root", r.Root}, args...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, out, errW
			return cmd.Run()
		}
		if detached {
			err = rt("create", "--bundle", b, id)
			if err == nil {
				err = rt("start", id)
			}
			if err == nil {
				thWaitStopped(t, r, id)
				r.RT("delete", id)
			}
		} else {
			err = rt("run", "--bundle", b, id)
		}
		inR.Close()
		inW.Close()
		errW.Close()
		stderr, _ := io.ReadAll(errR)
		errR.Close()
		if err != nil {
			t.Fatalf("detached %v: %v: %s", detached, err, stderr)
		}
		data, _ := os.ReadFile(out.Name())
		if got := strings.Fields(string(data)); !slices.Equal(got, want) {
			t.Errorf("detached %v: the container's fds 0, 2 and 1 are %q, want the runtime's own %q (stderr %q)", detached, got, want, stderr)
		}
		r.AssertNoTrace(t, id, b)
	}

	// Nothing on stdout or stderr from a successful create, start or run -d.
	sleeper := bundle(t, []string{"sleep", "1000"}, nil)
	for _, args := range [][]string{{"create"}, {"run", "-d"}} {
		id := harness.ID("quiet")
		if res := r.RT(append(args, "--bundle", sleeper, id)...); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Errorf("%v: %s, want silence", args, res)
		}
		if args[0] == "create" {
			if res := r.RT("start", id); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
				t.Errorf("start: %s, want silence", res)
			}
		}
		if res := r.RT("delete", "--force", id); res.Code != 0 {
			t.Fatal(res)
		}
		r.AssertNoTrace(t, id, sleeper)
	}
}

// TestRunNoSubreaperFlag: run --no-subreaper still exits with the process's
// status.
func TestRunNoSubreaperFlag(t *testing.T) {
	r := thXrunner(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 6", 6},
		{"sleep 1000 & kill -9 $$", 137},
	} {
		b := bundle(t, sh(tc.script), func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces, specs.PIDNamespace)
		})
		id := harness.ID("nosubreaper")
		if res := r.RT("run", "--no-subreaper", "--bundle", b, id); res.Code != tc.want {
			t.Errorf("%q: %s, want exit %d", tc.script, res, tc.want)
		}
		r.AssertNoTrace(t, id, b)
	}
}
