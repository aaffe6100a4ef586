package spec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The per-process attributes of runtime-spec 1.1-1.3 (process.scheduler,
// process.ioPriority, process.execCPUAffinity, linux.memoryPolicy): the
// tables from their names to the kernel's numbers, which pkg/process
// encodes with and Features reports, and their static checks. runc checks
// the same (validator.go's scheduler, ioPriority, memoryPolicy;
// configs.ToSchedAttr, ConvertCPUAffinity); where rt checks more, it is
// what the kernel would refuse anyway, said before anything exists.

// SchedPolicies maps process.scheduler.policy to sched_setattr(2)'s
// policy. SCHED_ISO is the spec's (and runc's, as 4), though mainline
// Linux never had it: the kernel is left to refuse it.
var SchedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: unix.SCHED_NORMAL, specs.SchedFIFO: unix.SCHED_FIFO, specs.SchedRR: unix.SCHED_RR,
	specs.SchedBatch: unix.SCHED_BATCH, specs.SchedISO: 4, specs.SchedIdle: unix.SCHED_IDLE,
	specs.SchedDeadline: unix.SCHED_DEADLINE,
}

// SchedFlags maps process.scheduler.flags to sched_attr's SCHED_FLAG_*.
var SchedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: unix.SCHED_FLAG_RESET_ON_FORK, specs.SchedFlagReclaim: unix.SCHED_FLAG_RECLAIM,
	specs.SchedFlagDLOverrun: unix.SCHED_FLAG_DL_OVERRUN, specs.SchedFlagKeepPolicy: unix.SCHED_FLAG_KEEP_POLICY,
	specs.SchedFlagKeepParams: unix.SCHED_FLAG_KEEP_PARAMS, specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
	specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
}

// IOPrioClasses maps process.ioPriority.class to ioprio_set(2)'s class
// (linux/ioprio.h).
var IOPrioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// MemPolicyModes maps linux.memoryPolicy.mode to set_mempolicy(2)'s mode.
var MemPolicyModes = map[specs.MemoryPolicyModeType]int{
	specs.MpolDefault: unix.MPOL_DEFAULT, specs.MpolBind: unix.MPOL_BIND, specs.MpolInterleave: unix.MPOL_INTERLEAVE,
	specs.MpolWeightedInterleave: unix.MPOL_WEIGHTED_INTERLEAVE, specs.MpolPreferred: unix.MPOL_PREFERRED,
	specs.MpolPreferredMany: unix.MPOL_PREFERRED_MANY, specs.MpolLocal: unix.MPOL_LOCAL,
}

// MemPolicyFlags maps linux.memoryPolicy.flags to the mode flags.
var MemPolicyFlags = map[specs.MemoryPolicyFlagType]int{
	specs.MpolFNumaBalancing: unix.MPOL_F_NUMA_BALANCING, specs.MpolFRelativeNodes: unix.MPOL_F_RELATIVE_NODES,
	specs.MpolFStaticNodes: unix.MPOL_F_STATIC_NODES,
}

// MaxListID is the highest CPU or node number a list may name (runc's
// configs.MaxCPU): it bounds the mask a bogus list would allocate.
const MaxListID = 64 * 1024

// ParseList parses a CPU or memory node list in the kernel's list format
// ("0-3,7") into a bit mask, word i holding bits 64i to 64i+63, as
// sched_setaffinity(2) and set_mempolicy(2) take it. Like runc, it allows
// spaces around and empty elements; "" is no mask (nil), but a list with
// separators only is an error.
func ParseList(s string) ([]uint64, error) {
	if s == "" {
		return nil, nil
	}
	var mask []uint64
	for elem := range strings.SplitSeq(s, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(elem, "-")
		first, err := listID(lo)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = listID(hi); err != nil {
				return nil, err
			}
			if first > last {
				return nil, fmt.Errorf("range %q goes down", elem)
			}
		}
		for len(mask) <= last/64 {
			mask = append(mask, 0)
		}
		for i := first; i <= last; i++ {
			mask[i/64] |= 1 << (i % 64)
		}
	}
	if mask == nil {
		return nil, errors.New("names no number")
	}
	return mask, nil
}

func listID(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n > MaxListID {
		return 0, fmt.Errorf("%d is above %d", n, MaxListID)
	}
	return int(n), nil
}

// ValidateProcessAttrs checks process.scheduler, process.ioPriority and
// process.execCPUAffinity: at create for the config's process, at exec for
// the process exec runs.
func ValidateProcessAttrs(p *specs.Process) error {
	if err := validateScheduler(p.Scheduler); err != nil {
		return err
	}
	if io := p.IOPriority; io != nil {
		if _, ok := IOPrioClasses[io.Class]; !ok {
			return fmt.Errorf("process.ioPriority.class %q: not a class (%s)", io.Class, names(IOPrioClasses))
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority %d is out of range (0-7)", io.Priority)
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, f := range [...]struct{ name, list string }{{"initial", a.Initial}, {"final", a.Final}} {
			if _, err := ParseList(f.list); err != nil {
				return fmt.Errorf("process.execCPUAffinity.%s %q: not a CPU list: %w", f.name, f.list, err)
			}
		}
	}
	return nil
}

// validateScheduler checks what sched_setattr(2) would refuse whatever the
// host: runc's rules, the real-time priority range and the deadline
// parameters' order. nice is checked for every policy: rt sets it for
// every policy (see process.SchedAttrs), where the kernel would clamp it.
func validateScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if s.Policy == "" {
		return errors.New("process.scheduler.policy is missing")
	}
	if _, ok := SchedPolicies[s.Policy]; !ok {
		return fmt.Errorf("process.scheduler.policy %q: not a policy (%s)", s.Policy, names(SchedPolicies))
	}
	for _, f := range s.Flags {
		if _, ok := SchedFlags[f]; !ok {
			return fmt.Errorf("process.scheduler.flags: %q: not a flag (%s)", f, names(SchedFlags))
		}
	}
	if s.Nice < -20 || s.Nice > 19 {
		return fmt.Errorf("process.scheduler.nice %d is out of range (-20 to 19)", s.Nice)
	}
	realtime := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case realtime && (s.Priority < 1 || s.Priority > 99):
		return fmt.Errorf("process.scheduler.priority %d is out of range for %s (1-99)", s.Priority, s.Policy)
	case !realtime && s.Priority != 0:
		return fmt.Errorf("process.scheduler.priority %d: only SCHED_FIFO and SCHED_RR have a priority", s.Priority)
	}
	if s.Policy != specs.SchedDeadline {
		if s.Runtime != 0 || s.Deadline != 0 || s.Period != 0 {
			return errors.New("process.scheduler.runtime/deadline/period are only for SCHED_DEADLINE")
		}
		return nil
	}
	// sched_setattr(2): 1024 ns at least (the kernel keeps runtimes in
	// units of 1024 ns), runtime <= deadline <= period, a period of 0
	// meaning the deadline.
	period := s.Period
	if period == 0 {
		period = s.Deadline
	}
	if s.Runtime < 1024 || s.Runtime > s.Deadline || s.Deadline > period || period >= 1<<63 {
		return fmt.Errorf("process.scheduler: SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period (ns; period 0 is the deadline), got runtime %d, deadline %d, period %d",
			s.Runtime, s.Deadline, s.Period)
	}
	return nil
}

// validateMemoryPolicy checks linux.memoryPolicy as runc does (mode and
// flags known, nodes a list, none for MPOL_DEFAULT and MPOL_LOCAL, some
// for the modes that spread or bind), and refuses the two node flags
// together, which set_mempolicy(2) always refuses.
func validateMemoryPolicy(m *specs.LinuxMemoryPolicy) error {
	if m == nil {
		return nil
	}
	if _, ok := MemPolicyModes[m.Mode]; !ok {
		return fmt.Errorf("linux.memoryPolicy.mode %q: not a mode (%s)", m.Mode, names(MemPolicyModes))
	}
	nodes, err := ParseList(m.Nodes)
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes %q: not a node list: %w", m.Nodes, err)
	}
	for _, f := range m.Flags {
		if _, ok := MemPolicyFlags[f]; !ok {
			return fmt.Errorf("linux.memoryPolicy.flags: %q: not a flag (%s)", f, names(MemPolicyFlags))
		}
	}
	if slices.Contains(m.Flags, specs.MpolFStaticNodes) && slices.Contains(m.Flags, specs.MpolFRelativeNodes) {
		return errors.New("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other")
	}
	switch m.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if nodes != nil {
			return fmt.Errorf("linux.memoryPolicy: %s takes no nodes, got %q", m.Mode, m.Nodes)
		}
	case specs.MpolBind, specs.MpolInterleave, specs.MpolPreferredMany, specs.MpolWeightedInterleave:
		if nodes == nil {
			return fmt.Errorf("linux.memoryPolicy: %s needs at least one node (nodes is empty)", m.Mode)
		}
	}
	return nil
}

// validateIntelRdt checks linux.intelRdt without the host: the group name
// (runc's check; "/" is the spec's name for the root group) and the lines
// to write to schemata, which the spec says MUST NOT hold a newline (and
// memBwSchema MUST start with "MB:"). Whether the host has resctrl, CAT,
// MBA or monitoring is pkg/intelrdt's Check.
func validateIntelRdt(r *specs.LinuxIntelRdt) error {
	if r == nil {
		return nil
	}
	switch c := r.ClosID; {
	case c == ".", c == "..", len(c) > 1 && strings.Contains(c, "/"):
		return fmt.Errorf("linux.intelRdt.closID %q: not a resctrl group name", c)
	}
	lines := map[string]string{"l3CacheSchema": r.L3CacheSchema, "memBwSchema": r.MemBwSchema}
	for i, l := range r.Schemata {
		lines[fmt.Sprintf("schemata[%d]", i)] = l
	}
	for _, field := range slices.Sorted(maps.Keys(lines)) {
		if strings.ContainsAny(lines[field], "\n\r") {
			return fmt.Errorf("linux.intelRdt.%s %q: a schema is one line", field, lines[field])
		}
	}
	if r.MemBwSchema != "" && !strings.HasPrefix(r.MemBwSchema, "MB:") {
		return fmt.Errorf("linux.intelRdt.memBwSchema %q: must start with \"MB:\"", r.MemBwSchema)
	}
	return nil
}

// names lists a table's keys, sorted, for an error message.
func names[K ~string, V any](m map[K]V) string {
	return strings.Join(sortedNames(m), ", ")
}

func sortedNames[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}
