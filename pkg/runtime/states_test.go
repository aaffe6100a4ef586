package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/store"
)

// stateFixtures records one container in each status rt reports, the live
// ones with a sleeping child as their init (paused: frozen in a freezer
// cgroup of its own), and returns their ids by status.
func stateFixtures(t *testing.T, s *store.Store) map[api.Status]string {
	t.Helper()
	child := func() (*exec.Cmd, int, uint64) {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		start, err := ProcStartTime(c.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return c, c.Process.Pid, start
	}
	ids := map[api.Status]string{
		api.StatusCreated: "created", api.StatusRunning: "running", api.StatusPaused: "paused", api.StatusStopped: "stopped",
	}
	c, fifo := fifoHolder(t)
	start, err := ProcStartTime(c.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h := saveState(t, s, ids[api.StatusCreated], c.Process.Pid, start, true)
	if err := os.Link(fifo, h.Path(ExecFifo)); err != nil {
		t.Fatal(err)
	}
	_, pid, start := child()
	saveState(t, s, ids[api.StatusRunning], pid, start, true)
	saveState(t, s, ids[api.StatusStopped], 0, 0, true)

	c, pid, start = child()
	cg, err := fs.New("", "rt-states-test-"+strconv.Itoa(os.Getpid())+"-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cg.Thaw()
		c.Process.Kill()
		c.Wait()
		if err := cg.Destroy(); err != nil {
			t.Errorf("cgroup of the paused fixture: %v", err)
		}
	})
	if err := cg.Apply(pid); err != nil {
		t.Fatal(err)
	}
	if err := cg.Freeze(); err != nil {
		t.Fatal(err)
	}
	saveState(t, s, ids[api.StatusPaused], pid, start, true)
	hp, err := s.Open(ids[api.StatusPaused])
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	st, err := hp.Load()
	if err != nil {
		t.Fatal(err)
	}
	st.CgroupPaths = cg.Paths()
	if err := hp.Save(st); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestStateRefusals: every operation in every status. A refused one
// returns runc's words and matches with errors.Is both what it needed and
// the status it found, and leaves the container as it was; an allowed one
// is not refused (it is not run: start would release a real init).
// Long for its table of cases, which reads best in one place.
func TestStateRefusals(t *testing.T) {
	r, s := newRuntime(t)
	ids := stateFixtures(t, s)
	ctx := context.Background()
	calls := map[api.Op]func(id string) error{
		api.OpStart:  func(id string) error { return r.Start(ctx, id) },
		api.OpDelete: func(id string) error { return r.Delete(ctx, id, api.DeleteOpts{}) },
		api.OpPause:  func(id string) error { return r.Pause(ctx, id) },
		api.OpResume: func(id string) error { return r.Resume(ctx, id) },
		api.OpExec: func(id string) error {
			_, err := r.Exec(ctx, id, api.ExecOpts{Args: []string{"true"}, Detach: true})
			return err
		},
		api.OpUpdate: func(id string) error { return r.Update(ctx, id, api.UpdateOpts{}) },
		api.OpKill:   func(id string) error { return r.Kill(ctx, id, 0, api.KillOpts{}) },
		api.OpEvents: func(id string) error {
			return r.Events(ctx, id, api.EventsOpts{Stats: true, Sink: func(api.Event) error { return nil }})
		},
		// OpCheckpoint is pkg/checkpoint's (TestCheckpointRefusals there).
	}
	const (
		created, running, paused, stopped = api.StatusCreated, api.StatusRunning, api.StatusPaused, api.StatusStopped
	)
	tests := []struct {
		op     api.Op
		status api.Status
		is     []error // nil: allowed
		msg    string
	}{
		{api.OpStart, created, nil, ""},
		{api.OpStart, running, []error{api.ErrRunning}, "cannot start an already running container"},
		{api.OpStart, paused, []error{api.ErrPaused}, "cannot start a container in the paused state"},
		{api.OpStart, stopped, []error{api.ErrStopped}, "cannot start a container that has stopped"},
		{api.OpDelete, created, nil, ""},
		{api.OpDelete, running, []error{api.ErrRunning}, "cannot delete container running that is not stopped: running"},
		{api.OpDelete, paused, []error{api.ErrPaused}, "cannot delete container paused that is not stopped: paused"},
		{api.OpDelete, stopped, nil, ""},
		{api.OpPause, created, nil, ""},
		{api.OpPause, running, nil, ""},
		{api.OpPause, paused, []error{api.ErrNotRunning, api.ErrPaused}, "container not running"},
		{api.OpPause, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "container not running"},
		{api.OpResume, created, []error{api.ErrNotPaused}, "container not paused"},
		{api.OpResume, running, []error{api.ErrNotPaused, api.ErrRunning}, "container not paused"},
		{api.OpResume, paused, nil, ""},
		{api.OpResume, stopped, []error{api.ErrNotPaused, api.ErrStopped}, "container not paused"},
		{api.OpExec, created, nil, ""},
		{api.OpExec, running, nil, ""},
		{api.OpExec, paused, []error{api.ErrPaused}, "cannot exec in a paused container (use --ignore-paused to override)"},
		{api.OpExec, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "cannot exec in a stopped container"},
		{api.OpCheckpoint, created, []error{api.ErrNotRunning}, "Container cannot be checkpointed in created state"},
		{api.OpCheckpoint, running, nil, ""},
		{api.OpCheckpoint, paused, nil, ""},
		{api.OpCheckpoint, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "Container cannot be checkpointed in stopped state"},
		{api.OpUpdate, created, nil, ""},
		{api.OpUpdate, running, nil, ""},
		{api.OpUpdate, paused, nil, ""},
		{api.OpUpdate, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "container not running"},
		{api.OpKill, created, nil, ""},
		{api.OpKill, running, nil, ""},
		{api.OpKill, paused, nil, ""},
		{api.OpKill, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "container not running"},
		{api.OpEvents, created, nil, ""},
		{api.OpEvents, running, nil, ""},
		{api.OpEvents, paused, nil, ""},
		{api.OpEvents, stopped, []error{api.ErrNotRunning, api.ErrStopped}, "container with id stopped is not running"},
	}
	if n := len(refusals) * 4; len(tests) != n {
		t.Fatalf("%d cases for %d (operation, status) pairs", len(tests), n)
	}
	all := []error{api.ErrRunning, api.ErrNotRunning, api.ErrPaused, api.ErrNotPaused, api.ErrStopped}
	for _, tt := range tests {
		t.Run(string(tt.op)+"_"+string(tt.status), func(t *testing.T) {
			id := ids[tt.status]
			check := func(what string, err error) {
				t.Helper()
				var se *api.StateError
				if !errors.As(err, &se) || err.Error() != tt.msg {
					t.Fatalf("%s = %v, want the StateError %q", what, err, tt.msg)
				}
				for _, e := range all {
					want := false
					for _, w := range tt.is {
						want = want || w == e
					}
					if errors.Is(err, e) != want {
						t.Errorf("%s: errors.Is(%q) = %v, want %v", what, e, !want, want)
					}
				}
			}
			err := Refuse(tt.op, id, tt.status)
			if tt.is == nil {
				if err != nil {
					t.Fatalf("refuse = %v, want nil", err)
				}
				return
			}
			check("refuse", err)
			call := calls[tt.op]
			if call == nil {
				return
			}
			check(string(tt.op), call(id))
			if c, err := r.State(ctx, id); err != nil || c.Status != tt.status {
				t.Errorf("after the refused %s: %v, %v; want %s", tt.op, c, err, tt.status)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(s.Root(), ids[running], store.StateFile)); err != nil {
		t.Errorf("a refused delete removed the state: %v", err)
	}
}

// TestStateRefusalsWithFlags: the flags that lift a refusal, as runc's.
func TestStateRefusalsWithFlags(t *testing.T) {
	r, s := newRuntime(t)
	ids := stateFixtures(t, s)
	ctx := context.Background()
	if err := r.Kill(ctx, ids[api.StatusStopped], 9, api.KillOpts{All: true}); err != nil {
		t.Errorf("kill --all of a stopped container = %v, want nil", err)
	}
	// --ignore-paused gets past the state: what fails next is finding
	// rt-init (or the spec, which the fixture lacks), not the status.
	_, err := r.Exec(ctx, ids[api.StatusPaused], api.ExecOpts{Args: []string{"true"}, Detach: true, IgnorePaused: true})
	var se *api.StateError
	if err == nil || errors.As(err, &se) {
		t.Errorf("exec --ignore-paused into a paused container = %v, want a failure past the state check", err)
	}
	if err := r.Delete(ctx, ids[api.StatusRunning], api.DeleteOpts{Force: true}); err != nil {
		t.Errorf("delete --force of a running container = %v", err)
	}
}

// TestDeleteCreated: a created container is deleted without --force, its
// init killed, as runc does (containerd deletes a task it never started
// so).
func TestDeleteCreated(t *testing.T) {
	r, s := newRuntime(t)
	child, fifo := fifoHolder(t)
	start, err := ProcStartTime(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h := saveState(t, s, "c", child.Process.Pid, start, true)
	if err := os.Link(fifo, h.Path(ExecFifo)); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(context.Background(), "c", api.DeleteOpts{}); err != nil {
		t.Fatalf("delete of a created container = %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "c")); !os.IsNotExist(err) {
		t.Errorf("state dir still there: %v", err)
	}
	child.Wait()
	if child.ProcessState == nil {
		// Delete reaped it (reapIfChild: rt is the init's parent in
		// real use), which it does only once the process is dead.
		if err := syscall.Kill(child.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("the init was neither killed nor reaped: kill 0 = %v", err)
		}
		return
	}
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the init was not killed: %v", child.ProcessState)
	}
}

// fifoHolder starts a sleeping child that holds a new fifo as a created
// container's init holds its exec fifo (an O_PATH fd at initproto.FdFifo),
// and returns it and the fifo's path, for a test to link as a state's
// exec.fifo. The child is started, not waited for: a test may reap it.
func fifoHolder(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opath, err := os.OpenFile(fifo, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer opath.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	c := exec.Command("sleep", "60")
	c.ExtraFiles = []*os.File{null, opath} // fds 3 and initproto.FdFifo
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c, fifo
}
