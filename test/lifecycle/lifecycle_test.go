// Package lifecycle_test runs real containers from a busybox bundle through
// create, start, run, kill, state, list and delete, and checks each
// config.json field from inside the container.
package lifecycle_test

import (
	"encoding/json"
	"fmt"
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

func TestMain(m *testing.M) { harness.Main(m) }

// bundle is a bundle whose process runs args without a terminal.
func bundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	return harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = args
		if edit != nil {
			edit(s)
		}
	})
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func runner(t *testing.T) *harness.Runner {
	harness.RequireRoot(t)
	return harness.NewRunner(t)
}

func TestRunExitCodes(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -9 $$", 137},
		{"kill -15 $$", 143},
	} {
		// Without a pid namespace of its own, the shell is not a pid 1
		// that the kernel shields from its own signals.
		b := bundle(t, sh(tc.script), func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces, specs.PIDNamespace)
		})
		id := harness.ID("exit")
		res := r.RT("run", "--bundle", b, id)
		if res.Code != tc.want {
			t.Errorf("%q: %s, want exit %d", tc.script, res, tc.want)
		}
		r.AssertNoTrace(t, id, b)
	}
}

func TestRunRelaysStdio(t *testing.T) {
	r := runner(t)
	b := bundle(t, sh("echo out; echo err >&2"), nil)
	res := r.RT("run", "--bundle", b, harness.ID("stdio"))
	if res.Code != 0 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatal(res)
	}
}

func TestCreateStartStateDelete(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("life")
	pidFile := filepath.Join(t.TempDir(), "pid")
	if res := r.RT("create", "--bundle", b, "--pid-file", pidFile, id); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("create: %s", res)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(data), "\n ") {
		t.Errorf("pid file %q has whitespace", data)
	}
	pid, _ := strconv.Atoi(string(data))
	st := state(t, r, id)
	if st.Status != api.StatusCreated || st.InitProcessPid != pid || pid <= 0 || st.Bundle != b || st.Rootfs != filepath.Join(b, "rootfs") {
		t.Fatalf("state after create: %+v (pid file %d)", st, pid)
	}
	// Between create and start the process is rt-init, not the program.
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sleep" {
		t.Error("the program ran before start")
	}
	if res := r.RT("start", id); res.Code != 0 {
		t.Fatalf("start: %s", res)
	}
	if st := state(t, r, id); st.Status != api.StatusRunning || st.InitProcessPid != pid {
		t.Fatalf("state after start: %+v", st)
	}
	waitFor(t, func() bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(comm)) == "sleep"
	})
	if res := r.RT("start", id); res.Code == 0 {
		t.Error("second start succeeded")
	}
	res := r.RT("list", "--format", "json")
	var list []api.Container
	if json.Unmarshal([]byte(res.Stdout), &list) != nil || len(list) != 1 || list[0].ID != id || list[0].Status != api.StatusRunning {
		t.Errorf("list: %s", res)
	}
	if res := r.RT("delete", id); res.Code == 0 || !strings.Contains(res.Stderr, "running") {
		t.Errorf("delete of a running container: %s", res)
	}
	if res := r.RT("kill", id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	waitFor(t, func() bool { return state(t, r, id).Status == api.StatusStopped })
	if st := state(t, r, id); st.InitProcessPid != 0 {
		t.Errorf("stopped container reports pid %d", st.InitProcessPid)
	}
	if res := r.RT("kill", id); res.Code == 0 {
		t.Error("kill of a stopped container succeeded")
	}
	if res := r.RT("delete", id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}

func TestDeleteForceRunning(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sleep", "1000"}, nil)
	for _, start := range []bool{false, true} {
		id := harness.ID("force")
		if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
			t.Fatal(res)
		}
		if start {
			r.RT("start", id)
		}
		if res := r.RT("delete", "--force", id); res.Code != 0 {
			t.Fatalf("delete --force: %s", res)
		}
		r.AssertNoTrace(t, id, b)
	}
}

func TestKillAll(t *testing.T) {
	r := runner(t)
	// Without a pid namespace, the children outlive the init.
	b := bundle(t, sh("sleep 1000 & sleep 1000 & exec sleep 1000"), func(s *specs.Spec) {
		s.Linux.Namespaces = without(s.Linux.Namespaces, specs.PIDNamespace)
	})
	id := harness.ID("killall")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	st := state(t, r, id)
	if res := r.RT("kill", id, "9"); res.Code != 0 {
		t.Fatal(res)
	}
	waitFor(t, func() bool { return state(t, r, id).Status == api.StatusStopped })
	procs := cgroupProcs(t, id)
	if len(procs) == 0 {
		t.Fatalf("children died with init %d; nothing left for kill --all to do", st.InitProcessPid)
	}
	if res := r.RT("kill", "--all", id, "KILL"); res.Code != 0 {
		t.Fatalf("kill --all on a stopped container: %s", res)
	}
	waitFor(t, func() bool { return len(cgroupProcs(t, id)) == 0 })
	if res := r.RT("delete", id); res.Code != 0 {
		t.Fatal(res)
	}
	r.AssertNoTrace(t, id, b)
}

func cgroupProcs(t *testing.T, id string) []string {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", id, "cgroup.procs"))
	if err != nil {
		t.Fatalf("container cgroup: %v", err)
	}
	return strings.Fields(string(data))
}

func without(ns []specs.LinuxNamespace, drop ...specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, n := range ns {
		keep := true
		for _, d := range drop {
			keep = keep && n.Type != d
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

func TestSignalForwarding(t *testing.T) {
	r := runner(t)
	b := bundle(t, sh(`trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done`), nil)
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "run", "--bundle", b, harness.ID("sig"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("container did not start: %q %v", buf, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 42 {
		t.Fatalf("rt run after SIGTERM: %v, want exit 42 from the container's trap", err)
	}
}

func state(t *testing.T, r *harness.Runner, id string) api.Container {
	t.Helper()
	res := r.RT("state", id)
	var c api.Container
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil {
		t.Fatalf("state %s: %s", id, res)
	}
	return c
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// TestInitIsSessionLeader: the container's init leads a session of its own,
// as runc's does, also without a terminal: the container is no part of the
// caller's session and job control, and CRIU refuses to checkpoint a
// container whose init's session leader is outside it.
func TestInitIsSessionLeader(t *testing.T) {
	r := runner(t)
	// Fields after the command name in /proc/<pid>/stat: state, ppid,
	// pgrp, session.
	b := bundle(t, []string{"sh", "-c", `set -- $(sed 's/.*) //' /proc/$$/stat); echo "pid=$$ pgrp=$3 sid=$4"`}, nil)
	id := harness.ID("sid")
	res := r.RT("run", "--bundle", b, id)
	if res.Code != 0 {
		t.Fatalf("run: %s", res)
	}
	if got := strings.TrimSpace(res.Stdout); got != "pid=1 pgrp=1 sid=1" {
		t.Errorf("the init's ids: %q, want pid=1 pgrp=1 sid=1", got)
	}
	r.AssertNoTrace(t, id, b)
}
