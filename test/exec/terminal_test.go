package exec_test

// exec with a terminal: the pty master sent to --console-socket, and a
// foreground exec relaying the terminal rt runs on.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/test/harness"
)

// TestExecTerminalConsoleSocket drives an exec'd interactive shell through
// the pty master rt sends to --console-socket: detached (-d, as containerd
// and podman call it), and in the foreground, where rt exits with the
// shell's status.
func TestExecTerminalConsoleSocket(t *testing.T) {
	r := runner(t)
	c := start(t, r, "ttysock", nil)

	t.Run("detached", func(t *testing.T) {
		sock, recv := harness.ConsoleSocket(t)
		pidFile := filepath.Join(t.TempDir(), "pid")
		res := c.exec([]string{"-t", "-d", "--console-socket", sock, "--pid-file", pidFile}, "sh")
		if res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("exec -t -d --console-socket: %s", res)
		}
		master := harness.Receive(t, recv)
		pid := readPidFile(t, pidFile)
		if left := harness.ProcessesWith(r.Root); len(left) > 0 {
			t.Errorf("processes of the runtime left after exec -d: %v", left)
		}
		out := harness.Collect(master)
		master.Write([]byte("tty; echo hi-$((1+2))\n"))
		out.Expect(t, "/dev/pts/")
		out.Expect(t, "hi-3\r\n")
		master.Write([]byte("exit 3\n"))
		out.Closed(t)
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
		sock, recv := harness.ConsoleSocket(t)
		if res := c.exec([]string{"-d", "--console-socket", sock, "--process", path}); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("exec -d --console-socket --process: %s", res)
		}
		master := harness.Receive(t, recv)
		out := harness.Collect(master)
		master.Write([]byte("stty size; tty; echo hi-$((1+2))\n"))
		out.Expect(t, "33 77\r\n")
		out.Expect(t, "/dev/pts/")
		out.Expect(t, "hi-3\r\n")
		master.Write([]byte("exit 3\n"))
		out.Closed(t)
	})

	t.Run("foreground", func(t *testing.T) {
		if compared != "" {
			t.Skip("runc refuses --console-socket without --detach")
		}
		sock, recv := harness.ConsoleSocket(t)
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
		master := harness.Receive(t, recv)
		out := harness.Collect(master)
		master.Write([]byte("tty; echo hi-$((1+2))\n"))
		out.Expect(t, "/dev/pts/")
		out.Expect(t, "hi-3\r\n")
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
	out := harness.Collect(master)
	out.Expect(t, "# ") // the shell's prompt: it reads its terminal
	master.Write([]byte("tty; echo hi-$((1+2))\n"))
	out.Expect(t, "/dev/pts/")
	out.Expect(t, "hi-3\r\n")
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
