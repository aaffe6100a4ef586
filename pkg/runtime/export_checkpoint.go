package runtime

// What pkg/checkpoint (CRIU orchestration, linked only into rt-checkpoint)
// uses of the runtime beyond api.ContainerOperations is exported where it
// is defined: Store, OpenLoaded, Status, NewCgroups, Remove, Foreground, and the
// functions ProcStartTime, ContainerResources, WritePidFile and Refuse; the
// rules stay here, so that checkpoint and restore agree with create, state
// and delete about what a container is. pkg/runtime itself must never
// import pkg/checkpoint or go-criu, which would slow every rt command's
// start-up (test/layers checks).

import (
	"io"
	"os"

	"github.com/rtkit/rt/pkg/store"
)

// Store is the state store the runtime reads and writes, so that checkpoint
// and restore lock and record containers exactly as the lifecycle commands
// do.
func (r *Runtime) Store() *store.Store { return r.store }

// Foreground relays a foreground restore's terminal (pty, when set, to in
// and out) and signals to its init pid until it exits, as run does, and
// returns the status as a shell reports it (128+N for signal N).
func (r *Runtime) Foreground(id string, pid int, pty, in *os.File, out io.Writer) int {
	return r.foreground(id, pid, pty, in, out, relaySignals())
}
