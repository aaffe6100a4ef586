package runtime

// What pkg/checkpoint (CRIU orchestration, linked only into rt-checkpoint)
// uses of the runtime beyond api.ContainerOperations is exported where it
// is defined: Store, OpenLoaded, Status, NewCgroups, Remove, Wait, and the
// functions ProcStartTime, ContainerResources, WritePidFile and Refuse; the
// rules stay here, so that checkpoint and restore agree with create, state
// and delete about what a container is. pkg/runtime itself must never
// import pkg/checkpoint or go-criu, which would slow every rt command's
// start-up (test/layers checks).

import "github.com/rtkit/rt/pkg/store"

// Store is the state store the runtime reads and writes, so that checkpoint
// and restore lock and record containers exactly as the lifecycle commands
// do.
func (r *Runtime) Store() *store.Store { return r.store }

// Wait forwards the signals a foreground run forwards to pid (rt's child,
// or an orphan reparented to rt as subreaper) until it exits, and returns
// its status as a shell reports it (128+N for signal N).
func (r *Runtime) Wait(pid int) int { return r.wait(pid, relaySignals()) }
