package process

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/spec"
)

// Attrs are process.scheduler, process.ioPriority and linux.memoryPolicy,
// encoded for their system calls. All three are attributes of the calling
// thread that execve keeps and fork passes on: rt-init sets them on the
// thread that execs, before the container's rlimits and seccomp filter
// (which could forbid the calls) are in force. spec.Validate has checked
// them; what is left to fail is the kernel's verdict, reported naming the
// field.
type Attrs struct {
	sched *unix.SchedAttr
	// policy is the scheduler's name, for errors.
	policy specs.LinuxSchedulerPolicy
	// setNice: sched_setattr sets nice for SCHED_OTHER and SCHED_BATCH
	// only; for the other policies the kernel keeps the thread's nice,
	// which the config then sets with setpriority.
	setNice bool
	// ioprio is ioprio_set's value, class<<13 | level; 0 is none.
	ioprio    int
	ioClass   specs.IOPriorityClass
	mpol      bool
	mpolMode  int
	nodes     []uint64
	mpolDescr string
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS: with who 0, the calling thread.
// runc uses IOPRIO_WHO_PGRP, which also changes every other process of the
// init's process group: rt's own, and the shell job rt runs in, when the
// init has no terminal (and so no session) of its own.
const ioprioWhoProcess = 1

// EncodeAttrs encodes what p and l set of the three; nil fields leave the
// thread's values alone.
func EncodeAttrs(p *specs.Process, l *specs.Linux) (*Attrs, error) {
	a := &Attrs{}
	if s := p.Scheduler; s != nil {
		policy, ok := spec.SchedPolicies[s.Policy]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.policy %q: not a policy", s.Policy)
		}
		attr := &unix.SchedAttr{Policy: policy, Nice: s.Nice, Priority: uint32(s.Priority),
			Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
		for _, f := range s.Flags {
			bit, ok := spec.SchedFlags[f]
			if !ok {
				return nil, fmt.Errorf("process.scheduler.flags: %q: not a flag", f)
			}
			attr.Flags |= bit
		}
		a.sched, a.policy = attr, s.Policy
		fair := s.Policy == specs.SchedOther || s.Policy == specs.SchedBatch
		a.setNice = !fair && attr.Flags&unix.SCHED_FLAG_KEEP_PARAMS == 0
	}
	if io := p.IOPriority; io != nil {
		class, ok := spec.IOPrioClasses[io.Class]
		if !ok {
			return nil, fmt.Errorf("process.ioPriority.class %q: not a class", io.Class)
		}
		a.ioprio, a.ioClass = class<<13|io.Priority, io.Class
	}
	if l != nil && l.MemoryPolicy != nil {
		m := l.MemoryPolicy
		mode, ok := spec.MemPolicyModes[m.Mode]
		if !ok {
			return nil, fmt.Errorf("linux.memoryPolicy.mode %q: not a mode", m.Mode)
		}
		for _, f := range m.Flags {
			bit, ok := spec.MemPolicyFlags[f]
			if !ok {
				return nil, fmt.Errorf("linux.memoryPolicy.flags: %q: not a flag", f)
			}
			mode |= bit
		}
		nodes, err := spec.ParseList(m.Nodes)
		if err != nil {
			return nil, fmt.Errorf("linux.memoryPolicy.nodes %q: %w", m.Nodes, err)
		}
		a.mpol, a.mpolMode, a.nodes = true, mode, nodes
		a.mpolDescr = fmt.Sprintf("%s nodes %q", m.Mode, m.Nodes)
		if len(m.Flags) > 0 {
			a.mpolDescr += fmt.Sprintf(" flags %v", m.Flags)
		}
	}
	return a, nil
}

// Apply sets the attributes on the calling thread: the memory policy,
// the I/O priority, then the scheduler (last, as SCHED_IDLE or a
// deadline would slow or constrain the calls before it).
func (a *Attrs) Apply() error {
	if a.mpol {
		if err := setMempolicy(a.mpolMode, a.nodes); err != nil {
			return fmt.Errorf("linux.memoryPolicy %s: set_mempolicy: %w", a.mpolDescr, hint(err, unix.EINVAL,
				"is each node online and in the container's cpuset.mems?"))
		}
	}
	if a.ioprio != 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(a.ioprio)); e != 0 {
			return fmt.Errorf("process.ioPriority %s %d: ioprio_set: %w", a.ioClass, a.ioprio&7, e)
		}
	}
	if a.sched == nil {
		return nil
	}
	if err := unix.SchedSetAttr(0, a.sched, 0); err != nil {
		return fmt.Errorf("process.scheduler %s: sched_setattr: %w", a.schedDescr(), a.schedHint(err))
	}
	if a.setNice {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, int(a.sched.Nice)); err != nil {
			return fmt.Errorf("process.scheduler.nice %d: setpriority: %w", a.sched.Nice, hint(err, unix.EACCES, negativeNice))
		}
	}
	return nil
}

func (a *Attrs) schedDescr() string {
	switch a.policy {
	case specs.SchedFIFO, specs.SchedRR:
		return fmt.Sprintf("%s priority %d", a.policy, a.sched.Priority)
	case specs.SchedDeadline:
		return fmt.Sprintf("%s runtime %d deadline %d period %d", a.policy, a.sched.Runtime, a.sched.Deadline, a.sched.Period)
	}
	return fmt.Sprintf("%s nice %d", a.policy, a.sched.Nice)
}

// schedHint adds why the kernel says no where the errno alone does not
// tell (sched_setattr(2), kernel/sched/syscalls.c).
func (a *Attrs) schedHint(err error) error {
	switch a.policy {
	case specs.SchedFIFO, specs.SchedRR:
		return hint(err, unix.EPERM, "a real-time policy needs CAP_SYS_NICE in the host's user namespace and, where the kernel has real-time group scheduling, real-time runtime in the container's cpu cgroup: linux.resources.cpu.realtimeRuntime")
	case specs.SchedDeadline:
		err = hint(err, unix.EPERM, "SCHED_DEADLINE needs CAP_SYS_NICE in the host's user namespace and a CPU affinity spanning its whole root domain: a cpuset narrower than the host's refuses it")
		return hint(err, unix.EBUSY, "the deadline bandwidth left on these CPUs is too small")
	case specs.SchedISO:
		return hint(err, unix.EINVAL, "mainline Linux has no SCHED_ISO")
	}
	if a.sched.Nice < 0 {
		return hint(err, unix.EPERM, negativeNice)
	}
	return err
}

// negativeNice is why the kernel refuses a nice below 0 in a container
// of its own user namespace.
const negativeNice = "a nice below 0 needs CAP_SYS_NICE in the host's user namespace"

// hint appends why to err when err is errno.
func hint(err error, errno unix.Errno, why string) error {
	if errors.Is(err, errno) {
		return fmt.Errorf("%w (%s)", err, why)
	}
	return err
}

// setMempolicy is set_mempolicy(2) with nodes as a mask of len(nodes)*64
// bits. (x/sys's SetMemPolicyDynamic passes the mask's size in bytes where
// the kernel takes a number of bits, so it drops nodes from the 8th on.)
func setMempolicy(mode int, nodes []uint64) error {
	var ptr unsafe.Pointer
	maxnode := uintptr(0)
	if len(nodes) > 0 {
		// The kernel reads maxnode-1 bits.
		ptr, maxnode = unsafe.Pointer(&nodes[0]), uintptr(len(nodes))*64+1
	}
	_, _, e := unix.RawSyscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), uintptr(ptr), maxnode)
	runtime.KeepAlive(nodes)
	if e != 0 {
		return e
	}
	return nil
}

// CPUSet is a CPU mask as spec.ParseList makes it.
type CPUSet []uint64

// AllCPUs is every CPU number a list may name: set as an affinity, the
// kernel narrows it to the CPUs of the thread's cpuset (and keeps the
// wish, should the cpuset grow).
func AllCPUs() CPUSet {
	s := make(CPUSet, spec.MaxListID/64+1)
	for i := range s {
		s[i] = ^uint64(0)
	}
	return s
}

// SetThread makes s the calling thread's CPU affinity.
func (s CPUSet) SetThread() error {
	if len(s) == 0 {
		return errors.New("no CPU")
	}
	_, _, e := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, 0, uintptr(len(s))*8, uintptr(unsafe.Pointer(&s[0])))
	runtime.KeepAlive(s)
	if e != 0 {
		return fmt.Errorf("sched_setaffinity: %w", e)
	}
	return nil
}

// ExecAffinity is the affinity to give an exec'd process once it is in
// the container's cgroups, as runc does: process.execCPUAffinity.final;
// every CPU (so the cgroup's cpuset decides, not the affinity of whoever
// ran rt exec) when the process has no execCPUAffinity; nil, leaving the
// affinity as it is, when only initial is set (the spec: "If omitted or
// empty, runtime SHOULD NOT change process' CPU affinity after the process
// is moved to container's cgroup").
func ExecAffinity(p *specs.Process) (CPUSet, error) {
	a := p.ExecCPUAffinity
	if a == nil || a.Initial == "" && a.Final == "" {
		return AllCPUs(), nil
	}
	final, err := spec.ParseList(a.Final)
	if err != nil {
		return nil, fmt.Errorf("process.execCPUAffinity.final %q: %w", a.Final, err)
	}
	return final, nil
}
