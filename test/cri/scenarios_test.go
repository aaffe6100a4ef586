package cri_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

var sleeper = []string{"sleep", "1000"}

// TestPodSharesNetworkAndIPC: two containers of a pod share the sandbox's
// network and IPC namespaces: one serves on localhost, the other reaches
// it; the pod has an address on the CNI bridge's range.
func TestPodSharesNetworkAndIPC(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	web := p.start(t, []string{"httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/etc"}, nil)
	client := p.start(t, sleeper, nil)

	var got string
	harness.WaitFor(t, 10*time.Second, "the client reaches the server on localhost", func() bool {
		res := s.crictl(t, "exec", "-s", client, "wget", "-qO-", "http://127.0.0.1:8080/passwd")
		got = res.stdout
		return res.code == 0
	})
	if !strings.Contains(got, "root:x:0:0") {
		t.Errorf("the client read %q from the server, want /etc/passwd", got)
	}
	sandboxPid := int(field(s.inspect(t, "inspectp", p.id), "info", "pid").(float64))
	for _, ns := range []string{"net", "ipc", "uts"} {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", sandboxPid, ns))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{web, client} {
			if got := s.execSync(t, id, "readlink", "/proc/self/ns/"+ns); got != want {
				t.Errorf("container %s: %s namespace %s, want the sandbox's %s", id, ns, got, want)
			}
		}
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	if got := s.execSync(t, client, "readlink", "/proc/self/ns/net"); got == host {
		t.Errorf("the pod is in the host's network namespace %s", host)
	}
	ip := net.ParseIP(fmt.Sprint(field(s.inspect(t, "inspectp", p.id), "status", "network", "ip")))
	_, subnet, _ := net.ParseCIDR(s.subnet)
	if ip == nil || !subnet.Contains(ip) {
		t.Errorf("pod address %v, want one in %s", ip, s.subnet)
	} else if addrs := s.execSync(t, client, "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(addrs, ip.String()+"/") {
		t.Errorf("eth0 in the pod: %q, want %s", addrs, ip)
	}
}

// TestExec: crictl exec -s (ExecSync), exec through the streaming server,
// and exec -it on a terminal, each with the command's exit code.
func TestExec(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	id := p.start(t, sleeper, nil)

	if got := s.execSync(t, id, "echo", "hello"); got != "hello" {
		t.Errorf("exec -s echo hello: %q", got)
	}
	if res := s.crictl(t, "exec", "-s", id, "sh", "-c", "exit 5"); res.code == 0 || !strings.Contains(res.stderr, "exited with 5") {
		t.Errorf("exec -s of exit 5: %s", res)
	}
	if res := s.crictl(t, "exec", id, "cat", "/etc/group"); res.code != 0 || !strings.Contains(res.stdout, "root:x:0:") {
		t.Errorf("streaming exec: %s", res)
	}
	args := append([]string{"crictl"}, s.crictlFlags(30*time.Second, "exec", "-it", id, "sh", "-c", "tty; exit 2")...)
	out, code := harness.PtyRun(t, 40*time.Second, nil, args[0], args[1:]...)
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it: the process has no terminal: %q", out)
	}
	// crictl reports the code, and exits 1.
	if code == 0 || !strings.Contains(out, "command terminated with exit code 2") {
		t.Errorf("exec -it of exit 2: crictl exited %d (%q)", code, out)
	}
}

// TestLogs: what a container writes to stdout and stderr is in crictl
// logs and in the CRI log file under the pod's log directory.
func TestLogs(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	id := p.start(t, []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2; sleep 1000"}, nil)
	var res result
	harness.WaitFor(t, 10*time.Second, "both lines in crictl logs", func() bool {
		res = s.crictl(t, "logs", id)
		return strings.Contains(res.stdout, "to-stdout") && strings.Contains(res.stderr, "to-stderr")
	})
	path, _ := field(s.inspect(t, "inspect", id), "status", "logPath").(string)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the container's log file: %v", err)
	}
	for _, want := range []string{" stdout F to-stdout", " stderr F to-stderr"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file %s has no %q:\n%s", path, want, data)
		}
	}
}

// TestUpdateResources: crictl update of CPU and memory reaches the
// container's cgroup.
func TestUpdateResources(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	id := p.start(t, sleeper, nil)
	s.must(t, "update", "--cpu-period", "100000", "--cpu-quota", "50000", "--memory", strconv.Itoa(96<<20), id)
	if !v1("memory") {
		if got := p.cgroupFile(t, id, "unified", "memory.max"); got != strconv.Itoa(96<<20) {
			t.Errorf("memory.max %s after update", got)
		}
		if got := p.cgroupFile(t, id, "unified", "cpu.max"); got != "50000 100000" {
			t.Errorf("cpu.max %q after update", got)
		}
		return
	}
	if got := p.cgroupFile(t, id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(96<<20) {
		t.Errorf("memory.limit_in_bytes %s after update", got)
	}
	if got := p.cgroupFile(t, id, "cpu", "cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cpu.cfs_quota_us %s after update", got)
	}
	if got := p.cgroupFile(t, id, "cpu", "cpu.cfs_period_us"); got != "100000" {
		t.Errorf("cpu.cfs_period_us %s after update", got)
	}
}

// v1 reports whether controller has a v1 hierarchy on this host.
func v1(controller string) bool {
	_, err := os.Stat("/sys/fs/cgroup/" + controller + "/cgroup.procs")
	return err == nil
}

// TestStats: crictl stats reports the container's CPU and memory.
func TestStats(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	id := p.start(t, []string{"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000"}, nil)
	var stats map[string]any
	harness.WaitFor(t, 20*time.Second, "stats with CPU time and memory", func() bool {
		if err := json.Unmarshal([]byte(s.must(t, "stats", "-o", "json", "--id", id)), &stats); err != nil {
			t.Fatal(err)
		}
		list, _ := stats["stats"].([]any)
		if len(list) != 1 {
			return false
		}
		cpu, _ := strconv.Atoi(fmt.Sprint(field(list[0], "cpu", "usageCoreNanoSeconds", "value")))
		mem, _ := strconv.Atoi(fmt.Sprint(field(list[0], "memory", "workingSetBytes", "value")))
		return cpu > 0 && mem > 0
	})
}

// TestNonZeroExit: a container's exit code and reason reach CRI.
func TestNonZeroExit(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	id := p.start(t, []string{"sh", "-c", "exit 3"}, nil)
	st := s.waitExited(t, id)
	if st["exitCode"] != float64(3) || st["reason"] != "Error" {
		t.Errorf("status %v, want exit code 3 and reason Error", st)
	}
}

// TestOOMKilled: a container killed by the OOM killer in its memory limit
// is reported as OOMKilled.
func TestOOMKilled(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	// The shim watches for OOM kills from after start on: a kill in the
	// first milliseconds would be reported as Error (as with runc).
	id := p.start(t, []string{"sh", "-c", "sleep 1; tail /dev/zero"}, func(c map[string]any) {
		c["linux"].(map[string]any)["resources"] = map[string]any{"memory_limit_in_bytes": 32 << 20}
	})
	st := s.waitExited(t, id)
	if st["reason"] != "OOMKilled" || st["exitCode"] != float64(137) {
		t.Errorf("status %v, want reason OOMKilled and exit code 137", st)
	}
}

// TestStopAndRemove: containers stopped and removed one by one, then the
// pod, leave nothing behind (remove checks the pod's traces).
func TestStopAndRemove(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	a := p.start(t, sleeper, nil)
	b := p.start(t, []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"}, nil)
	for _, id := range []string{a, b} {
		s.must(t, "stop", "--timeout", "2", id)
		if st := field(s.inspect(t, "inspect", id), "status", "state"); st != "CONTAINER_EXITED" {
			t.Errorf("container %s is %v after stop", id, st)
		}
		s.must(t, "rm", id)
		if ids := s.must(t, "ps", "-a", "-q", "--pod", p.id); strings.Contains(ids, id) {
			t.Errorf("container %s still listed after rm", id)
		}
		if dirs := harness.CgroupDirsOf(id); len(dirs) > 0 {
			t.Errorf("cgroup dirs of %s left after rm: %v", id, dirs)
		}
		if _, err := os.Stat(s.runtimeRoot() + "/" + k8sNamespace + "/" + id); err == nil {
			t.Errorf("the runtime's state of %s is left after rm", id)
		}
	}
}

// TestHostNetwork: a pod with the node's network namespace (hostNetwork).
func TestHostNetwork(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, func(cfg map[string]any) {
		namespaceOptions(cfg)["network"] = 2 // NODE
	})
	id := p.start(t, sleeper, nil)
	host, _ := os.Readlink("/proc/self/ns/net")
	if got := s.execSync(t, id, "readlink", "/proc/self/ns/net"); got != host {
		t.Errorf("network namespace %s, want the host's %s", got, host)
	}
}

func namespaceOptions(cfg map[string]any) map[string]any {
	return cfg["linux"].(map[string]any)["security_context"].(map[string]any)["namespace_options"].(map[string]any)
}

// TestUserNamespace: a pod with CRI's userns_options (hostUsers: false)
// runs its containers in a user namespace with the mapping asked for,
// where the CRI implementation supports it.
func TestUserNamespace(t *testing.T) {
	s := getSuite(t)
	mapping := []map[string]any{{"host_id": 100000, "container_id": 0, "length": 65536}}
	p := s.runPod(t, func(cfg map[string]any) {
		namespaceOptions(cfg)["userns_options"] = map[string]any{"mode": 0, "uids": mapping, "gids": mapping} // POD
	})
	id := p.start(t, sleeper, nil)
	uidMap := strings.Join(strings.Fields(s.execSync(t, id, "cat", "/proc/self/uid_map")), " ")
	if uidMap == "0 0 4294967295" {
		v := strings.Fields(s.must(t, "version"))
		t.Skipf("containerd's CRI ignores userns_options (%s; user namespaces for pods need containerd 1.7 or later): the pod ran in the host's user namespace", strings.Join(v, " "))
	}
	if uidMap != "0 100000 65536" {
		t.Errorf("uid_map %q, want 0 100000 65536", uidMap)
	}
}

// TestRefusedConfig: a container config the runtime refuses fails at
// start with the runtime's one-line reason in crictl's error, and the
// container and pod are removed cleanly after.
func TestRefusedConfig(t *testing.T) {
	s := getSuite(t)
	p := s.runPod(t, nil)
	res := p.create(t, sleeper, func(c map[string]any) {
		c["linux"].(map[string]any)["resources"] = map[string]any{"cpuset_cpus": "0-9999"}
	})
	if res.code != 0 {
		t.Fatalf("create: %s", res)
	}
	id := strings.TrimSpace(res.stdout)
	start := s.crictl(t, "start", id)
	if start.code == 0 {
		t.Fatalf("start of a container with cpuset 0-9999 succeeded: %s", start)
	}
	// crictl's log quotes the error as a Go string.
	stderr := strings.ReplaceAll(start.stderr, `\"`, `"`)
	if want := `OCI runtime create failed: cgroups: linux.resources.cpu.cpus: "0-9999": CPU `; isRT() && !strings.Contains(stderr, want) {
		t.Errorf("crictl's error does not carry rt's reason %q: %s", want, start.stderr)
	}
	s.must(t, "rm", id)
	if dirs := harness.CgroupDirsOf(id); len(dirs) > 0 {
		t.Errorf("cgroup dirs of the refused container left: %v", dirs)
	}
}
