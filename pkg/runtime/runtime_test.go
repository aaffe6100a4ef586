package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/store"
)

func newRuntime(t *testing.T) (*Runtime, *store.Store) {
	t.Helper()
	root := t.TempDir()
	ops, err := New(api.GlobalConfig{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return ops.(*Runtime), store.New(root)
}

// saveState records a container whose init is pid (started at start).
func saveState(t *testing.T, s *store.Store, id string, pid int, start uint64, ready bool) *store.Handle {
	t.Helper()
	h, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(&store.State{ID: id, OCIVersion: "1.3.0", Bundle: "/bundle", Rootfs: "/bundle/rootfs",
		Created: time.Now().UTC(), InitPid: pid, InitStartTime: start, Ready: ready,
		Annotations: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	return h
}

// TestStatusFromLiveProcess checks that status is derived from the process,
// not from what the state file says: a real child stands in for init.
func TestStatusFromLiveProcess(t *testing.T) {
	r, s := newRuntime(t)
	child, fifo := fifoHolder(t)
	start, err := ProcStartTime(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		pid     int
		start   uint64
		ready   bool
		fifo    string // "held": the init's; "stale": one it let go of
		want    api.Status
		wantPid int
	}{
		{"running", child.Process.Pid, start, true, "", api.StatusRunning, child.Process.Pid},
		{"created while the init holds exec.fifo", child.Process.Pid, start, true, "held", api.StatusCreated, child.Process.Pid},
		// A start killed between opening the fifo and removing it.
		{"running with an exec.fifo the init let go of", child.Process.Pid, start, true, "stale", api.StatusRunning, child.Process.Pid},
		{"pid reused by another process", child.Process.Pid, start + 1, true, "", api.StatusStopped, 0},
		{"create never finished", child.Process.Pid, start, false, "", api.StatusStopped, 0},
		{"no process", 0, 0, true, "", api.StatusStopped, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "c" + string(rune('a'+i))
			h := saveState(t, s, id, tt.pid, tt.start, tt.ready)
			switch tt.fifo {
			case "held":
				if err := os.Link(fifo, h.Path(ExecFifo)); err != nil {
					t.Fatal(err)
				}
			case "stale":
				if err := unix.Mkfifo(h.Path(ExecFifo), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := r.State(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != tt.want || c.InitProcessPid != tt.wantPid {
				t.Fatalf("status %s pid %d, want %s pid %d", c.Status, c.InitProcessPid, tt.want, tt.wantPid)
			}
			if c.ID != id || c.Bundle != "/bundle" || c.Rootfs != "/bundle/rootfs" || c.Version != "1.3.0" || c.Annotations["a"] != "b" || c.Owner == "" {
				t.Fatalf("state fields: %+v", c)
			}
		})
	}
	child.Process.Kill()
	child.Wait()
	c, err := r.State(ctx, "ca")
	if err != nil || c.Status != api.StatusStopped {
		t.Fatalf("after the process died: %+v, %v", c, err)
	}
	list, err := r.List(ctx)
	if err != nil || len(list) != len(tests) {
		t.Fatalf("List = %d containers, %v", len(list), err)
	}
}

func TestUnknownContainer(t *testing.T) {
	r, _ := newRuntime(t)
	ctx := context.Background()
	if _, err := r.State(ctx, "nope"); !errors.Is(err, api.ErrNotExist) || err.Error() != `container "nope" does not exist` {
		t.Fatalf("State = %v", err)
	}
	if err := r.Delete(ctx, "nope", api.DeleteOpts{Force: true}); err != nil {
		t.Fatalf("delete --force of an unknown id = %v, want nil", err)
	}
	if err := r.Delete(ctx, "nope", api.DeleteOpts{}); !errors.Is(err, api.ErrNotExist) {
		t.Fatalf("delete of an unknown id = %v, want ErrNotExist", err)
	}
	if err := r.Kill(ctx, "nope", 15, api.KillOpts{}); !errors.Is(err, api.ErrNotExist) {
		t.Fatalf("kill of an unknown id = %v", err)
	}
}

// TestCorruptState: a truncated or foreign state file is reported as such
// by state, skipped by list (the other containers are listed), and removed
// by delete --force.
func TestCorruptState(t *testing.T) {
	for name, data := range map[string]string{"truncated": `{"id":"bad","pid":`, "garbage": "garbage", "foreign": `{"id":"other"}`} {
		t.Run(name, func(t *testing.T) {
			r, s := newRuntime(t)
			ctx := context.Background()
			saveState(t, s, "good", 0, 0, true)
			saveState(t, s, "bad", 0, 0, true)
			if err := os.WriteFile(filepath.Join(s.Root(), "bad", store.StateFile), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := r.State(ctx, "bad"); !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), `container "bad": corrupt state file`) {
				t.Errorf("state = %v, want the corrupt state file named", err)
			}
			list, err := r.List(ctx)
			if err != nil || len(list) != 1 || list[0].ID != "good" {
				t.Errorf("list = %v, %v; want the good container alone", list, err)
			}
			if err := r.Delete(ctx, "bad", api.DeleteOpts{}); err == nil {
				t.Error("delete without --force of a corrupt container succeeded")
			}
			if err := r.Delete(ctx, "bad", api.DeleteOpts{Force: true}); err != nil {
				t.Fatalf("delete --force = %v", err)
			}
			if _, err := os.Stat(filepath.Join(s.Root(), "bad")); !os.IsNotExist(err) {
				t.Errorf("state dir still there: %v", err)
			}
		})
	}
}

func TestDeleteStopped(t *testing.T) {
	r, s := newRuntime(t)
	saveState(t, s, "dead", 0, 0, true)
	if err := r.Delete(context.Background(), "dead", api.DeleteOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "dead")); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
}

func TestDeleteRunningRefused(t *testing.T) {
	r, s := newRuntime(t)
	start, err := ProcStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	saveState(t, s, "live", os.Getpid(), start, true)
	if err := r.Delete(context.Background(), "live", api.DeleteOpts{}); err == nil {
		t.Fatal("delete of a running container succeeded")
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "live", store.StateFile)); err != nil {
		t.Fatalf("refused delete removed state: %v", err)
	}
}

func TestProcStartTime(t *testing.T) {
	if _, err := ProcStartTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcStartTime(1 << 30); !errors.Is(err, errNoProcess) {
		t.Fatalf("nonexistent pid: %v", err)
	}
}
