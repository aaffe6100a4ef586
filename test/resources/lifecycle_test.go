package resources_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rtkit/rt/test/harness"
)

// counter starts a container that counts into /out/c, /out being a host
// directory it returns; read gives the last count.
func counter(t *testing.T, r *harness.Runner, prefix string) (c *container, read func() int) {
	t.Helper()
	out := t.TempDir()
	c = start(t, r, prefix, sh("i=0; while :; do i=$((i+1)); echo $i > /out/c.new; mv /out/c.new /out/c; sleep 0.01; done"),
		func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})
		})
	read = func() int {
		data, _ := os.ReadFile(filepath.Join(out, "c"))
		n, _ := strconv.Atoi(trim(string(data)))
		return n
	}
	waitFor(t, "the container counts", func() bool { return read() > 3 })
	return c, read
}

// TestPauseFreezesResumeThawsDeleteRefusedKillAndForceWork: a paused
// container's process stops counting and state and list say "paused"; it
// can be updated and measured; delete without --force is refused; resume makes it count again; kill
// KILL of a paused container stops it; delete --force of a paused one
// leaves nothing.
func TestPauseFreezesResumeThawsDeleteRefusedKillAndForceWork(t *testing.T) {
	t.Parallel()
	r := runner(t)
	c, read := counter(t, r, "pause")
	if res := r.RT("pause", c.ID); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("pause: %s", res)
	}
	if st := state(t, r, c.ID); st.Status != "paused" {
		t.Errorf("state after pause: %s, want paused", st.Status)
	}
	if s := listStatus(t, r, c.ID); s != "paused" {
		t.Errorf("list after pause: %s, want paused", s)
	}
	if got := c.read(t, "freezer", "freezer.state"); got != "FROZEN" {
		t.Errorf("freezer.state %q, want FROZEN", got)
	}
	frozen := read()
	time.Sleep(300 * time.Millisecond)
	if n := read(); n != frozen {
		t.Errorf("the count went from %d to %d while paused", frozen, n)
	}
	if res := r.RT("pause", c.ID); res.Code == 0 {
		t.Errorf("pause of a paused container: %s, want an error", res)
	}
	// A paused container can still be updated and measured.
	if res := r.RT("update", "--pids-limit", "77", c.ID); res.Code != 0 {
		t.Errorf("update of a paused container: %s", res)
	} else {
		c.wantFile(t, "pids", "pids.max", "77")
	}
	if res := r.RT("events", "--stats", c.ID); res.Code != 0 || !strings.Contains(res.Stdout, `"type":"stats"`) {
		t.Errorf("events --stats of a paused container: %s", res)
	}
	if res := r.RT("delete", c.ID); res.Code != 1 || !strings.Contains(res.Stderr, "paused") {
		t.Errorf("delete of a paused container: %s, want exit 1 saying it is paused", res)
	}
	if st := state(t, r, c.ID); st.Status != "paused" {
		t.Errorf("state after the refused delete: %s, want paused", st.Status)
	}
	if res := r.RT("resume", c.ID); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("resume: %s", res)
	}
	if st := state(t, r, c.ID); st.Status != "running" {
		t.Errorf("state after resume: %s, want running", st.Status)
	}
	waitFor(t, "the count goes on after resume", func() bool { return read() > frozen+3 })
	if res := r.RT("resume", c.ID); res.Code == 0 {
		t.Errorf("resume of a running container: %s, want an error", res)
	}

	// kill KILL of a paused container.
	if res := r.RT("pause", c.ID); res.Code != 0 {
		t.Fatalf("pause: %s", res)
	}
	if res := r.RT("kill", c.ID, "KILL"); res.Code != 0 {
		t.Fatalf("kill KILL of a paused container: %s", res)
	}
	waitFor(t, "the killed paused container stops", func() bool { return state(t, r, c.ID).Status == "stopped" })
	if res := r.RT("delete", c.ID); res.Code != 0 {
		t.Errorf("delete of the stopped container: %s", res)
	}
	r.AssertNoTrace(t, c.ID, c.Bundle)

	// delete --force of a paused container.
	c2, _ := counter(t, r, "pauseforce")
	if res := r.RT("pause", c2.ID); res.Code != 0 {
		t.Fatalf("pause: %s", res)
	}
	if res := r.RT("delete", "--force", c2.ID); res.Code != 0 {
		t.Fatalf("delete --force of a paused container: %s", res)
	}
	r.AssertNoTrace(t, c2.ID, c2.Bundle)
}

// TestPSListsInitAndExecdProcess: `ps --format json` prints the host pids
// of the init and of an exec'd process and nothing else; `ps ID` is ps -ef's
// header and the container's lines only; options after the id go to ps.
func TestPSListsInitAndExecdProcess(t *testing.T) {
	t.Parallel()
	r := runner(t)
	c := start(t, r, "ps", []string{"sleep", "1000"}, nil)
	if res := r.RT("exec", "-d", c.ID, "sleep", "999"); res.Code != 0 {
		t.Fatalf("exec -d sleep 999: %s", res)
	}
	var pids []int
	waitFor(t, "ps --format json lists two processes", func() bool {
		res := r.RT("ps", "--format", "json", c.ID)
		if res.Code != 0 || res.Stderr != "" {
			t.Fatalf("ps --format json: %s", res)
		}
		pids = nil
		if err := json.Unmarshal([]byte(res.Stdout), &pids); err != nil {
			t.Fatalf("ps --format json: %q is not a JSON array of pids: %v", res.Stdout, err)
		}
		return len(pids) == 2
	})
	slices.Sort(pids)
	if !slices.Contains(pids, c.Pid) {
		t.Errorf("ps --format json %v: no init %d", pids, c.Pid)
	}
	var execd int
	for _, p := range pids {
		if p != c.Pid {
			execd = p
		}
	}
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(execd) + "/cmdline"); string(cmdline) != "sleep\x00999\x00" {
		t.Errorf("pid %d has cmdline %q, want the exec'd sleep 999", execd, cmdline)
	}

	res := r.RT("ps", c.ID)
	ls := lines(res.Stdout)
	if res.Code != 0 || res.Stderr != "" || len(ls) != 3 {
		t.Fatalf("ps: %s, want the header and two lines", res)
	}
	if h := strings.Fields(ls[0]); !slices.Contains(h, "PID") || !slices.Contains(h, "CMD") || !slices.Contains(h, "UID") {
		t.Errorf("ps header %q, want ps -ef's", ls[0])
	}
	var seen []int
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			t.Fatalf("ps line %q", l)
		}
		p, _ := strconv.Atoi(f[1])
		seen = append(seen, p)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, pids) {
		t.Errorf("ps lists pids %v, want %v:\n%s", seen, pids, res.Stdout)
	}

	res = r.RT("ps", c.ID, "-o", "pid,comm")
	ls = lines(res.Stdout)
	if res.Code != 0 || len(ls) != 3 || strings.Join(strings.Fields(ls[0]), " ") != "PID COMMAND" {
		t.Fatalf("ps -o pid,comm: %s, want header PID COMMAND and two lines", res)
	}
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		p, _ := strconv.Atoi(f[0])
		if len(f) != 2 || f[1] != "sleep" || !slices.Contains(pids, p) {
			t.Errorf("ps -o pid,comm line %q, want a container pid and sleep", l)
		}
	}
}

// stats is the part of events' stats data the tests read.
type stats struct {
	CPU struct {
		Usage struct {
			Total uint64 `json:"total"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage uint64 `json:"usage"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
	} `json:"pids"`
}

// TestEventsStatsAndStreamEndsAtExit: `events --stats` prints one stats
// object with CPU time, memory use and a pid count; `events --interval
// 200ms` prints stats lines until the container is killed, then ends by
// itself.
func TestEventsStatsAndStreamEndsAtExit(t *testing.T) {
	t.Parallel()
	r := runner(t)
	c := start(t, r, "events", sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000"), nil)
	waitFor(t, "the init is done computing", func() bool {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/comm")
		return trim(string(data)) == "sleep"
	})
	res := r.RT("events", "--stats", c.ID)
	ls := lines(res.Stdout)
	if res.Code != 0 || res.Stderr != "" || len(ls) != 1 {
		t.Fatalf("events --stats: %s, want one line", res)
	}
	var ev event
	if err := json.Unmarshal([]byte(ls[0]), &ev); err != nil || ev.Type != "stats" || ev.ID != c.ID {
		t.Fatalf("events --stats: %q, want {type: stats, id: %s, data} (%v)", ls[0], c.ID, err)
	}
	var s stats
	if err := json.Unmarshal(ev.Data, &s); err != nil {
		t.Fatalf("events --stats data: %v", err)
	}
	if s.CPU.Usage.Total == 0 || s.Memory.Usage.Usage == 0 || s.Pids.Current < 1 {
		t.Errorf("events --stats: cpu.usage.total %d, memory.usage.usage %d, pids.current %d; want all above 0",
			s.CPU.Usage.Total, s.Memory.Usage.Usage, s.Pids.Current)
	}

	es := events(t, r, c.ID, "--interval", "200ms")
	n := 0
	for deadline := time.Now().Add(5 * time.Second); n < 3 && time.Now().Before(deadline); {
		if ev, line, ok := es.next(t, time.Second); ok {
			if ev.Type != "stats" || ev.ID != c.ID {
				t.Errorf("events: %q, want stats of %s", line, c.ID)
			}
			n++
		}
	}
	if n < 3 {
		t.Fatalf("events --interval 200ms: %d stats lines in 5s, want 3 (stderr %q)", n, es.stderr.String())
	}
	if res := r.RT("kill", c.ID, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	select {
	case <-es.Done:
		if es.Err != nil {
			t.Errorf("events ended with %v after the container exited (stderr %q)", es.Err, es.stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("events still runs 5s after the container was killed")
	}
}

// TestFeaturesReportsCgroupDrivers: features says v1, v2 and the systemd
// driver are supported (built in, as the features spec means it: create
// refuses --systemd-cgroup where systemd is not init), and systemdUser not.
func TestFeaturesReportsCgroupDrivers(t *testing.T) {
	t.Parallel()
	r := runner(t)
	res := r.RT("features")
	var f features.Features
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &f) != nil {
		t.Fatalf("features: %s", res)
	}
	if f.Linux == nil || f.Linux.Cgroup == nil {
		t.Fatalf("features: no linux.cgroup: %s", res.Stdout)
	}
	cg := f.Linux.Cgroup
	is := func(b *bool, want bool) bool { return b != nil && *b == want }
	if !is(cg.V1, true) || !is(cg.V2, true) || !is(cg.Systemd, true) || !is(cg.SystemdUser, false) {
		data, _ := json.Marshal(cg)
		t.Errorf("features linux.cgroup = %s, want v1, v2 and systemd true, systemdUser false", data)
	}
}

// TestNoCgroupLeftAfter200CreateDeleteCycles: creating and force-deleting
// a container with memory, pids and cpu limits 200 times leaves no cgroup
// directory and no state behind.
func TestNoCgroupLeftAfter200CreateDeleteCycles(t *testing.T) {
	t.Parallel()
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: mib(64)},
		Pids:   &specs.LinuxPids{Limit: i64(64)},
		CPU:    &specs.LinuxCPU{Shares: u64(256)},
	}))
	prefix := harness.ID("leak") + "-"
	before := len(cgDirsNamed(prefix))
	for i := range 200 {
		id := prefix + strconv.Itoa(i)
		if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
			t.Fatalf("cycle %d: create: %s", i, res)
		}
		if i == 0 {
			// The limits are there, so the cycle exercises them.
			if data, _ := os.ReadFile(filepath.Join(cgRoot, "pids", id, "pids.max")); trim(string(data)) != "64" {
				t.Fatalf("pids.max of the first container: %q", data)
			}
		}
		if res := r.RT("delete", "--force", id); res.Code != 0 {
			t.Fatalf("cycle %d: delete --force: %s", i, res)
		}
	}
	if left := cgDirsNamed(prefix); len(left) != before {
		t.Errorf("%d cgroup directories left after 200 cycles: %v", len(left)-before, left)
	}
	if entries, _ := os.ReadDir(r.Root); len(entries) != 0 {
		t.Errorf("%d state entries left in the root", len(entries))
	}
	r.AssertNoTrace(t, prefix+"0", b)
}

// TestPauseCreatedThenStart: a created container can be paused; start is
// refused while it is paused, and after resume it is created again and
// starts.
func TestPauseCreatedThenStart(t *testing.T) {
	t.Parallel()
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("pausecreated")
	pathForCompare(t, b, id)
	t.Cleanup(func() {
		r.RT("resume", id)
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	if res := r.RT("pause", id); res.Code != 0 {
		t.Fatalf("pause of a created container: %s", res)
	}
	if st := state(t, r, id); st.Status != "paused" {
		t.Errorf("state: %s, want paused", st.Status)
	}
	if res := r.RT("start", id); res.Code != 1 || !strings.Contains(res.Stderr, "paused") {
		t.Errorf("start of a paused container: %s, want exit 1 saying it is paused", res)
	}
	if res := r.RT("resume", id); res.Code != 0 {
		t.Fatalf("resume: %s", res)
	}
	if st := state(t, r, id); st.Status != "created" {
		t.Errorf("state after resume: %s, want created", st.Status)
	}
	if res := r.RT("start", id); res.Code != 0 {
		t.Fatalf("start after resume: %s", res)
	}
	if st := state(t, r, id); st.Status != "running" {
		t.Errorf("state after start: %s, want running", st.Status)
	}
}

// TestStoppedContainerRefusesPauseUpdateEvents: pause, update and events
// of a stopped container fail with exit 1 saying it is not running; ps
// lists nothing.
func TestStoppedContainerRefusesPauseUpdateEvents(t *testing.T) {
	t.Parallel()
	r := runner(t)
	b := bundle(t, []string{"true"}, nil)
	id := harness.ID("stopped")
	pathForCompare(t, b, id)
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	waitFor(t, "the container stops", func() bool { return state(t, r, id).Status == "stopped" })
	for _, args := range [][]string{{"pause", id}, {"resume", id}, {"update", "--memory", "50m", id}, {"events", "--stats", id}, {"events", "--interval", "1s", id}} {
		if res := r.RT(args...); res.Code != 1 || !strings.Contains(res.Stderr, "not running") && !strings.Contains(res.Stderr, "not paused") {
			t.Errorf("%v of a stopped container: %s, want exit 1 saying it is not running", args, res)
		}
	}
	res := r.RT("ps", "--format", "json", id)
	var pids []int
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &pids) != nil || len(pids) != 0 {
		t.Errorf("ps --format json of a stopped container: %s, want an empty list", res)
	}
	if res := r.RT("delete", id); res.Code != 0 {
		t.Errorf("delete: %s", res)
	}
}
