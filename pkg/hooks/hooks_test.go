package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// script writes an executable /bin/sh script with body into dir and returns
// its path. Scripts use absolute paths for every external command: a hook
// with an Env gets no PATH unless it lists one.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testState(bundle string) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          "c1",
		Status:      specs.StateCreating,
		Pid:         4242,
		Bundle:      bundle,
		Annotations: map[string]string{"org.example/key": "value with spaces", "empty": ""},
	}
}

func intp(n int) *int { return &n }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readPid reads the pid a hook wrote to p.
func readPid(t *testing.T, p string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, p)))
	if err != nil {
		t.Fatalf("pid file %s: %v", p, err)
	}
	return pid
}

// gone reports whether pid is dead: no longer in /proc, or a zombie (its
// reaper is init or a subreaper outside the test's control).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the ")" that ends the command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone polls until pid is dead, failing the test after a few seconds.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("%s (pid %d) still alive", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunPassesState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "state.json")
	pidFile := filepath.Join(dir, "pid")
	h := specs.Hook{Path: script(t, dir, "hook", `echo $$ > "`+pidFile+`"; /bin/cat > "`+out+`"`)}
	want := testState(dir)

	if err := Run(context.Background(), "createRuntime", []specs.Hook{h}, want); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got specs.State
	if err := json.Unmarshal([]byte(readFile(t, out)), &got); err != nil {
		t.Fatalf("hook's stdin is not state JSON: %v", err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("state on stdin = %+v, want %+v", got, *want)
	}
	// Run reaped the hook: it is not even a zombie.
	if pid := readPid(t, pidFile); !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
		t.Errorf("hook pid %d still exists after Run", pid)
	}
}

func TestRunArgsEnvDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		hook func(out string) specs.Hook
		// bundle overrides the state's bundle when set.
		bundle string
		files  map[string]string // file under out → exact content
	}{
		{
			name: "argv and env exactly as given",
			hook: func(out string) specs.Hook {
				return specs.Hook{
					Path: "/bin/sh",
					Args: []string{"my-argv0", "-c", `/bin/cat /proc/$$/cmdline > "$OUT/argv"; /bin/cat /proc/$$/environ > "$OUT/env"`, "a b", ""},
					Env:  []string{"OUT=" + out, "FOO=bar baz", "EMPTY="},
				}
			},
			files: map[string]string{
				"argv": "my-argv0\x00-c\x00" + `/bin/cat /proc/$$/cmdline > "$OUT/argv"; /bin/cat /proc/$$/environ > "$OUT/env"` + "\x00a b\x00\x00",
				"env":  "OUT=<out>\x00FOO=bar baz\x00EMPTY=\x00",
			},
		},
		{
			name: "no env inherits rt's, as runc's hooks do",
			hook: func(out string) specs.Hook {
				return specs.Hook{Path: script(t, out, "hook", `printf '%s' "$PATH" > "`+out+`/path"`)}
			},
			files: map[string]string{"path": os.Getenv("PATH")},
		},
		{
			name: "an empty env is empty",
			hook: func(out string) specs.Hook {
				return specs.Hook{Path: script(t, out, "hook", `/bin/cat /proc/$$/environ > "`+out+`/env"`), Env: []string{}}
			},
			files: map[string]string{"env": ""},
		},
		{
			name: "empty args run the path with no arguments",
			hook: func(out string) specs.Hook {
				return specs.Hook{Path: script(t, out, "hook", `printf '%s\n' "$0" "$#" > "`+out+`/args"`)}
			},
			files: map[string]string{"args": "<out>/hook\n0\n"},
		},
		{
			name: "script arguments",
			hook: func(out string) specs.Hook {
				return specs.Hook{
					Path: script(t, out, "hook", `printf '%s\n' "$#" "$@" > "`+out+`/args"`),
					Args: []string{"name", "x y", "-z"},
				}
			},
			files: map[string]string{"args": "2\nx y\n-z\n"},
		},
		{
			name: "working directory is the bundle",
			hook: func(out string) specs.Hook {
				return specs.Hook{Path: script(t, out, "hook", `pwd > "`+out+`/cwd"`)}
			},
			files: map[string]string{"cwd": "<out>\n"},
		},
		{
			name:   "working directory is / when the bundle is gone",
			bundle: "/nonexistent/bundle",
			hook: func(out string) specs.Hook {
				return specs.Hook{Path: script(t, out, "hook", `pwd > "`+out+`/cwd"`)}
			},
			files: map[string]string{"cwd": "/\n"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, strconv.Itoa(i))
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			st := testState(out)
			if tt.bundle != "" {
				st.Bundle = tt.bundle
			}
			if err := Run(context.Background(), "createRuntime", []specs.Hook{tt.hook(out)}, st); err != nil {
				t.Fatalf("Run: %v", err)
			}
			for name, want := range tt.files {
				want = strings.ReplaceAll(want, "<out>", out)
				if got := readFile(t, filepath.Join(out, name)); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestRunOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	var hs []specs.Hook
	for i := range 4 {
		hs = append(hs, specs.Hook{Path: script(t, dir, fmt.Sprint("h", i), fmt.Sprintf(`echo %d >> "%s"`, i, log))})
	}
	if err := Run(context.Background(), "poststart", hs, testState(dir)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := readFile(t, log), "0\n1\n2\n3\n"; got != want {
		t.Errorf("hooks ran as %q, want %q", got, want)
	}
}

func TestRunFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := specs.Hook{Path: script(t, dir, "ok", "exit 0")}
	var flood strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&flood, "echo line %d >&2\n", i)
	}
	tests := []struct {
		name string
		body string
		// want is the whole message with <path> for the failing hook's path,
		// or, when contains is set, substrings it must hold.
		want     string
		contains []string
		absent   []string
	}{
		{
			name: "exit status and stderr",
			body: "echo 'cannot find bridge br0' >&2; exit 2",
			want: "createRuntime hook #1 (<path>): exit status 2: cannot find bridge br0",
		},
		{
			name: "stdout when stderr is empty",
			body: "echo 'only on stdout'; exit 1",
			want: "createRuntime hook #1 (<path>): exit status 1: only on stdout",
		},
		{
			name: "stderr wins over stdout",
			body: "echo noise; echo '  the reason  ' >&2; exit 1",
			want: "createRuntime hook #1 (<path>): exit status 1: the reason",
		},
		{
			name: "no output",
			body: "exit 7",
			want: "createRuntime hook #1 (<path>): exit status 7",
		},
		{
			name: "killed by a signal",
			body: "echo dying >&2; kill -9 $$",
			want: "createRuntime hook #1 (<path>): signal: killed: dying",
		},
		{
			name:     "long output keeps the last lines",
			body:     flood.String() + "exit 1",
			contains: []string{"exit status 1: …line 81\nline 82\n", "line 100"},
			absent:   []string{"line 80\n"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := script(t, dir, fmt.Sprint("fail", i), tt.body)
			err := Run(context.Background(), "createRuntime", []specs.Hook{ok, {Path: path}}, testState(dir))
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			msg := err.Error()
			if tt.want != "" {
				if want := strings.ReplaceAll(tt.want, "<path>", path); msg != want {
					t.Errorf("error\n%q, want\n%q", msg, want)
				}
			}
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(msg, s) {
					t.Errorf("error %q contains %q", msg, s)
				}
			}
			var he *Error
			if !errors.As(err, &he) || he.Point != "createRuntime" || he.Index != 1 || he.Path != path {
				t.Errorf("error %#v is not an *Error for createRuntime #1 %s", err, path)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Errorf("error %v does not wrap *exec.ExitError", err)
			}
		})
	}
}

func TestRunStopsRunAllContinues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		run     func(context.Context, string, []specs.Hook, *specs.State) error
		wantLog string
		wantErr []int // index → exit status of each reported failure, in order
	}{
		{name: "Run", run: Run, wantLog: "0\n", wantErr: []int{1}},
		{name: "RunAll", run: RunAll, wantLog: "0\n2\n", wantErr: []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := filepath.Join(dir, tt.name)
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(sub, "log")
			hs := []specs.Hook{
				{Path: script(t, sub, "h0", `echo 0 >> "`+log+`"`)},
				{Path: script(t, sub, "h1", "echo first failure >&2; exit 11")},
				{Path: script(t, sub, "h2", `echo 2 >> "`+log+`"`)},
				{Path: script(t, sub, "h3", "echo second failure >&2; exit 13")},
			}
			err := tt.run(context.Background(), "poststop", hs, testState(sub))
			if got := readFile(t, log); got != tt.wantLog {
				t.Errorf("hooks that ran: %q, want %q", got, tt.wantLog)
			}
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else if err != nil {
				errs = []error{err}
			}
			var got []int
			for _, e := range errs {
				var he *Error
				if !errors.As(e, &he) {
					t.Fatalf("failure %v is not an *Error", e)
				}
				got = append(got, he.Index)
			}
			if !slices.Equal(got, tt.wantErr) {
				t.Fatalf("failed hooks %v (error %v), want %v", got, err, tt.wantErr)
			}
			for _, s := range []string{"poststop hook #1 (" + hs[1].Path + "): exit status 11: first failure"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if tt.name == "RunAll" && !strings.Contains(err.Error(), "poststop hook #3 ("+hs[3].Path+"): exit status 13: second failure") {
				t.Errorf("RunAll error %q lacks the second failure", err)
			}
		})
	}
}

// TestRunKill checks that a hook is SIGKILLed with its whole process group,
// including a background child it started, and is reaped.
func TestRunKill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout *int
		ctx     func() (context.Context, context.CancelFunc)
		wantIs  error
		wantMsg string
		maxTime time.Duration
	}{
		{
			name:    "timeout",
			timeout: intp(1),
			ctx:     func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			wantIs:  ErrTimeout,
			wantMsg: "timed out after 1s (killed): started",
			maxTime: 3 * time.Second,
		},
		{
			name:    "context deadline",
			timeout: intp(60),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 200*time.Millisecond)
			},
			wantIs:  context.DeadlineExceeded,
			wantMsg: "killed: context deadline exceeded: started",
			maxTime: 2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := script(t, dir, "hook", fmt.Sprintf(`echo $$ > "%[1]s/pid"
/bin/sleep 60 &
echo $! > "%[1]s/child"
echo started >&2
/bin/sleep 60`, dir))
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			err := Run(ctx, "createRuntime", []specs.Hook{{Path: path, Timeout: tt.timeout}}, testState(dir))
			if took := time.Since(start); took > tt.maxTime {
				t.Errorf("Run took %v, want under %v", took, tt.maxTime)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if err != nil && !strings.HasSuffix(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not end in %q", err, tt.wantMsg)
			}
			if tt.wantIs != ErrTimeout && errors.Is(err, ErrTimeout) {
				t.Errorf("error %v claims a hook timeout", err)
			}
			if pid := readPid(t, filepath.Join(dir, "pid")); !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
				t.Errorf("hook pid %d still exists after Run (not reaped)", pid)
			}
			waitGone(t, readPid(t, filepath.Join(dir, "child")), "hook's background child")
		})
	}
}

func TestRunContextAlreadyDone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hs := []specs.Hook{{Path: script(t, dir, "h", `: > "`+marker+`"`)}, {Path: script(t, dir, "h2", `: > "`+marker+`"`)}}
	err := RunAll(ctx, "poststop", hs, testState(dir))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "poststop hook #1 (") {
		t.Errorf("RunAll with a done context: %v", err)
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Error("a hook ran although the context was done")
	}
}

func TestRunStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noExec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		timeout *int
		wantIs  error
		wantMsg string
	}{
		{name: "missing", path: filepath.Join(dir, "missing"), wantIs: fs.ErrNotExist, wantMsg: "no such file or directory"},
		{name: "not executable", path: noExec, wantIs: fs.ErrPermission, wantMsg: "permission denied"},
		{name: "directory", path: dir, wantIs: fs.ErrPermission, wantMsg: "permission denied"},
		{
			name:    "missing interpreter",
			path:    script(t, dir, "badinterp", "exit 0"),
			wantIs:  fs.ErrNotExist,
			wantMsg: "no such file or directory (the file exists: its #! interpreter or dynamic loader is missing)",
		},
		{name: "relative path", path: "bin/hook", wantMsg: "path is not absolute"},
		{name: "zero timeout", path: "/bin/true", timeout: intp(0), wantMsg: "timeout 0 must be positive"},
	}
	// Point the interpreter line of badinterp at nothing.
	if err := os.WriteFile(tests[3].path, []byte("#!/nonexistent/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), "prestart", []specs.Hook{{Path: tt.path, Timeout: tt.timeout}}, testState(dir))
			want := fmt.Sprintf("prestart hook #0 (%s): %s", tt.path, tt.wantMsg)
			if err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestRunHookIgnoresStdin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := testState(dir)
	// Far beyond a pipe's capacity, so writing the state must meet the
	// closed pipe of a hook that has already exited.
	st.Annotations["big"] = strings.Repeat("x", 4<<20)
	hs := []specs.Hook{{Path: script(t, dir, "quick", "exit 0")}, {Path: "/bin/true", Args: []string{"true"}}}
	for range 3 {
		if err := Run(context.Background(), "createRuntime", hs, st); err != nil {
			t.Fatalf("Run with a hook ignoring stdin: %v", err)
		}
	}
}

func TestRunBackgroundChildHoldingOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The child keeps the hook's stdout/stderr open long after the hook
	// exited 0: Run must not wait for it.
	// sh -c, not a script file: a script written while a parallel test
	// forks can be busy (ETXTBSY) for the fork's instant before its exec.
	hook := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `/bin/sleep 60 &
echo $! > "` + dir + `/child"
exit 0`}}
	start := time.Now()
	err := Run(context.Background(), "poststart", []specs.Hook{hook}, testState(dir))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	unix.Kill(readPid(t, filepath.Join(dir, "child")), unix.SIGKILL)
	if took > 3*time.Second {
		t.Errorf("Run took %v: it waited for the hook's background child", took)
	}
}

// TestRunOnlyStdioFDs is not parallel: it leaves an fd without close-on-exec
// open while it runs, which another test's hook could inherit.
func TestRunOnlyStdioFDs(t *testing.T) {
	dir := t.TempDir()
	// An fd rt inherited without close-on-exec, like --preserve-fds gives it.
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fds")
	// The script's shell keeps its own fd on the script, close-on-exec; exec
	// drops it, and ls's fd on the directory it lists is told apart by target.
	path := script(t, dir, "hook", `exec /bin/ls -l /proc/self/fd > "`+out+`"`)
	if err := Run(context.Background(), "createRuntime", []specs.Hook{{Path: path}}, testState(dir)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var fds []string
	for line := range strings.Lines(readFile(t, out)) {
		fields := strings.Fields(line)
		i := slices.Index(fields, "->")
		if i < 1 || i+1 >= len(fields) {
			continue // "total 0"
		}
		if target := fields[i+1]; strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd") {
			continue // ls's own
		}
		fds = append(fds, fields[i-1])
	}
	if want := []string{"0", "1", "2"}; !slices.Equal(fds, want) {
		t.Errorf("fds open in the hook: %v, want %v\n%s", fds, want, readFile(t, out))
	}
}

func TestRunNothingToDo(t *testing.T) {
	t.Parallel()
	for _, run := range []func(context.Context, string, []specs.Hook, *specs.State) error{Run, RunAll} {
		if err := run(context.Background(), "poststop", nil, nil); err != nil {
			t.Errorf("no hooks: %v", err)
		}
		err := run(context.Background(), "poststop", []specs.Hook{{Path: "/bin/true"}}, nil)
		if err == nil || !strings.Contains(err.Error(), "poststop hooks: no container state") {
			t.Errorf("nil state: %v", err)
		}
	}
}

func lastBytes(s string, n int) string { return s[len(s)-n:] }

func TestTail(t *testing.T) {
	t.Parallel()
	many := func(n int) []string {
		var w []string
		for i := 1; i <= n; i++ {
			w = append(w, fmt.Sprintf("l%d\n", i))
		}
		return w
	}
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "empty", want: ""},
		{name: "blank", writes: []string{"\n  \n"}, want: ""},
		{name: "trimmed", writes: []string{"\n  why\n", "more  \n\n"}, want: "why\nmore"},
		{name: "exactly the line limit", writes: many(outputLines), want: strings.TrimSpace(strings.Join(many(outputLines), ""))},
		{name: "over the line limit", writes: many(outputLines + 1), want: "…" + strings.TrimSpace(strings.Join(many(outputLines + 1)[1:], ""))},
		{name: "exactly the byte limit", writes: []string{strings.Repeat("a", outputBytes)}, want: strings.Repeat("a", outputBytes)},
		{name: "byte limit in two writes", writes: []string{"a", strings.Repeat("b", outputBytes)}, want: "…" + strings.Repeat("b", outputBytes)},
		{name: "under the byte limit", writes: []string{strings.Repeat("a", outputBytes-1)}, want: strings.Repeat("a", outputBytes-1)},
		{name: "one big write", writes: []string{"head" + strings.Repeat("b", 2*outputBytes) + "end"}, want: "…" + strings.Repeat("b", outputBytes-3) + "end"},
		{name: "many small writes", writes: slices.Repeat([]string{"0123456789"}, outputBytes), want: "…" + lastBytes(strings.Repeat("0123456789", outputBytes), outputBytes)},
		{name: "cut inside a rune", writes: []string{"é" + strings.Repeat("c", outputBytes-1)}, want: "…" + strings.Repeat("c", outputBytes-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tail
			for _, w := range tt.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if len(tl.buf) > outputBytes {
				t.Errorf("kept %d bytes, limit %d", len(tl.buf), outputBytes)
			}
			if got := tl.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
