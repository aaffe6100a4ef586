package console

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns both ends of a new AF_UNIX socketpair of the given
// type, as *os.File or, with asConn, as *net.UnixConn.
func socketPair(t *testing.T, typ int, asConn bool) (a, b syscall.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(fd int, name string) syscall.Conn {
		f := os.NewFile(uintptr(fd), name)
		if !asConn {
			t.Cleanup(func() { f.Close() })
			return f
		}
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(syscall.Conn)
	}
	return wrap(fds[0], "sock-a"), wrap(fds[1], "sock-b")
}

func TestSendRecvFd(t *testing.T) {
	tests := []struct {
		name     string
		typ      int
		asConn   bool
		sendName string
		wantName string
	}{
		{"stream files", unix.SOCK_STREAM, false, "/dev/ptmx", "/dev/ptmx"},
		{"seqpacket files", unix.SOCK_SEQPACKET, false, "/dev/ptmx", "/dev/ptmx"},
		{"stream UnixConn", unix.SOCK_STREAM, true, "/dev/ptmx", "/dev/ptmx"},
		{"one-byte name", unix.SOCK_STREAM, false, "x", "x"},
		{"C string terminator dropped", unix.SOCK_STREAM, false, "console\x00", "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t, tt.typ, tt.asConn)
			master, slavePath := openPty(t)
			n := ptyNumber(t, slavePath)

			if err := SendFd(a, tt.sendName, master); err != nil {
				t.Fatalf("SendFd: %v", err)
			}
			// The sender gives up its copy; only the received one remains.
			master.Close()
			got, err := RecvFd(b)
			if err != nil {
				t.Fatalf("RecvFd: %v", err)
			}
			defer got.Close()
			if got.Name() != tt.wantName {
				t.Errorf("received name %q, want %q", got.Name(), tt.wantName)
			}
			if !cloexec(t, got) {
				t.Error("received descriptor is not close-on-exec")
			}
			if c := ptyFds(t, n); c != 1 {
				t.Errorf("%d descriptors of pty %d open, want 1 (the received one)", c, n)
			}

			// The received descriptor is the same master.
			slave := openSlave(t, slavePath)
			if _, err := slave.WriteString("hi"); err != nil {
				t.Fatal(err)
			}
			if s := string(readFull(t, got, 2)); s != "hi" {
				t.Errorf("received master read %q, want %q", s, "hi")
			}
		})
	}
}

func TestSendFdRejects(t *testing.T) {
	tests := []struct {
		name, sendName string
	}{
		{"empty name", ""},
		{"name too long", strings.Repeat("x", MaxNameLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := socketPair(t, unix.SOCK_STREAM, false)
			master, _ := openPty(t)
			if err := SendFd(a, tt.sendName, master); err == nil {
				t.Fatal("SendFd succeeded")
			}
		})
	}
}

func TestRecvFdErrors(t *testing.T) {
	tests := []struct {
		name    string
		send    func(t *testing.T, a *os.File)
		wantEOF bool
	}{
		{
			name:    "peer closed",
			send:    func(t *testing.T, a *os.File) { a.Close() },
			wantEOF: true,
		},
		{
			name: "data without descriptor",
			send: func(t *testing.T, a *os.File) {
				if _, err := a.WriteString("no fd"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "two descriptors",
			send: func(t *testing.T, a *os.File) {
				rights := unix.UnixRights(0, 1)
				if err := unix.Sendmsg(int(a.Fd()), []byte("two"), rights, nil, 0); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t, unix.SOCK_STREAM, false)
			before := countFds(t)
			tt.send(t, a.(*os.File))
			f, err := RecvFd(b)
			if err == nil {
				f.Close()
				t.Fatal("RecvFd succeeded")
			}
			if got := errors.Is(err, io.EOF); got != tt.wantEOF {
				t.Errorf("errors.Is(%v, io.EOF) = %v, want %v", err, got, tt.wantEOF)
			}
			// Nothing received may stay open (closing a counts as -1).
			if after := countFds(t); after > before {
				t.Errorf("%d descriptors open after the failure, %d before", after, before)
			}
		})
	}
}

// listenConsoleSocket listens at path like a console-socket client and
// returns a channel that gets the one descriptor received.
func listenConsoleSocket(t *testing.T, path string) <-chan received {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan received, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- received{err: err}
			return
		}
		defer conn.Close()
		f, err := RecvFd(conn)
		if err == nil {
			// The sender closes after its one message.
			if n, rerr := conn.Read(make([]byte, 1)); n != 0 || rerr != io.EOF {
				err = errors.New("more than one message on the console socket")
			}
		}
		ch <- received{f, err}
	}()
	return ch
}

type received struct {
	f   *os.File
	err error
}

func TestSendToSocket(t *testing.T) {
	tests := []struct {
		name string
		// place moves the listening socket from where it was bound and
		// returns the path to connect to.
		place func(t *testing.T, bound string) string
	}{
		{"short path", func(t *testing.T, bound string) string { return bound }},
		{"path longer than sun_path", func(t *testing.T, bound string) string {
			// bind() cannot take a long path, but the socket inode can be
			// renamed into one.
			dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			long := filepath.Join(dir, "console.sock")
			if err := os.Rename(bound, long); err != nil {
				t.Fatal(err)
			}
			if len(long) <= sunPathMax {
				t.Fatalf("path %q is not long enough", long)
			}
			return long
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bound := filepath.Join(t.TempDir(), "c.sock")
			ch := listenConsoleSocket(t, bound)
			path := tt.place(t, bound)

			master, slavePath := openPty(t)
			n := ptyNumber(t, slavePath)
			if err := SendToSocket(path, master); err != nil {
				t.Fatalf("SendToSocket: %v", err)
			}
			master.Close()
			r := <-ch
			if r.err != nil {
				t.Fatalf("console socket server: %v", r.err)
			}
			defer r.f.Close()
			// runc's payload: the master's file name.
			if r.f.Name() != "/dev/ptmx" {
				t.Errorf("received name %q, want /dev/ptmx", r.f.Name())
			}
			// SendToSocket kept no copy: the client's is the only one.
			if c := ptyFds(t, n); c != 1 {
				t.Errorf("%d descriptors of pty %d open, want 1 (the client's)", c, n)
			}
			slave := openSlave(t, slavePath)
			if _, err := r.f.WriteString("in\n"); err != nil {
				t.Fatal(err)
			}
			if s := string(readFull(t, slave, 3)); s != "in\n" {
				t.Errorf("slave read %q, want %q", s, "in\n")
			}
		})
	}
}

func TestSendToSocketErrors(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
	}{
		{"missing", filepath.Join(dir, "missing.sock")},
		{"not a socket", notSocket},
		{"missing long path", filepath.Join(dir, strings.Repeat("x", 120))},
	}
	master, _ := openPty(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SendToSocket(tt.path, master)
			if err == nil {
				t.Fatal("SendToSocket succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name %s", err, tt.path)
			}
		})
	}
}
