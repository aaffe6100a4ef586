package console

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenPty(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ptmx")
	if err := os.Symlink("/dev/ptmx", link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ptmx string
	}{
		{"device node", "/dev/ptmx"},
		{"symlink to device node", link},
		// The devpts instance's own ptmx, which a container's /dev/ptmx
		// points at.
		{"devpts ptmx", "/dev/pts/ptmx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slavePath, err := OpenPty(tt.ptmx)
			if errors.Is(err, os.ErrPermission) {
				t.Skipf("%s not usable here: %v", tt.ptmx, err)
			}
			if err != nil {
				t.Fatalf("OpenPty(%q): %v", tt.ptmx, err)
			}
			defer master.Close()
			if master.Name() != tt.ptmx {
				t.Errorf("master named %q, want %q", master.Name(), tt.ptmx)
			}
			if filepath.Dir(slavePath) != "/dev/pts" {
				t.Errorf("slave path %q, want /dev/pts/N", slavePath)
			}
			if !cloexec(t, master) {
				t.Error("master not close-on-exec")
			}

			// Opening the slave succeeds only if OpenPty unlocked it.
			slave := openSlave(t, slavePath)

			// Slave to master; the default line discipline turns LF into
			// CR LF on output.
			if _, err := slave.WriteString("ping\n"); err != nil {
				t.Fatal(err)
			}
			if got := string(readFull(t, master, 6)); got != "ping\r\n" {
				t.Errorf("master read %q, want %q", got, "ping\r\n")
			}
			// Master to slave: a canonical-mode read returns the line.
			if _, err := master.WriteString("pong\n"); err != nil {
				t.Fatal(err)
			}
			if got := string(readFull(t, slave, 5)); got != "pong\n" {
				t.Errorf("slave read %q, want %q", got, "pong\n")
			}
		})
	}
}

func TestOpenPtyErrors(t *testing.T) {
	tests := []struct {
		name string
		ptmx string
	}{
		{"missing", filepath.Join(t.TempDir(), "missing")},
		{"not a ptmx", "/dev/null"},
	}
	// Warm up Go's poller, which opens descriptors of its own on first use.
	if f, err := os.Open("/dev/null"); err == nil {
		f.Close()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countFds(t)
			master, _, err := OpenPty(tt.ptmx)
			if err == nil {
				master.Close()
				t.Fatalf("OpenPty(%q) succeeded", tt.ptmx)
			}
			if !strings.Contains(err.Error(), tt.ptmx) {
				t.Errorf("error %q does not name %s", err, tt.ptmx)
			}
			if after := countFds(t); after != before {
				t.Errorf("%d descriptors open after the failure, %d before", after, before)
			}
		})
	}
}

func countFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestResize(t *testing.T) {
	tests := []struct {
		name          string
		height, width uint
		wantErr       bool
	}{
		{"typical", 24, 80, false},
		{"one cell", 1, 1, false},
		{"largest", 65535, 65535, false},
		{"zero", 0, 0, false},
		{"height too large", 65536, 80, true},
		{"width too large", 24, 1 << 20, true},
	}
	master, slavePath := openPty(t)
	slave := openSlave(t, slavePath)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Resize(master, 7, 9); err != nil {
				t.Fatalf("reset size: %v", err)
			}
			err := Resize(master, tt.height, tt.width)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Resize succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Resize: %v", err)
			}
			// The size belongs to the pty: the slave side reads it back.
			ws := winsize(t, slave)
			if uint(ws.Row) != tt.height || uint(ws.Col) != tt.width {
				t.Errorf("slave size %dx%d, want %dx%d", ws.Row, ws.Col, tt.height, tt.width)
			}
		})
	}
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := Resize(null, 24, 80); err == nil {
		t.Error("Resize of /dev/null succeeded")
	}
}

// winsize reads f's window size.
func winsize(t *testing.T, f *os.File) *unix.Winsize {
	t.Helper()
	var ws *unix.Winsize
	err := withFd(f, func(fd int) (err error) {
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	})
	if err != nil {
		t.Fatalf("TIOCGWINSZ on %s: %v", f.Name(), err)
	}
	return ws
}

// cloexec reports whether f's descriptor is close-on-exec.
func cloexec(t *testing.T, f *os.File) bool {
	t.Helper()
	var flags int
	err := withFd(f, func(fd int) (err error) {
		flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		return err
	})
	if err != nil {
		t.Fatalf("F_GETFD on %s: %v", f.Name(), err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

func TestSetupSlave(t *testing.T) {
	tests := []struct {
		name string
		attr *syscall.SysProcAttr
	}{
		{"starts a session", nil},
		{"already session leader", &syscall.SysProcAttr{Setsid: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slavePath := openPty(t)
			cmd, stderr := startHelper(t, "setup-slave", slavePath, tt.attr)
			out := strings.ReplaceAll(string(drain(t, master)), "\r\n", "\n")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("helper: %v\nstderr: %s\noutput: %s", err, stderr, out)
			}
			got := map[string]string{}
			for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			want := map[string]string{
				"fd0-terminal": "true", "fd1-terminal": "true", "fd2-terminal": "true",
				"fd0-link": slavePath, "fd1-link": slavePath, "fd2-link": slavePath,
				"fd0-cloexec": "false", "fd1-cloexec": "false", "fd2-cloexec": "false",
				"ctty": "true", "session-leader": "true", "foreground": "true",
			}
			if _, err := os.Stat("/usr/bin/tty"); err == nil {
				want["tty"] = slavePath
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if t.Failed() {
				t.Logf("helper output:\n%s", out)
			}
		})
	}
}

func TestSetupSlaveMissing(t *testing.T) {
	// In a helper: SetupSlave starts a new session before it opens the
	// slave, which the test process must not do to itself.
	missing := filepath.Join(t.TempDir(), "missing")
	cmd, stderr := startHelper(t, "setup-slave", missing, nil)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("helper ended with %v, want exit status 1; stderr: %s", err, stderr)
	}
	if msg := stderr.String(); !strings.Contains(msg, "open pty slave") || !strings.Contains(msg, missing) {
		t.Errorf("error %q does not say which open failed", msg)
	}
}
