package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/store"
)

// fakeInit is a real child process standing in for the container's init:
// releaseFifo checks that the recorded pid and start time are alive, and
// that it holds the fifo (an O_PATH fd at initproto.FdFifo, as rt-init
// until its execve) unless fifo is "".
func fakeInit(t *testing.T, fifo string) (*exec.Cmd, *store.State) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if fifo != "" {
		opath, err := os.OpenFile(fifo, unix.O_PATH, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer opath.Close()
		cmd.ExtraFiles = []*os.File{opath, opath} // fds 3 and 4
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	start, err := ProcStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, &store.State{ID: "c", InitPid: cmd.Process.Pid, InitStartTime: start}
}

func makeFifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ExecFifo)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// A writer blocked in open when a test fails is released here.
	t.Cleanup(func() {
		if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0); err == nil {
			time.Sleep(10 * time.Millisecond)
			unix.Close(fd)
		}
	})
	return path
}

// writer plays rt-init's side of the fifo: it opens for writing (blocking
// until start opens for reading), writes one byte and keeps the fifo open
// until told to close, as rt-init does until execve.
type writer struct {
	wrote  chan error    // after the byte (or the failure)
	close  chan struct{} // close the write end
	closed chan struct{}
}

func startWriter(t *testing.T, path string, msg string) *writer {
	t.Helper()
	w := &writer{wrote: make(chan error, 1), close: make(chan struct{}), closed: make(chan struct{})}
	// As the init: through an O_PATH fd taken before start, which
	// removes the name once it has opened its end.
	opath, err := os.OpenFile(path, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.closed)
		defer opath.Close()
		f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", opath.Fd()), os.O_WRONLY, 0)
		if err != nil {
			w.wrote <- err
			return
		}
		_, err = f.Write([]byte{0})
		w.wrote <- err
		<-w.close
		if msg != "" {
			f.Write([]byte(msg))
		}
		f.Close()
	}()
	return w
}

// release runs releaseFifo in the background.
func release(path string, st *store.State) <-chan error {
	done := make(chan error, 1)
	go func() { done <- releaseFifo(path, st) }()
	return done
}

const fifoTimeout = 10 * time.Second

// TestReleaseFifo: start returns once the init's write end closes (at
// execve), with the error the init wrote after its byte, if any.
func TestReleaseFifo(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"returns after the writer closes", "", ""},
		{"the init's error after the byte", "process: seccomp: load filter: invalid argument\n",
			"container init: process: seccomp: load filter: invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := makeFifo(t)
			_, st := fakeInit(t, path)
			w := startWriter(t, path, tt.msg)
			defer func() {
				select {
				case <-w.close:
				default:
					close(w.close)
				}
			}()
			done := release(path, st)
			select {
			case err := <-w.wrote:
				if err != nil {
					t.Fatalf("init side: %v", err)
				}
			case <-time.After(fifoTimeout):
				t.Fatal("the writer's open never went through")
			}
			select {
			case err := <-done:
				t.Fatalf("releaseFifo returned (%v) while the init still holds the fifo open", err)
			case <-time.After(200 * time.Millisecond):
			}
			close(w.close)
			<-w.closed
			select {
			case err := <-done:
				if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
					t.Fatalf("releaseFifo: %v, want %q", err, tt.want)
				}
			case <-time.After(fifoTimeout):
				t.Fatal("releaseFifo did not return after the writer closed")
			}
		})
	}
}

// TestReleaseFifoDeadInit: an init that dies before it writes must make
// start fail, not hang.
func TestReleaseFifoDeadInit(t *testing.T) {
	tests := []struct {
		name string
		// before kills the init before releaseFifo is called; otherwise
		// it is killed while releaseFifo waits.
		before bool
		// reap waits for the killed init (no zombie left).
		reap bool
	}{
		{"killed before, zombie", true, false},
		{"killed before, reaped", true, true},
		{"killed while waiting", false, false},
		{"killed while waiting, reaped", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := makeFifo(t)
			cmd, st := fakeInit(t, path)
			kill := func() {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				if tt.reap {
					cmd.Wait()
				}
			}
			if tt.before {
				kill()
			}
			done := release(path, st)
			if !tt.before {
				select {
				case err := <-done:
					t.Fatalf("releaseFifo returned (%v) while the init is alive and has not written", err)
				case <-time.After(100 * time.Millisecond):
				}
				kill()
			}
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "exited") {
					t.Errorf("releaseFifo: %v, want an error saying the init exited", err)
				}
			case <-time.After(fifoTimeout):
				t.Fatal("releaseFifo hangs on a dead init")
			}
		})
	}
}

// TestReleaseFifoNoProcess: a recorded pid whose start time does not match
// (a recycled pid) is a dead init too.
func TestReleaseFifoNoProcess(t *testing.T) {
	path := makeFifo(t)
	_, st := fakeInit(t, path)
	st.InitStartTime++
	select {
	case err := <-release(path, st):
		if err == nil {
			t.Error("releaseFifo: nil error for a pid with another start time")
		}
	case <-time.After(fifoTimeout):
		t.Fatal("releaseFifo hangs")
	}
}

// TestReleaseFifoPassed: an init that no longer holds the fifo went
// through it (released by a start killed before it removed the fifo):
// start succeeds at once instead of waiting for a byte nobody will write.
func TestReleaseFifoPassed(t *testing.T) {
	path := makeFifo(t)
	_, st := fakeInit(t, "")
	select {
	case err := <-release(path, st):
		if err != nil {
			t.Errorf("releaseFifo: %v, want nil", err)
		}
	case <-time.After(fifoTimeout):
		t.Fatal("releaseFifo waits for an init that went through the fifo")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the fifo is still there: %v", err)
	}
}

func TestReleaseFifoMissing(t *testing.T) {
	_, st := fakeInit(t, "")
	err := releaseFifo(filepath.Join(t.TempDir(), "nofifo"), st)
	if err == nil || !strings.Contains(err.Error(), "open exec fifo") {
		t.Errorf("releaseFifo of a missing fifo: %v, want an open error", err)
	}
}
