package initproc

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/process"
)

// setProcAttrs applies process.scheduler, process.ioPriority and
// linux.memoryPolicy to this thread, the one that execs: the init calls it
// before it reports ready, so that what the kernel refuses (SCHED_FIFO
// where real-time group scheduling leaves the cgroup no runtime, a node
// the host lacks) fails create, as with runc. It runs before the last
// steps (prepareLast's lockdown): the container's rlimits and seccomp
// filter are not in force yet, so neither can forbid these calls.
func setProcAttrs(s *specs.Spec) error {
	a, err := process.EncodeAttrs(s.Process, s.Linux)
	if err != nil {
		return err
	}
	return a.Apply()
}

// setExecAttrs is setProcAttrs for a process of rt exec, once rt has
// joined it to the container's cgroups, preceded by its final CPU affinity
// (process.execCPUAffinity; rt made rt-init start on the initial CPUs).
// The affinity comes first: a SCHED_DEADLINE thread may not narrow its
// affinity any more. It is the last thing before the credentials switch
// and execve, so rt-init's own work stays on the initial CPUs.
func setExecAttrs(s *specs.Spec) error {
	cpus, err := process.ExecAffinity(s.Process)
	if err != nil {
		return err
	}
	if cpus != nil {
		if err := cpus.SetThread(); err != nil {
			if a := s.Process.ExecCPUAffinity; a != nil && a.Final != "" {
				return fmt.Errorf("process.execCPUAffinity.final %q: %w", a.Final, err)
			}
			return fmt.Errorf("reset CPU affinity to the container's cpuset: %w", err)
		}
	}
	return setProcAttrs(s)
}
