package lifecycle_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// A container without a mount namespace of its own (linux.namespaces has
// no "mount") has its mounts made in rt's, the caller's. These tests never
// let that be the host's: rt runs through nsenter in a mount namespace the
// test made (unshare -m --propagation private), whose mount table is
// compared before and after.

// mountNS is a private mount namespace held open by a sleeping process.
type mountNS struct {
	pid int
	r   *harness.Runner
}

// newMountNS makes the namespace. Inside it "/" is made rshared (new peer
// groups of this namespace only), so that a change of its propagation, as
// runc's rslave of the caller's "/", shows in mountinfo.
func newMountNS(t *testing.T, r *harness.Runner) *mountNS {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare and nsenter (util-linux)")
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", "mount --make-rshared / && exec sleep 1000000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	waitFor(t, func() bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(comm)) == "sleep"
	})
	mine, _ := os.Readlink("/proc/self/ns/mnt")
	if theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); theirs == mine || theirs == "" {
		t.Fatalf("unshare made no mount namespace (%q, ours %q)", theirs, mine)
	}
	return &mountNS{pid: pid, r: r}
}

// rt runs `rt --root <root> args...` in the namespace.
func (n *mountNS) rt(args ...string) harness.Result {
	return n.r.Run(n.command(args...))
}

func (n *mountNS) command(args ...string) *exec.Cmd {
	argv := append([]string{"-t", strconv.Itoa(n.pid), "-m", "--", n.r.Bins.RT, "--root", n.r.Root}, args...)
	cmd := exec.Command("nsenter", argv...)
	cmd.Env = n.r.Env
	return cmd
}

// link is the namespace's /proc/<pid>/ns/mnt link ("mnt:[…]").
func (n *mountNS) link(t *testing.T) string {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", n.pid))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mountinfo is the namespace's mount table, line by line.
func (n *mountNS) mountinfo(t *testing.T) []string {
	t.Helper()
	return strings.Split(strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/mountinfo", n.pid))), "\n")
}

// assertMountinfo fails the test unless the namespace's mount table is
// before, line for line: mount ids, propagation and options included.
func (n *mountNS) assertMountinfo(t *testing.T, what string, before []string) {
	t.Helper()
	after := n.mountinfo(t)
	if slices.Equal(before, after) {
		return
	}
	for _, l := range after {
		if !slices.Contains(before, l) {
			t.Errorf("%s: mount added or changed: %s", what, l)
		}
	}
	for _, l := range before {
		if !slices.Contains(after, l) && !removedElsewhere(l) {
			t.Errorf("%s: mount gone or changed: %s", what, l)
		}
	}
}

// removedElsewhere reports whether the mount of mountinfo line l is gone
// because its mount point was removed: the kernel detaches a mount in every
// namespace when another test, running in parallel, deletes the directory
// it is on (its temp dir). Nothing of rt's does that.
func removedElsewhere(l string) bool {
	m, err := mountinfo.GetMountsFromReader(strings.NewReader(l+"\n"), nil)
	if err != nil || len(m) != 1 {
		return false
	}
	_, err = os.Lstat(m[0].Mountpoint)
	return errors.Is(err, os.ErrNotExist)
}

// fstypeAwk is a command printing the filesystem type of the mount at
// point, from /proc/self/mountinfo (the type follows the "-" after the
// optional fields).
func fstypeAwk(point string) string {
	return fmt.Sprintf(`awk '$5 == "%s" { for (i = 7; i < NF; i++) if ($i == "-") print $(i+1) }' /proc/self/mountinfo`, point)
}

// noMountNSBundle is a bundle whose config has no mount namespace and
// none of what needs one (masked and read-only paths), and a file only
// its rootfs has.
func noMountNSBundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	b := bundle(t, args, func(s *specs.Spec) {
		s.Linux.Namespaces = without(s.Linux.Namespaces, specs.MountNamespace)
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		if edit != nil {
			edit(s)
		}
	})
	if err := os.WriteFile(filepath.Join(b, "rootfs/etc/only-in-rootfs"), []byte("rootfs-marker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNoMountNamespaceRuns: the process of a container without a mount
// namespace sees the rootfs as "/" (a file only the rootfs has), its /proc
// as the config mounts it, and is in the caller's mount namespace; a
// read-only root is read-only. After the run, the caller's mount table is
// as it was, line for line.
func TestNoMountNamespaceRuns(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	script := `cat /etc/only-in-rootfs
echo "proc=$(` + fstypeAwk("/proc") + `)"
echo "pid=$$"
echo "mnt=$(readlink /proc/self/ns/mnt)"
if touch /x 2>/dev/null; then echo root=rw; else echo root=ro; fi`
	for _, readonly := range []bool{false, true} {
		t.Run("readonly="+strconv.FormatBool(readonly), func(t *testing.T) {
			b := noMountNSBundle(t, sh(script), func(s *specs.Spec) { s.Root.Readonly = readonly })
			before := ns.mountinfo(t)
			id := harness.ID("nomntns")
			res := ns.rt("run", "--bundle", b, id)
			if res.Code != 0 {
				t.Fatalf("rt run: %s", res)
			}
			if !strings.HasPrefix(res.Stdout, "rootfs-marker\n") {
				t.Errorf("the process does not see the rootfs as /: %q", res.Stdout)
			}
			root := map[bool]string{false: "rw", true: "ro"}[readonly]
			cfgWant(t, cfgValues(res.Stdout, "="), map[string]string{"proc": "proc", "pid": "1", "mnt": ns.link(t), "root": root})
			ns.assertMountinfo(t, "after run", before)
			r.AssertNoTrace(t, id, b)
		})
	}
}

// TestNoMountNamespaceRefused: masked or read-only paths without a mount
// namespace are refused at create with one line naming the fields, as runc
// refuses them, and so is a user namespace (which could never mount in
// rt's); nothing is left (state, cgroup, mount).
func TestNoMountNamespaceRefused(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	const why = `a mount namespace of the container's own (linux.namespaces has no "mount")`
	userns := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	for _, tc := range []struct {
		name          string
		masked, ronly []string
		userns        bool
		want          string
	}{
		{"masked", []string{"/proc/kcore"}, nil, false, "invalid configuration: linux.maskedPaths needs " + why},
		{"readonly", nil, []string{"/proc/sys"}, false, "invalid configuration: linux.readonlyPaths needs " + why},
		{"both", []string{"/proc/kcore"}, []string{"/proc/sys"}, false, "invalid configuration: linux.maskedPaths and linux.readonlyPaths need " + why},
		{"user namespace", nil, nil, true, "invalid configuration: a user namespace needs " + why + ": rt-init would mount in rt's, where it has no privilege"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := noMountNSBundle(t, []string{"true"}, func(s *specs.Spec) {
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = tc.masked, tc.ronly
				if tc.userns {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
					s.Linux.UIDMappings, s.Linux.GIDMappings = userns, userns
				}
			})
			before := ns.mountinfo(t)
			id := harness.ID("nomntns-refused")
			line := failsCleanly(t, "create", ns.rt("create", "--bundle", b, id), tc.want)
			if !strings.HasSuffix(line, tc.want) {
				t.Errorf("error %q does not end with %q", line, tc.want)
			}
			ns.assertMountinfo(t, "after the refused create", before)
			r.AssertNoTrace(t, id, b)
		})
	}
}

// TestNoMountNamespaceDelete: a created container's mounts are in the
// caller's namespace (under the rootfs only: "/" and the volume's source
// keep their propagation, a mount nested in a bind does not reach its
// source, whose mount is a peer of "/"), rt exec runs in the rootfs too, and delete leaves the mount table
// as it was before create, line for line; with --no-pivot as well (which
// must not move the rootfs over the caller's "/").
func TestNoMountNamespaceDelete(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	vol := t.TempDir()
	for _, args := range [][]string{nil, {"--no-pivot"}} {
		t.Run(fmt.Sprintf("create%v", args), func(t *testing.T) {
			b := noMountNSBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
				s.Root.Readonly = false
				s.Linux.RootfsPropagation = "rshared"
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}},
					specs.Mount{Destination: "/vol/nested", Type: "tmpfs", Source: "tmpfs"},
					specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
			})
			before := ns.mountinfo(t)
			id := harness.ID("nomntns-del")
			if res := ns.rt(append(append([]string{"create"}, args...), "--bundle", b, id)...); res.Code != 0 {
				t.Fatalf("create: %s", res)
			}
			added := 0
			for _, l := range ns.mountinfo(t) {
				if !slices.Contains(before, l) {
					added++
					if f := strings.Fields(l); !strings.HasPrefix(f[4], filepath.Join(b, "rootfs")) {
						t.Errorf("a mount outside the rootfs: %s", l)
					}
				}
			}
			if added < 3 {
				t.Errorf("%d mounts made in the caller's namespace, want the rootfs bind, /proc, /dev…", added)
			}
			if res := ns.rt("start", id); res.Code != 0 {
				t.Fatalf("start: %s", res)
			}
			res := ns.rt("exec", id, "sh", "-c", "cat /etc/only-in-rootfs; "+fstypeAwk("/vol/nested"))
			if res.Code != 0 || res.Stdout != "rootfs-marker\ntmpfs\n" {
				t.Errorf("exec: %s, want the rootfs's file (tmpcopyup) and the nested tmpfs", res)
			}
			if res := ns.rt("delete", "--force", id); res.Code != 0 {
				t.Fatalf("delete --force: %s", res)
			}
			ns.assertMountinfo(t, "after delete", before)
			r.AssertNoTrace(t, id, b)
		})
	}
}

// TestNoMountNamespaceFailedCreate: a create that fails after rt-init made
// mounts in the caller's namespace (a bind of a missing source after /proc
// and /dev; a missing executable, after the chroot) leaves the mount table
// as it was, and nothing else.
func TestNoMountNamespaceFailedCreate(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	for _, tc := range []struct {
		name  string
		edit  func(*specs.Spec)
		words []string
	}{
		{"missing bind source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/does/not/exist", Options: []string{"bind"}})
		}, []string{"/does/not/exist", "no such file or directory"}},
		{"missing executable", func(s *specs.Spec) { s.Process.Args = []string{"/nope"} }, []string{"/nope", "no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := noMountNSBundle(t, []string{"true"}, tc.edit)
			before := ns.mountinfo(t)
			id := harness.ID("nomntns-fail")
			failsCleanly(t, "create", ns.rt("create", "--bundle", b, id), tc.words...)
			ns.assertMountinfo(t, "after the failed create", before)
			r.AssertNoTrace(t, id, b)
		})
	}
}

// TestNoMountNamespaceCreateKilled: rt killed with SIGKILL during create,
// once rt-init made its mounts (while a createRuntime hook runs), leaves a
// container whose delete --force restores the mount table: the mounts were
// recorded before rt-init started.
func TestNoMountNamespaceCreateKilled(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	dir := t.TempDir()
	marker, hookPid := filepath.Join(dir, "hook-running"), filepath.Join(dir, "hook-pid")
	slow := hookScript(t, dir, "slow-hook", fmt.Sprintf("echo $$ > %s; touch %s; exec sleep 30", hookPid, marker))
	b := noMountNSBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: slow}}}
	})
	t.Cleanup(func() {
		if data, err := os.ReadFile(hookPid); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	before := ns.mountinfo(t)
	id := harness.ID("nomntns-killed")
	cmd := ns.command("create", "--bundle", b, id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := os.Stat(marker); return err == nil })
	if len(ns.mountinfo(t)) <= len(before) {
		t.Error("no mount in the caller's namespace while the createRuntime hook runs")
	}
	// nsenter execs rt: the pid is rt's.
	cmd.Process.Kill()
	cmd.Wait()
	// The init exits once rt's end of the socket is gone; its mounts stay.
	if res := ns.rt("delete", "--force", id); res.Code != 0 {
		t.Fatalf("delete --force after a killed create: %s", res)
	}
	ns.assertMountinfo(t, "after delete --force", before)
	r.AssertNoTrace(t, id, b)
}

// TestNoLinuxSection: linux is OPTIONAL in the spec and runc runs a config
// without it (rt once refused it, "linux section is missing"): a container
// with no namespaces, limits or cgroups path of its own. Like any container
// without a mount namespace it mounts in the caller's, here the test's.
func TestNoLinuxSection(t *testing.T) {
	r := runner(t)
	ns := newMountNS(t, r)
	b := noMountNSBundle(t, sh(`cat /etc/only-in-rootfs; echo "net=$(readlink /proc/self/ns/net)"`), func(s *specs.Spec) {
		s.Linux, s.Hostname = nil, "" // no uts namespace: no hostname either
	})
	before := ns.mountinfo(t)
	id := harness.ID("nolinux")
	res := ns.rt("run", "--bundle", b, id)
	if res.Code != 0 {
		t.Fatalf("rt run: %s", res)
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	if !strings.HasPrefix(res.Stdout, "rootfs-marker\n") || cfgValues(res.Stdout, "=")["net"] != hostNet {
		t.Errorf("want the rootfs as / and the host's network namespace %s: %q", hostNet, res.Stdout)
	}
	ns.assertMountinfo(t, "after run", before)
	r.AssertNoTrace(t, id, b)
}
