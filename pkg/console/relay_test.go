package console

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relayResult is what a Relay run in the background ended with.
type relayResult struct {
	out []byte
	err error
}

// startRelay runs Relay(master, in, buffer) in the background, with a read
// deadline on master so that a Relay that misses the end fails the test
// instead of hanging it.
func startRelay(t *testing.T, master, in *os.File) <-chan relayResult {
	t.Helper()
	if err := master.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	ch := make(chan relayResult, 1)
	go func() {
		var out bytes.Buffer
		err := Relay(master, in, &out)
		ch <- relayResult{out.Bytes(), err}
	}()
	return ch
}

func TestRelayDrainsOutput(t *testing.T) {
	tests := []struct {
		name string
		size int
		// exitFirst waits for the helper to exit before relaying, so all
		// of the output sits in the pty when Relay starts.
		exitFirst bool
	}{
		{"100 KiB written while relaying", 100 << 10, false},
		{"1 KiB written before relaying", 1 << 10, true},
		{"no output", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slavePath := openPty(t)
			cmd, stderr := startHelper(t, "write-bulk", slavePath, nil, sizeEnv+"="+strconv.Itoa(tt.size))
			if tt.exitFirst {
				if err := cmd.Wait(); err != nil {
					t.Fatalf("helper: %v; stderr: %s", err, stderr)
				}
			}
			r := <-startRelay(t, master, nil)
			if r.err != nil {
				t.Fatalf("Relay: %v", r.err)
			}
			if !tt.exitFirst {
				if err := cmd.Wait(); err != nil {
					t.Fatalf("helper: %v; stderr: %s", err, stderr)
				}
			}
			if want := pattern(tt.size); !bytes.Equal(r.out, want) {
				t.Errorf("relayed %d bytes, want the %d written (first difference at %d)",
					len(r.out), len(want), firstDiff(r.out, want))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestRelayForwardsInputAndEOF(t *testing.T) {
	tests := []struct {
		name  string
		input string
		// want is how often input must appear in the output: once echoed
		// by the terminal and once written back by the helper.
		want int
	}{
		{"whole lines", "hello\nworld\n", 2},
		{"partial last line", "abc", 2},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slavePath := openPty(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd, stderr := startHelper(t, "cat", slavePath, nil)
			done := startRelay(t, master, r)
			if _, err := w.WriteString(tt.input); err != nil {
				t.Fatal(err)
			}
			// End of rt's stdin must become end of file in the container,
			// or the helper never exits.
			w.Close()
			res := <-done
			if res.err != nil {
				t.Fatalf("Relay: %v", res.err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("helper: %v; stderr: %s", err, stderr)
			}
			out := strings.ReplaceAll(string(res.out), "\r\n", "\n")
			if !strings.Contains(out, "<EOF>") {
				t.Errorf("helper did not see end of input; output %q", out)
			}
			if tt.input != "" {
				if got := strings.Count(out, tt.input); got != tt.want {
					t.Errorf("input %q appears %d times in %q, want %d", tt.input, got, out, tt.want)
				}
			}
		})
	}
}

func TestRelayTerminalModeAndResize(t *testing.T) {
	// The container's pty, with the slave held here in place of a process.
	master, slavePath := openPty(t)
	slave := openSlave(t, slavePath)

	// A second pty stands in for the user's terminal that rt runs on.
	userMaster, userSlavePath := openPty(t)
	userTerm := openSlave(t, userSlavePath)
	if err := Resize(userMaster, 30, 100); err != nil {
		t.Fatal(err)
	}
	before := termios(t, userTerm)
	if before.Lflag&unix.ICANON == 0 {
		t.Fatal("user terminal does not start in canonical mode")
	}

	done := startRelay(t, master, userTerm)
	waitSize(t, master, 30, 100)
	if raw := termios(t, userTerm); raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 {
		t.Errorf("user terminal not raw while relaying: lflag %#x oflag %#x", raw.Lflag, raw.Oflag)
	}

	// A window change on the user's terminal reaches the container's.
	if err := Resize(userMaster, 40, 120); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(unix.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	waitSize(t, master, 40, 120)

	// Keys typed reach the container unchanged: in cooked mode the user's
	// terminal would have swallowed ^C as an interrupt. The container's
	// terminal is made raw too so that it passes the byte on to be read.
	if _, err := makeRaw(slave); err != nil {
		t.Fatal(err)
	}
	if _, err := userMaster.WriteString("k\x03"); err != nil {
		t.Fatal(err)
	}
	if got := string(readFull(t, slave, 2)); got != "k\x03" {
		t.Errorf("container terminal read %q, want %q", got, "k\x03")
	}

	// The container's side closing ends Relay and restores the terminal.
	if _, err := slave.WriteString("bye"); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	res := <-done
	if res.err != nil {
		t.Fatalf("Relay: %v", res.err)
	}
	if !bytes.Contains(res.out, []byte("bye")) {
		t.Errorf("output %q lacks the last write", res.out)
	}
	if after := termios(t, userTerm); *after != *before {
		t.Errorf("user terminal not restored:\n got %+v\nwant %+v", after, before)
	}
	// Ends the input goroutine still reading the user's terminal.
	userMaster.Close()
}

func termios(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
	var tio *unix.Termios
	err := withFd(f, func(fd int) (err error) {
		tio, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	})
	if err != nil {
		t.Fatalf("TCGETS on %s: %v", f.Name(), err)
	}
	return tio
}

// waitSize waits until pty f has the given size.
func waitSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ws := winsize(t, f)
		if ws.Row == rows && ws.Col == cols {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("size of %s is %dx%d, want %dx%d", f.Name(), ws.Row, ws.Col, rows, cols)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
