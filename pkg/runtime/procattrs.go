package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
)

// What the runtime side does for the per-process attributes of
// runtime-spec 1.1-1.3, which rt-init applies (cmd/rt-init/procattrs.go).

// setRealtimeFirst writes linux.resources.cpu.realtimeRuntime and
// realtimePeriod before the init enters its cgroups, as runc's Apply does;
// the other limits wait until it is ready (see create). Under real-time
// group scheduling a real-time task can neither join a cpu cgroup without
// real-time runtime nor turn real-time in one, and the init does both:
// it inherits rt's policy, and sets process.scheduler before ready.
func setRealtimeFirst(cg cgroups.Manager, s *specs.Spec) error {
	if s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.CPU == nil {
		return nil
	}
	c := s.Linux.Resources.CPU
	if c.RealtimeRuntime == nil && c.RealtimePeriod == nil {
		return nil
	}
	return cg.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: c.RealtimeRuntime, RealtimePeriod: c.RealtimePeriod}})
}

// execInitialCPUs is process.execCPUAffinity.initial: the CPUs rt-init
// starts on, before it joins the container's cgroups.
func execInitialCPUs(p *specs.Process) string {
	if p.ExecCPUAffinity == nil {
		return ""
	}
	return p.ExecCPUAffinity.Initial
}
