package resources_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestMemoryLimitOOMKillsHogAndEventsReportsIt: memory.limit lands in
// memory.limit_in_bytes; a process that eats memory in the container is
// OOM-killed at the limit while the container lives on, and a streaming
// `events` prints {"type":"oom","id":ID}.
func TestMemoryLimitOOMKillsHogAndEventsReportsIt(t *testing.T) {
	t.Parallel()
	r := runner(t)
	c := start(t, r, "oom", []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: mib(32)},
	}))
	c.wantFile(t, "memory", "memory.limit_in_bytes", itoa(32<<20))

	es := events(t, r, c.ID, "--interval", "1s")
	// The first stats line comes after the OOM listener is registered.
	if ev, line, ok := es.next(t, 10*time.Second); !ok || ev.Type != "stats" {
		t.Fatalf("events: first line %q, want a stats event (stderr %q)", line, es.stderr.String())
	}
	res := c.exec("tail", "/dev/zero")
	if res.Code != 137 {
		t.Errorf("exec tail /dev/zero under a 32 MiB limit: %s, want exit 137 (SIGKILL by the OOM killer)", res)
	}
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case <-deadline:
			t.Fatalf("events: no oom event within 10s of the OOM kill (oom_control: %q)", c.read(t, "memory", "memory.oom_control"))
		default:
		}
		ev, line, ok := es.next(t, time.Second)
		if !ok {
			continue
		}
		if ev.Type == "oom" {
			if ev.ID != c.ID {
				t.Errorf("oom event %s, want id %q", line, c.ID)
			}
			got = true
		}
	}
	if kills := keyed(c.read(t, "memory", "memory.oom_control"))["oom_kill"]; kills == "" || kills == "0" {
		t.Errorf("memory.oom_control oom_kill = %q, want at least 1", kills)
	}
	if st := state(t, r, c.ID); st.Status != "running" {
		t.Errorf("the container's init died with the hog: status %s", st.Status)
	}
}

// TestMemoryReservationSwapSwappinessDisableOOMKillerLand: every other
// memory field lands in its v1 file, and with the OOM killer disabled a
// hog is stopped at the limit (under_oom 1) instead of killed.
func TestMemoryReservationSwapSwappinessDisableOOMKillerLand(t *testing.T) {
	t.Parallel()
	r := runner(t)
	_, memswErr := os.Stat(filepath.Join(cgRoot, "memory", "memory.memsw.limit_in_bytes"))
	mem := &specs.LinuxMemory{
		Limit:            mib(32),
		Reservation:      mib(16),
		Swappiness:       u64(10),
		DisableOOMKiller: boolp(true),
	}
	if memswErr == nil {
		mem.Swap = mib(48)
	}
	c := start(t, r, "mem", []string{"sleep", "1000"}, withResources(specs.LinuxResources{Memory: mem}))
	c.wantFile(t, "memory", "memory.limit_in_bytes", itoa(32<<20))
	c.wantFile(t, "memory", "memory.soft_limit_in_bytes", itoa(16<<20))
	c.wantFile(t, "memory", "memory.swappiness", "10")
	if memswErr == nil {
		c.wantFile(t, "memory", "memory.memsw.limit_in_bytes", itoa(48<<20))
	} else {
		t.Logf("no swap accounting (memory.memsw.limit_in_bytes: %v): swap not checked", memswErr)
	}
	if oc := keyed(c.read(t, "memory", "memory.oom_control")); oc["oom_kill_disable"] != "1" {
		t.Fatalf("memory.oom_control: %v, want oom_kill_disable 1", oc)
	}
	// The hog waits at the limit: nothing is killed. (Its memory must be
	// touched from user space: a read(2) into untouched pages, as tail
	// /dev/zero does, fails with EFAULT instead of waiting.)
	if res := r.RT("exec", "-d", c.ID, "awk", `BEGIN { s = "a"; while (1) s = s s }`); res.Code != 0 {
		t.Fatalf("exec -d awk hog: %s", res)
	}
	waitFor(t, "the hog reaches the limit (under_oom 1)", func() bool {
		return keyed(c.read(t, "memory", "memory.oom_control"))["under_oom"] == "1"
	})
	time.Sleep(200 * time.Millisecond)
	oc := keyed(c.read(t, "memory", "memory.oom_control"))
	if oc["oom_kill"] != "0" {
		t.Errorf("memory.oom_control %v: a process was killed with disableOOMKiller", oc)
	}
	if procs := lines(c.read(t, "memory", "cgroup.procs")); len(procs) != 2 {
		t.Errorf("cgroup.procs %v, want the init and the waiting hog", procs)
	}
	// Cleanup's delete --force must get rid of a process stuck in OOM.
}

// TestCPUSharesQuotaPeriodBurstRealtimeLandAndThrottle: the cpu fields land
// in cpu.shares, cpu.cfs_{quota,period,burst}_us and cpu.rt_*_us, and a busy
// loop under a 20% quota is throttled.
func TestCPUSharesQuotaPeriodBurstRealtimeLandAndThrottle(t *testing.T) {
	t.Parallel()
	r := runner(t)
	cpu := &specs.LinuxCPU{Shares: u64(512), Quota: i64(20000), Period: u64(100000), Burst: u64(5000)}
	hasBurst := exists(filepath.Join(cgRoot, "cpu", "cpu.cfs_burst_us"))
	if !hasBurst {
		cpu.Burst = nil
	}
	hasRT := exists(filepath.Join(cgRoot, "cpu", "cpu.rt_runtime_us"))
	if hasRT {
		cpu.RealtimeRuntime, cpu.RealtimePeriod = i64(10000), u64(1000000)
	}
	c := start(t, r, "cpu", sh("while :; do :; done"), withResources(specs.LinuxResources{CPU: cpu}))
	c.wantFile(t, "cpu", "cpu.shares", "512")
	c.wantFile(t, "cpu", "cpu.cfs_quota_us", "20000")
	c.wantFile(t, "cpu", "cpu.cfs_period_us", "100000")
	if hasBurst {
		c.wantFile(t, "cpu", "cpu.cfs_burst_us", "5000")
	} else {
		t.Log("no cpu.cfs_burst_us on this kernel: burst not checked")
	}
	if hasRT {
		c.wantFile(t, "cpu", "cpu.rt_runtime_us", "10000")
		c.wantFile(t, "cpu", "cpu.rt_period_us", "1000000")
	} else {
		t.Log("no realtime group scheduling on this kernel: realtime not checked")
	}
	waitFor(t, "the busy loop is throttled (cpu.stat nr_throttled > 0)", func() bool {
		v := keyed(c.read(t, "cpu", "cpu.stat"))["nr_throttled"]
		return v != "" && v != "0"
	})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestCpusetCpusMemsLandAndConfine: cpu.cpus and cpu.mems land in
// cpuset.cpus and cpuset.mems, and a process in the container may run on
// those CPUs only.
func TestCpusetCpusMemsLandAndConfine(t *testing.T) {
	t.Parallel()
	r := runner(t)
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Skip(err)
	}
	// The last online CPU: on a host with several, not the whole set.
	list := trim(string(online))
	last := list[strings.LastIndexAny(list, ",-")+1:]
	c := start(t, r, "cpuset", []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		CPU: &specs.LinuxCPU{Cpus: last, Mems: "0"},
	}))
	c.wantFile(t, "cpuset", "cpuset.cpus", last)
	c.wantFile(t, "cpuset", "cpuset.mems", "0")
	status := keyedColon(c.mustExec(t, "cat", "/proc/self/status"))
	if status["Cpus_allowed_list"] != last || status["Mems_allowed_list"] != "0" {
		t.Errorf("inside: Cpus_allowed_list %q Mems_allowed_list %q, want %q and 0",
			status["Cpus_allowed_list"], status["Mems_allowed_list"], last)
	}
}

// keyedColon parses "key:\tvalue" lines (/proc/<pid>/status).
func keyedColon(text string) map[string]string {
	out := map[string]string{}
	for _, l := range lines(text) {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = trim(v)
		}
	}
	return out
}

// TestPidsLimitStopsForkBomb: pids.limit lands in pids.max; a fork bomb
// never has more tasks than that, is refused forks (pids.events), and the
// container is still deleted with nothing left.
func TestPidsLimitStopsForkBomb(t *testing.T) {
	t.Parallel()
	r := runner(t)
	const limit = 16
	c := start(t, r, "pids", []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		Pids: &specs.LinuxPids{Limit: i64(limit)},
	}))
	c.wantFile(t, "pids", "pids.max", itoa(limit))
	// busybox sh exits when a fork fails, so the bomb stops at the first
	// refusal with its sleeps left. (Only one bomb: the limit refuses
	// forks, not joins, so an exec into a full cgroup goes above it, with
	// runc as with rt: that is the kernel's pids controller.)
	if res := r.RT("exec", "-d", c.ID, "sh", "-c", "exec 2>/dev/null; while :; do sleep 100 & done"); res.Code != 0 {
		t.Fatalf("exec -d fork bomb: %s", res)
	}
	max := int64(0)
	reached := time.Time{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n := c.int(t, "pids", "pids.current")
		if n > max {
			max = n
		}
		if n == limit && reached.IsZero() {
			reached = time.Now()
		}
		// Keep watching a while after the limit is reached.
		if !reached.IsZero() && time.Since(reached) > 500*time.Millisecond {
			break
		}
	}
	if max > limit {
		t.Errorf("pids.current reached %d, above pids.max %d", max, limit)
	}
	if reached.IsZero() {
		t.Errorf("the fork bomb never reached the limit %d (max %d)", limit, max)
	}
	if ev := keyed(c.read(t, "pids", "pids.events"))["max"]; ev == "" || ev == "0" {
		t.Errorf("pids.events max = %q: no fork was refused", ev)
	}
	if st := state(t, r, c.ID); st.Status != "running" {
		t.Errorf("the container's init did not survive the fork bomb: %s", st.Status)
	}
	started := time.Now()
	if res := r.RT("delete", "--force", c.ID); res.Code != 0 {
		t.Fatalf("delete --force of the fork bomb: %s", res)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("delete --force took %s", d)
	}
	r.AssertNoTrace(t, c.ID, c.Bundle)
}

// TestBlkioWeightAndThrottleReadBpsLandAndThrottle: blockIO.weight lands in
// blkio.weight (CFQ) or blkio.bfq.weight (BFQ), and
// throttleReadBpsDevice on the disk of the bundle lands in
// blkio.throttle.read_bps_device and slows direct reads down; an update to
// rate 0 lifts it.
func TestBlkioWeightAndThrottleReadBpsLandAndThrottle(t *testing.T) {
	t.Parallel()
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	disk := rootDisk(t, b)
	var major, minor int64
	fmt.Sscanf(disk, "%d:%d", &major, &minor)
	const rate = 4 << 20
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs/big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	weightFile := blkioWeightFile(t)
	res := specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: rate}},
	}}
	if weightFile != "" {
		res.BlockIO.Weight = u16(500)
	}
	harness.EditConfig(t, b, withResources(res))
	c := startBundle(t, r, "blkio", b)
	c.wantFile(t, "blkio", "blkio.throttle.read_bps_device", fmt.Sprintf("%s %d", disk, rate))
	switch weightFile {
	case "":
		t.Log("no blkio.weight or blkio.bfq.weight on this host: weight not checked")
	case "blkio.weight":
		c.wantFile(t, "blkio", "blkio.weight", "500")
	default:
		// BFQ shows "default <weight>" on some kernels.
		if got := c.read(t, "blkio", weightFile); got != "500" && got != "default 500" {
			t.Errorf("blkio/%s = %q, want 500", weightFile, got)
		}
	}
	read := func() time.Duration {
		t.Helper()
		begin := time.Now()
		c.mustExec(t, "dd", "if=/big", "of=/dev/null", "bs=256k", "iflag=direct")
		return time.Since(begin)
	}
	// 4 MiB at 4 MiB/s: about a second, less what the first slice lets
	// through.
	throttled := read()
	if throttled < 500*time.Millisecond {
		t.Errorf("4 MiB direct read at %d B/s took %s, want at least 500ms", rate, throttled)
	}
	if res := rtStdin(t, r, fmt.Sprintf(`{"blockIO":{"throttleReadBpsDevice":[{"major":%d,"minor":%d,"rate":0}]}}`, major, minor),
		"update", "--resources", "-", c.ID); res.Code != 0 {
		t.Fatalf("update rate 0: %s", res)
	}
	if got := c.read(t, "blkio", "blkio.throttle.read_bps_device"); got != "" {
		t.Errorf("blkio.throttle.read_bps_device after rate 0: %q, want empty", got)
	}
	if free := read(); free > throttled/2 {
		t.Errorf("direct read without the limit took %s, throttled %s: the limit did not slow it down", free, throttled)
	}
}

// blkioWeightFile is the weight file a new blkio cgroup has, blkio.weight
// (CFQ) or blkio.bfq.weight (BFQ), or "" if neither: the top directory has
// neither, so a probe directory is made and removed.
func blkioWeightFile(t *testing.T) string {
	t.Helper()
	probe := filepath.Join(cgRoot, "blkio", fmt.Sprintf("rt-test-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if exists(filepath.Join(probe, f)) {
			return f
		}
	}
	return ""
}

// TestPidsLimitBelowInitThreadsStillRuns: a pids.limit smaller than the
// threads the runtime's own init needs (1 here) still gives a running
// container whose pids.max reads the limit, as runc does: runc writes the
// limits when its init is ready, once its threads exist. Whether rt's
// init gets its threads first is a race, so the run is repeated.
func TestPidsLimitBelowInitThreadsStillRuns(t *testing.T) {
	t.Parallel()
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, withResources(specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}}))
	failed, failures := "", 0
	const runs = 8
	for range runs {
		id := harness.ID("pids1")
		pathForCompare(t, b, id)
		res := r.RT("run", "-d", "--bundle", b, id)
		if res.Code != 0 {
			failures++
			failed, _, _ = strings.Cut(res.Stderr, "\n")
		} else {
			if got := trim(readFileT(t, filepath.Join(cgRoot, "pids", id, "pids.max"))); got != "1" {
				t.Errorf("pids.max = %q, want 1", got)
			}
			if st := state(t, r, id); st.Status != "running" {
				t.Errorf("status %s, want running", st.Status)
			}
			if res := r.RT("delete", "--force", id); res.Code != 0 {
				t.Errorf("delete --force: %s", res)
			}
		}
		r.AssertNoTrace(t, id, b)
	}
	if failures > 0 {
		bug(t, fmt.Sprintf("rt run with linux.resources.pids.limit 1 (anything below ~5) fails in %d of %d runs here: "+
			"rt-init's Go runtime crashes with a ~100-line goroutine dump on stderr (\"runtime/cgo: pthread_create failed: "+
			"Resource temporarily unavailable\" ... \"rt: container init: read init: connection reset by peer\"), exit 1. "+
			"pkg/runtime/create.go runs cg.Set(containerResources(s)) right after cg.Apply(pid), racing rt-init's Go runtime "+
			"starting its threads, which pids.max then refuses. runc 1.1.5 runs the same bundle every time (it Sets the "+
			"limits once its init is ready). Fix: write pids.max (or all of Set, as runc) after MsgReady, when the init's "+
			"threads exist. First stderr line: %s", failures, runs, failed))
		t.Errorf("run -d with pids.limit 1 failed in %d of %d runs: %s", failures, runs, failed)
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// capMknod adds CAP_MKNOD to the process, so that the test can make a
// device node the cgroup must then refuse to open.
func capMknod(s *specs.Spec) {
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_MKNOD")
	c.Effective = append(c.Effective, "CAP_MKNOD")
	c.Permitted = append(c.Permitted, "CAP_MKNOD")
}

// TestDevicesRulesLandAndGateOpen: the device rules land in devices.list
// (the spec's, then runc's defaults) and decide what a process may open.
// /dev/kmsg's numbers (c 1:11) are in no default rule: a node made with
// mknod inside the container cannot be opened under the default spec's
// deny-all (EPERM) while /dev/null can; an allow rule for it in the spec
// lets it be written; a deny rule after an allow-all refuses it again.
func TestDevicesRulesLandAndGateOpen(t *testing.T) {
	t.Parallel()
	r := runner(t)
	const (
		mknod  = "mknod /dev/k c 1 11 && "
		writeK = "echo rt-test-devices > /dev/k"
	)
	check := func(t *testing.T, c *container, wantK bool) {
		t.Helper()
		res := c.exec("sh", "-c", mknod+writeK)
		switch {
		case wantK && res.Code != 0:
			t.Errorf("write to c 1:11: %s, want it allowed", res)
		case !wantK && (res.Code == 0 || !strings.Contains(res.Stderr, "Operation not permitted")):
			t.Errorf("write to c 1:11: %s, want EPERM (Operation not permitted)", res)
		}
		if res := c.exec("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"); res.Code != 0 || trim(res.Stdout) != "4" {
			t.Errorf("/dev/null and /dev/zero: %s, want both usable", res)
		}
	}
	t.Run("default deny-all", func(t *testing.T) {
		c := start(t, r, "devdeny", []string{"sleep", "1000"}, capMknod)
		list := lines(c.read(t, "devices", "devices.list"))
		if !contains(list, "c 1:3 rwm") || !contains(list, "c *:* m") || contains(list, "c 1:11 rwm") || contains(list, "a *:* rwm") {
			t.Errorf("devices.list %q: want the default rules (c 1:3 rwm, c *:* m …) and nothing for c 1:11", list)
		}
		check(t, c, false)
	})
	t.Run("allow c 1:11", func(t *testing.T) {
		c := start(t, r, "devallow", []string{"sleep", "1000"}, func(s *specs.Spec) {
			capMknod(s)
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: i64(1), Minor: i64(11), Access: "w"},
			}
		})
		if list := lines(c.read(t, "devices", "devices.list")); !contains(list, "c 1:11 w") {
			t.Errorf("devices.list %q: want c 1:11 w", list)
		}
		check(t, c, true)
	})
	t.Run("allow-all then deny c 1:11", func(t *testing.T) {
		c := start(t, r, "devallowall", []string{"sleep", "1000"}, func(s *specs.Spec) {
			capMknod(s)
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{
				{Allow: true, Access: "rwm"},
				{Allow: false, Type: "c", Major: i64(1), Minor: i64(11), Access: "rwm"},
			}
		})
		// A default-allow cgroup lists only "a *:* rwm"; its exceptions
		// are not shown.
		if list := lines(c.read(t, "devices", "devices.list")); !contains(list, "a *:* rwm") {
			t.Errorf("devices.list %q: want a *:* rwm", list)
		}
		check(t, c, false)
	})
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestUnsupportedFieldsFailCreate: each field this host has no controller
// or file for makes create fail: exit 1, one stderr line naming the field,
// nothing left behind.
func TestUnsupportedFieldsFailCreate(t *testing.T) {
	t.Parallel()
	r := runner(t)
	cases := []struct {
		name, field string
		res         specs.LinuxResources
		// skip says why the host could apply the field after all.
		skip func() string
	}{
		{"network classID", "linux.resources.network.classID",
			specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(0x100001)}},
			hasHierarchy("net_cls")},
		{"network priorities", "linux.resources.network.priorities",
			specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}},
			hasHierarchy("net_prio")},
		{"rdma", "linux.resources.rdma",
			specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: u32(3)}}},
			hasHierarchy("rdma")},
		{"hugepageLimits", "linux.resources.hugepageLimits",
			specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}},
			hasHierarchy("hugetlb")},
		{"unified on a hybrid host", `linux.resources.unified["memory.max"]`,
			specs.LinuxResources{Unified: map[string]string{"memory.max": "67108864"}},
			unifiedHasMemory},
		{"blockIO.leafWeight", "linux.resources.blockIO.leafWeight",
			specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(500)}},
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != nil {
				if why := tc.skip(); why != "" {
					t.Skip(why)
				}
			}
			b := bundle(t, []string{"sleep", "1000"}, withResources(tc.res))
			id := harness.ID("unsup")
			res := r.RT("create", "--bundle", b, id)
			if res.Code != 1 || res.Stdout != "" || strings.Count(res.Stderr, "\n") != 1 || !strings.Contains(res.Stderr, tc.field) {
				t.Errorf("create: %s, want exit 1 and one stderr line naming %s", res, tc.field)
			}
			if res.Code == 0 {
				r.RT("delete", "--force", id)
			}
			r.AssertNoTrace(t, id, b)
		})
	}
}

// hasHierarchy returns a skip reason if a v1 hierarchy of ctrl is mounted.
func hasHierarchy(ctrl string) func() string {
	return func() string {
		if exists(filepath.Join(cgRoot, ctrl, "cgroup.procs")) {
			return "the host has a " + ctrl + " hierarchy: the field can be applied"
		}
		return ""
	}
}

func unifiedHasMemory() string {
	data, _ := os.ReadFile(filepath.Join(cgRoot, "unified", "cgroup.subtree_control"))
	if strings.Contains(string(data), "memory") {
		return "the hybrid host's cgroup2 has the memory controller"
	}
	if !exists(filepath.Join(cgRoot, "unified")) {
		return "no cgroup2 mount at " + cgRoot + "/unified"
	}
	return ""
}

// TestOOMKilledInitIsReportedBeforeEventsEnds: when the container's own
// process is the one OOM-killed, the container stops, and the streaming
// `events` prints the oom event before it ends.
func TestOOMKilledInitIsReportedBeforeEventsEnds(t *testing.T) {
	t.Parallel()
	r := runner(t)
	c := start(t, r, "oominit", sh("sleep 0.5; exec tail /dev/zero"), withResources(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: mib(32)},
	}))
	es := events(t, r, c.ID, "--interval", "1s")
	oom := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		ev, line, ok := es.next(t, time.Second)
		if ok && ev.Type == "oom" {
			if ev.ID != c.ID {
				t.Errorf("oom event %s, want id %s", line, c.ID)
			}
			oom = true
		}
		if !ok && isDone(es) {
			break
		}
	}
	select {
	case <-es.Done:
	case <-time.After(5 * time.Second):
		t.Fatal("events still runs after its container was OOM-killed")
	}
	if !oom {
		t.Errorf("events ended without an oom event (oom_control %q)", c.read(t, "memory", "memory.oom_control"))
	}
	if st := state(t, r, c.ID); st.Status != "stopped" {
		t.Errorf("status %s after the init was OOM-killed, want stopped", st.Status)
	}
}

// TestUnifiedCgroupKeyOnHybridLands: on a hybrid host the cgroup2 mount has
// no controllers, but its cgroup.* files are the container's own:
// linux.resources.unified with such a key lands in the container's
// directory of the unified mount.
func TestUnifiedCgroupKeyOnHybridLands(t *testing.T) {
	t.Parallel()
	r := runner(t)
	if !exists(filepath.Join(cgRoot, "unified", "cgroup.procs")) {
		t.Skip("no cgroup2 mount at " + cgRoot + "/unified")
	}
	c := start(t, r, "unified", []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		Unified: map[string]string{"cgroup.max.descendants": "5"},
	}))
	c.wantFile(t, "unified", "cgroup.max.descendants", "5")
}

// isDone reports whether the events command has exited.
func isDone(es *eventStream) bool {
	select {
	case <-es.Done:
		return true
	default:
		return false
	}
}
