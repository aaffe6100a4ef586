package runtime

// This file exports the few pieces of the runtime that pkg/checkpoint (CRIU
// orchestration, linked only into rt-checkpoint) needs. They are thin
// wrappers: the rules stay here, so that checkpoint and restore agree with
// create, state and delete about what a container is. pkg/runtime itself
// must never import pkg/checkpoint or go-criu, which would slow every rt
// command's start-up.

import (
	"context"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/store"
)

// Store is the state store the runtime reads and writes, so that checkpoint
// and restore lock and record containers exactly as the lifecycle commands
// do.
func (r *Runtime) Store() *store.Store { return r.store }

// OpenLoaded locks container id and reads its state, as the lifecycle
// commands do; the caller closes the handle.
func (r *Runtime) OpenLoaded(id string) (*store.Handle, *store.State, error) { return r.openLoaded(id) }

// Status derives st's status from the live process (pid + start time) and
// the freezer, as `state` reports it; the state file alone is never trusted.
func (r *Runtime) Status(st *store.State) api.Status { return r.status(st) }

// NewCgroups returns the cgroup manager of a new container (restore) for the
// configured driver, recording the driver in st as create does, below the
// configured cgroup-parent with cgroupfs (so that a restore on a migration's
// target never lands in the source's cgroups). It creates nothing until
// Apply.
func (r *Runtime) NewCgroups(st *store.State, cgroupsPath string) (cgroups.Manager, error) {
	return r.newCgroups(st, cgroupsPath)
}

// Remove kills whatever is left of the container, runs its poststop hooks
// (only if it was ever ready), removes its cgroups and its state directory:
// what `delete --force` does, for a caller that holds h's lock already
// (checkpoint without --leave-running, a failed restore).
func (r *Runtime) Remove(ctx context.Context, h *store.Handle, st *store.State) error {
	return r.remove(ctx, h, st)
}

// ProcStartTime is field 22 of /proc/<pid>/stat, which with the pid
// identifies a process across pid reuse (what the state records).
func ProcStartTime(pid int) (uint64, error) { return procStartTime(pid) }

// ContainerResources are the limits create applies for s (the spec's, with
// the default device rules), nil when the spec has none.
func ContainerResources(s *specs.Spec) *specs.LinuxResources { return containerResources(s) }

// WritePidFile writes pid in decimal with no newline, atomically, as
// containerd and conmon read it.
func WritePidFile(path string, pid int) error { return writePidFile(path, pid) }

// Wait forwards the signals a foreground run forwards to pid (rt's child,
// or an orphan reparented to rt as subreaper) until it exits, and returns
// its status as a shell reports it (128+N for signal N).
func (r *Runtime) Wait(pid int) int { return r.wait(pid, relaySignals()) }

// Refuse returns the refusal of op on container id in status s, nil when op
// may go on: the lifecycle's rules and runc's words, for checkpoint.
func Refuse(op api.Op, id string, s api.Status) error { return refuse(op, id, s) }
