package lifecycle_test

// Terminals (console socket and foreground) here, hooks in hooks_test.go,
// and --pid-file, --preserve-fds, stdio inheritance, run --keep and
// --no-subreaper in stdio_test.go, checked on real containers; the th
// helpers are shared by the three.
//
// With RT_TEST_COMPARE set to another runtime with runc's CLI (e.g.
// /usr/sbin/runc), the tests of the three files run that runtime instead of
// rt and the BUG skips are not taken: that is how each bug they report was
// confirmed against runc.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
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
			if left := harness.ProcessesWith(r.Root); len(left) > 0 {
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
