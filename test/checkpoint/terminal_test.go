package checkpoint_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// ttyBundle is a bundle whose init is an interactive busybox sh on a
// terminal (bound onto /dev/console by rt-init).
func ttyBundle(t *testing.T) string {
	return harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh"}
		s.Root.Readonly = false
	})
}

// TestRestoreTerminal checkpoints an interactive shell started with a
// console socket (without --leave-running) and restores it with a new
// console socket: through the master rt-checkpoint sends there, the same
// shell answers, with a variable set before the checkpoint, on a terminal
// that is still its /dev/console.
func TestRestoreTerminal(t *testing.T) {
	requireCRIU(t)
	r := harness.NewRunner(t)
	b := ttyBundle(t)
	id := harness.ID("ckpt-tty")
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	sock, recv := harness.ConsoleSocket(t)
	if res := r.RT("run", "-d", "--console-socket", sock, "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	master := harness.Receive(t, recv)
	out := harness.Collect(master)
	master.Write([]byte("secret=before-$((6*7)); echo set-$secret\n"))
	out.Expect(t, "set-before-42\r\n")
	st, _ := (&container{r: r, id: id}).state(t)

	images := filepath.Join(t.TempDir(), "img")
	if res := r.RT("checkpoint", "--image-path", images, id); res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	if alive(st.InitProcessPid) {
		t.Errorf("init %d still alive after checkpoint", st.InitProcessPid)
	}
	// The old terminal is gone with the process that held its slave.
	out.Closed(t)
	master.Close()
	r.AssertNoTrace(t, id, b)

	// Failures say why in one line and leave nothing, the last two
	// after CRIU has restored the shell.
	t.Run("failures", func(t *testing.T) {
		restoreFails(t, r, b, id, "--console-socket is required", "restore", "-d", "--image-path", images, "--bundle", b, id)
		pidFile := filepath.Join(t.TempDir(), "pid")
		restoreFails(t, r, b, id, "connect to console socket", "restore", "-d", "--console-socket", filepath.Join(t.TempDir(), "none.sock"), "--pid-file", pidFile, "--image-path", images, "--bundle", b, id)
		if _, err := os.Stat(pidFile); err == nil {
			t.Errorf("a failed restore left its pid file")
		}
		harness.EditConfig(t, b, func(s *specs.Spec) { s.Process.Terminal = false })
		defer harness.EditConfig(t, b, func(s *specs.Spec) { s.Process.Terminal = true })
		restoreFails(t, r, b, id, "the checkpoint holds a terminal but the bundle's process.terminal is false", "restore", "-d", "--image-path", images, "--bundle", b, id)
	})

	sock, recv = harness.ConsoleSocket(t)
	res := r.RT("restore", "-d", "--console-socket", sock, "--image-path", images, "--bundle", b, id)
	if res.Code != 0 {
		t.Fatalf("restore: %s", res)
	}
	if res.Stdout != "" || res.Stderr != "" {
		t.Errorf("restore wrote %s", res)
	}
	master = harness.Receive(t, recv)
	// rt-checkpoint has exited and kept no copy of the master.
	if left := harness.ProcessesWith(r.Root); len(left) > 0 {
		t.Errorf("processes of the runtime left after restore: %v", left)
	}
	assertNoCRIURoot(t, b)
	rst, ok := (&container{r: r, id: id}).state(t)
	if !ok || rst.Status != api.StatusRunning {
		t.Fatalf("after restore: %+v (exists %v)", rst, ok)
	}
	out = harness.Collect(master)
	// The shell's variable survived, and /dev/console is the new
	// terminal (CRIU restores rt-init's bind of the slave with the pty).
	master.Write([]byte(`echo got-$secret; [ "$(stat -c %t:%T /dev/console)" = "$(stat -L -c %t:%T "$(tty)")" ] && echo console-is-$((1+1))tty` + "\n"))
	out.Expect(t, "got-before-42\r\n")
	out.Expect(t, "console-is-2tty\r\n")
	master.Write([]byte("exit 3\n"))
	out.Closed(t)
	waitStopped(t, &container{r: r, id: id})
	if res := r.RT("delete", id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	r.AssertNoTrace(t, id, b)

	// In the foreground without a console socket rt relays the terminal
	// through its own stdio, as run does, and exits with the shell's
	// status. The images serve again.
	cmd := r.Command("restore", "--image-path", images, "--bundle", b, id)
	cmd.Stdin = strings.NewReader("echo fg-$secret; exit 5\n")
	res = r.Run(cmd)
	if res.Code != 5 || !strings.Contains(res.Stdout, "fg-before-42\r\n") {
		t.Errorf("foreground restore: want status 5 and fg-before-42: %s", res)
	}
	assertNoCRIURoot(t, b)
	r.AssertNoTrace(t, id, b)
}

// restoreFails runs a restore that must fail with one line containing
// want, and leave no trace of the container.
func restoreFails(t *testing.T, r *harness.Runner, bundle, id, want string, args ...string) {
	t.Helper()
	res := r.RT(args...)
	if res.Code == 0 {
		t.Fatalf("%v succeeded: %s", args, res)
	}
	msg := oneLine(t, res)
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	t.Logf("%s", msg)
	if _, ok := (&container{r: r, id: id}).state(t); ok {
		t.Errorf("container %s exists after a failed restore", id)
	}
	assertNoCRIURoot(t, bundle)
	r.AssertNoTrace(t, id, bundle)
}

// waitStopped waits until the container's state says stopped.
func waitStopped(t *testing.T, c *container) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if st, _ := c.state(t); st.Status == api.StatusStopped {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("container %s did not stop", c.id)
}
