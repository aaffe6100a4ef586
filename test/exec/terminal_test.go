package exec_test

// exec with a terminal: the pty master sent to --console-socket, and a
// foreground exec relaying the terminal rt runs on.

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
)

// consoleSocket listens on an AF_UNIX socket in a temp dir and returns its
// path and a channel that delivers the one descriptor a runtime sends there.
func consoleSocket(t *testing.T) (string, <-chan recvResult) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetDeadline(time.Now().Add(15 * time.Second))
	ch := make(chan recvResult, 1)
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- recvResult{err: err}
			return
		}
		defer conn.Close()
		f, err := console.RecvFd(conn)
		ch <- recvResult{f, err}
	}()
	return path, ch
}

type recvResult struct {
	f   *os.File
	err error
}

// receive waits for the descriptor sent to a console socket. It returns it
// non-blocking, on Go's poller, whatever mode the runtime sent it in (runc's
// is blocking), so that Close ends a pending Read.
func receive(t *testing.T, ch <-chan recvResult) *os.File {
	t.Helper()
	var res recvResult
	select {
	case res = <-ch:
	case <-time.After(15 * time.Second):
		t.Fatal("console socket: nothing received within 15s")
	}
	if res.err != nil {
		t.Fatalf("console socket: %v", res.err)
	}
	defer res.f.Close()
	rc, err := res.f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(f uintptr) {
		if fd, err = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			err = unix.SetNonblock(fd, true)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), res.f.Name())
	t.Cleanup(func() { f.Close() })
	return f
}

// output collects everything read from a pty master.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func collect(f *os.File) *output {
	o := &output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// expect waits until the output contains want.
func (o *output) expect(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(o.String(), want) {
			return
		}
	}
	t.Fatalf("terminal output has no %q within 10s: %q", want, o.String())
}

// closed waits until the terminal is hung up (the shell exited).
func (o *output) closed(t *testing.T) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the terminal stayed open 10s after exit: %q", o.String())
	}
}

// TestExecTerminalConsoleSocket drives an exec'd interactive shell through
// the pty master rt sends to --console-socket: detached (-d, as containerd
// and podman call it), and in the foreground, where rt exits with the
// shell's status.
func TestExecTerminalConsoleSocket(t *testing.T) {
	r := runner(t)
	c := start(t, r, "ttysock", nil)

	t.Run("detached", func(t *testing.T) {
		sock, recv := consoleSocket(t)
		pidFile := filepath.Join(t.TempDir(), "pid")
		res := c.exec([]string{"-t", "-d", "--console-socket", sock, "--pid-file", pidFile}, "sh")
		if res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("exec -t -d --console-socket: %s", res)
		}
		master := receive(t, recv)
		pid := readPidFile(t, pidFile)
		if left := processesWith(r.Root); len(left) > 0 {
			t.Errorf("processes of the runtime left after exec -d: %v", left)
		}
		out := collect(master)
		master.Write([]byte("tty; echo hi-$((1+2))\n"))
		out.expect(t, "/dev/pts/")
		out.expect(t, "hi-3\r\n")
		master.Write([]byte("exit 3\n"))
		out.closed(t)
		waitFor(t, "the exec'd shell gone", func() bool { return !alive(pid) })
	})

	// As containerd's shim calls it: the terminal and its size in the
	// process file.
	t.Run("process file", func(t *testing.T) {
		data, err := json.Marshal(&specs.Process{
			Terminal: true, ConsoleSize: &specs.Box{Height: 33, Width: 77},
			Args: []string{"sh"}, Env: []string{"PATH=/bin", "TERM=xterm"}, Cwd: "/",
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "process.json")
		os.WriteFile(path, data, 0o644)
		sock, recv := consoleSocket(t)
		if res := c.exec([]string{"-d", "--console-socket", sock, "--process", path}); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("exec -d --console-socket --process: %s", res)
		}
		master := receive(t, recv)
		out := collect(master)
		master.Write([]byte("stty size; tty; echo hi-$((1+2))\n"))
		out.expect(t, "33 77\r\n")
		out.expect(t, "/dev/pts/")
		out.expect(t, "hi-3\r\n")
		master.Write([]byte("exit 3\n"))
		out.closed(t)
	})

	t.Run("foreground", func(t *testing.T) {
		if compared != "" {
			t.Skip("runc refuses --console-socket without --detach")
		}
		sock, recv := consoleSocket(t)
		cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", "-t", "--console-socket", sock, c.ID, "sh")
		var stdio bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdio, &stdio
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		defer func() {
			cmd.Process.Kill()
			<-exited
		}()
		master := receive(t, recv)
		out := collect(master)
		master.Write([]byte("tty; echo hi-$((1+2))\n"))
		out.expect(t, "/dev/pts/")
		out.expect(t, "hi-3\r\n")
		master.Write([]byte("exit 3\n"))
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("rt exec did not exit after the shell did: %q", out.String())
		}
		if code := cmd.ProcessState.ExitCode(); code != 3 {
			t.Errorf("rt exec -t --console-socket exited %d, want the shell's 3 (output %q)", code, stdio.String())
		}
	})
}

// TestExecTerminalForeground: exec -t without a console socket relays rt's
// own terminal (a pty the test owns, rt's controlling terminal) to the
// process's, and exits with the shell's status.
func TestExecTerminalForeground(t *testing.T) {
	r := runner(t)
	c := start(t, r, "ttyfg", nil)
	master, slavePath, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", "-t", c.ID, "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	out := collect(master)
	out.expect(t, "# ") // the shell's prompt: it reads its terminal
	master.Write([]byte("tty; echo hi-$((1+2))\n"))
	out.expect(t, "/dev/pts/")
	out.expect(t, "hi-3\r\n")
	master.Write([]byte("exit 3\n"))
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("rt exec -t did not exit; output %q", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("rt exec -t exited %d, want 3; output %q", code, out.String())
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
}
