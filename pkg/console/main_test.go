package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests re-execute the test binary to get a process that can give up
// its session and take a terminal, which the test process itself must not.
// These variables select and parameterise the helper run by TestMain.
const (
	helperEnv = "RT_CONSOLE_TEST_HELPER"
	slaveEnv  = "RT_CONSOLE_TEST_SLAVE"
	sizeEnv   = "RT_CONSOLE_TEST_SIZE"
)

// testTimeout bounds every wait, so that a broken pty makes a test fail
// rather than hang the suite.
const testTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	os.Exit(m.Run())
}

func runHelper(name string) int {
	helpers := map[string]func() error{
		"setup-slave": helperSetupSlave,
		"write-bulk":  helperWriteBulk,
		"cat":         helperCat,
	}
	fn, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	if err := SetupSlave(os.Getenv(slaveEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 1
	}
	if err := fn(); err != nil {
		// stderr is the terminal now: the parent sees this in the output.
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 1
	}
	return 0
}

// helperSetupSlave reports what a process sees after SetupSlave, one
// key=value line each, for TestSetupSlave to check.
func helperSetupSlave() error {
	report := func(key string, value any) { fmt.Printf("%s=%v\n", key, value) }
	for fd := 0; fd <= 2; fd++ {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		report(fmt.Sprintf("fd%d-terminal", fd), err == nil)
		link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		report(fmt.Sprintf("fd%d-link", fd), link)
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		report(fmt.Sprintf("fd%d-cloexec", fd), flags&unix.FD_CLOEXEC != 0)
	}
	// /dev/tty opens only for a process with a controlling terminal.
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	report("ctty", err == nil)
	if err == nil {
		tty.Close()
	}
	sid, _ := unix.Getsid(0)
	report("session-leader", sid == unix.Getpid())
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	report("foreground", err == nil && fg == unix.Getpgrp())
	if path, err := exec.LookPath("tty"); err == nil {
		cmd := exec.Command(path)
		cmd.Stdin = os.Stdin
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("run tty: %w", err)
		}
		report("tty", strings.TrimSpace(string(out)))
	}
	return nil
}

// helperWriteBulk writes the pattern of the size in sizeEnv to its terminal
// and exits at once, leaving the kernel to close the slave.
func helperWriteBulk() error {
	n, err := strconv.Atoi(os.Getenv(sizeEnv))
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(pattern(n))
	return err
}

// helperCat copies its terminal's input to its output until end of file,
// then marks that it saw the end.
func helperCat() error {
	if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
		return err
	}
	_, err := os.Stdout.WriteString("\n<EOF>\n")
	return err
}

// pattern returns n printable bytes without newlines (which the pty would
// turn into CR LF) and with a period long enough to show lost chunks.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = '!' + byte((i+i/89)%89)
	}
	return b
}

// startHelper starts the named helper on the terminal slavePath.
// attr, if not nil, is used for the child (e.g. to start it as a session
// leader). The returned buffer gets the helper's stderr until it takes the
// terminal.
func startHelper(t *testing.T, name, slavePath string, attr *syscall.SysProcAttr, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+name, slaveEnv+"="+slavePath)
	// A race-enabled binary sleeps a second at exit by default, which
	// would make every helper that slow.
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = attr
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// openPty is OpenPty("/dev/ptmx") for tests, closed at cleanup.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	master, slave, err := OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatalf("OpenPty: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	return master, slave
}

// openSlave opens a pty slave without making it a controlling terminal.
func openSlave(t *testing.T, path string) *os.File {
	t.Helper()
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain reads master until the slave is gone (EIO), with a deadline.
func drain(t *testing.T, master *os.File) []byte {
	t.Helper()
	if err := master.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err := io.Copy(&out, master)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading master: got %v, want EIO after %d bytes: %q", err, out.Len(), out.String())
	}
	return out.Bytes()
}

// readFull reads exactly n bytes from f, with a deadline.
func readFull(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatalf("read %s: %v (got %q)", f.Name(), err, buf)
	}
	return buf
}

// ptyFds counts this process's descriptors that are masters of pty n.
func ptyFds(t *testing.T, n uint32) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasSuffix(link, "ptmx") {
			continue
		}
		if got, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN); err == nil && got == n {
			count++
		}
	}
	return count
}

// ptyNumber returns the number of the pty whose slave is path.
func ptyNumber(t *testing.T, slavePath string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(filepath.Base(slavePath), 10, 32)
	if err != nil {
		t.Fatalf("slave path %s: %v", slavePath, err)
	}
	return uint32(n)
}
