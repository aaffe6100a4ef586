package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []uint64
		err  string
	}{
		{"", nil, ""},
		{"0", []uint64{1}, ""},
		{"0-3,7", []uint64{0x8f}, ""},
		{" 1 , 3-4 ,", []uint64{0x1a}, ""},
		{"63-64", []uint64{1 << 63, 1}, ""},
		{"130", []uint64{0, 0, 1 << 2}, ""},
		{"2-2", []uint64{4}, ""},
		{",", nil, "names no number"},
		{"x", nil, `"x" is not a number`},
		{"-1", nil, `"" is not a number`},
		{"3-1", nil, `range "3-1" goes down`},
		{"1-", nil, `"" is not a number`},
		{"0-1-2", nil, `"1-2" is not a number`},
		{"65537", nil, "65537 is above 65536"},
	}
	for _, tt := range tests {
		got, err := ParseList(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseList(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseList(%q) = %#x, %v; want %#x", tt.in, got, err, tt.want)
		}
	}
}

// TestValidateProcAttrs checks the process.scheduler, process.ioPriority,
// process.execCPUAffinity, linux.memoryPolicy and linux.intelRdt rules,
// each case breaking one (or keeping a valid config valid).
// procAttrCase is a change to validSpec's process attributes and the error
// Validate must give for it.
type procAttrCase struct {
	name string
	edit func(*specs.Spec)
	want string // "" for valid
}

// procAttrCases are TestValidateProcAttrs's cases, and FuzzParse's seeds.
func procAttrCases() []procAttrCase {
	sched := func(s specs.Scheduler) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.Scheduler = &s }
	}
	mpol := func(m specs.LinuxMemoryPolicy) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Linux.MemoryPolicy = &m }
	}
	rdt := func(r specs.LinuxIntelRdt) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Linux.IntelRdt = &r }
	}
	io := func(class specs.IOPriorityClass, prio int) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.IOPriority = &specs.LinuxIOPriority{Class: class, Priority: prio} }
	}
	aff := func(initial, final string) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: initial, Final: final} }
	}
	return []procAttrCase{
		{"batch nice", sched(specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}), ""},
		{"idle nice", sched(specs.Scheduler{Policy: specs.SchedIdle, Nice: -20}), ""},
		{"other with flags", sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagUtilClampMax}}), ""},
		{"fifo 99", sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 99}), ""},
		{"rr 1", sched(specs.Scheduler{Policy: specs.SchedRR, Priority: 1}), ""},
		{"iso, left to the kernel", sched(specs.Scheduler{Policy: specs.SchedISO}), ""},
		{"deadline", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1024, Deadline: 2048, Period: 4096}), ""},
		{"deadline, period 0", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10000, Deadline: 10000}), ""},
		{"policy missing", sched(specs.Scheduler{Nice: 1}), "process.scheduler.policy is missing"},
		{"policy unknown", sched(specs.Scheduler{Policy: "SCHED_BOGUS"}), `process.scheduler.policy "SCHED_BOGUS": not a policy (SCHED_BATCH, SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_ISO, SCHED_OTHER, SCHED_RR)`},
		{"flag unknown", sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_X"}}), `process.scheduler.flags: "SCHED_FLAG_X": not a flag (SCHED_FLAG_DL_OVERRUN, `},
		{"nice 20", sched(specs.Scheduler{Policy: specs.SchedOther, Nice: 20}), "process.scheduler.nice 20 is out of range (-20 to 19)"},
		{"nice -21 idle", sched(specs.Scheduler{Policy: specs.SchedIdle, Nice: -21}), "process.scheduler.nice -21 is out of range"},
		{"fifo priority 0", sched(specs.Scheduler{Policy: specs.SchedFIFO}), "process.scheduler.priority 0 is out of range for SCHED_FIFO (1-99)"},
		{"rr priority 100", sched(specs.Scheduler{Policy: specs.SchedRR, Priority: 100}), "process.scheduler.priority 100 is out of range for SCHED_RR (1-99)"},
		{"priority with batch", sched(specs.Scheduler{Policy: specs.SchedBatch, Priority: 3}), "process.scheduler.priority 3: only SCHED_FIFO and SCHED_RR have a priority"},
		{"runtime with other", sched(specs.Scheduler{Policy: specs.SchedOther, Runtime: 1}), "process.scheduler.runtime/deadline/period are only for SCHED_DEADLINE"},
		{"period with fifo", sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 1, Period: 1}), "only for SCHED_DEADLINE"},
		{"deadline without parameters", sched(specs.Scheduler{Policy: specs.SchedDeadline}), "SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period"},
		{"deadline runtime small", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1023, Deadline: 2048}), "got runtime 1023, deadline 2048, period 0"},
		{"deadline above period", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 2048, Deadline: 8192, Period: 4096}), "got runtime 2048, deadline 8192, period 4096"},
		{"deadline runtime above deadline", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 4096, Deadline: 2048}), "SCHED_DEADLINE needs"},
		{"deadline period 2^63", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 4096, Deadline: 1 << 63, Period: 1 << 63}), "SCHED_DEADLINE needs"},

		{"ioprio idle", io(specs.IOPRIO_CLASS_IDLE, 0), ""},
		{"ioprio be 7", io(specs.IOPRIO_CLASS_BE, 7), ""},
		{"ioprio class unknown", io("IOPRIO_CLASS_NONE", 0), `process.ioPriority.class "IOPRIO_CLASS_NONE": not a class (IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE, IOPRIO_CLASS_RT)`},
		{"ioprio class empty", io("", 0), `process.ioPriority.class "": not a class`},
		{"ioprio 8", io(specs.IOPRIO_CLASS_RT, 8), "process.ioPriority.priority 8 is out of range (0-7)"},
		{"ioprio -1", io(specs.IOPRIO_CLASS_BE, -1), "process.ioPriority.priority -1 is out of range (0-7)"},

		{"affinity", aff("0", "0-1"), ""},
		{"affinity empty", aff("", ""), ""},
		{"affinity initial", aff("x", ""), `process.execCPUAffinity.initial "x": not a CPU list: "x" is not a number`},
		{"affinity final", aff("0", "1-0"), `process.execCPUAffinity.final "1-0": not a CPU list: range "1-0" goes down`},

		{"mpol bind", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}), ""},
		{"mpol preferred, no nodes", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred}), ""},
		{"mpol local", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}), ""},
		{"mpol mode unknown", mpol(specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS"}), `linux.memoryPolicy.mode "MPOL_BOGUS": not a mode (MPOL_BIND, MPOL_DEFAULT, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE)`},
		{"mpol nodes", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0-x"}), `linux.memoryPolicy.nodes "0-x": not a node list: "x" is not a number`},
		{"mpol flag unknown", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{"MPOL_F_X"}}), `linux.memoryPolicy.flags: "MPOL_F_X": not a flag (MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES)`},
		{"mpol static and relative", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFRelativeNodes, specs.MpolFStaticNodes}}), "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"},
		{"mpol default with nodes", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolDefault, Nodes: "0"}), `linux.memoryPolicy: MPOL_DEFAULT takes no nodes, got "0"`},
		{"mpol bind without nodes", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolBind}), "linux.memoryPolicy: MPOL_BIND needs at least one node (nodes is empty)"},
		{"mpol interleave without nodes", mpol(specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: " , "}), `linux.memoryPolicy.nodes " , ": not a node list: names no number`},

		{"rdt", rdt(specs.LinuxIntelRdt{ClosID: "/", L3CacheSchema: "L3:0=f", MemBwSchema: "MB:0=20", Schemata: []string{"L2:0=3"}}), ""},
		{"rdt closID ..", rdt(specs.LinuxIntelRdt{ClosID: ".."}), `linux.intelRdt.closID "..": not a resctrl group name`},
		{"rdt closID a/b", rdt(specs.LinuxIntelRdt{ClosID: "a/b"}), `linux.intelRdt.closID "a/b": not a resctrl group name`},
		{"rdt newline", rdt(specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f\nMB:0=10"}), `linux.intelRdt.l3CacheSchema "L3:0=f\nMB:0=10": a schema is one line`},
		{"rdt schemata newline", rdt(specs.LinuxIntelRdt{Schemata: []string{"L3:0=f", "L2:0=1\n"}}), `linux.intelRdt.schemata[1] "L2:0=1\n": a schema is one line`},
		{"rdt memBwSchema prefix", rdt(specs.LinuxIntelRdt{MemBwSchema: "L3:0=20"}), `linux.intelRdt.memBwSchema "L3:0=20": must start with "MB:"`},
	}
}

func TestValidateProcAttrs(t *testing.T) {
	for _, tt := range procAttrCases() {
		s := validSpec()
		tt.edit(s)
		err := Validate(s)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrInvalid with %q", tt.name, err, tt.want)
		}
	}
}

// TestProcAttrTablesComplete checks that every value runtime-spec names
// is in the tables rt encodes with, so none is refused as unknown.
func TestProcAttrTablesComplete(t *testing.T) {
	for _, p := range []specs.LinuxSchedulerPolicy{specs.SchedOther, specs.SchedFIFO, specs.SchedRR, specs.SchedBatch, specs.SchedISO, specs.SchedIdle, specs.SchedDeadline} {
		if _, ok := SchedPolicies[p]; !ok {
			t.Errorf("policy %s missing", p)
		}
	}
	if len(SchedFlags) != 7 || len(IOPrioClasses) != 3 || len(MemPolicyModes) != 7 || len(MemPolicyFlags) != 3 {
		t.Errorf("tables: %d flags, %d classes, %d modes, %d mode flags; want 7, 3, 7, 3",
			len(SchedFlags), len(IOPrioClasses), len(MemPolicyModes), len(MemPolicyFlags))
	}
}
