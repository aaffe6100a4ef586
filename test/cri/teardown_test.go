package cri_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// processesUnder lists the suite's processes: containerd, the shims, the
// containers (their root is under dir), not the reaper.
func processesUnder(dir string) []int {
	return harness.ProcessesUnder(dir, harness.IsReaper(reaperEnv))
}

// teardown removes every pod, stops containerd, and then removes by force
// whatever is left (processes, mounts, cgroups, the bridge, dir itself),
// returning what it had to remove by force, a line each. It is what the
// last test and the reaper run; it reads what it needs from dir.
func teardown(dir string) []string {
	var problems []string
	note := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	s := &suite{dir: dir, name: filepath.Base(dir), sock: filepath.Join(dir, "containerd.sock")}
	quiet := harness.QuietTB{}
	if res := s.crictl(quiet, "pods", "-q"); res.code == 0 {
		for _, id := range strings.Fields(res.stdout) {
			note("pod left: %s", id)
			s.crictl(quiet, "stopp", id)
			s.crictl(quiet, "rmp", "-f", id)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "containerd.pid")); err == nil {
		if pid, _ := strconv.Atoi(string(data)); pid > 0 {
			syscall.Kill(-pid, syscall.SIGTERM)
			if !waitGone(func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second) {
				note("containerd did not exit on SIGTERM: killed")
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	}
	for _, pid := range processesUnder(dir) {
		note("process %d left (%s): killed", pid, harness.Cmdline(pid))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(func() bool { return len(processesUnder(dir)) == 0 }, 5*time.Second)
	for _, m := range harness.MountsUnder(dir) {
		note("mount left: %s: unmounted", m)
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	// The pods' cgroup parents are the suite's to remove, as kubelet
	// removes a pod's: left with a container's directory in it is a leak.
	for _, d := range harness.CgroupTrees(s.name) {
		if rel := d[strings.Index(d+"/", "/"+s.name+"/")+1:]; strings.Count(rel, "/") >= 2 {
			note("cgroup dir left: %s", d)
		}
	}
	problems = append(problems, harness.RemoveCgroups(harness.CgroupTrees(s.name))...)
	// The CNI bridge outlives its last veth (the plugin never removes it);
	// a veth still on it is a pod's network left behind.
	if bridge, err := os.ReadFile(filepath.Join(dir, "bridge")); err == nil {
		if out, _ := exec.Command("ip", "-o", "link", "show", "master", string(bridge)).Output(); len(strings.TrimSpace(string(out))) > 0 {
			note("links left on the bridge %s: %s", bridge, strings.TrimSpace(string(out)))
		}
		exec.Command("ip", "link", "del", string(bridge)).Run()
	}
	if err := os.RemoveAll(dir); err != nil {
		note("remove %s: %v", dir, err)
	}
	return problems
}

func waitGone(gone func() bool, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if gone() {
			return true
		}
	}
	return gone()
}
