package harness

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
)

// ConsoleSocket listens on an AF_UNIX socket in a temp dir, as containerd's
// shim and conmon do for --console-socket, and returns its path and a
// channel that delivers the one descriptor a runtime sends there.
func ConsoleSocket(t testing.TB) (string, <-chan Received) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetDeadline(time.Now().Add(15 * time.Second))
	ch := make(chan Received, 1)
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- Received{Err: err}
			return
		}
		defer conn.Close()
		f, err := console.RecvFd(conn)
		ch <- Received{File: f, Err: err}
	}()
	return path, ch
}

// Received is what a console socket got.
type Received struct {
	File *os.File
	Err  error
}

// Receive waits for the descriptor sent to a console socket. It returns it
// non-blocking, on Go's poller, whatever mode the runtime sent it in (runc's
// is blocking), so that Close ends a pending Read and really closes it.
func Receive(t testing.TB, ch <-chan Received) *os.File {
	t.Helper()
	var res Received
	select {
	case res = <-ch:
	case <-time.After(15 * time.Second):
		t.Fatal("console socket: nothing received within 15s")
	}
	if res.Err != nil {
		t.Fatalf("console socket: %v", res.Err)
	}
	defer res.File.Close()
	rc, err := res.File.SyscallConn()
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
	f := os.NewFile(uintptr(fd), res.File.Name())
	t.Cleanup(func() { f.Close() })
	return f
}

// Output collects everything read from a pty master.
type Output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

// Collect reads f in the background until it fails (the terminal hung up).
func Collect(f *os.File) *Output {
	o := &Output{done: make(chan struct{})}
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

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Expect waits until the output contains want.
func (o *Output) Expect(t testing.TB, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(o.String(), want) {
			return
		}
	}
	t.Fatalf("terminal output has no %q within 10s: %q", want, o.String())
}

// Closed waits until the terminal is hung up (the shell exited).
func (o *Output) Closed(t testing.TB) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the terminal stayed open 10s after exit: %q", o.String())
	}
}
