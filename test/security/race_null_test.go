package security_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

// nullShared is a shared directory for a victim's /dev: the null device,
// and the dummy the attacker's symlink leads to.
func nullShared(t *testing.T) (string, *dummyFile) {
	t.Helper()
	shared := t.TempDir()
	if err := unix.Mknod(filepath.Join(shared, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	return shared, newDummy(t, filepath.Join(shared, "dummy"))
}

// TestRaceMaskedPathsNullSwap covers the CVE-2025-31133 class as the race
// it was: runc masked each path by bind-mounting whatever the name
// /dev/null resolved to, so a container sharing the victim's /dev swapped
// /dev/null for a symlink at the right moment and had runc mount the
// symlink's target (/proc/sys/kernel/core_pattern), writable, over a
// masked path. Here the attacker exchanges null in the victim's /dev (a
// host directory the test owns, bound into both) with a symlink to a
// dummy file, continuously, while the victim (maskedPaths /proc/timer_list
// and /masked) is run again and again. Every run either fails cleanly or
// has the real null device (1:3) on each masked path; the victim writes
// through /masked, and the dummy never changes. A swap inside the window
// is a run that rt refused because /dev/null was not the null device when
// it opened it (pkg/rootfs openNull).
func TestRaceMaskedPathsNullSwap(t *testing.T) { raceMaskedNull(t, runner(t), false) }

// TestRaceMaskedPathsNullSwapControl is TestRaceMaskedPathsNullSwap on rt
// built with rt_nodefence (masks bound from the name /dev/null, as runc
// did): it must catch the dummy mounted over a masked path and written.
func TestRaceMaskedPathsNullSwapControl(t *testing.T) { raceMaskedNull(t, controlRunner(t), true) }

func raceMaskedNull(t *testing.T, r *harness.Runner, control bool) {
	n := iterations(t)
	shared, dummy := nullShared(t)
	// A file of /proc, as the advisory's, where this host has it, and one
	// of the rootfs (the test's), written through.
	masked := []string{"/masked"}
	if _, err := os.Stat("/proc/timer_list"); err == nil {
		masked = append(masked, "/proc/timer_list")
	}
	b := bundle(t, sh(`stat -c '%n|%F|%t:%T' `+strings.Join(masked, " ")+`; echo through-mask >> /masked; echo end`), func(s *specs.Spec) {
		devFromShared(s, shared)
		s.Linux.MaskedPaths = masked
	})
	inRootfs := filepath.Join(b, "rootfs/masked")
	if err := os.WriteFile(inRootfs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAttacker(t, r, shared, "null", "null.swap", "dummy", n)
	c := newTally("rt refused /dev/null as not the null device, or the victim found a foreign inode on a masked path")
	for i := 0; i < n && !c.done(control); i++ {
		id := harness.ID("null")
		res := rt(t, r, "run", "--bundle", b, id)
		r.AssertNoTrace(t, id, b)
		var through []string
		if wrote, what := dummy.changed(t); wrote {
			through = append(through, "the dummy was written: "+what)
		}
		landed := res.Code != 0 && refusedNullSwap(res.Stderr)
		if res.Code == 0 {
			seen := 0
			for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				f := strings.Split(line, "|")
				if len(f) != 3 {
					continue
				}
				seen++
				if f[1] != "character special file" || f[2] != "1:3" {
					through = append(through, fmt.Sprintf("%s is a %s %s, not the null device", f[0], f[1], f[2]))
				}
			}
			if seen != len(masked) || !strings.HasSuffix(res.Stdout, "end\n") {
				t.Errorf("victim's output: %s", res)
			}
		}
		c.add(t, res, landed, strings.Join(through, "; "))
	}
	c.report(t, control, a.stop())
	if data, _ := os.ReadFile(inRootfs); len(data) > 0 {
		t.Errorf("/masked was written in the rootfs, so it was not masked in some run: %q", data)
	}
}

// TestRaceStdioDevNull: when rt's own stdin is /dev/null (and its stdout
// and stderr are files), the container's fds 0-2 are those very files,
// never anything reached through a name in the container. runc reopened a
// /dev/null stdio by the name /dev/null inside the container, which the
// CVE-2025-31133 attacker could swap. rt never reopens stdio; this guards
// that, with the attacker of TestRaceMaskedPathsNullSwap exchanging the
// victim's /dev/null with a symlink to a dummy while the victim runs:
// each run's fds are the host's /dev/null (device and inode) and the
// test's files, the victim's writes through fds 0-2 land there, and the
// dummy never changes. rt has no such reopening to turn off, so there is
// no positive control; the victim counts the runs in which it saw its
// /dev/null swapped, which must be some.
func TestRaceStdioDevNull(t *testing.T) {
	r := runner(t)
	n := iterations(t)
	shared, dummy := nullShared(t)
	b := bundle(t, sh(`stat -c 'dev-null|%F' /dev/null
		for f in 0 1 2; do stat -L -c "fd$f|%d:%i|%t:%T" /proc/self/fd/$f; done
		echo to-stdin >&0; echo to-stdout; echo to-stderr >&2`), func(s *specs.Spec) {
		devFromShared(s, shared)
		s.Linux.MaskedPaths = nil // TestRaceMaskedPathsNullSwap's
	})
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	ident := func(f *os.File) string {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	a := startAttacker(t, r, shared, "null", "null.swap", "dummy", n)
	c := newTally("the victim found its /dev/null a symlink while it ran")
	for i := 0; i < n; i++ {
		out, errOut := harness.TempFile(t), harness.TempFile(t)
		want := map[string]string{"fd0": ident(null) + "|1:3", "fd1": ident(out) + "|0:0", "fd2": ident(errOut) + "|0:0"}
		id := harness.ID("stdio")
		cmd := r.Command("run", "--bundle", b, id)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, errOut
		res := runResult(t, cmd)
		out.Close()
		errOut.Close()
		r.AssertNoTrace(t, id, b)
		var through []string
		if wrote, what := dummy.changed(t); wrote {
			through = append(through, "the dummy was written: "+what)
		}
		landed := false
		if res.Code != 0 {
			if landed = refusedNullSwap(res.Stderr); !landed {
				t.Errorf("run %d: %s", i, res)
			}
		} else {
			got := map[string]string{}
			for _, line := range strings.Split(res.Stdout, "\n") {
				if k, v, ok := strings.Cut(line, "|"); ok {
					got[k] = v
				}
			}
			landed = got["dev-null"] == "symbolic link"
			for fd, w := range want {
				if got[fd] != w {
					through = append(through, fmt.Sprintf("%s is %q, not rt's %q", fd, got[fd], w))
				}
			}
			if !strings.HasSuffix(res.Stdout, "to-stdout\n") || res.Stderr != "to-stderr\n" {
				through = append(through, fmt.Sprintf("the writes to fds 1 and 2 did not reach rt's files: %s", res))
			}
		}
		c.add(t, res, landed, strings.Join(through, "; "))
	}
	c.report(t, false, a.stop())
}

// refusedNullSwap reports whether rt refused a run because the victim's
// /dev/null was swapped: found not to be the null device before masking
// with it, or a symlink when its mode was set after mknod.
func refusedNullSwap(stderr string) bool {
	return strings.Contains(stderr, "/dev/null in the container is not the null device") ||
		strings.Contains(stderr, "chmod /dev/null: null became a symlink")
}
