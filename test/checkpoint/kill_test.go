package checkpoint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRestoreKilled SIGKILLs `rt restore` (rt-checkpoint by then) at
// several moments after it started `criu swrk`, detached and in the
// foreground. The rootfs bind CRIU restores onto lives only in criu's own
// mount namespace: the host's mount table never shows it, nothing is left
// to unmount, the namespace goes with the last process in it, and
// `delete --force` then leaves no trace.
func TestRestoreKilled(t *testing.T) {
	requireCRIU(t)
	// Every case restores the same image onto the same rootfs, and a
	// restore killed late lets the process run on: it must not change
	// the rootfs (the counter's mv would take away the c.new a dump
	// taken mid-write holds open, and fail every later case).
	c := startCounter(t, []string{"sh", "-c", "echo 1 > /tmp/c; echo 2 > /tmp/c; exec sleep 100000"})
	images := filepath.Join(t.TempDir(), "img")
	if res := c.r.RT("checkpoint", "--image-path", images, c.id); res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	c.r.AssertNoTrace(t, c.id, c.bundle)
	ourNS, _ := os.Readlink("/proc/self/ns/mnt")
	for _, tc := range []struct {
		detach bool
		delay  time.Duration
	}{
		{true, 0}, {true, 20 * time.Millisecond}, {true, 60 * time.Millisecond}, {true, 150 * time.Millisecond},
		{true, 400 * time.Millisecond}, {false, 0}, {false, 60 * time.Millisecond}, {false, 150 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("detach=%v/after=%v", tc.detach, tc.delay), func(t *testing.T) {
			args := []string{"restore", "--image-path", images, "--bundle", c.bundle, c.id}
			if tc.detach {
				args = append([]string{"restore", "-d"}, args[1:]...)
			}
			// A subtest that fails before its own delete must not leave
			// the container to make the next ones fail on "already exists".
			t.Cleanup(func() { c.r.RT("delete", "--force", c.id) })
			cmd := c.r.Command(args...)
			// Files, not pipes: the restored init may inherit them.
			out := tempOut(t)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			criu, ns := waitSwrk(t, cmd.Process.Pid, out)
			if ns == ourNS {
				t.Errorf("criu swrk %d runs in the host's mount namespace %s", criu, ns)
			}
			// The check below sees criu's bind while criu runs (alive
			// after the scan: alive during it).
			if holders := bundleMounters(c.bundle); alive(criu) && !slices.Contains(holders, strconv.Itoa(criu)) {
				t.Errorf("criu swrk %d: no rootfs bind in its mount table (%v hold one)", criu, holders)
			}
			time.Sleep(tc.delay)
			cmd.Process.Kill()
			cmd.Wait()
			// Nor CRIU's own cgroup yard (.criu.cgyard.*, in its work
			// directory, here the image directory), which a criu killed
			// mid-restore in the host's namespace leaves mounted.
			assertNoCRIURoot(t, c.bundle, images)
			if res := c.r.RT("delete", "--force", c.id); res.Code != 0 {
				t.Fatalf("delete --force after the killed restore: %s", res)
			}
			// criu goes (killed with the cgroups, or at the EOF of its
			// socket), and with it, the last member, its namespace.
			deadline := time.Now().Add(5 * time.Second)
			for alive(criu) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if alive(criu) {
				t.Errorf("criu swrk %d still runs after delete --force", criu)
			}
			// No process is left in a namespace holding the bind (the
			// namespace's inode number may already be reused: look for
			// the bind itself).
			if left := bundleMounters(c.bundle); len(left) > 0 {
				t.Errorf("processes left in a mount namespace with a mount in the bundle: %v", left)
			}
			assertNoCRIURoot(t, c.bundle, images)
			c.r.AssertNoTrace(t, c.id, c.bundle)
		})
	}
}

// assertNoCRIURoot fails if the host's mount table holds the rootfs bind
// restore makes for CRIU: under its former name (a temporary
// rt-criu-root-* directory) or anywhere in the bundle (the rootfs bound
// onto itself, which only criu's own mount namespace may hold), or any
// mount under the other dirs given.
func assertNoCRIURoot(t *testing.T, bundle string, dirs ...string) {
	t.Helper()
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) <= 4 {
			continue
		}
		if strings.Contains(f[4], "rt-criu-root-") || under(f[4], bundle) {
			t.Errorf("the rootfs bind for CRIU is in the host's mount table: %s", line)
		}
		for _, d := range dirs {
			if under(f[4], d) {
				t.Errorf("a mount of CRIU's is in the host's mount table: %s", line)
			}
		}
	}
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// waitSwrk waits for the `criu swrk` child of pid and returns its pid and
// mount namespace.
func waitSwrk(t *testing.T, pid int, out *os.File) (int, string) {
	t.Helper()
	// Generous: criu's start is slow on a loaded 2-CPU host.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range stats {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
			if len(f) < 2 || f[1] != strconv.Itoa(pid) {
				continue
			}
			dir := filepath.Dir(p)
			cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
			if !strings.Contains(string(cmdline), "\x00swrk\x00") {
				continue
			}
			ns, err := os.Readlink(filepath.Join(dir, "ns/mnt"))
			if err != nil {
				continue
			}
			n, _ := strconv.Atoi(filepath.Base(dir))
			return n, ns
		}
		time.Sleep(2 * time.Millisecond)
	}
	said, _ := os.ReadFile(out.Name())
	t.Fatalf("no criu swrk child of %d within 15s (it said %q)", pid, said)
	return 0, ""
}

// bundleMounters lists the pids whose mount table, as they see it, has a
// mount in bundle: processes of a mount namespace holding the rootfs bind.
// A container's own table is relative to its root and never names the
// bundle.
func bundleMounters(bundle string) []string {
	var out []string
	tables, _ := filepath.Glob("/proc/[0-9]*/mountinfo")
	for _, p := range tables {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 4 && under(f[4], bundle) {
				out = append(out, strings.Split(p, "/")[2])
				break
			}
		}
	}
	return out
}

// tempOut is a file for a command's output, closed at cleanup.
func tempOut(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
