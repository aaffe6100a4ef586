package runtime

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/intelrdt"
	"github.com/rtkit/rt/pkg/store"
)

// What the runtime side does for the per-process attributes of
// runtime-spec 1.1-1.3, which rt-init applies (pkg/initproc/procattrs.go).

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

// intelRdtGroup refuses linux.intelRdt where the host has no resctrl
// mounted, or not the features the config asks for (the spec: "If no
// mounted resctrl pseudo-filesystem is available …, the runtime MUST
// generate an error"), and otherwise names the container's group, before
// anything of the container exists; nil without linux.intelRdt.
func intelRdtGroup(id string, s *specs.Spec) (*intelrdt.Group, error) {
	if s.Linux == nil || s.Linux.IntelRdt == nil {
		return nil, nil
	}
	root, err := intelrdt.Root()
	if errors.Is(err, intelrdt.ErrNotEnabled) {
		// runc: "intelRdt is specified in config, but Intel RDT is not
		// enabled".
		return nil, fmt.Errorf("linux.intelRdt is specified in config, but %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("linux.intelRdt: %w", err)
	}
	if err := intelrdt.Check(root, s.Linux.IntelRdt); err != nil {
		return nil, err
	}
	return intelrdt.Plan(root, id, s.Linux.IntelRdt), nil
}

// createIntelRdt makes the resctrl group the state records (see
// intelRdtGroup), and records it again when it turned out to exist
// already, so that delete leaves it.
func createIntelRdt(h *store.Handle, st *store.State, s *specs.Spec) error {
	if st.IntelRdt == nil {
		return nil
	}
	planned := st.IntelRdt.Remove
	if err := st.IntelRdt.Create(s.Linux.IntelRdt); err != nil {
		return err
	}
	if st.IntelRdt.Remove != planned {
		return h.Save(st)
	}
	return nil
}
