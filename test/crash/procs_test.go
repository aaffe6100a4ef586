package crash_test

// The host's processes as the sweep sees them: the container's init, what
// a killed command left running, and processes still in the bundle.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/api"
)

// initPid is the container's init as `rt state` reports it, 0 if none.
func initPid(t *testing.T, f *fixture) int {
	t.Helper()
	res := f.rt(t, "state", f.id)
	if res.Code != 0 {
		return 0
	}
	var c api.Container
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		t.Fatalf("state: %v: %s", err, res.Stdout)
	}
	return c.InitProcessPid
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// marked lists the live processes whose environment holds marker.
func marked(marker string) []int {
	var out []int
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range envs {
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte("\x00"+marker+"\x00")) && !bytes.HasPrefix(data, []byte(marker+"\x00")) {
			continue
		}
		if pid, err := strconv.Atoi(strings.Split(p, "/")[2]); err == nil && pid != os.Getpid() && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// waitMarked waits up to d for the processes marked with marker to end
// and returns those still running.
func waitMarked(marker string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := marked(marker)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killMarked kills what a case's command left running, so that one
// failure does not spill into the next case.
func killMarked(marker string) {
	for _, pid := range marked(marker) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processesIn lists the processes whose working directory or root is in
// dir: a container's rt-init starts in its bundle.
func processesIn(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		for _, link := range []string{"cwd", "root"} {
			target, err := os.Readlink(filepath.Join(p, link))
			if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) && alive(pidOf(p)) {
				out = append(out, p+" ("+link+" "+target+")")
				break
			}
		}
	}
	return out
}

func pidOf(procDir string) int {
	n, _ := strconv.Atoi(filepath.Base(procDir))
	return n
}

// cgroupProcs lists the processes in the container's cgroup dirs.
func cgroupProcs(dirs []string) map[int]bool {
	out := map[int]bool{}
	for _, d := range dirs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out[pid] = true
			}
		}
	}
	return out
}

// killProcess SIGKILLs pid and waits up to 2s for it to go (a frozen one
// does not: it dies once thawed).
func killProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	for deadline := time.Now().Add(2 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}
