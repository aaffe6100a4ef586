package lifecycle_test

// The per-process attributes of runtime-spec 1.1-1.3, observed from inside:
// process.scheduler, process.ioPriority and linux.memoryPolicy for the init
// and for exec'd processes, process.execCPUAffinity for exec, and what
// create refuses of them and of linux.intelRdt (this host has no resctrl).
// rt once accepted all of them and applied none.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// paProbe prints what the shell running it has: its stat line (nice is
// field 19, policy field 41), its I/O priority as busybox's ionice shows
// it, the memory policy of its first mapping and its CPU affinity.
const paProbe = `read l < /proc/$$/stat; echo "stat=$l"; echo "ionice=$(ionice -p $$)"; ` +
	`echo "numa=$(head -1 /proc/$$/numa_maps)"; grep Cpus_allowed_list /proc/$$/status`

// paSeen is what paProbe printed.
type paSeen struct{ nice, policy, ionice, numa, cpus string }

func paParse(t *testing.T, out string) paSeen {
	t.Helper()
	v := cfgValues(out, "=")
	stat := v["stat"]
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		t.Fatalf("no stat line in %q", out)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 39 {
		t.Fatalf("stat line %q", stat)
	}
	return paSeen{nice: f[16], policy: f[38], ionice: v["ionice"], numa: v["numa"],
		cpus: cfgValues(out, ":")["Cpus_allowed_list"]}
}

// paCheck compares what a probe saw with the scheduling it wants and the
// words the I/O priority and memory policy must show.
func paCheck(t *testing.T, what string, got paSeen, nice, policy, ionice, numa string) {
	t.Helper()
	if got.nice != nice || got.policy != policy {
		t.Errorf("%s: nice %s policy %s, want nice %s policy %s", what, got.nice, got.policy, nice, policy)
	}
	if got.ionice != ionice {
		t.Errorf("%s: ionice %q, want %q", what, got.ionice, ionice)
	}
	if !strings.Contains(got.numa, numa) {
		t.Errorf("%s: numa_maps %q, want %q", what, got.numa, numa)
	}
}

func TestProcSchedulerIOPriorityMemoryPolicy(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name                         string
		sched                        specs.Scheduler
		io                           specs.LinuxIOPriority
		mpol                         specs.LinuxMemoryPolicy
		nice, policy, ionice, inNuma string
	}{
		{"batch", specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}, specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3},
			specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}, "5", "3", "best-effort: prio 3", " bind:0 "},
		// The kernel keeps nice out of sched_setattr for SCHED_IDLE: rt
		// sets it too.
		{"idle", specs.Scheduler{Policy: specs.SchedIdle, Nice: 7}, specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE},
			specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}},
			"7", "5", "idle", " bind=static:0 "},
		{"other", specs.Scheduler{Policy: specs.SchedOther, Nice: -3}, specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 4},
			specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0"}, "-3", "0", "realtime: prio 4", " interleave:0 "},
		// A deadline task cannot fork unless its children are reset.
		{"deadline", specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 1e7, Period: 1e7,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE},
			specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred, Nodes: "0"}, "0", "6", "best-effort: prio 0", " prefer:0 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := cfgRunScript(t, r, "pa-"+tc.name, paProbe, func(s *specs.Spec) {
				s.Process.Scheduler, s.Process.IOPriority, s.Linux.MemoryPolicy = &tc.sched, &tc.io, &tc.mpol
			})
			paCheck(t, tc.name, paParse(t, out), tc.nice, tc.policy, tc.ionice, tc.inNuma)
		})
	}
}

// TestProcSchedulerFIFOWithRealtimeRuntime: on this host (real-time group
// scheduling, cgroup v1) SCHED_FIFO needs real-time runtime in the
// container's cpu cgroup, which rt now writes before the init joins it, as
// runc does; it once wrote it with the other limits, after the init had
// failed to turn real-time.
func TestProcSchedulerFIFOWithRealtimeRuntime(t *testing.T) {
	r := runner(t)
	if skip := paNoRTGroups(); skip != "" {
		t.Skip(skip)
	}
	out := cfgRunScript(t, r, "pa-fifo", paProbe, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
		s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: cfgPtr(int64(10000)), RealtimePeriod: cfgPtr(uint64(1000000))}}
	})
	if got := paParse(t, out); got.policy != "1" {
		t.Errorf("policy %s, want 1 (SCHED_FIFO): %q", got.policy, out)
	}
	stat := cfgValues(out, "=")["stat"]
	if f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:]); len(f) < 38 || f[37] != "10" {
		t.Errorf("rt_priority (field 40) of %q, want 10", stat)
	}
}

// paNoRTGroups says why the host does not refuse SCHED_FIFO in a new
// cgroup ("" where it does, as the reference host): no real-time group
// scheduling on a cgroup v1 cpu hierarchy.
func paNoRTGroups() string {
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"); err != nil {
		return "no real-time group scheduling on a cgroup v1 cpu hierarchy"
	}
	return ""
}

// paNode1 says why a bind to node 1 would not fail ("" where it does: the
// host has node 0 only).
func paNode1() string {
	if _, err := os.Stat("/sys/devices/system/node/node1"); err == nil {
		return "the host has NUMA node 1"
	}
	return ""
}

// paContainer runs a detached container whose init sleeps, from a bundle
// changed by edit, and returns its id and the init's host pid.
func paContainer(t *testing.T, r *harness.Runner, prefix string, edit func(*specs.Spec)) (string, int) {
	t.Helper()
	b := bundle(t, []string{"sleep", "1000"}, edit)
	id := harness.ID(prefix)
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	var st struct{ Pid int }
	if res := r.RT("state", id); res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil {
		t.Fatalf("state: %s", res)
	}
	return id, st.Pid
}

// paProcess writes a --process file: the probe with the attributes of p.
func paProcess(t *testing.T, p specs.Process) string {
	t.Helper()
	p.Args, p.Cwd = sh(paProbe), "/"
	p.Env = []string{"PATH=/bin"}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProcAttrsExec: an exec'd process gets the container's scheduler, I/O
// priority and memory policy, or what --process gives (runc's rule: the
// container's where --process has none).
func TestProcAttrsExec(t *testing.T) {
	r := runner(t)
	id, _ := paContainer(t, r, "pa-exec", func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 3}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}
	})
	res := r.RT("exec", id, "sh", "-c", paProbe)
	if res.Code != 0 {
		t.Fatalf("exec: %s", res)
	}
	paCheck(t, "exec", paParse(t, res.Stdout), "3", "3", "idle", " bind:0 ")

	p := paProcess(t, specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedIdle, Nice: 9},
		IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 2}})
	if res = r.RT("exec", "--process", p, id); res.Code != 0 {
		t.Fatalf("exec --process: %s", res)
	}
	paCheck(t, "exec --process", paParse(t, res.Stdout), "9", "5", "best-effort: prio 2", " bind:0 ")

	p = paProcess(t, specs.Process{})
	if res = r.RT("exec", "--process", p, id); res.Code != 0 {
		t.Fatalf("exec --process without attributes: %s", res)
	}
	paCheck(t, "exec --process without attributes", paParse(t, res.Stdout), "3", "3", "idle", " bind:0 ")

	p = paProcess(t, specs.Process{Scheduler: &specs.Scheduler{Policy: "SCHED_BOGUS"}})
	res = r.RT("exec", "--process", p, id)
	if res.Code != 255 || !strings.Contains(res.Stderr, `process.scheduler.policy "SCHED_BOGUS": not a policy`) {
		t.Errorf("exec with policy SCHED_BOGUS: %s, want exit 255 naming the field", res)
	}
}

// TestExecCPUAffinity: process.execCPUAffinity of the config or of
// --process; without one, an exec'd process gets the CPUs of the
// container's cpuset, not the affinity of whoever ran rt exec.
func TestExecCPUAffinity(t *testing.T) {
	r := runner(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 online CPUs")
	}
	id, pid := paContainer(t, r, "pa-aff", func(s *specs.Spec) {
		s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "1"}
	})
	all := fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	if got := cfgValues(readFile(t, fmt.Sprintf("/proc/%d/status", pid)), ":")["Cpus_allowed_list"]; got != all {
		t.Errorf("init: Cpus_allowed_list %q, want %q (execCPUAffinity is not the init's)", got, all)
	}
	run := func(what string, taskset bool, args ...string) string {
		t.Helper()
		cmd := r.Command(append([]string{"exec"}, args...)...)
		if taskset {
			cmd = exec.Command("taskset", append([]string{"-c", "0", cmd.Path}, cmd.Args[1:]...)...)
		}
		res := r.Run(cmd)
		if res.Code != 0 {
			t.Fatalf("%s: %s", what, res)
		}
		return paParse(t, res.Stdout).cpus
	}
	if got := run("config's", false, id, "sh", "-c", paProbe); got != "1" {
		t.Errorf("exec with the config's initial 0, final 1: Cpus_allowed_list %q, want 1", got)
	}
	p := paProcess(t, specs.Process{ExecCPUAffinity: &specs.CPUAffinity{Initial: "1"}})
	if got := run("--process initial 1", false, "--process", p, id); got != "1" {
		t.Errorf("exec --process with initial 1 only: Cpus_allowed_list %q, want 1 (kept)", got)
	}
	p = paProcess(t, specs.Process{ExecCPUAffinity: &specs.CPUAffinity{}})
	if got := run("taskset -c 0 rt exec", true, "--process", p, id); got != all {
		t.Errorf("taskset -c 0 rt exec without execCPUAffinity: Cpus_allowed_list %q, want %q (the cpuset's)", got, all)
	}
	for _, tc := range []struct {
		aff  specs.CPUAffinity
		want string
	}{
		{specs.CPUAffinity{Final: "64"}, `rt: process.execCPUAffinity.final "64": sched_setaffinity: invalid argument`},
		{specs.CPUAffinity{Initial: "64"}, `rt: process.execCPUAffinity.initial "64": sched_setaffinity: invalid argument`},
		{specs.CPUAffinity{Initial: "0-x"}, `rt: process.execCPUAffinity.initial "0-x": not a CPU list: "x" is not a number`},
	} {
		p := paProcess(t, specs.Process{ExecCPUAffinity: &tc.aff})
		if res := r.RT("exec", "--process", p, id); res.Code != 255 || res.Stderr != tc.want+"\n" {
			t.Errorf("exec with %+v: %s, want exit 255 and %q", tc.aff, res, tc.want)
		}
	}
}

// TestProcAttrsRefused: what create refuses, before anything exists or
// as the kernel's verdict, in one line naming the field.
func TestProcAttrsRefused(t *testing.T) {
	r := runner(t)
	const invalid = "config.json: invalid configuration: "
	// The kernel's refusals of the reference host, and why another host
	// may accept them.
	hostAccepts := map[string]func() string{"scheduler SCHED_FIFO": paNoRTGroups, "memoryPolicy node the host lacks": paNode1}
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"scheduler policy unknown", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_BOGUS"} },
			invalid + `process.scheduler.policy "SCHED_BOGUS": not a policy (SCHED_BATCH, SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_ISO, SCHED_OTHER, SCHED_RR)`},
		{"scheduler nice 20", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 20} },
			invalid + "process.scheduler.nice 20 is out of range (-20 to 19)"},
		{"scheduler priority with SCHED_OTHER", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Priority: 5} },
			invalid + "process.scheduler.priority 5: only SCHED_FIFO and SCHED_RR have a priority"},
		// This host has real-time group scheduling: the container's
		// cpu cgroup has no real-time runtime.
		{"scheduler SCHED_FIFO", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10} },
			"rt: process.scheduler SCHED_FIFO priority 10: sched_setattr: operation not permitted (a real-time policy needs CAP_SYS_NICE"},
		{"ioPriority class unknown", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"} },
			invalid + `process.ioPriority.class "IOPRIO_CLASS_NONE": not a class (IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE, IOPRIO_CLASS_RT)`},
		{"ioPriority level 8", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, invalid + "process.ioPriority.priority 8 is out of range (0-7)"},
		{"execCPUAffinity not a list", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "x"} },
			invalid + `process.execCPUAffinity.initial "x": not a CPU list: "x" is not a number`},
		{"memoryPolicy mode unknown", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS"} },
			invalid + `linux.memoryPolicy.mode "MPOL_BOGUS": not a mode (`},
		{"memoryPolicy bind without nodes", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind} },
			invalid + "linux.memoryPolicy: MPOL_BIND needs at least one node (nodes is empty)"},
		// This host has node 0 only.
		{"memoryPolicy node the host lacks", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "1"}
		}, `rt: linux.memoryPolicy MPOL_BIND nodes "1": set_mempolicy: invalid argument (is each node online and in the container's cpuset.mems?)`},
		// This host has no resctrl (and no Intel RDT to mount it on).
		{"intelRdt without resctrl", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f"} },
			"rt: linux.intelRdt is specified in config, but Intel RDT is not enabled: no resctrl filesystem is mounted"},
		{"intelRdt closID", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "a/b"} },
			invalid + `linux.intelRdt.closID "a/b": not a resctrl group name`},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			if skip := hostAccepts[tc.name]; skip != nil {
				if why := skip(); why != "" {
					t.Skip(why)
				}
			}
			b := bundle(t, []string{"true"}, tc.edit)
			id := harness.ID("pa-refused")
			res := r.RT("create", "--bundle", b, id)
			if res.Code == 0 {
				r.RT("delete", "--force", id)
			}
			r.AssertNoTrace(t, id, b)
			failsCleanly(t, "create ("+tc.name+")", res, tc.want)
		})
	}
}
