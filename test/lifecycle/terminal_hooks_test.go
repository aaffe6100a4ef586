package lifecycle_test

// Terminals (console socket and foreground), hooks, --pid-file,
// --preserve-fds, stdio inheritance, run --keep and --no-subreaper, checked
// on real containers.
//
// With RT_TEST_COMPARE set to another runtime with runc's CLI (e.g.
// /usr/sbin/runc), the tests in this file run that runtime instead of rt and
// the BUG skips are not taken: that is how each bug below was confirmed
// against runc.

import (
	"bytes"
	"context"
	"encoding/json"
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
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/test/harness"
)

// thCompared is harness.Compared: the runtime run in place of rt, or "".
var thCompared = harness.Compared

// thXrunner is runner(t), which runs the compared runtime when one is set.
func thXrunner(t *testing.T) *harness.Runner { return runner(t) }

// thBug fails a test on a bug in rt; against another runtime (runc, for
// comparison) the test goes on, so that one run lists every difference.
func thBug(t *testing.T, msg string) {
	t.Helper()
	if thCompared == "" {
		t.Fatal("BUG: " + msg)
	}
}

// thTtyBundle is a bundle whose process is an interactive shell on a terminal.
func thTtyBundle(t *testing.T, edit func(*specs.Spec)) string {
	return harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh"}
		if edit != nil {
			edit(s)
		}
	})
}

// thProcessesWith lists the pids whose command line has arg (other than this
// test's own).
func thProcessesWith(arg string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err != nil || !slices.Contains(strings.Split(string(data), "\x00"), arg) {
			continue
		}
		pid := filepath.Base(filepath.Dir(p))
		if pid != strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

func thWaitStopped(t *testing.T, r *harness.Runner, id string) {
	t.Helper()
	waitFor(t, func() bool { return state(t, r, id).Status == api.StatusStopped })
}

// TestTerminalConsoleSocket drives an interactive shell through the pty master a
// detached container's runtime sends to --console-socket, with run -d and with
// create + start.
func TestTerminalConsoleSocket(t *testing.T) {
	r := thXrunner(t)
	b := thTtyBundle(t, func(s *specs.Spec) {
		s.Process.ConsoleSize = &specs.Box{Height: 40, Width: 120}
	})
	for _, create := range []bool{false, true} {
		name := "run-d"
		if create {
			name = "create-start"
		}
		t.Run(name, func(t *testing.T) {
			id := harness.ID("console")
			sock, recv := harness.ConsoleSocket(t)
			var res harness.Result
			if create {
				res = r.RT("create", "--console-socket", sock, "--bundle", b, id)
			} else {
				res = r.RT("run", "-d", "--console-socket", sock, "--bundle", b, id)
			}
			if res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
				t.Fatalf("%s: %s", name, res)
			}
			// The payload name is TestTerminalSocketPayloadName's.
			master := harness.Receive(t, recv)
			// rt has exited and left no process of its own behind that
			// could hold a copy of the master.
			if left := thProcessesWith(r.Root); len(left) > 0 {
				t.Errorf("processes of the runtime left after %s: %v", name, left)
			}
			if create {
				if st := state(t, r, id); st.Status != api.StatusCreated {
					t.Fatalf("state after create: %+v", st)
				}
				if res := r.RT("start", id); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
					t.Fatalf("start: %s", res)
				}
			}
			out := harness.Collect(master)
			// /dev/console is the terminal too, as with runc (init systems and
			// getty open it).
			if _, err := master.Write([]byte(`tty; stty size; [ "$(stat -c %t:%T /dev/console)" = "$(stat -L -c %t:%T "$(tty)")" ] && echo console-is-tty; echo hi-$((1+2))` + "\n")); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"/dev/pts/0\r\n", "40 120\r\n", "console-is-tty\r\n", "hi-3\r\n"} {
				out.Expect(t, want)
			}
			if create {
				// Closing the only master hangs the terminal up: the shell
				// reads end of file and exits. A copy held anywhere else
				// would keep it waiting.
				master.Close()
			} else {
				master.Write([]byte("exit 7\n"))
				out.Closed(t)
			}
			thWaitStopped(t, r, id)
			if res := r.RT("delete", id); res.Code != 0 {
				t.Fatalf("delete: %s", res)
			}
			r.AssertNoTrace(t, id, b)
		})
	}
}

// TestTerminalSocketPayloadName is the payload check of TestTerminalConsoleSocket on
// its own, so that the rest of that test keeps running.
func TestTerminalSocketPayloadName(t *testing.T) {
	r := thXrunner(t)
	b := thTtyBundle(t, nil)
	id := harness.ID("consname")
	sock, recv := harness.ConsoleSocket(t)
	if res := r.RT("run", "-d", "--console-socket", sock, "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	master := harness.Receive(t, recv)
	master.Write([]byte("exit\n"))
	thWaitStopped(t, r, id)
	r.RT("delete", id)
	r.AssertNoTrace(t, id, b)
	if master.Name() != "/dev/ptmx" {
		thBug(t, fmt.Sprintf("the --console-socket message carries %q where runc sends the master's own name %q "+
			"(pkg/console.SendToSocket's doc promises that): pkg/initproc/initproc.go setupTerminal sends the master to rt "+
			"named by the slave path (console.SendFd(sock, slave, master)); send it as master.Name() and pass the slave "+
			"path, if rt needs it, separately", master.Name(), "/dev/ptmx"))
		t.Errorf("payload %q, want %q", master.Name(), "/dev/ptmx")
	}
}

// TestTerminalForeground runs a terminal container in the foreground without
// a console socket: rt relays its own terminal (a pty the test owns) to the
// container's.
func TestTerminalForeground(t *testing.T) {
	r := thXrunner(t)
	b := thTtyBundle(t, nil)
	id := harness.ID("fgtty")
	master, slavePath, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := console.Resize(master, 33, 97); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "run", "--bundle", b, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	out := harness.Collect(master)
	out.Expect(t, "# ") // the shell's prompt: it is reading its terminal
	// The echoed command line says hello-tty-$((2+3)), only the output
	// hello-tty-5.
	master.Write([]byte("stty size; echo hello-tty-$((2+3))\n"))
	out.Expect(t, "hello-tty-5")
	if !strings.Contains(out.String(), "33 97\r\n") {
		t.Errorf("stty size inside is not the outer terminal's 33 97: %q", out.String())
	}
	// A resize of rt's terminal (SIGWINCH to rt) reaches the container's.
	if err := console.Resize(master, 50, 150); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && !strings.Contains(out.String(), "50 150\r\n"); i++ {
		master.Write([]byte("stty size\n"))
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "50 150\r\n") {
		t.Errorf("stty size inside did not follow the outer terminal to 50 150: %q", out.String())
	}
	master.Write([]byte("exit 5\n"))
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("rt run did not exit; output %q", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 5 {
		t.Errorf("rt run exited %d, want 5; output %q", code, out.String())
	}
	// rt restored its terminal's mode.
	rc, _ := master.SyscallConn()
	rc.Control(func(fd uintptr) {
		tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			t.Error(err)
		} else if tio.Lflag&(unix.ICANON|unix.ECHO) != unix.ICANON|unix.ECHO {
			t.Errorf("rt left its terminal raw (lflag %#x)", tio.Lflag)
		}
	})
	r.AssertNoTrace(t, id, b)
}

// TestTerminalForegroundPipedStdin: a terminal container in the foreground
// gets its input from the runtime's stdin when that is a pipe, and its end as
// the terminal's EOF character (twice after a partial line). The program
// reads its terminal in canonical mode: a shell's line editor would switch
// to raw mode after the typed-ahead EOF, which the line discipline does not
// keep across that switch. (runc refuses a terminal without one on stdin.)
func TestTerminalForegroundPipedStdin(t *testing.T) {
	r := thXrunner(t)
	b := thTtyBundle(t, func(s *specs.Spec) {
		s.Process.Args = sh("cat; echo done-$((6*7))")
	})
	id := harness.ID("fgpipe")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bins.RT, "--root", r.Root, "run", "--bundle", b, id)
	cmd.Stdin = strings.NewReader("line one\npartial")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("run did not end after its stdin did: %q", out.String())
	}
	// The terminal echoes the input, then cat prints it.
	if err != nil || strings.Count(out.String(), "line one\r\n") != 2 || !strings.Contains(out.String(), "partial") || !strings.Contains(out.String(), "done-42\r\n") {
		t.Errorf("run with piped stdin: %v, output %q", err, out.String())
	}
	r.AssertNoTrace(t, id, b)
}

// TestTerminalDetachedNeedsSocket: a detached terminal container has
// nowhere to send its terminal without --console-socket.
func TestTerminalDetachedNeedsSocket(t *testing.T) {
	r := thXrunner(t)
	b := thTtyBundle(t, nil)
	for _, args := range [][]string{{"run", "-d"}, {"create"}} {
		id := harness.ID("nosock")
		res := r.RT(append(args, "--bundle", b, id)...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "console") || res.Stdout != "" {
			t.Errorf("%v with terminal and no console socket: %s", args, res)
		}
		if res := r.RT("state", id); res.Code == 0 {
			t.Errorf("container %s exists after a failed %v", id, args)
		}
		r.AssertNoTrace(t, id, b)
	}
}

// thHookScript records what a hook got: the state from stdin, its environment
// (as the shell exports it), its arguments and, for the pid in the state, the
// comm of that process, then appends its name to the order file. $1 is the
// hook's name, $2 the directory to write to. startContainer takes its time, so
// that a poststart that does not wait for the program to be executed (which
// is after startContainer) shows.
const thHookScript = `#!/bin/busybox sh
name=$1 dir=$2
[ "$name" = startContainer ] && /bin/busybox sleep 0.3
/bin/busybox cat > "$dir/$name.json"
/bin/busybox cat /proc/self/environ > "$dir/$name.env"
printf '%s\n' "$@" > "$dir/$name.args"
pid=$(/bin/busybox sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$dir/$name.json")
/bin/busybox cat /proc/$pid/comm > "$dir/$name.comm" 2>/dev/null
echo "$name" >> "$dir/order"
`

// thHookRecord is what thHookScript wrote for one hook.
type thHookRecord struct {
	State specs.State
	Env   []string
	Args  []string
	Comm  string
}

func thReadHook(t *testing.T, dir, name string) thHookRecord {
	t.Helper()
	var rec thHookRecord
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%s hook did not run: %v", name, err)
	}
	if err := json.Unmarshal(data, &rec.State); err != nil {
		t.Fatalf("%s hook got state %q: %v", name, data, err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, name+".env"))
	rec.Env = strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
	args, _ := os.ReadFile(filepath.Join(dir, name+".args"))
	rec.Args = strings.Split(strings.TrimSuffix(string(args), "\n"), "\n")
	comm, _ := os.ReadFile(filepath.Join(dir, name+".comm"))
	rec.Comm = strings.TrimSpace(string(comm))
	return rec
}

var thHookPoints = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// thHookEnv is the environment given to hook name.
func thHookEnv(name string) []string {
	return []string{"PATH=/nowhere", "HOOK_NAME=" + name, "SPACED=a b=c"}
}

// thHooked is a container whose config has one recording hook at every point.
type thHooked struct {
	r      *harness.Runner
	id     string
	bundle string
	// log is the host dir the hooks write to.
	log string
	// pid is the container's init as the host sees it.
	pid int
}

// thRunHooked creates, starts, kills and deletes a container with a recording
// hook at every point. The startContainer hook runs after pivot_root, so its
// script lives in the rootfs and writes to the log dir bound into the
// container at /hooklog; the others use the host's paths (createContainer
// runs before pivot_root, where they still resolve). poststart is run through
// /bin/busybox with argv[0] "sh", which only works if argv[0] is passed as
// given.
func thRunHooked(t *testing.T) *thHooked {
	r := thXrunner(t)
	// rt's own environment must not reach a hook.
	r.Env = append(os.Environ(), "RT_TEST_LEAK=1")
	h := &thHooked{r: r, id: harness.ID("hooks"), log: t.TempDir()}
	script := filepath.Join(h.log, "hook.sh")
	if err := os.WriteFile(script, []byte(thHookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: script, Args: []string{"argv0-" + name, name, h.log, "two words"}, Env: thHookEnv(name)}
	}
	h.bundle = bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.rt.test": "hooks", "second": "two"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: h.log, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")},
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer: []specs.Hook{{
				Path: "/start-hook.sh", Args: []string{"argv0-startContainer", "startContainer", "/hooklog", "two words"},
				Env: thHookEnv("startContainer"),
			}},
			Poststart: []specs.Hook{{
				Path: "/bin/busybox", Args: []string{"sh", script, "poststart", h.log, "two words"},
				Env: thHookEnv("poststart"),
			}},
			Poststop: []specs.Hook{hook("poststop")},
		}
	})
	if err := os.WriteFile(filepath.Join(h.bundle, "rootfs/start-hook.sh"), []byte(thHookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := r.RT("create", "--bundle", h.bundle, h.id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	st := state(t, r, h.id)
	h.pid = st.InitProcessPid
	if got := h.order(t); !slices.Equal(got, thHookPoints[:3]) {
		t.Errorf("hooks run by create: %v, want %v", got, thHookPoints[:3])
	}
	if res := r.RT("start", h.id); res.Code != 0 {
		t.Fatalf("start: %s", res)
	}
	waitFor(t, func() bool { return len(h.order(t)) >= 5 })
	if res := r.RT("kill", h.id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	thWaitStopped(t, r, h.id)
	if res := r.RT("delete", h.id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	r.AssertNoTrace(t, h.id, h.bundle)
	return h
}

func (h *thHooked) order(t *testing.T) []string {
	data, _ := os.ReadFile(filepath.Join(h.log, "order"))
	return strings.Fields(string(data))
}

// TestHookPoints checks every hook point: the order, the state each got, and the
// arguments and environment exactly as configured.
func TestHookPoints(t *testing.T) {
	h := thRunHooked(t)
	// Where poststart runs is TestHookPoststartAfterExec's.
	got := h.order(t)
	if n := len(slices.DeleteFunc(slices.Clone(got), func(p string) bool { return p != "poststart" })); n != 1 {
		t.Errorf("hook order %v: poststart ran %d times", got, n)
	}
	got = slices.DeleteFunc(got, func(p string) bool { return p == "poststart" })
	if want := slices.DeleteFunc(slices.Clone(thHookPoints), func(p string) bool { return p == "poststart" }); !slices.Equal(got, want) {
		t.Errorf("hook order %v (poststart left out), want %v", got, want)
	}
	wantStatus := map[string]specs.ContainerState{
		"prestart": specs.StateCreating, "createRuntime": specs.StateCreating,
		"startContainer": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped,
	}
	for _, name := range thHookPoints {
		rec := thReadHook(t, h.log, name)
		st := rec.State
		if st.ID != h.id || st.Bundle != h.bundle || st.Annotations["org.rt.test"] != "hooks" || st.Annotations["second"] != "two" {
			t.Errorf("%s hook got state %+v, want id %s, bundle %s and the annotations", name, st, h.id, h.bundle)
		}
		if want, ok := wantStatus[name]; ok && st.Status != want {
			t.Errorf("%s hook got status %q, want %q", name, st.Status, want)
		}
		switch name {
		case "prestart", "createRuntime", "poststart":
			// Run in the runtime's namespaces: the host's pid.
			if st.Pid != h.pid {
				t.Errorf("%s hook got pid %d, want the init's %d", name, st.Pid, h.pid)
			}
		}
		if want := []string{name, h.log, "two words"}; name == "startContainer" {
			if want[1] = "/hooklog"; !slices.Equal(rec.Args, want) {
				t.Errorf("%s hook got args %q, want %q", name, rec.Args, want)
			}
		} else if !slices.Equal(rec.Args, want) {
			t.Errorf("%s hook got args %q, want %q", name, rec.Args, want)
		}
		// The shell exports SHLVL and PWD of its own; nothing else may be
		// there but the hook's env.
		var env []string
		for _, e := range rec.Env {
			if !strings.HasPrefix(e, "SHLVL=") && !strings.HasPrefix(e, "PWD=") {
				env = append(env, e)
			}
		}
		slices.Sort(env)
		want := slices.Sorted(slices.Values(thHookEnv(name)))
		if !slices.Equal(env, want) {
			t.Errorf("%s hook got env %q, want exactly %q", name, env, want)
		}
	}
}

// TestHookPoststartAfterExec: the runtime-spec runs poststart after the
// user-specified program is executed (lifecycle steps 7-9: startContainer,
// the program, poststart), and before start returns.
func TestHookPoststartAfterExec(t *testing.T) {
	h := thRunHooked(t)
	rec := thReadHook(t, h.log, "poststart")
	if got := h.order(t); !slices.Equal(got, thHookPoints) || rec.Comm != "sleep" {
		thBug(t, fmt.Sprintf("poststart hooks run before the container's program is executed (the process was %q, "+
			"not sleep; hook order %v) and so race with the startContainer hooks: pkg/runtime/lifecycle.go start runs "+
			"them as soon as releaseFifo has read the one byte rt-init writes, and pkg/initproc closes the fifo "+
			"right after writing it, before startContainer, the uid switch and execve. runc's way: rt-init keeps its "+
			"O_CLOEXEC write end open until execve and releaseFifo reads to end of file (which then means the exec "+
			"happened, or init died), before poststart. (Debian's runc 1.1.5 is no reference here: it runs poststart "+
			"during create, with status created.)", rec.Comm, got))
		t.Errorf("hook order %v, want %v; poststart saw the process as %q, want sleep", got, thHookPoints, rec.Comm)
	}
}

// TestHookCreateContainerStatus: createContainer runs during create, so its
// state says creating, as for createRuntime (runc: creating).
func TestHookCreateContainerStatus(t *testing.T) {
	h := thRunHooked(t)
	if rec := thReadHook(t, h.log, "createContainer"); rec.State.Status != specs.StateCreating {
		thBug(t, fmt.Sprintf("createContainer hooks get status %q; the create operation has not finished (runc "+
			"and the spec: creating, as prestart/createRuntime get here): pkg/initproc sets "+
			`cfg.State.Status = "created" before hooks.Run(..."createContainer"...); keep "creating"`, rec.State.Status))
		t.Errorf("createContainer status %q, want creating", rec.State.Status)
	}
}

// TestHookContainerNamespacePid: the runtime-spec says a hook run in the
// container namespace gets the pid as seen by the container: 1 in the
// container's own pid namespace (runc: 1).
func TestHookContainerNamespacePid(t *testing.T) {
	h := thRunHooked(t)
	pids := map[string]int{}
	for _, name := range []string{"createContainer", "startContainer"} {
		pids[name] = thReadHook(t, h.log, name).State.Pid
	}
	if pids["createContainer"] != 1 || pids["startContainer"] != 1 {
		thBug(t, fmt.Sprintf("hooks run in the container's namespaces get the init's pid as the host sees it (%v, "+
			"init %d); the spec wants the pid as seen by the container there (runc passes getpid() of its init: 1): "+
			"pkg/initproc passes cfg.State, whose pid rt filled with the host pid, as is; set State.Pid = "+
			"os.Getpid() before running createContainer and startContainer", pids, h.pid))
		t.Errorf("pids %v, want 1", pids)
	}
}

// TestHookTimeout: a hook that outlives its timeout is killed and fails the
// create, which leaves nothing behind.
func TestHookTimeout(t *testing.T) {
	r := thXrunner(t)
	pidFile := filepath.Join(t.TempDir(), "hook.pid")
	timeout := 1
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/busybox", Args: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec /bin/busybox sleep 30"},
			Timeout: &timeout,
		}}}
	})
	id := harness.ID("hooktimeout")
	start := time.Now()
	res := r.RT("create", "--bundle", b, id)
	took := time.Since(start)
	if res.Code == 0 || !regexp.MustCompile(`(?i)time(d)? ?out`).MatchString(res.Stderr) {
		t.Errorf("create with a hook past its timeout: %s", res)
	}
	if took > 10*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", took)
	}
	if data, err := os.ReadFile(pidFile); err != nil {
		t.Errorf("the hook did not run: %v", err)
	} else if _, err := os.Stat("/proc/" + strings.TrimSpace(string(data))); err == nil {
		t.Errorf("the timed-out hook (pid %s) is still there", strings.TrimSpace(string(data)))
	}
	if res := r.RT("state", id); res.Code == 0 {
		t.Errorf("container exists after a failed create: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestHookPoststopFailure: a failing poststop hook is only warned about; the
// next one still runs and delete succeeds.
func TestHookPoststopFailure(t *testing.T) {
	r := thXrunner(t)
	ran := filepath.Join(t.TempDir(), "ran")
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{
			{Path: "/bin/busybox", Args: []string{"sh", "-c", "echo poststop-broke >&2; exit 3"}},
			{Path: "/bin/busybox", Args: []string{"sh", "-c", "echo ok > " + ran}},
		}}
	})
	id := harness.ID("poststop")
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	if res := r.RT("start", id); res.Code != 0 {
		t.Fatal(res)
	}
	thWaitStopped(t, r, id)
	res := r.RT("delete", id)
	if res.Code != 0 {
		if thCompared != "" {
			t.Logf("%s: delete with a failing poststop hook: %s", thCompared, res)
		} else {
			t.Errorf("delete with a failing poststop hook: %s", res)
		}
	}
	if !strings.Contains(res.Stderr, "poststop") || !strings.Contains(res.Stderr, "poststop-broke") {
		t.Errorf("no warning about the failed poststop hook: %s", res)
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the poststop hook after the failed one did not run: %v", err)
	}
	r.AssertNoTrace(t, id, b)
}

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
