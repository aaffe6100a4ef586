package exec_test

// Regression tests for the container escapes runc had CVEs for, attacked
// through exec: each test names the class it covers.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestExecNoHostFdLeak covers the fd-leak half of the CVE-2024-21626 class
// ("Leaky Vessels", where runc exec leaked a host /sys/fs/cgroup fd): the
// exec'd process starts with fds 0-2 only, even when rt itself was given
// more (a host directory and file on its fds 3 and 4); with a terminal,
// they are the container's pty slave, and the master is not among them.
func TestExecNoHostFdLeak(t *testing.T) {
	r := runner(t)
	c := start(t, r, "fds", nil)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "file"), []byte("host file\n"), 0o644)
	var extra []*os.File
	for _, p := range []string{host, filepath.Join(host, "file")} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	res := rtIn(t, r, "", extra, "exec", c.ID, "sh", "-c", `ls -l /proc/$$/fd; echo ---; ls -l /proc/self/fd`)
	if res.Code != 0 {
		t.Fatalf("exec: %s", res)
	}
	shell, self, _ := strings.Cut(res.Stdout, "---\n")
	if got := harness.FdNumbers(harness.ListFds(t, shell)); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("the exec'd shell holds fds %v, want [0 1 2]:\n%s", got, shell)
	}
	fds := harness.ListFds(t, self)
	if got := harness.FdNumbers(fds); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("ls in the exec'd shell holds fds %v, want [0 1 2] and its own 3:\n%s", got, self)
	}
	// busybox ls has closed the directory by the time it reads the links:
	// its fd 3 has no target.
	if fds[3] != "" && !regexp.MustCompile(`^/proc/[0-9]+/fd$`).MatchString(fds[3]) {
		t.Errorf("ls's fd 3 is %q, not the directory it lists", fds[3])
	}
	if strings.Contains(res.Stdout, host) {
		t.Errorf("a host path of rt's fds reached the exec'd process:\n%s", res.Stdout)
	}

	t.Run("terminal", func(t *testing.T) {
		sock, recv := harness.ConsoleSocket(t)
		res := rtIn(t, r, "", extra, "exec", "-t", "-d", "--console-socket", sock, c.ID, "sh", "-c", `ls -l /proc/$$/fd; echo end-$((1+1))`)
		if res.Code != 0 {
			t.Fatalf("exec -t -d: %s", res)
		}
		master := harness.Receive(t, recv)
		out := harness.Collect(master)
		out.Expect(t, "end-2")
		fds := harness.ListFds(t, out.String())
		if got := harness.FdNumbers(fds); !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("the exec'd shell on a terminal holds fds %v, want [0 1 2]:\n%s", got, out.String())
		}
		for fd, target := range fds {
			if !strings.HasPrefix(target, "/dev/pts/") {
				t.Errorf("fd %d of the exec'd shell on a terminal is %q, want the pty slave", fd, target)
			}
		}
	})
}

// TestExecCannotReachRuntime covers the CVE-2019-5736 class, whose exploit
// waited in the container for `runc exec` and opened the runtime's binary
// through /proc/<runc pid>/exe: while a foreground rt exec waits for its
// process, that process sees only the container's processes (pid 1 = the
// init's busybox sleep), and rt's host pid is nothing there: no /proc entry,
// no exe to read, no process to signal or ptrace.
func TestExecCannotReachRuntime(t *testing.T) {
	r := runner(t)
	c := start(t, r, "reach", func(s *specs.Spec) { s.Root.Readonly = false })
	// In a file, so that the listing of command lines has one line each.
	script := `while [ ! -s /tmp/rtpid ]; do sleep 0.01; done; p=$(cat /tmp/rtpid)
for d in /proc/[0-9]*; do echo "${d#/proc/} $(readlink $d/exe) $(tr '\0' ' ' < $d/cmdline)"; done
echo ---; readlink /proc/1/exe
echo ---
[ -e /proc/$p ] && echo rt-visible
cat /proc/$p/exe > /dev/null 2>&1 && echo rt-exe-readable
kill -0 $p 2>/dev/null && echo rt-signalable
/ptracer attach $p | grep -q attached && echo rt-ptraceable
echo end
`
	if err := os.WriteFile(filepath.Join(c.Bundle, "rootfs/probe.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Bundle, "rootfs/ptracer"), ptracer(t), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "exec", c.ID, "sh", "/probe.sh")
	so, se := harness.TempFile(t), harness.TempFile(t)
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rtPid := cmd.Process.Pid
	tmp := filepath.Join(c.Bundle, "rootfs/tmp")
	os.WriteFile(filepath.Join(tmp, ".rtpid"), []byte(strconv.Itoa(rtPid)), 0o644)
	os.Rename(filepath.Join(tmp, ".rtpid"), filepath.Join(tmp, "rtpid"))
	err := cmd.Wait()
	stdout, _ := os.ReadFile(so.Name())
	stderr, _ := os.ReadFile(se.Name())
	if err != nil {
		t.Fatalf("exec: %v: %s %s", err, stdout, stderr)
	}
	t.Logf("rt exec (host pid %d) in the foreground; from inside:\n%s", rtPid, stdout)
	procs, rest, _ := strings.Cut(string(stdout), "---\n")
	pid1, probes, _ := strings.Cut(rest, "---\n")
	if pid1 != "/bin/busybox\n" {
		t.Errorf("/proc/1/exe in the container is %q, want the init's /bin/busybox", pid1)
	}
	if probes != "end\n" {
		t.Errorf("rt (host pid %d) is reachable from the exec'd process: %q", rtPid, probes)
	}
	for _, line := range strings.Split(strings.TrimSpace(procs), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue // a process gone before its exe was read
		}
		if f[1] != "/bin/busybox" || strings.Contains(line, r.Root) || strings.Contains(line, "rt-init") {
			t.Errorf("a process that is not the container's is visible in it: %q", line)
		}
	}
	if !strings.Contains(procs, "\n1 /bin/busybox sleep 1000") && !strings.HasPrefix(procs, "1 /bin/busybox sleep 1000") {
		t.Errorf("the init is not among the processes the exec'd shell sees:\n%s", procs)
	}
}

// TestExecCwdEscape covers the cwd half of the CVE-2024-21626 class (runc
// exec --cwd /proc/self/fd/7 started the process in a leaked host
// directory): --cwd through an absolute symlink in the rootfs to a host path
// resolves inside the rootfs, and --cwd /proc/self/fd/N (also with /..)
// fails or stays in the container; a host sentinel is never reachable, and
// nothing is written on the host. rt is given host directory fds of its own
// (3-5), as a leaky caller would.
func TestExecCwdEscape(t *testing.T) {
	r := runner(t)
	host := t.TempDir()
	secret := fmt.Sprintf("host-secret-%d", os.Getpid())
	sentinel := filepath.Join(host, "sentinel")
	os.WriteFile(sentinel, []byte(secret+"\n"), 0o644)
	hostDir := filepath.Join(host, "hostdir") // /link's target, with the secret on the host
	os.Mkdir(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "marker"), []byte(secret+"\n"), 0o644)
	missing := filepath.Join(host, "missing") // /link2's target, only on the host
	os.Mkdir(missing, 0o755)
	os.WriteFile(filepath.Join(missing, "marker"), []byte(secret+"\n"), 0o644)

	c := start(t, r, "cwd", func(s *specs.Spec) { s.Root.Readonly = false })
	rootfs := filepath.Join(c.Bundle, "rootfs")
	os.Symlink(hostDir, filepath.Join(rootfs, "link"))
	os.Symlink(missing, filepath.Join(rootfs, "link2"))
	os.MkdirAll(filepath.Join(rootfs, hostDir), 0o755)
	os.WriteFile(filepath.Join(rootfs, hostDir, "marker"), []byte("inside\n"), 0o644)

	var leaked []*os.File
	for _, p := range []string{host, hostDir, "/"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		leaked = append(leaked, f)
	}
	var rootEntries []string
	ents, _ := os.ReadDir(rootfs)
	for _, e := range ents {
		rootEntries = append(rootEntries, e.Name())
	}
	up := strings.Repeat("../", 20)
	// pwd; /; the cwd; and the sentinel through every spelling that would
	// reach it from a cwd on the host; then a file made in the cwd.
	script := fmt.Sprintf(`pwd; echo ---; ls /; echo ---; ls -a .; echo ---
		cat marker %[1]s%[2]s %[2]s .%[2]s /proc/1/root%[2]s 2>/dev/null; touch made-in-cwd 2>/dev/null; true`, up, sentinel)
	hostUntouched := func(t *testing.T, what string) {
		t.Helper()
		for _, d := range []string{host, hostDir, missing} {
			if _, err := os.Stat(filepath.Join(d, "made-in-cwd")); err == nil {
				t.Errorf("%s: the exec'd process wrote into the host's %s", what, d)
				os.Remove(filepath.Join(d, "made-in-cwd"))
			}
		}
	}
	check := func(t *testing.T, cwd string) (pwd, marker string, ok bool) {
		t.Helper()
		res := rtIn(t, r, "", leaked, "exec", "--cwd", cwd, c.ID, "sh", "-c", script)
		hostUntouched(t, "--cwd "+cwd)
		if strings.Contains(res.Stdout+res.Stderr, secret) {
			t.Errorf("--cwd %s: the exec'd process read a host file: %s", cwd, res)
		}
		if res.Code != 0 {
			if res.Code != 255 || !strings.Contains(res.Stderr, "cwd") && !strings.Contains(res.Stderr, "chdir") {
				t.Errorf("--cwd %s refused without exit 255 and a message naming the cwd: %s", cwd, res)
			}
			return "", "", false
		}
		parts := strings.SplitN(res.Stdout, "---\n", 4)
		if len(parts) != 4 {
			t.Fatalf("--cwd %s: output %q", cwd, res.Stdout)
		}
		pwd = strings.TrimSpace(parts[0])
		if !strings.HasPrefix(pwd, "/") || strings.Contains(pwd, "unreachable") {
			t.Errorf("--cwd %s: pwd is %q", cwd, pwd)
		}
		if got := strings.Fields(parts[1]); !slices.Equal(got, rootEntries) {
			t.Errorf("--cwd %s: / is %v, not the rootfs's %v", cwd, got, rootEntries)
		}
		return pwd, parts[3], true
	}

	t.Run("absolute symlink to a host dir", func(t *testing.T) {
		pwd, marker, ok := check(t, "/link")
		if !ok {
			t.Fatal("--cwd /link into a directory that exists in the rootfs was refused")
		}
		if pwd != hostDir || marker != "inside\n" {
			t.Errorf("--cwd /link: pwd %q, marker %q; want the rootfs's %s", pwd, marker, hostDir)
		}
		if _, err := os.Stat(filepath.Join(rootfs, hostDir, "made-in-cwd")); err != nil {
			t.Errorf("--cwd /link: the file made in the cwd is not in the rootfs: %v", err)
		}
	})
	t.Run("absolute symlink to a host-only dir", func(t *testing.T) {
		if pwd, marker, ok := check(t, "/link2"); ok && (pwd != missing || marker != "") {
			t.Errorf("--cwd /link2: pwd %q, marker %q; want the rootfs's %s, empty", pwd, marker, missing)
		}
	})
	t.Run("runtime fds", func(t *testing.T) {
		for n := 3; n <= 12; n++ {
			for _, cwd := range []string{fmt.Sprintf("/proc/self/fd/%d", n), fmt.Sprintf("/proc/self/fd/%d/..", n)} {
				check(t, cwd)
			}
		}
	})
}

// ptracerSource is a static helper run inside a container: it spins on the
// pids the namespace hands out next, PTRACE_ATTACHes to each new process
// and reports every attach that succeeded while the process was not yet the
// container's program (its exe not /bin/busybox), i.e. was the runtime's
// helper joining the container. It writes "ready" to $1 once running and,
// when $2 exists (or after 15s), its report to $3. As "ptracer attach
// PID" it attaches to PID once instead and says how that went.
const ptracerSource = `package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// stopped waits for the tracee's attach stop. Go's preemption signals
// interrupt wait4: without the retry the detach would fail and leave the
// tracee attached.
func stopped(pid int) {
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != syscall.EINTR {
			return
		}
	}
}

func main() {
	if os.Args[1] == "attach" {
		var pid int
		fmt.Sscan(os.Args[2], &pid)
		if err := syscall.PtraceAttach(pid); err != nil {
			fmt.Println("denied:", err)
			return
		}
		stopped(pid)
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		syscall.PtraceDetach(pid)
		fmt.Println("attached to pid", pid, "exe", exe)
		return
	}
	ready, stop, report := os.Args[1], os.Args[2], os.Args[3]
	self := fmt.Sprintf("\nTgid:\t%d\n", os.Getpid())
	next := os.Getpid() + 1
	var hits []string
	tries := 0
	os.WriteFile(ready, []byte("ready"), 0o644)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && len(hits) < 3 && !exists(stop) {
		p := next
		if !exists(fmt.Sprintf("/proc/%d", p)) {
			// Threads take pids too: look a few ahead.
			for q := p + 1; q < p+16; q++ {
				if exists(fmt.Sprintf("/proc/%d", q)) {
					next = q
					break
				}
			}
			continue
		}
		next = p + 1
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p)); strings.Contains(string(st), self) {
			continue // a thread of this process
		}
		for until := time.Now().Add(200 * time.Millisecond); time.Now().Before(until); {
			err := syscall.PtraceAttach(p)
			tries++
			if err == syscall.ESRCH {
				break
			}
			if err != nil {
				continue
			}
			stopped(p)
			// (No exe: it exited meanwhile.)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p)); exe != "/bin/busybox" && exe != "" {
				hits = append(hits, fmt.Sprintf("attached to pid %d (exe %s)", p, exe))
			}
			syscall.PtraceDetach(p)
			syscall.Kill(p, syscall.SIGCONT)
			break
		}
	}
	os.WriteFile(report, []byte(fmt.Sprintf("%d attempts\n%s", tries, strings.Join(hits, "\n"))), 0o644)
}
`

var ptracerBin struct {
	sync.Mutex
	data []byte
}

// ptracer is the ptracerSource program, built once.
func ptracer(t *testing.T) []byte {
	t.Helper()
	ptracerBin.Lock()
	defer ptracerBin.Unlock()
	if ptracerBin.data == nil {
		data, err := os.ReadFile(buildStatic(t, ptracerSource))
		if err != nil {
			t.Fatal(err)
		}
		ptracerBin.data = data
	}
	return ptracerBin.data
}

// buildStatic builds a static program from source (standard library only).
func buildStatic(t *testing.T, source string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper")
	cmd := exec.Command("go", "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the helper: %v: %s", err, out)
	}
	return bin
}

// TestExecInitNotPtraceable covers the CVE-2016-9962 class: a process of
// the container must not be able to ptrace the runtime's helper that an
// exec puts in the container's namespaces before it has become the
// program (it still has the runtime's capabilities in some threads, its
// socket to rt and whatever else the runtime opened). runc makes that helper
// non-dumpable, so that not even CAP_SYS_PTRACE in the container's user
// namespace lets one attach to it. The attacker here is root in a container
// with a user namespace and CAP_SYS_PTRACE (namespaced), attaching to every
// new process while 20 execs run.
func TestExecInitNotPtraceable(t *testing.T) {
	r := runner(t)
	helper := ptracer(t)
	// bundle is a user namespace bundle whose process has CAP_SYS_PTRACE
	// (in its user namespace), with the attacker at /ptracer.
	bundle := func(t *testing.T) string {
		b := userNSBundle(t, []string{"sleep", "1000"})
		harness.EditConfig(t, b, func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
			c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
			c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
		})
		if err := os.WriteFile(filepath.Join(b, "rootfs/ptracer"), helper, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(filepath.Join(b, "rootfs/ptracer"), 100000, 100000)
		return b
	}
	const fix = "pkg/nsexec/nsexec.c joins and clones without prctl(PR_SET_DUMPABLE, 0), so the rt-init in the " +
		"container's pid namespace is dumpable until its uid changes (here, the setresuid of MsgGo) or, without a " +
		"user namespace, until execve (once its capabilities are dropped a container root needs no CAP_SYS_PTRACE " +
		"at all). runc's nsexec makes itself non-dumpable before joining namespaces (the execve of the program " +
		"makes it dumpable again); do the same in the C stage before setns (the clone inherits it)"

	t.Run("exec helper", func(t *testing.T) {
		c := startBundle(t, r, "ptrace", bundle(t))
		rootfs := filepath.Join(c.Bundle, "rootfs")
		if res := c.exec([]string{"-d"}, "/ptracer", "/tmp/ready", "/tmp/stop", "/tmp/report"); res.Code != 0 {
			t.Fatalf("exec -d the attacker: %s", res)
		}
		waitFor(t, "the attacker runs", func() bool { _, err := os.Stat(filepath.Join(rootfs, "tmp/ready")); return err == nil })
		for i := 0; i < 20; i++ {
			if _, err := os.Stat(filepath.Join(rootfs, "tmp/report")); err == nil {
				break // the attacker is done
			}
			if res := c.exec(nil, "true"); res.Code != 0 {
				t.Errorf("exec #%d: %s", i, res)
			}
		}
		os.WriteFile(filepath.Join(rootfs, "tmp/stop"), nil, 0o644)
		var report string
		waitFor(t, "the attacker's report", func() bool {
			data, err := os.ReadFile(filepath.Join(rootfs, "tmp/report"))
			report = string(data)
			return err == nil
		})
		t.Logf("attacker: %s", report)
		attempts, hits, _ := strings.Cut(report, "\n")
		if attempts == "0 attempts" {
			t.Fatalf("the attacker never saw an exec'd process")
		}
		if hits != "" {
			bug(t, "a container process can ptrace the rt-init of an exec before it execs the program (CVE-2016-9962 "+
				"class): "+fix+". Seen: "+strings.ReplaceAll(hits, "\n", "; "))
			t.Errorf("the container attached to the runtime's helper: %s", hits)
		}
	})

	// Between create and start the init is the runtime's helper, and an
	// exec'd process can wait there as long as it likes.
	t.Run("created container's init", func(t *testing.T) {
		b := bundle(t)
		id := harness.ID("ptrace-created")
		t.Cleanup(func() {
			r.RT("delete", "--force", id)
			r.AssertNoTrace(t, id, b)
		})
		if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
			t.Fatalf("create: %s", res)
		}
		res := r.RT("exec", id, "/ptracer", "attach", "1")
		t.Logf("attacker: %s", res)
		if res.Code != 0 || !strings.Contains(res.Stdout, "denied") && !strings.Contains(res.Stdout, "attached") {
			t.Fatalf("exec the attacker: %s", res)
		}
		if strings.Contains(res.Stdout, "attached") {
			bug(t, "a process exec'd into a created container can ptrace its init, the runtime's helper waiting for "+
				"start (CVE-2016-9962 class): "+fix+". Seen: "+strings.TrimSpace(res.Stdout))
			t.Errorf("the container attached to its created init: %s", res.Stdout)
		}
	})
}

// TestExecCapNotInheritable covers the CVE-2022-29162 class: runc exec
// --cap once added the capability to the inheritable (and ambient) sets, so
// that a program in the container with file capabilities, or any program of
// a non-root user, gained it across execve. --cap adds to the bounding,
// effective and permitted sets only: root gets it, inheritable and ambient
// stay the container's (empty), and a non-root user gets nothing.
func TestExecCapNotInheritable(t *testing.T) {
	r := runner(t)
	c := start(t, r, "capinh", nil)
	const capSysAdmin = 21
	bit := func(mask string) bool {
		m, err := strconv.ParseUint(mask, 16, 64)
		return err == nil && m&(1<<capSysAdmin) != 0
	}
	cases := []struct {
		flags []string
		eff   bool
	}{
		{[]string{"--cap", "CAP_SYS_ADMIN"}, true},
		{[]string{"-u", "1000:1000", "--cap", "CAP_SYS_ADMIN"}, false},
	}
	status := make([]map[string]string, len(cases))
	var got []string
	for i, tc := range cases {
		status[i] = fields(c.mustExec(t, tc.flags, "cat", "/proc/self/status"), ":")
		if st := status[i]; st["CapInh"] != "0000000000000000" || st["CapAmb"] != "0000000000000000" {
			got = append(got, fmt.Sprintf("exec %v: CapInh %s CapAmb %s CapEff %s", tc.flags, st["CapInh"], st["CapAmb"], st["CapEff"]))
		}
	}
	if len(got) > 0 {
		bug(t, "exec --cap adds the capability to the inheritable and ambient sets (CVE-2022-29162, fixed in runc 1.1.2): "+
			"pkg/runtime/exec.go execProcess appends it to all five sets, so a non-root user gets it effective through "+
			"ambient; runc appends to bounding, effective and permitted only, and to ambient only when the process "+
			"already has inheritable capabilities. Got: "+strings.Join(got, "; "))
		t.Errorf("--cap reached the inheritable or ambient set:\n%s", strings.Join(got, "\n"))
	}
	for i, tc := range cases {
		st := status[i]
		if !bit(st["CapBnd"]) || bit(st["CapEff"]) != tc.eff || bit(st["CapPrm"]) != tc.eff {
			t.Errorf("exec %v: CapBnd %s CapPrm %s CapEff %s; want CAP_SYS_ADMIN bounding, and permitted and effective %v",
				tc.flags, st["CapBnd"], st["CapPrm"], st["CapEff"], tc.eff)
		}
	}
}
