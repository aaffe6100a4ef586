package security_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// devSymlinkBundle is a bundle whose rootfs has /dev as a symlink to link,
// and whose config makes no /dev mount of its own (so the devices are made
// through the symlink, as runc and crun make them in an image's /dev), the
// /dev/pts, /dev/shm and /dev/mqueue mounts kept; first is mounted before
// them.
func devSymlinkBundle(t *testing.T, link string, first ...specs.Mount) string {
	t.Helper()
	b := bundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev" })
		s.Mounts = append(first, s.Mounts...)
	})
	dev := filepath.Join(b, "rootfs/dev")
	if err := os.Remove(dev); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(link, dev); err != nil {
		t.Fatal(err)
	}
	return b
}

// dirEntries lists dir's names; a missing dir has none.
func dirEntries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// emptyDir removes what dir holds, keeping dir.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	for _, n := range dirEntries(dir) {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

// hostMountsUnder lists the host's mount points on or under dir.
func hostMountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, m := range mountPoints(string(data)) {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			out = append(out, m.point)
		}
	}
	return out
}

// TestDevSymlinkInImage covers the /dev symlink class (runc
// CVE-2026-41579, crun CVE-2026-47766): an image whose /dev is a symlink to
// a host path, absolute or by enough "..", must not have its devices
// created, or /dev/pts, /dev/shm and /dev/mqueue mounted, on the host path:
// rt resolves every destination inside the rootfs (pathrs-lite), so they
// are made where the symlink leads inside the rootfs, or the run fails in
// one line. The host directory (the test's, empty) stays empty, with
// nothing mounted on it.
func TestDevSymlinkInImage(t *testing.T) { devSymlinkStatic(t, runner(t), false) }

// TestDevSymlinkInImageControl is TestDevSymlinkInImage on rt built with
// rt_nodefence (destinations resolved on the host, following symlinks out
// of the rootfs, as the vulnerable runtimes did): the devices must show
// up in the host directory.
func TestDevSymlinkInImageControl(t *testing.T) { devSymlinkStatic(t, controlRunner(t), true) }

func devSymlinkStatic(t *testing.T, r *harness.Runner, control bool) {
	for _, tc := range []struct {
		name     string
		link     func(host string) string
		inRootfs bool // the link's target exists inside the rootfs too
	}{
		{"absolute", func(h string) string { return h }, true},
		{"absolute, only on the host", func(h string) string { return h }, false},
		{"relative", func(h string) string { return strings.Repeat("../", 12) + h[1:] }, true},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			host := t.TempDir()
			b := devSymlinkBundle(t, tc.link(host))
			inside := filepath.Join(b, "rootfs", host)
			if tc.inRootfs {
				if err := os.MkdirAll(inside, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			id := harness.ID("devlink")
			res := rt(t, r, "run", "--bundle", b, id)
			t.Logf("%s: %s", tc.name, res)
			r.AssertNoTrace(t, id, b)
			made := dirEntries(host)
			if ms := hostMountsUnder(host); len(ms) > 0 {
				t.Errorf("mounted on the host through the image's /dev symlink: %v", ms)
			}
			if control {
				if len(made) == 0 {
					t.Errorf("the positive control made nothing in the host directory: %s", res)
				} else {
					t.Logf("control: made on the host through the image's /dev symlink: %v", made)
				}
				emptyDir(t, host)
				return
			}
			if len(made) > 0 {
				t.Errorf("made on the host through the image's /dev symlink: %v", made)
				emptyDir(t, host)
			}
			switch {
			case res.Code != 0:
				if strings.Count(res.Stderr, "\n") != 1 || !strings.Contains(res.Stderr, "/dev") {
					t.Errorf("refused without one line naming /dev: %s", res)
				}
				if tc.inRootfs {
					t.Errorf("refused although the symlink's target is in the rootfs: %s", res)
				}
			case !slices.Contains(dirEntries(inside), "null"):
				t.Errorf("the devices are not where the symlink leads inside the rootfs (%s): %v", inside, dirEntries(inside))
			}
		})
	}
}

// TestRaceDevSymlinkSwap is TestDevSymlinkInImage as a race: the image's
// /dev is a symlink to shared/devdir, in a directory the victim shares with
// the attacker, which exchanges devdir with a symlink to a host directory
// (the test's), continuously, while the victim is run again and again.
// Whatever the name is when rt resolves /dev, /dev/pts, /dev/null…, nothing
// is made or mounted in the host directory. A swap inside the window is a
// run that made something where the symlink leads inside the rootfs.
func TestRaceDevSymlinkSwap(t *testing.T) { raceDevSymlink(t, runner(t), false) }

// TestRaceDevSymlinkSwapControl is TestRaceDevSymlinkSwap on rt built with
// rt_nodefence: it must catch devices made in the host directory.
func TestRaceDevSymlinkSwapControl(t *testing.T) { raceDevSymlink(t, controlRunner(t), true) }

func raceDevSymlink(t *testing.T, r *harness.Runner, control bool) {
	n := iterations(t)
	shared, host := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(shared, "devdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := devSymlinkBundle(t, "shared/devdir", bindMount(shared, "/shared"))
	inside := filepath.Join(b, "rootfs", host)
	if err := os.MkdirAll(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAttacker(t, r, shared, "devdir", "devdir.swap", host, n)
	c := newTally("rt made devices or mount points where the swapped symlink leads")
	for i := 0; i < n && !c.done(control); i++ {
		id := harness.ID("devswap")
		res := rt(t, r, "run", "--bundle", b, id)
		r.AssertNoTrace(t, id, b)
		var through []string
		if made := dirEntries(host); len(made) > 0 {
			through = append(through, "made on the host: "+strings.Join(made, " "))
			emptyDir(t, host)
		}
		if ms := hostMountsUnder(host); len(ms) > 0 {
			through = append(through, "mounted on the host: "+strings.Join(ms, " "))
		}
		landed := len(dirEntries(inside)) > 0
		emptyDir(t, inside)
		c.add(t, res, landed, strings.Join(through, "; "))
	}
	c.report(t, control, a.stop())
}
