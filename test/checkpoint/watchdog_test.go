package checkpoint_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// The watchdog tests run rt-checkpoint against a fake criu, a shell script
// that, as `criu swrk 3`, does what CRIU 4.1.1 does on the VMs where its
// dump hangs: it freezes the container, logs, and then waits for ever. With
// RT_CRIU_PROGRESS_TIMEOUT=3s rt must kill it, fail in one line, and leave
// the container running and thawed. They need root and a v1 freezer, not
// criu.

// wdTimeout is the watchdog's timeout in these tests, and wdSlack how much
// later than that the command may return.
const (
	wdTimeout = 3 * time.Second
	wdSlack   = 5 * time.Second
)

// wdFreezer is the v1 freezer hierarchy the fake criu freezes through.
const wdFreezer = "/sys/fs/cgroup/freezer"

// wdFake writes the fake criu into a temp dir. freezer ("" for none) is the
// freezer.state it writes FROZEN to, log the file it logs one line to; it
// records its pid in the returned pid file, and its process is SIGKILLed at
// cleanup if the watchdog failed to.
func wdFake(t *testing.T, freezer, log string) (criu, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	criu, pidFile = filepath.Join(dir, "criu"), filepath.Join(dir, "criu.pid")
	script := "#!/bin/sh\n[ \"$1\" = swrk ] || exit 1\necho $$ > " + pidFile + "\n"
	if freezer != "" {
		script += "echo FROZEN > " + freezer + "\n"
	}
	script += "echo '(00.000042) fake criu: waiting for a trap' >> " + log + "\nexec sleep 1000000\n"
	if err := os.WriteFile(criu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid := wdFakePid(t, pidFile); pid > 0 && wdIsFake(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return criu, pidFile
}

// wdFakePid is the pid the fake criu recorded, 0 if it did not run.
func wdFakePid(t *testing.T, pidFile string) int {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("fake criu's pid file: %v", err)
	}
	return pid
}

// wdIsFake reports whether pid is (still) the fake criu's sleep, not yet
// reaped.
func wdIsFake(pid int) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && string(cmdline) == "sleep\x001000000\x00"
}

// wdRun runs `rt args...` with the watchdog's timeout in the environment,
// killing it if it takes far longer (a broken watchdog must fail the test,
// not hang it). It returns the result and how long the command took.
func wdRun(t *testing.T, r *harness.Runner, args ...string) (harness.Result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wdTimeout+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bins.RT, append([]string{"--root", r.Root}, args...)...)
	cmd.Env = append(os.Environ(), "RT_CRIU_PROGRESS_TIMEOUT="+wdTimeout.String())
	began := time.Now()
	res := r.Run(cmd)
	return res, time.Since(began)
}

// wdCheckStall checks that a command the watchdog ended failed in time,
// with one line holding want, and left no fake criu behind.
func wdCheckStall(t *testing.T, res harness.Result, took time.Duration, want, pidFile string) {
	t.Helper()
	if res.Code != 1 {
		t.Errorf("exit %d, want 1: %s", res.Code, res)
	}
	if took < wdTimeout || took > wdTimeout+wdSlack {
		t.Errorf("the command took %v, want %v to %v", took, wdTimeout, wdTimeout+wdSlack)
	}
	msg := strings.TrimSpace(res.Stderr)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("error:\n got %q\nwant one line holding %q", msg, want)
	}
	pid := wdFakePid(t, pidFile)
	if pid == 0 {
		t.Fatal("the fake criu never ran")
	}
	if wdIsFake(pid) {
		t.Errorf("the fake criu (pid %d) still runs", pid)
	}
}

// wdContainer runs a detached busybox container counting in /tmp/c, in the
// cgroup /<id> (so the test knows its freezer), deleted at cleanup.
func wdContainer(t *testing.T, r *harness.Runner) (id, bundle string) {
	t.Helper()
	id = harness.ID("wd")
	bundle = harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done"}
		s.Root.Readonly = false
		s.Linux.CgroupsPath = "/" + id
	})
	t.Cleanup(func() {
		if res := r.RT("delete", "--force", id); res.Code != 0 {
			t.Errorf("delete --force %s: %s", id, res)
		}
		r.AssertNoTrace(t, id, bundle)
	})
	if res := r.RT("run", "-d", "--bundle", bundle, id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	return id, bundle
}

// wdCount is the container's counter, 0 while unreadable.
func wdCount(r *harness.Runner, id string) int {
	var st api.Container
	res := r.RT("state", id)
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.InitProcessPid == 0 {
		return 0
	}
	data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.InitProcessPid), "root/tmp/c"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// wdWaitCount waits until the counter passes n.
func wdWaitCount(t *testing.T, r *harness.Runner, id string, n int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if v := wdCount(r, id); v > n {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the counter did not pass %d within 5s", n)
	return 0
}

// TestWatchdogStalledDump: a dump whose criu hangs after freezing the
// container, and a pre-dump whose criu hangs in the feature check, both
// fail once the timeout passes without progress; the container runs on,
// thawed, and takes an exec.
func TestWatchdogStalledDump(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := os.Stat(wdFreezer); err != nil {
		t.Skipf("needs a v1 freezer hierarchy at %s: %v", wdFreezer, err)
	}
	tests := []struct {
		name   string
		args   []string
		freeze bool   // the fake freezes the container first
		want   string // after `checkpoint container "ID": `
	}{
		{"dump", nil, true, "criu dump made no progress for 3 s (last log line: fake criu: waiting for a trap) (log: IMG/dump.log)"},
		// CRIU's feature check freezes nothing and writes no log: only
		// its answer is progress.
		{"pre-dump feature check", []string{"--pre-dump"}, false, "criu feature check made no progress for 3 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := harness.NewRunner(t)
			id, _ := wdContainer(t, r)
			before := wdWaitCount(t, r, id, 1)
			images := filepath.Join(t.TempDir(), "img")
			state := filepath.Join(wdFreezer, id, "freezer.state")
			freezer := ""
			if tt.freeze {
				freezer = state
			}
			criu, pidFile := wdFake(t, freezer, filepath.Join(images, "dump.log"))
			args := append(append([]string{"--criu", criu, "checkpoint", "--image-path", images}, tt.args...), id)
			res, took := wdRun(t, r, args...)
			want := `checkpoint container "` + id + `": ` + strings.ReplaceAll(tt.want, "IMG", images)
			wdCheckStall(t, res, took, want, pidFile)
			if strings.Contains(res.Stderr, "parasite") {
				t.Errorf("a parasite reported where there is none: %s", res.Stderr)
			}

			var st api.Container
			if res := r.RT("state", id); res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.Status != api.StatusRunning {
				t.Fatalf("state after the killed dump: %s", res)
			}
			if data, err := os.ReadFile(state); err != nil || strings.TrimSpace(string(data)) != "THAWED" {
				t.Errorf("freezer.state %q (%v), want THAWED", strings.TrimSpace(string(data)), err)
			}
			wdWaitCount(t, r, id, max(before, wdCount(r, id)))
			if res := r.RT("exec", id, "cat", "/tmp/c"); res.Code != 0 || strings.TrimSpace(res.Stdout) == "" {
				t.Errorf("exec after the killed dump: %s", res)
			}
		})
	}
}

// TestWatchdogStalledRestore: a restore whose criu hangs fails once the
// timeout passes, through the path of any failed restore: no state,
// cgroup, mount or process is left.
func TestWatchdogStalledRestore(t *testing.T) {
	harness.RequireRoot(t)
	r := harness.NewRunner(t)
	id := harness.ID("wd-restore")
	bundle := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Linux.CgroupsPath = "/" + id
	})
	// restore looks for inventory.img before it starts criu; the fake
	// reads nothing.
	images := t.TempDir()
	if err := os.WriteFile(filepath.Join(images, "inventory.img"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	criu, pidFile := wdFake(t, "", filepath.Join(images, "restore.log"))
	res, took := wdRun(t, r, "--criu", criu, "restore", "-d", "--image-path", images, "--bundle", bundle, id)
	want := `restore container "` + id + `": criu restore made no progress for 3 s (last log line: fake criu: waiting for a trap) (log: ` + filepath.Join(images, "restore.log") + ")"
	wdCheckStall(t, res, took, want, pidFile)
	if st := r.RT("state", id); st.Code == 0 {
		t.Errorf("state after the failed restore: %s", st)
	}
	r.AssertNoTrace(t, id, bundle)
}
