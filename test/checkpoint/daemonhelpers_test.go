package checkpoint_test

// The helpers of daemons_test.go: background commands, image directories,
// ports, fs.pipe-max-size.

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/checkpoint"
	"github.com/rtkit/rt/test/harness"
)

// bg is a command run in the background, its output in files.
type bg struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	done           chan struct{}
	res            harness.Result
}

// startBG starts cmd; at cleanup it is killed if still running.
func startBG(t *testing.T, cmd *exec.Cmd) *bg {
	t.Helper()
	b := &bg{cmd: cmd, stdout: harness.TempFile(t), stderr: harness.TempFile(t), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b.stdout, b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.res.Code = ee.ExitCode()
		} else if err != nil {
			b.res.Code = -1
		}
		b.res.Stdout, b.res.Stderr = readFile(b.stdout.Name()), readFile(b.stderr.Name())
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func readFile(p string) string {
	data, _ := os.ReadFile(p)
	return string(data)
}

// daemon starts `rt-checkpoint --root <root> args...` in the background.
func daemon(t *testing.T, r *harness.Runner, args ...string) *bg {
	t.Helper()
	cmd := exec.Command(r.Bins.Checkpoint, append([]string{"--root", r.Root}, args...)...)
	cmd.Env = r.Env
	return startBG(t, cmd)
}

// wait waits (at most a minute) for the command to exit.
func (b *bg) wait(t *testing.T) harness.Result {
	t.Helper()
	select {
	case <-b.done:
		return b.res
	case <-time.After(time.Minute):
		t.Fatalf("%v still runs after a minute: stderr %q", b.cmd.Args, readFile(b.stderr.Name()))
		return harness.Result{}
	}
}

// port waits for the page server's first line on stdout: its port.
func (b *bg) port(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if out := readFile(b.stdout.Name()); strings.HasSuffix(out, "\n") {
			return strings.TrimSuffix(out, "\n")
		}
		select {
		case <-b.done:
			t.Fatalf("page-server exited before it printed a port: %s", b.res)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("page-server printed no port within 30 s")
	return ""
}

// pageFiles counts the pages-*.img files in dir.
func pageFiles(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "pages-*.img"))
	return len(m)
}

// copyMissing copies every file of from into to that to lacks: the images
// a migration sends beside the pages the page server received.
func copyMissing(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dst := filepath.Join(to, e.Name())
		if _, err := os.Lstat(dst); err == nil || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			err = os.WriteFile(dst, data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// raisePipeMaxSize sets fs.pipe-max-size to what a lazy dump's page server
// needs (if lower) for the test, and back afterwards.
func raisePipeMaxSize(t *testing.T) {
	t.Helper()
	setPipeMaxSize(t, checkpoint.PipeMaxSizeNeeded(), func(cur, want int) bool { return cur < want })
}

// setPipeMaxSize is harness.SetPipeMaxSize: the sysctl is the machine's,
// and other packages' tests change it too.
func setPipeMaxSize(t *testing.T, size int, change func(cur, want int) bool) {
	t.Helper()
	harness.SetPipeMaxSize(t, size, change)
}

// freePort is a TCP port nothing listens on (now).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// hasCapSysResource reports whether the test (and so the criu that the
// rt-checkpoint it starts as root runs) has CAP_SYS_RESOURCE.
func hasCapSysResource(t *testing.T) bool {
	t.Helper()
	for _, l := range strings.Split(readFile("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapEff %q: %v", v, err)
			}
			return eff&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
