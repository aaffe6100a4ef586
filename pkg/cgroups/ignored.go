package cgroups

import "github.com/opencontainers/runtime-spec/specs-go"

// DropIgnored returns r without the fields Set ignores, and their names
// ("linux.resources.memory.kernel"), for the caller to warn about; r itself
// is not changed (the result shares every other section with it). With
// nothing to drop it returns r and nil.
//
// Ignored are the kernel memory limits, memory.kernel and
// memory.kernelTCP: the runtime spec deprecates them, Linux 5.4 deprecated
// memory.kmem.limit_in_bytes and 6.1 removed it (kernel memory counts
// toward the memory limit), a kernel that still has the file may keep
// ignoring what is written to it, and cgroup2 never had either. runc ≥ 1.0
// ignores both with a warning whenever they are given, 0 included; so does
// rt rather than fail a create or update that runc would run.
func DropIgnored(r *specs.LinuxResources) (*specs.LinuxResources, []string) {
	if r == nil || r.Memory == nil || (r.Memory.Kernel == nil && r.Memory.KernelTCP == nil) {
		return r, nil
	}
	const f = "linux.resources.memory."
	var names []string
	if r.Memory.Kernel != nil {
		names = append(names, f+"kernel")
	}
	if r.Memory.KernelTCP != nil {
		names = append(names, f+"kernelTCP")
	}
	out, mem := *r, *r.Memory
	mem.Kernel, mem.KernelTCP = nil, nil
	out.Memory = &mem
	return &out, names
}
