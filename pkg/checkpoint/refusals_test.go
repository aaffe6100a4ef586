package checkpoint

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/runtime"
	"github.com/rtkit/rt/pkg/store"
)

// TestCheckpointRefusals: checkpoint of a container that is created or
// stopped is refused before anything is done, in runc's words, matching
// what it needed (a running container) and, if stopped, ErrStopped; the
// container stays as it was and no image directory is made.
func TestCheckpointRefusals(t *testing.T) {
	root := t.TempDir()
	ops, err := New(api.GlobalConfig{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	r := ops.(*Runtime)
	s := store.New(root)
	// The created container's init holds its exec fifo (an O_PATH fd at
	// fd 4, as rt-init until its execve); the fifo is linked into the
	// state below.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opath, err := os.OpenFile(fifo, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer opath.Close()
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{opath, opath}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	start, err := runtime.ProcStartTime(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	record := func(id string, pid int, start uint64) *store.Handle {
		h, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if err := h.Save(&store.State{ID: id, OCIVersion: "1.3.0", Created: time.Now(), InitPid: pid, InitStartTime: start, Ready: true}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := record("created", child.Process.Pid, start)
	if err := os.Link(fifo, h.Path(runtime.ExecFifo)); err != nil {
		t.Fatal(err)
	}
	record("stopped", 0, 0)
	tests := []struct {
		id   string
		is   []error
		isnt []error
		msg  string
	}{
		{"created", []error{api.ErrNotRunning}, []error{api.ErrStopped, api.ErrRunning}, "Container cannot be checkpointed in created state"},
		{"stopped", []error{api.ErrNotRunning, api.ErrStopped}, []error{api.ErrRunning}, "Container cannot be checkpointed in stopped state"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			images := filepath.Join(t.TempDir(), "images")
			err := r.Checkpoint(context.Background(), tt.id, api.CheckpointOpts{ImagePath: images})
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("Checkpoint = %v, want %q", err, tt.msg)
			}
			for _, e := range tt.is {
				if !errors.Is(err, e) {
					t.Errorf("errors.Is(%v, %q) = false", err, e)
				}
			}
			for _, e := range tt.isnt {
				if errors.Is(err, e) {
					t.Errorf("errors.Is(%v, %q) = true", err, e)
				}
			}
			if _, err := os.Stat(images); !os.IsNotExist(err) {
				t.Errorf("image directory made: %v", err)
			}
			if c, err := r.State(context.Background(), tt.id); err != nil || string(c.Status) != tt.id {
				t.Errorf("after the refusal: %v, %v", c, err)
			}
		})
	}
}
