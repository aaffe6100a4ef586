// Package hooks owns running OCI runtime-spec hooks (createRuntime,
// createContainer, startContainer, poststart, poststop, and the deprecated
// prestart): starting each hook program in the runtime's namespaces, feeding it
// the container state on stdin, bounding it by its timeout, and turning a
// failure into an error a user can act on.
//
// It decides nothing about *when* a hook point runs or in which namespaces: its
// callers (the runtime for the host-side points, the container's init for
// createContainer and startContainer) call Run or RunAll at the right step of
// the lifecycle, already in the right place.
//
// How a hook is run, and why:
//
//   - The executable is Hook.Path, argv is Hook.Args exactly (Args[0] is argv[0];
//     an empty Args means argv is [Path]). The environment is Hook.Env, or, when
//     the hook has no env, rt's own, as runc does (hooks in the wild rely on
//     PATH). Caveat: an explicit empty list means an empty environment only for
//     the hooks that see the spec as decoded from config.json; the spec rt
//     records and hands to rt-init drops empty lists (omitempty), so there
//     "env": [] reads as no env. (os/exec keeps only the last of entries with the
//     same name and refuses an entry containing NUL.)
//   - stdin carries the JSON of the container state and is closed after it; a
//     hook may ignore it and exit at once (the broken pipe is not an error).
//   - stdout and stderr are captured, never passed through: a hook must not write
//     into rt's stdio, which during `rt run` or under a shim may be the
//     container's or the caller's protocol stream. runc captures them too. Output
//     is kept only as a bounded tail and shown only when the hook fails: stderr,
//     or stdout when stderr was empty.
//   - Each hook leads its own process group, so a timeout or a cancelled context
//     SIGKILLs the hook and every descendant that stayed in its group.
//   - Only fds 0-2 reach the hook; see Run for how, and for the process-wide
//     side effect that costs.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrTimeout is wrapped by the error of a hook that was killed because it ran
// past its Timeout. Test for it with errors.Is. A hook killed because the
// caller's context ended wraps the context's error instead.
var ErrTimeout = errors.New("timed out")

// Error reports the one hook that failed. Run returns it directly and RunAll
// returns several joined with errors.Join; use errors.As to get at the fields.
//
// Its message reads
//
//	createRuntime hook #0 (/usr/local/bin/net-setup): exit status 2: cannot find bridge br0
//
// and may span several lines when the hook printed several.
type Error struct {
	// Point is the hook point as the caller named it, e.g. "createRuntime".
	Point string
	// Index is the hook's position in the list for that point, from 0.
	Index int
	// Path is the hook's executable, as given in the spec.
	Path string
	// Err is why it failed: an *exec.ExitError (exit status or signal), an
	// error wrapping ErrTimeout or the context's error, or an error from
	// starting it that wraps the errno (fs.ErrNotExist, fs.ErrPermission, …).
	Err error
	// Output is the tail of what the hook printed (at most outputLines lines and
	// outputBytes bytes, trimmed): its stderr, or its stdout if stderr was
	// empty. Empty when it printed nothing or never started.
	Output string
}

// Error formats the failure as "<point> hook #<i> (<path>): <cause>[: <output>]".
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s hook #%d (%s): %v", e.Point, e.Index, e.Path, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

// Unwrap returns the cause, so errors.Is(err, ErrTimeout),
// errors.Is(err, fs.ErrNotExist) and errors.As(err, **exec.ExitError) work
// through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// Bounds on the output kept for an error message. A hook that floods its
// output costs a pipe drain, not memory, and the user sees its last words,
// which is where the reason for a failure usually is.
const (
	outputBytes = 4 << 10
	outputLines = 20
)

// pipeGrace is how long Run keeps reading a hook's stdout/stderr after the
// hook itself has exited. A hook that starts a daemon without redirecting its
// stdio would otherwise block Run until that daemon exits; after the grace the
// pipes are closed under it (it gets EPIPE/SIGPIPE on its next write).
const pipeGrace = 500 * time.Millisecond

// Run runs hooks in order for the hook point named point (used only in error
// messages, e.g. "createRuntime"), each with the JSON of state on stdin. The
// first hook that fails stops the run and is returned as an *Error naming the
// point, index and path, the exit status, signal, timeout or start failure,
// and the tail of what the hook printed.
//
// A hook's Timeout (seconds) and ctx both bound it: when either ends, the
// hook's whole process group is SIGKILLed and Run waits for the hook before
// returning, so no zombie is left. Descendants that left the group (setsid,
// double fork into a new group) are not killed. A hook that exits 0 while a
// descendant still holds its stdout/stderr succeeds after pipeGrace.
//
// The working directory is state.Bundle when that is an existing directory
// (what runc's hooks see during create, since runc chdirs into the bundle),
// else "/", never rt's own arbitrary working directory.
//
// Side effect: before starting hooks, Run marks every fd above 2 in the rt
// process close-on-exec. Go opens its own fds close-on-exec, but fds rt
// inherited without the flag (--preserve-fds, LISTEN_FDS, a caller's leak)
// would otherwise reach every hook. Code that later hands such an fd to a
// child must pass it through exec.Cmd.ExtraFiles (which clears the flag on the
// child's copy), not rely on plain inheritance.
//
// Caveats: Run must be the only one to wait for its hooks; a reaper in rt
// that waits for any child would steal them and make Run report a wait error.
// A hook outlives rt if rt itself is killed while it runs (runc's hooks do
// too); nothing ties the hook's life to rt's.
//
// A nil or empty hooks list returns nil without touching anything.
func Run(ctx context.Context, point string, hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	in, dir, err := prepare(point, state)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runOne(ctx, point, i, h, in, dir); err != nil {
			return err
		}
	}
	return nil
}

// RunAll is Run without stopping at the first failure: every hook runs, and
// all failures come back joined with errors.Join (each an *Error), or nil.
// It is for poststop, where a failing hook must only be warned about and must
// not keep later hooks from cleaning up.
//
// Once ctx has ended, every remaining hook fails at once with the context's
// error rather than being started.
func RunAll(ctx context.Context, point string, hooks []specs.Hook, state *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	in, dir, err := prepare(point, state)
	if err != nil {
		return err
	}
	var errs []error
	for i, h := range hooks {
		if err := runOne(ctx, point, i, h, in, dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// prepare does the work shared by every hook of one point: the state JSON,
// the working directory, and the fd hygiene.
func prepare(point string, state *specs.State) (in []byte, dir string, err error) {
	if state == nil {
		return nil, "", fmt.Errorf("%s hooks: no container state to pass", point)
	}
	in, err = json.Marshal(state)
	if err != nil {
		return nil, "", fmt.Errorf("%s hooks: encode container state: %w", point, err)
	}
	if err := closeExecFrom3(); err != nil {
		return nil, "", fmt.Errorf("%s hooks: keep rt's fds out of hooks: %w", point, err)
	}
	dir = "/"
	if state.Bundle != "" {
		if fi, err := os.Stat(state.Bundle); err == nil && fi.IsDir() {
			dir = state.Bundle
		}
	}
	return in, dir, nil
}

// runOne runs hook #i and waits for it, whatever happens.
func runOne(ctx context.Context, point string, i int, h specs.Hook, in []byte, dir string) error {
	fail := func(err error, out string) error {
		return &Error{Point: point, Index: i, Path: h.Path, Err: err, Output: out}
	}
	if !filepath.IsAbs(h.Path) {
		// A relative path would resolve against dir, which is not what the
		// spec author can have meant; config validation rejects it too.
		return fail(errors.New("path is not absolute"), "")
	}
	var timeout <-chan time.Time
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fail(fmt.Errorf("timeout %d must be positive", *h.Timeout), "")
		}
		t := time.NewTimer(time.Duration(*h.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("not started: %w", context.Cause(ctx)), "")
	}

	argv := h.Args
	if len(argv) == 0 {
		argv = []string{h.Path}
	}
	// A nil Env makes os/exec inherit rt's environment, as runc's hooks do.
	env := h.Env
	var stdout, stderr tail
	cmd := &exec.Cmd{
		Path:        h.Path,
		Args:        argv,
		Env:         env,
		Dir:         dir,
		Stdin:       bytes.NewReader(in),
		Stdout:      &stdout,
		Stderr:      &stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   pipeGrace,
	}
	if err := cmd.Start(); err != nil {
		return fail(startError(h.Path, err), "")
	}

	// Learn that the hook exited without collecting it (WNOWAIT): while it is
	// an unreaped zombie its pid, and so its process group id, cannot be
	// reused, which makes the group kill below safe at any moment. os/exec's
	// own context cancellation offers no such guarantee.
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return // on any other error cmd.Wait below reports it
			}
		}
	}()
	var why error // set when we killed the hook, says why
	select {
	case <-exited:
	case <-timeout:
		why = fmt.Errorf("%w after %ds (killed)", ErrTimeout, *h.Timeout)
	case <-ctx.Done():
		why = fmt.Errorf("killed: %w", context.Cause(ctx))
	}
	if why != nil {
		// Negative pid: the hook's whole group, so descendants that stayed in
		// it die too. ESRCH cannot happen while the leader is unreaped.
		if err := unix.Kill(-pid, unix.SIGKILL); err != nil {
			why = fmt.Errorf("%w; killing it failed: %v", why, err)
		}
		<-exited
	}

	// Always collect the hook, killed or not: no zombies.
	err := cmd.Wait()
	out := stderr.String()
	if out == "" {
		out = stdout.String()
	}
	switch {
	case why != nil:
		// Report the reason for the SIGKILL, not the SIGKILL itself.
		return fail(why, out)
	case errors.Is(err, exec.ErrWaitDelay):
		// The hook exited 0 but left a descendant holding its stdout/stderr;
		// the hook itself succeeded.
		return nil
	case err != nil:
		return fail(err, out)
	}
	return nil
}

// startError rewrites a start failure so the message names the errno once
// (the *Error already names the path) and explains the one misleading case.
func startError(path string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != path {
		return err // e.g. chdir into the bundle failed: keep its own path.
	}
	if errors.Is(pe.Err, unix.ENOENT) {
		if _, statErr := os.Stat(path); statErr == nil {
			// execve says ENOENT for a missing #! interpreter or ELF loader
			// too; without this the user hunts for a file that is there.
			return fmt.Errorf("%w (the file exists: its #! interpreter or dynamic loader is missing)", pe.Err)
		}
	}
	return pe.Err
}

// closeExecFrom3 marks every fd from 3 up close-on-exec, so a hook gets only
// its stdio whatever rt inherited. close_range(2) does it in one call on Linux
// 5.11+; older kernels get the /proc/self/fd walk.
func closeExecFrom3() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open fds: %w", err)
	}
	for _, e := range ents {
		var fd int
		if _, err := fmt.Sscanf(e.Name(), "%d", &fd); err != nil || fd < 3 {
			continue
		}
		// The fd that listed the directory is already closed by now; so may
		// be others closed concurrently. EBADF means there is nothing to
		// leak.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}

// tail is an io.Writer that keeps only the last outputBytes written, so a hook
// can print without bound while rt's memory stays bounded. Each tail is
// written by a single os/exec copying goroutine and read after Wait, so it
// needs no lock.
type tail struct {
	buf       []byte
	truncated bool
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= outputBytes {
		if len(p) > outputBytes || len(t.buf) > 0 {
			t.truncated = true
		}
		t.buf = append(t.buf[:0], p[len(p)-outputBytes:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - outputBytes; over > 0 {
		t.buf = t.buf[:copy(t.buf, t.buf[over:])]
		t.truncated = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept output trimmed of surrounding blank space and cut to
// its last outputLines lines, with "…" in front when anything was dropped.
func (t *tail) String() string {
	b := t.buf
	cut := t.truncated
	if cut {
		// The byte cut may have split a UTF-8 sequence; drop its remains.
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if lines := strings.Split(s, "\n"); len(lines) > outputLines {
		s = strings.Join(lines[len(lines)-outputLines:], "\n")
		cut = true
	}
	if s == "" {
		return ""
	}
	if cut {
		s = "…" + s
	}
	return s
}
