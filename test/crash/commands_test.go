package crash_test

// The lifecycle commands of the sweep, each with the container it needs
// and what it may leave when killed.

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// quick are the delays of a command that takes a few milliseconds.
func quick() []time.Duration {
	ms := []float64{0, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 13, 16, 21}
	if stress {
		ms = nil
		for d := 0.0; d <= 40; d += 0.5 {
			ms = append(ms, d)
		}
	}
	var out []time.Duration
	for _, m := range ms {
		out = append(out, time.Duration(m*float64(time.Millisecond)))
	}
	return out
}

func none(*testing.T, *fixture) {}

// created creates the fixture's container.
func created(t *testing.T, f *fixture) {
	t.Helper()
	if res := f.rt(t, "create", "--bundle", f.bundle, f.id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
}

// running runs the fixture's container detached.
func running(t *testing.T, f *fixture) {
	t.Helper()
	if res := f.rt(t, "run", "-d", "--bundle", f.bundle, f.id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
}

// paused runs the fixture's container and pauses it.
func paused(t *testing.T, f *fixture) {
	t.Helper()
	running(t, f)
	if res := f.rt(t, "pause", f.id); res.Code != 0 {
		t.Fatalf("pause: %s", res)
	}
}

const (
	created_ = "created"
	running_ = "running"
	stopped  = "stopped"
	paused_  = "paused"
)

func TestCreateKilled(t *testing.T) {
	sweep(t, command{
		prepare: none,
		args: func(f *fixture) []string {
			return []string{"create", "--bundle", f.bundle, "--pid-file", filepath.Join(f.dir, "pid"), f.id}
		},
		allowed: []string{absent, stopped, created_},
		check:   startable,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// TestCreateKilledGoPath is TestCreateKilled with rt-init's Go path, which
// the fast path (a plan run in C) leaves out for most configs: another
// conversation, and another process the kill leaves behind.
func TestCreateKilledGoPath(t *testing.T) {
	sweep(t, command{
		prepare: none,
		args:    func(f *fixture) []string { return []string{"create", "--bundle", f.bundle, f.id} },
		allowed: []string{absent, stopped, created_},
		check:   startable,
		delays:  quick(),
		env:     []string{"RT_NO_FAST_INIT=1"},
	}, bundle(t, "sleep", "1000"))
}

func TestRunDetachedKilled(t *testing.T) {
	sweep(t, command{
		prepare: none,
		args: func(f *fixture) []string {
			return []string{"run", "-d", "--bundle", f.bundle, "--pid-file", filepath.Join(f.dir, "pid"), f.id}
		},
		allowed: []string{absent, stopped, created_, running_},
		check:   startable,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// TestRunForegroundKilled: a foreground run, the shims' and podman's,
// goes through create, start, the wait and its own delete once `true`
// exits; killed anywhere, what it left is deleted as after run -d.
func TestRunForegroundKilled(t *testing.T) {
	sweep(t, command{
		prepare: none,
		args:    func(f *fixture) []string { return []string{"run", "--bundle", f.bundle, f.id} },
		allowed: []string{absent, stopped, created_, running_},
		check: func(t *testing.T, f *fixture, status string) {
			// A container left created still starts (and `true` ends).
			if status == created_ {
				if res := f.rt(t, "start", f.id); res.Code != 0 {
					t.Errorf("start of the container the kill left created: %s", res)
				}
			}
		},
		delays: quick(),
	}, bundle(t, "true"))
}

func TestStartKilled(t *testing.T) {
	sweep(t, command{
		prepare: created,
		args:    func(f *fixture) []string { return []string{"start", f.id} },
		allowed: []string{created_, running_, stopped},
		check:   startable,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// startable checks that a container a kill left created can be started:
// "created" must mean what it says.
func startable(t *testing.T, f *fixture, status string) {
	t.Helper()
	if status != created_ {
		return
	}
	if res := f.rt(t, "start", f.id); res.Code != 0 {
		t.Errorf("start of the container the kill left created: %s", res)
	}
	if s := f.status(t); s != running_ {
		t.Errorf("status after start: %s, want running", s)
	}
}

func TestExecKilled(t *testing.T) {
	sweep(t, command{
		prepare: running,
		args:    func(f *fixture) []string { return []string{"exec", "-d", f.id, "true"} },
		allowed: []string{running_},
		check:   onlyInit,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// TestExecForegroundKilled: an exec that waits for its process, killed
// anywhere, leaves the container running with only its init once `true`
// is done.
func TestExecForegroundKilled(t *testing.T) {
	sweep(t, command{
		prepare: running,
		args:    func(f *fixture) []string { return []string{"exec", f.id, "true"} },
		allowed: []string{running_},
		check:   onlyInit,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// onlyInit checks that a killed exec leaves no process in the container
// but its init once the exec'd `true` is done: an rt-init whose rt died
// must exit, not wait in the container forever.
func onlyInit(t *testing.T, f *fixture, _ string) {
	t.Helper()
	want := map[int]bool{f.pid: true}
	var got map[int]bool
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = cgroupProcs(harness.CgroupDirsOf(f.id)); maps.Equal(got, want) {
			return
		}
	}
	t.Errorf("processes in the container 3s after the killed exec: %v, want only the init %d", slices.Sorted(maps.Keys(got)), f.pid)
}

func TestDeleteKilled(t *testing.T) {
	sweep(t, command{
		prepare: running,
		args:    func(f *fixture) []string { return []string{"delete", "--force", f.id} },
		allowed: []string{absent, stopped, running_},
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

func TestPauseKilled(t *testing.T) {
	sweep(t, command{
		prepare: running,
		args:    func(f *fixture) []string { return []string{"pause", f.id} },
		allowed: []string{running_, paused_},
		check:   resumable,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

func TestResumeKilled(t *testing.T) {
	sweep(t, command{
		prepare: paused,
		args:    func(f *fixture) []string { return []string{"resume", f.id} },
		allowed: []string{running_, paused_},
		check:   resumable,
		delays:  quick(),
	}, bundle(t, "sleep", "1000"))
}

// resumable checks that a container a kill left paused resumes.
func resumable(t *testing.T, f *fixture, status string) {
	t.Helper()
	if status != paused_ {
		return
	}
	if res := f.rt(t, "resume", f.id); res.Code != 0 {
		t.Errorf("resume of the container the kill left paused: %s", res)
	}
}

func TestUpdateKilled(t *testing.T) {
	update := func(f *fixture) []string {
		return []string{"update", "--memory", "200000000", "--pids-limit", "100", "--cpu-shares", "512", f.id}
	}
	sweep(t, command{
		prepare: running,
		args:    update,
		allowed: []string{running_},
		check: func(t *testing.T, f *fixture, _ string) {
			// The state the kill left is one a later update reads.
			if res := f.rt(t, update(f)...); res.Code != 0 {
				t.Errorf("update after the killed update: %s", res)
			}
		},
		delays: quick(),
	}, bundle(t, "sleep", "1000"))
}

// TestInitKilled SIGKILLs the container's init (rt-init until start, the
// program after it) in each state: the container is then stopped, listed,
// and deleted without a trace.
func TestInitKilled(t *testing.T) {
	harness.RequireRoot(t)
	b := bundle(t, "sleep", "1000")
	for name, prepare := range map[string]func(*testing.T, *fixture){"created": created, "running": running, "paused": paused} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, b)
			prepare(t, f)
			f.pid = initPid(t, f)
			if f.pid == 0 {
				t.Fatal("no init pid")
			}
			killProcess(t, f.pid)
			want := stopped
			if name == "paused" {
				// A frozen process dies once thawed; delete --force
				// thaws it.
				want = paused_
			}
			afterKill(t, command{allowed: []string{want}}, f)
		})
	}
}
