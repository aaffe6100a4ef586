package process

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestEncodeAttrs(t *testing.T) {
	tests := []struct {
		name    string
		p       specs.Process
		l       *specs.Linux
		sched   *unix.SchedAttr
		setNice bool
		ioprio  int
		mode    int
		nodes   []uint64
	}{
		{name: "nothing"},
		{name: "batch", p: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}},
			sched: &unix.SchedAttr{Policy: 3, Nice: 5}},
		{name: "idle sets nice itself", p: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedIdle, Nice: 7}},
			sched: &unix.SchedAttr{Policy: 5, Nice: 7}, setNice: true},
		{name: "idle keeping params", p: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedIdle, Nice: 7,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagKeepParams}}},
			sched: &unix.SchedAttr{Policy: 5, Nice: 7, Flags: 0x10}},
		{name: "fifo with flags", p: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagUtilClampMin, specs.SchedFlagUtilClampMax}}},
			sched: &unix.SchedAttr{Policy: 1, Priority: 10, Flags: 0x61}, setNice: true},
		{name: "deadline", p: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 5e6, Period: 1e7,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagReclaim, specs.SchedFlagDLOverrun}}},
			sched: &unix.SchedAttr{Policy: 6, Runtime: 1e6, Deadline: 5e6, Period: 1e7, Flags: 0x6}, setNice: true},
		{name: "ioprio rt 0", p: specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT}}, ioprio: 1 << 13},
		{name: "ioprio be 5", p: specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 5}}, ioprio: 2<<13 | 5},
		{name: "ioprio idle", p: specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}}, ioprio: 3 << 13},
		{name: "bind static", l: &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0,2-3,64",
			Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes, specs.MpolFNumaBalancing}}},
			mode: 2 | 0x8000 | 0x2000, nodes: []uint64{0xd, 1}},
		{name: "local", l: &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}}, mode: 4},
		{name: "weighted interleave relative", l: &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolWeightedInterleave, Nodes: "1",
			Flags: []specs.MemoryPolicyFlagType{specs.MpolFRelativeNodes}}}, mode: 6 | 0x4000, nodes: []uint64{2}},
	}
	for _, tt := range tests {
		a, err := EncodeAttrs(&tt.p, tt.l)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (a.sched == nil) != (tt.sched == nil) || a.sched != nil && *a.sched != *tt.sched {
			t.Errorf("%s: sched_attr %+v, want %+v", tt.name, a.sched, tt.sched)
		}
		if a.setNice != tt.setNice || a.ioprio != tt.ioprio {
			t.Errorf("%s: setNice %v ioprio %#x, want %v %#x", tt.name, a.setNice, a.ioprio, tt.setNice, tt.ioprio)
		}
		wantMpol := tt.l != nil
		if a.mpol != wantMpol || a.mpolMode != tt.mode || !slices.Equal(a.nodes, tt.nodes) {
			t.Errorf("%s: mempolicy %v mode %#x nodes %#x, want %v %#x %#x", tt.name, a.mpol, a.mpolMode, a.nodes, wantMpol, tt.mode, tt.nodes)
		}
	}
}

// TestEncodeAttrsUnknown: names spec.Validate refuses cannot be encoded
// as something else either (exec's --process goes through the same
// validation, but the encoder does not rely on it).
func TestEncodeAttrsUnknown(t *testing.T) {
	for _, tc := range []struct {
		p    specs.Process
		l    *specs.Linux
		want string
	}{
		{specs.Process{Scheduler: &specs.Scheduler{Policy: "SCHED_X"}}, nil, `process.scheduler.policy "SCHED_X"`},
		{specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"F"}}}, nil, `process.scheduler.flags: "F"`},
		{specs.Process{IOPriority: &specs.LinuxIOPriority{Class: "X"}}, nil, `process.ioPriority.class "X"`},
		{specs.Process{}, &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: "M"}}, `linux.memoryPolicy.mode "M"`},
		{specs.Process{}, &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Flags: []specs.MemoryPolicyFlagType{"F"}}}, `linux.memoryPolicy.flags: "F"`},
		{specs.Process{}, &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "x"}}, `linux.memoryPolicy.nodes "x"`},
	} {
		if _, err := EncodeAttrs(&tc.p, tc.l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// onThread runs f on a thread of its own that exits afterwards, so that
// what f sets on it goes with it.
func onThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits
		f()
	}()
	<-done
}

// threadStat is fields 19 (nice) and 41 (policy) of this thread's stat.
func threadStat(t *testing.T) (nice, policy string) {
	data, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+2:])
	return f[16], f[38]
}

// TestAttrsApply sets each attribute on a thread of its own, as rt-init
// does on the thread that execs, and reads it back.
func TestAttrsApply(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (lowering nice)")
	}
	for _, tc := range []struct {
		name         string
		sched        specs.Scheduler
		nice, policy string
	}{
		{"batch", specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}, "5", "3"},
		{"idle", specs.Scheduler{Policy: specs.SchedIdle, Nice: 7}, "7", "5"},
		{"other", specs.Scheduler{Policy: specs.SchedOther, Nice: -2}, "-2", "0"},
	} {
		onThread(func() {
			unix.Setpriority(unix.PRIO_PROCESS, 0, 3) // not the config's
			p := &specs.Process{Scheduler: &tc.sched, IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}}
			l := &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}}
			a, err := EncodeAttrs(p, l)
			if err == nil {
				err = a.Apply()
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				return
			}
			if nice, policy := threadStat(t); nice != tc.nice || policy != tc.policy {
				t.Errorf("%s: nice %s policy %s, want %s %s", tc.name, nice, policy, tc.nice, tc.policy)
			}
			prio, _, e := unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(unix.Gettid()), 0)
			if e != 0 || prio != 2<<13|6 {
				t.Errorf("%s: ioprio %#x (%v), want %#x", tc.name, prio, e, 2<<13|6)
			}
			var mode int
			var mask [16]uint64
			_, _, e = unix.RawSyscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), uintptr(unsafe.Pointer(&mask[0])), 16*64, 0, 0, 0)
			if e != 0 || mode != unix.MPOL_BIND || mask[0] != 1 {
				t.Errorf("%s: mempolicy %d mask %#x (%v), want bind 0x1", tc.name, mode, mask[0], e)
			}
		})
	}
}

// TestAttrsApplyKernelErrors: what the kernel refuses comes back naming
// the field, with the reason where the errno does not say it.
func TestAttrsApplyKernelErrors(t *testing.T) {
	// A node past any this host has: every host has node 0 and few have
	// 1000 (MAX_NUMNODES is 1024 at most).
	l := &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "1000"}}
	a, err := EncodeAttrs(&specs.Process{}, l)
	if err != nil {
		t.Fatal(err)
	}
	onThread(func() { err = a.Apply() })
	want := `linux.memoryPolicy MPOL_BIND nodes "1000": set_mempolicy: invalid argument (is each node online and in the container's cpuset.mems?)`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	a, _ = EncodeAttrs(&specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedISO}}, nil)
	onThread(func() { err = a.Apply() })
	if err == nil || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "process.scheduler SCHED_ISO nice 0: sched_setattr: invalid argument (mainline Linux has no SCHED_ISO)") {
		t.Errorf("SCHED_ISO: %v", err)
	}
}

func TestExecAffinity(t *testing.T) {
	all := AllCPUs()
	if len(all) != 1025 || all[0] != ^uint64(0) || all[1024] != ^uint64(0) {
		t.Fatalf("AllCPUs: %d words", len(all))
	}
	for _, tc := range []struct {
		a    *specs.CPUAffinity
		want CPUSet
	}{
		{nil, all},
		{&specs.CPUAffinity{}, all},
		{&specs.CPUAffinity{Initial: "0"}, nil},
		{&specs.CPUAffinity{Initial: "0", Final: "1"}, CPUSet{2}},
		{&specs.CPUAffinity{Final: "0-1"}, CPUSet{3}},
	} {
		got, err := ExecAffinity(&specs.Process{ExecCPUAffinity: tc.a})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %d words %#x, %v; want %d words", tc.a, len(got), got[:min(len(got), 1)], err, len(tc.want))
		}
	}
	if _, err := ExecAffinity(&specs.Process{ExecCPUAffinity: &specs.CPUAffinity{Final: "x"}}); err == nil || !strings.Contains(err.Error(), `process.execCPUAffinity.final "x"`) {
		t.Errorf("bad final: %v", err)
	}
}

func TestCPUSetSetThread(t *testing.T) {
	var start unix.CPUSet
	if err := unix.SchedGetaffinity(0, &start); err != nil {
		t.Fatal(err)
	}
	onThread(func() {
		if err := (CPUSet{1}).SetThread(); err != nil {
			t.Fatal(err)
		}
		var got unix.CPUSet
		if err := unix.SchedGetaffinity(0, &got); err != nil || got.Count() != 1 || !got.IsSet(0) {
			t.Errorf("affinity after CPUSet{1}: %d CPUs, %v", got.Count(), err)
		}
		if err := AllCPUs().SetThread(); err != nil {
			t.Fatal(err)
		}
		var back unix.CPUSet
		unix.SchedGetaffinity(0, &back)
		if back != start {
			t.Errorf("affinity after AllCPUs: %d CPUs, want the %d of the cpuset", back.Count(), start.Count())
		}
		// No CPU of this host: the kernel refuses.
		if err := (CPUSet{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}).SetThread(); !errors.Is(err, unix.EINVAL) {
			t.Errorf("affinity to CPU 1024: %v, want EINVAL", err)
		}
		if err := (CPUSet{}).SetThread(); err == nil {
			t.Error("empty set accepted")
		}
	})
}

// TestSchedHint: the reasons added to the kernel's EPERM, EBUSY and
// EINVAL, each only for the policy (or nice) it explains.
func TestSchedHint(t *testing.T) {
	for _, tc := range []struct {
		s     specs.Scheduler
		errno unix.Errno
		want  string
	}{
		{specs.Scheduler{Policy: specs.SchedFIFO, Priority: 1}, unix.EPERM, "operation not permitted (a real-time policy needs CAP_SYS_NICE"},
		{specs.Scheduler{Policy: specs.SchedRR, Priority: 1}, unix.EINVAL, "invalid argument"},
		{specs.Scheduler{Policy: specs.SchedDeadline}, unix.EPERM, "operation not permitted (SCHED_DEADLINE needs CAP_SYS_NICE in the host's user namespace and a CPU affinity spanning"},
		{specs.Scheduler{Policy: specs.SchedDeadline}, unix.EBUSY, "device or resource busy (the deadline bandwidth left on these CPUs is too small)"},
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: -1}, unix.EPERM, "operation not permitted (a nice below 0 needs CAP_SYS_NICE in the host's user namespace)"},
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 1}, unix.EPERM, "operation not permitted"},
	} {
		a, err := EncodeAttrs(&specs.Process{Scheduler: &tc.s}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := a.schedHint(tc.errno)
		if !errors.Is(got, tc.errno) || !strings.HasPrefix(got.Error(), tc.want) || (!strings.Contains(tc.want, "(") && got.Error() != tc.want) {
			t.Errorf("%+v %v: %q, want %q", tc.s, tc.errno, got, tc.want)
		}
	}
}
