package crash_test

// checkpoint and restore (rt hands them over to rt-checkpoint, which keeps
// rt's pid and environment, so the kill points and the delays reach it).

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// slow are the delays of a command that runs CRIU, up to ms.
func slow(ms ...int) []time.Duration {
	if stress {
		ms = nil
		for d := 0; d <= 2000; d += 50 {
			ms = append(ms, d)
		}
	}
	var out []time.Duration
	for _, m := range ms {
		out = append(out, time.Duration(m)*time.Millisecond)
	}
	return out
}

// TestCheckpointKilled kills a checkpoint (without --leave-running): the
// container must be left running, or stopped (gone) with images that
// restore.
func TestCheckpointKilled(t *testing.T) {
	harness.RequireCRIU(t)
	b := bundle(t, "sleep", "1000")
	images := func(f *fixture) string { return filepath.Join(f.dir, "images") }
	sweep(t, command{
		prepare: running,
		args:    func(f *fixture) []string { return []string{"checkpoint", "--image-path", images(f), f.id} },
		allowed: []string{running_, stopped, absent},
		check: func(t *testing.T, f *fixture, status string) {
			if status == running_ {
				return
			}
			// The dump finished: what it left must be a checkpoint.
			id := harness.ID("crash-restored")
			if res := f.rt(t, "restore", "-d", "--bundle", b, "--image-path", images(f), id); res.Code != 0 {
				t.Errorf("the container is %s after the killed checkpoint, and its images do not restore: %s", status, res)
			}
			restored := &fixture{r: f.r, id: id, bundle: b}
			if s := restored.status(t); s != running_ && s != absent {
				t.Errorf("restored container: %s, want running", s)
			}
			restored.deleteAndCheck(t)
		},
		delays: slow(0, 50, 100, 200, 400, 800, 1200),
	}, b)
}

// TestRestoreKilled kills a detached restore: the container must be left
// running, stopped or not at all.
func TestRestoreKilled(t *testing.T) {
	harness.RequireCRIU(t)
	b := bundle(t, "sleep", "1000")
	images := filepath.Join(t.TempDir(), "images")
	src := &fixture{r: harness.NewRunner(t), id: harness.ID("crash-src"), bundle: b}
	running(t, src)
	if res := src.rt(t, "checkpoint", "--image-path", images, src.id); res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	sweep(t, command{
		prepare: none,
		args: func(f *fixture) []string {
			return []string{"restore", "-d", "--bundle", f.bundle, "--image-path", images, "--pid-file", filepath.Join(f.dir, "pid"), f.id}
		},
		allowed: []string{running_, stopped, absent},
		delays:  slow(0, 10, 25, 50, 75, 100, 150, 200),
	}, b)
}
