package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
)

// WarmUp starts, in the background, the RCU grace period that the next
// cgroup join would otherwise wait for, and returns at once.
//
// Moving a process between cgroups takes cgroup_threadgroup_rwsem for
// writing, and the first writer after a quiet spell waits for an RCU grace
// period (10-20 ms on a small VM: most of a container's start time). Writers
// within the following grace period do not wait again. WarmUp writes rt's
// own pid into its own cgroup (a move that changes nothing) so the wait
// runs while rt does the rest of its set-up instead of after it. Meanwhile
// forks on the host wait for the writer, as they would for the real join.
// Errors are ignored: without permission (rootless) the real join simply
// pays the wait itself.
func WarmUp() {
	go func() {
		hs, err := hierarchies()
		if err != nil || len(hs) == 0 {
			return
		}
		own, err := ownCgroups()
		if err != nil {
			return
		}
		h := hs[0]
		cg, ok := own[h.keys[0]]
		if !ok {
			return
		}
		rel, err := filepath.Rel(h.root, cg)
		if err != nil || escapes(rel) {
			return
		}
		f, err := os.OpenFile(filepath.Join(h.mountpoint, rel, "cgroup.procs"), os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.WriteString(strconv.Itoa(os.Getpid()))
		f.Close()
	}()
}
