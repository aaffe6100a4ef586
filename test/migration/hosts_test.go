package migration_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// host is one "host" of a migration test: a network namespace of its own
// (joined to the other's by a veth pair with link-local addresses), an rt
// root and a bundle directory, and a cgroup parent of its own so that the
// two hosts' containers of one id never share a cgroup.
type host struct {
	name     string
	addr     string
	r        *harness.Runner
	bundles  string
	cgParent string
}

var pairs atomic.Int64

// twoHosts makes hosts a and b, removed at the end of the test.
func twoHosts(t *testing.T, bins harness.Bins) (a, b *host) {
	t.Helper()
	n := pairs.Add(1)
	tag := fmt.Sprintf("%d-%d", os.Getpid()%100000, n)
	// 169.254.<x>.<y>/30: link-local, never a private range a real
	// network here may use.
	sub := int(n%200) + 20
	a = newHost(t, bins, "rtmigA-"+tag, fmt.Sprintf("169.254.%d.1", sub))
	b = newHost(t, bins, "rtmigB-"+tag, fmt.Sprintf("169.254.%d.2", sub))
	vethA, vethB := "rtmA"+tag, "rtmB"+tag
	run(t, "ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB)
	for _, h := range []struct {
		h    *host
		veth string
	}{{a, vethA}, {b, vethB}} {
		run(t, "ip", "link", "set", h.veth, "netns", h.h.name)
		run(t, "ip", "-n", h.h.name, "addr", "add", h.h.addr+"/30", "dev", h.veth)
		run(t, "ip", "-n", h.h.name, "link", "set", h.veth, "up")
		run(t, "ip", "-n", h.h.name, "link", "set", "lo", "up")
	}
	return a, b
}

func newHost(t *testing.T, bins harness.Bins, name, addr string) *host {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	cgParent := "/" + name
	// Registered before the runner's cleanup, so it runs after it
	// (t.Cleanup is LIFO): the containers go first.
	t.Cleanup(func() { removeCgroupParent(t, cgParent) })
	h := &host{name: name, addr: addr, r: harness.NewRunner(t), bundles: t.TempDir(), cgParent: cgParent}
	h.r.Bins = bins
	h.r.Env = append(os.Environ(), "RT_CGROUP_PARENT="+h.cgParent)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return h
}

// removeCgroupParent removes the host's parent cgroup in every hierarchy,
// failing the test if a container's cgroup is still under it.
func removeCgroupParent(t *testing.T, parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	for _, d := range dirs {
		if left, _ := filepath.Glob(filepath.Join(d, "*", "cgroup.procs")); len(left) > 0 {
			t.Errorf("cgroups left under %s: %v", d, left)
		}
		os.Remove(d)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// checkpointCmd is rt-checkpoint on this host: in its network namespace
// (nsenter --net only: `ip netns exec` would also remount /sys, and with it
// the cgroup mounts), with its root and cgroup parent.
func (h *host) checkpointCmd(env []string, args ...string) *exec.Cmd {
	full := append([]string{"--net=/run/netns/" + h.name, "--", h.r.Bins.Checkpoint, "--root", h.r.Root}, args...)
	cmd := exec.Command("nsenter", full...)
	cmd.Env = append(append([]string{}, h.r.Env...), env...)
	return cmd
}

// receiver is a running `rt-checkpoint receive`.
type receiver struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	stderr *os.File
	done   chan error
}

// receive starts rt-checkpoint receive on h at port and waits until it
// listens.
func (h *host) receive(t *testing.T, port int, tokenFile string, env ...string) *receiver {
	t.Helper()
	cmd := h.checkpointCmd(env, "receive", "--listen", fmt.Sprintf("%s:%d", h.addr, port), "--bundle-dir", h.bundles, "--token-file", tokenFile, "--format", "json")
	rv := &receiver{cmd: cmd, done: make(chan error, 1), stderr: harness.TempFile(t)}
	cmd.Stdout, cmd.Stderr = &rv.stdout, rv.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { rv.done <- cmd.Wait() }()
	t.Cleanup(func() { rv.stop() })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(rv.stderr.Name())
		if strings.Contains(string(data), "listening on") {
			return rv
		}
		select {
		case err := <-rv.done:
			rv.done <- err
			t.Fatalf("receive exited before listening: %v: %s", err, data)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("receive did not listen within 10 s")
	return nil
}

func (rv *receiver) stop() {
	rv.cmd.Process.Kill()
	select {
	case err := <-rv.done:
		rv.done <- err
	case <-time.After(10 * time.Second):
	}
}

// wait waits for receive to exit and returns its stderr and error.
func (rv *receiver) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case err := <-rv.done:
		rv.done <- err
		data, _ := os.ReadFile(rv.stderr.Name())
		return string(data), err
	case <-time.After(2 * time.Minute):
		t.Fatal("receive did not finish within 2 minutes")
	}
	return "", nil
}

// tokenFile writes a token into a file of the test's.
func tokenFile(t *testing.T, token string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// counterScript holds 16 MiB of touched memory in the shell and counts in
// /tmp/c ten times a second (written aside and renamed in).
const counterScript = "x=$(head -c 16777216 /dev/zero | tr '\\0' a); i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done"

// startCounter runs the counter detached on h and waits for it to count.
func (h *host) startCounter(t *testing.T, id string) string {
	t.Helper()
	bundle := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sh", "-c", counterScript}
		s.Root.Readonly = false
	})
	if res := h.r.RT("run", "-d", "--bundle", bundle, id); res.Code != 0 {
		t.Fatalf("run: %s", res)
	}
	waitCount(t, filepath.Join(bundle, "rootfs"), 1)
	return bundle
}

// count is the counter's value in rootfs, 0 if unreadable.
func count(rootfs string) int {
	data, _ := os.ReadFile(filepath.Join(rootfs, "tmp/c"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// waitCount waits until the counter in rootfs is above min, and returns it.
func waitCount(t *testing.T, rootfs string, min int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if n := count(rootfs); n > min {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the counter in %s did not pass %d (at %d)", rootfs, min, count(rootfs))
	return 0
}

// assertRunningHere checks that id is running on h.
func (h *host) assertRunning(t *testing.T, id string) {
	t.Helper()
	res := h.r.RT("state", id)
	if res.Code != 0 || !strings.Contains(res.Stdout, `"running"`) {
		t.Fatalf("%s on %s: not running: %s", id, h.name, res)
	}
}

// assertGone checks that h has nothing of id: no state, no cgroup under
// its parent, no mount or process with its root under rootfs.
func (h *host) assertGone(t *testing.T, id, rootfs string) {
	t.Helper()
	if res := h.r.RT("state", id); res.Code == 0 {
		t.Errorf("%s still on %s: %s", id, h.name, res.Stdout)
	}
	if left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", h.cgParent, id)); len(left) > 0 {
		t.Errorf("cgroups of %s left on %s: %v", id, h.name, left)
	}
	h.r.AssertNoTrace(t, id, rootfs)
}

// assertNoBundles checks that a failed receive left nothing in h's bundle
// dir.
func (h *host) assertNoBundles(t *testing.T) {
	t.Helper()
	ents, _ := os.ReadDir(h.bundles)
	for _, e := range ents {
		t.Errorf("left in %s's bundle dir: %s", h.name, e.Name())
	}
}

// lines is text's non-empty lines (for error output).
func lines(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
