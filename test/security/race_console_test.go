package security_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/test/harness"
)

// consoleListener is a --console-socket for many runs: it accepts every
// connection and delivers each pty master received. Closing a master is
// the receiver's business; the rest are closed at cleanup.
func consoleListener(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *os.File, 64)
	go func() {
		defer close(ch)
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			f, err := console.RecvFd(conn)
			conn.Close()
			if err == nil {
				ch <- f
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for f := range ch {
			f.Close()
		}
	})
	return path, ch
}

// closeReceived closes the masters received so far.
func closeReceived(ch <-chan *os.File) {
	for {
		select {
		case f := <-ch:
			f.Close()
		default:
			return
		}
	}
}

// TestRaceConsoleSwap covers the CVE-2025-52565 class as a race: runc
// bind-mounted the container's pty onto the name /dev/console (and from the
// name /dev/pts/N), so a container sharing the victim's /dev could swap
// /dev/console for a symlink and have the mount land on a file of its
// choosing. Here the victim has a terminal (--console-socket) and its /dev
// is a host directory the test owns, shared with the attacker, which
// exchanges console with a symlink to a dummy file, continuously, while the
// victim is run again and again. Every run fails cleanly or has nothing
// mounted on the dummy (a regular file, not the pty, in the victim's view,
// and no mount there in its mountinfo), and the dummy never changes. A swap
// inside the window is a run that rt refused because /dev/console was a
// symlink when it opened it (pkg/rootfs BindConsole).
func TestRaceConsoleSwap(t *testing.T) { raceConsole(t, runner(t), false) }

// TestRaceConsoleSwapControl is TestRaceConsoleSwap on rt built with
// rt_nodefence (the pty mounted onto the name /dev/console, following a
// symlink, as runc did): it must catch the pty mounted over the dummy.
func TestRaceConsoleSwapControl(t *testing.T) { raceConsole(t, controlRunner(t), true) }

func raceConsole(t *testing.T, r *harness.Runner, control bool) {
	n := iterations(t)
	shared := t.TempDir()
	dummy := newDummy(t, filepath.Join(shared, "dummy"))
	if err := os.WriteFile(filepath.Join(shared, "console"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = sh(`{ stat -c '%n|%F|%t:%T' /dev/dummy; echo "mounts|$(grep -c ' /dev/dummy ' /proc/self/mountinfo)"; tty; echo end; } > /result 2>&1`)
		s.Root.Readonly = false
		devFromShared(s, shared)
	})
	result := filepath.Join(b, "rootfs/result")
	sock, masters := consoleListener(t)
	a := startAttacker(t, r, shared, "console", "console.swap", "dummy", n)
	c := newTally("rt refused /dev/console as a symlink, or the victim found the pty on the dummy")
	for i := 0; i < n && !c.done(control); i++ {
		os.Remove(result)
		id := harness.ID("console")
		res := rt(t, r, "run", "--console-socket", sock, "--bundle", b, id)
		closeReceived(masters)
		r.AssertNoTrace(t, id, b)
		var through []string
		if wrote, what := dummy.changed(t); wrote {
			through = append(through, "the dummy was written: "+what)
		}
		landed := res.Code != 0 && strings.Contains(res.Stderr, "/dev/console is not a file or a device")
		if res.Code == 0 {
			data, _ := os.ReadFile(result)
			out := string(data)
			if !strings.HasSuffix(out, "end\n") || !strings.Contains(out, "/dev/pts/") {
				t.Errorf("victim's output %q: %s", out, res)
			}
			if !strings.Contains(out, "/dev/dummy|regular file|0:0\n") {
				through = append(through, fmt.Sprintf("the dummy is not a plain file in the victim: %q", out))
			}
			if !strings.Contains(out, "mounts|0\n") {
				through = append(through, fmt.Sprintf("something is mounted on the dummy in the victim: %q", out))
			}
		}
		c.add(t, res, landed, strings.Join(through, "; "))
	}
	c.report(t, control, a.stop())
}
