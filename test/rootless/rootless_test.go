// Package rootless_test runs rt as an unprivileged user it creates (and
// removes): `rt spec --rootless` and the lifecycle, with state under
// $XDG_RUNTIME_DIR/rt and no cgroup delegated.
package rootless_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// account is an unprivileged user with its own XDG_RUNTIME_DIR and a copy
// of rt's binaries it may run.
type account struct {
	uid, gid int
	xdg, bin string
	dir      string // where its bundles go
}

func newAccount(t *testing.T) *account {
	t.Helper()
	harness.RequireRoot(t)
	name := fmt.Sprintf("rtl%d", os.Getpid())
	if out, err := exec.Command("useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	a := &account{}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	a.xdg = fmt.Sprintf("/run/user/%d", a.uid)
	a.dir, err = os.MkdirTemp("", "rt-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(a.dir); os.RemoveAll(a.xdg) })
	a.bin = filepath.Join(a.dir, "bin")
	for _, d := range []string{a.xdg, a.bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(a.dir, 0o755)
	os.Chmod(a.bin, 0o755)
	os.Chown(a.xdg, a.uid, a.gid)
	b := harness.Binaries(t)
	for _, src := range []string{b.RT, b.Init} {
		if out, err := exec.Command("cp", src, a.bin).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	}
	return a
}

// bundle is a bundle of the account's made with `rt spec --rootless`,
// running args.
func (a *account) bundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	dir, err := os.MkdirTemp(a.dir, "bundle-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	harness.Rootfs(t, filepath.Join(dir, "rootfs"))
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", a.uid, a.gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	cmd := a.command(dir, "spec", "--rootless")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rt spec --rootless as uid %d: %v: %s", a.uid, err, out)
	}
	harness.EditConfig(t, dir, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = args
		if edit != nil {
			edit(s)
		}
	})
	return dir
}

func (a *account) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(a.bin, "rt"), args...)
	cmd.Dir = dir
	cmd.Env = []string{"XDG_RUNTIME_DIR=" + a.xdg, "PATH=/usr/bin:/bin", "HOME=" + a.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{}}}
	return cmd
}

// rt runs rt as the account in the bundle dir.
func (a *account) rt(dir string, args ...string) harness.Result {
	return a.run(a.command(dir, args...), nil)
}

// run runs cmd, adjusted by edit if set, and returns what it printed.
func (a *account) run(cmd *exec.Cmd, edit func(*exec.Cmd)) harness.Result {
	if edit != nil {
		edit(cmd)
	}
	// Files, not pipes: a detached container keeps its stdio open, and Run
	// would wait for a pipe's end until it exits.
	out, err := os.CreateTemp("", "rt-out-")
	if err != nil {
		return harness.Result{Code: -1, Stderr: err.Error()}
	}
	defer os.Remove(out.Name())
	defer out.Close()
	errf, err := os.CreateTemp("", "rt-err-")
	if err != nil {
		return harness.Result{Code: -1, Stderr: err.Error()}
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err = cmd.Run()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	res := harness.Result{Stdout: string(o), Stderr: string(e)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		res.Code, res.Stderr = -1, err.Error()
	}
	return res
}

// TestRootlessRun: `rt spec --rootless && rt run` as an unprivileged user
// runs the process as root of a user namespace that maps the user's own
// id, in a network namespace of its own, with the state under
// $XDG_RUNTIME_DIR/rt and nothing left after.
func TestRootlessRun(t *testing.T) {
	a := newAccount(t)
	b := a.bundle(t, []string{"sh", "-c", "id -u; cat /proc/self/uid_map; ip -o link | wc -l"}, nil)
	res := a.rt(b, "run", "x")
	uidMap := strings.Fields(res.Stdout)
	if res.Code != 0 || len(uidMap) != 5 || uidMap[0] != "0" || uidMap[1] != "0" || uidMap[2] != strconv.Itoa(a.uid) || uidMap[3] != "1" {
		t.Fatalf("rt run as uid %d: %s, want uid 0 and the map 0 %d 1", a.uid, res, a.uid)
	}
	if uidMap[4] != "1" {
		t.Errorf("%s network interfaces, want lo alone: a network namespace of the container's own", uidMap[4])
	}
	if !strings.Contains(res.Stderr, "no cgroup is delegated") {
		t.Errorf("stderr %q, want the warning that the container runs without cgroups", res.Stderr)
	}
	if ents, err := os.ReadDir(filepath.Join(a.xdg, "rt")); err != nil || len(ents) != 0 {
		t.Errorf("state root %s/rt: %v, %d entries left; want it there and empty", a.xdg, err, len(ents))
	}
}

// TestRootlessLifecycle: create, state, list, exec, kill and delete work on
// a rootless container; what needs a cgroup says so.
func TestRootlessLifecycle(t *testing.T) {
	a := newAccount(t)
	b := a.bundle(t, []string{"sleep", "1000"}, nil)
	if res := a.rt(b, "run", "-d", "y"); res.Code != 0 {
		t.Fatal(res)
	}
	defer a.rt(b, "delete", "-f", "y")
	var st specs.State
	if res := a.rt(b, "state", "y"); res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.Status != "running" {
		t.Fatalf("state: %s", res)
	}
	if res := a.rt(b, "list", "-q"); res.Stdout != "y\n" {
		t.Errorf("list: %s", res)
	}
	if res := a.rt(b, "exec", "y", "id", "-u"); res.Code != 0 || res.Stdout != "0\n" {
		t.Errorf("exec: %s", res)
	}
	var pids []int
	if res := a.rt(b, "ps", "--format", "json", "y"); res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &pids) != nil ||
		len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps: %s, want the init %d alone", res, st.Pid)
	}
	if res := a.rt(b, "pause", "y"); res.Code == 0 || !strings.Contains(res.Stderr, "has no cgroup") {
		t.Errorf("pause: %s, want a refusal saying there is no cgroup", res)
	}
	if res := a.rt(b, "kill", "y", "KILL"); res.Code != 0 {
		t.Errorf("kill: %s", res)
	}
	if res := a.rt(b, "delete", "-f", "y"); res.Code != 0 {
		t.Errorf("delete: %s", res)
	}
	if res := a.rt(b, "list", "-q"); res.Code != 0 || res.Stdout != "" {
		t.Errorf("list after delete: %s", res)
	}
	// Gone, or a zombie its new parent has not reaped yet.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid)); err == nil {
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] != "Z" {
			t.Errorf("the container's init %d is still running (state %s)", st.Pid, f[0])
		}
	}
}

// TestRootlessRefusals: --rootless=false fails on the cgroup, and a limit
// with no cgroup to enforce it fails naming the field; each in one line,
// with nothing left behind.
func TestRootlessRefusals(t *testing.T) {
	a := newAccount(t)
	limit := int64(64 << 20)
	for _, tt := range []struct {
		name  string
		flags []string
		edit  func(*specs.Spec)
		want  string
	}{
		{"rootless false", []string{"--rootless=false"}, nil, "permission denied"},
		{"a memory limit", nil, func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		}, "linux.resources.memory: rootless: no cgroup is delegated to uid " + strconv.Itoa(a.uid)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := a.bundle(t, []string{"true"}, tt.edit)
			res := a.rt(b, append(tt.flags, "run", "z")...)
			lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
			last := lines[len(lines)-1]
			if res.Code == 0 || !strings.Contains(last, tt.want) || strings.Contains(last, "level=") {
				t.Errorf("%s, want one error line containing %q", res, tt.want)
			}
			if ents, _ := os.ReadDir(filepath.Join(a.xdg, "rt")); len(ents) != 0 {
				t.Errorf("%d state dirs left", len(ents))
			}
		})
	}
}

// subIDs gives the account 65536 subordinate uids and gids in
// /etc/subuid and /etc/subgid, removed again at the end; it returns the
// first.
func (a *account) subIDs(t *testing.T) uint32 {
	t.Helper()
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Fatalf("newuidmap: %v (make deps installs uidmap)", err)
	}
	name := fmt.Sprintf("rtl%d", os.Getpid())
	start := uint32(2000000000 + (os.Getpid()%1000)*65536)
	line := fmt.Sprintf("%s:%d:65536\n", name, start)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		old, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, append(old, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cur, _ := os.ReadFile(f)
			os.WriteFile(f, []byte(strings.Replace(string(cur), line, "", 1)), 0o644)
		})
	}
	return start
}

// TestRootlessSubIDs: with subordinate ranges and uidmap installed, a map
// of the user's own id plus 65536 subordinate ids works (the container can
// own files as uid 1000); a range outside them fails naming the field.
func TestRootlessSubIDs(t *testing.T) {
	a := newAccount(t)
	start := a.subIDs(t)
	maps := func(sub uint32) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(a.uid), Size: 1}, {ContainerID: 1, HostID: sub, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(a.gid), Size: 1}, {ContainerID: 1, HostID: sub, Size: 65536}}
			c := s.Process.Capabilities
			c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_CHOWN"), append(c.Effective, "CAP_CHOWN"), append(c.Permitted, "CAP_CHOWN")
		}
	}
	b := a.bundle(t, []string{"sh", "-c", "cat /proc/self/uid_map; touch /dev/shm/f && chown 1000:1000 /dev/shm/f && stat -c %u:%g /dev/shm/f"}, maps(start))
	res := a.rt(b, "run", "sub")
	want := fmt.Sprintf("0 %d 1 1 %d 65536 1000:1000", a.uid, start)
	if res.Code != 0 || strings.Join(strings.Fields(res.Stdout), " ") != want {
		t.Errorf("%s, want %q", res, want)
	}
	b = a.bundle(t, []string{"true"}, maps(start+1))
	res = a.rt(b, "run", "outside")
	if res.Code == 0 || !strings.Contains(res.Stderr, "linux.uidMappings[1] (container 1, host "+strconv.Itoa(int(start+1))) ||
		!strings.Contains(res.Stderr, "subordinate ranges /etc/subuid gives this user") {
		t.Errorf("%s, want the map refused naming linux.uidMappings[1]", res)
	}
	if ents, _ := os.ReadDir(filepath.Join(a.xdg, "rt")); len(ents) != 0 {
		t.Errorf("%d state dirs left", len(ents))
	}
}

// delegate gives the account a cgroup of its own in every hierarchy (a
// chowned directory, as an administrator would) and returns its path and
// an fd of its cgroup2 directory: on cgroup2 a process may move only
// within a subtree it may write from the top, so the account's rt must
// start inside it (CLONE_INTO_CGROUP).
func (a *account) delegate(t *testing.T) (string, *os.File) {
	t.Helper()
	name := fmt.Sprintf("/rtl%d", os.Getpid())
	hs, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil || len(hs) == 0 {
		t.Fatalf("no cgroup hierarchies under /sys/fs/cgroup: %v", err)
	}
	for _, h := range hs {
		dir := h + name
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				os.WriteFile(filepath.Join(dir, f), v, 0)
			}
		}
		if out, err := exec.Command("chown", "-R", strconv.Itoa(a.uid), dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	fd, err := os.Open("/sys/fs/cgroup/unified" + name)
	if err != nil {
		t.Fatalf("cgroup2 at /sys/fs/cgroup/unified: %v", err)
	}
	t.Cleanup(func() { fd.Close() })
	return name, fd
}

// TestRootlessDelegated: with a cgroup delegated to the user, a rootless
// container is made in it and its limits apply; delete removes what it
// made. The device rules, which need CAP_SYS_ADMIN, are left out.
func TestRootlessDelegated(t *testing.T) {
	a := newAccount(t)
	parent, v2 := a.delegate(t)
	limit := int64(64 << 20)
	b := a.bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = parent + "/c1"
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	rt := func(args ...string) harness.Result {
		return a.run(a.command(b, args...), func(c *exec.Cmd) {
			c.SysProcAttr.UseCgroupFD, c.SysProcAttr.CgroupFD = true, int(v2.Fd())
		})
	}
	res := rt("run", "-d", "d1")
	if res.Code != 0 || strings.Contains(res.Stderr, "no cgroup is delegated") {
		t.Fatalf("run -d: %s", res)
	}
	defer rt("delete", "-f", "d1")
	var st specs.State
	if res := rt("state", "d1"); json.Unmarshal([]byte(res.Stdout), &st) != nil {
		t.Fatalf("state: %s", res)
	}
	mem := "/sys/fs/cgroup/memory" + parent + "/c1"
	if v, err := os.ReadFile(mem + "/memory.limit_in_bytes"); err != nil || strings.TrimSpace(string(v)) != strconv.FormatInt(limit, 10) {
		t.Errorf("%s/memory.limit_in_bytes = %q, %v; want %d", mem, v, err, limit)
	}
	if procs, _ := os.ReadFile(mem + "/cgroup.procs"); !strings.Contains(string(procs), strconv.Itoa(st.Pid)) {
		t.Errorf("the init %d is not in %s (%q)", st.Pid, mem, procs)
	}
	if res := rt("pause", "d1"); res.Code != 0 {
		t.Errorf("pause in a delegated cgroup: %s", res)
	}
	rt("resume", "d1")
	if res := rt("delete", "-f", "d1"); res.Code != 0 {
		t.Errorf("delete: %s", res)
	}
	if _, err := os.Stat(mem); err == nil {
		t.Errorf("%s left after delete", mem)
	}
}

// TestRootlessPodman: podman in its rootless mode, as the account, runs a
// container with --runtime pointing at rt (--network none: no slirp4netns
// or pasta here). rt runs as root of podman's user namespace, so it is
// rootless by auto and keeps its state under $XDG_RUNTIME_DIR/rt.
func TestRootlessPodman(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("podman: %v (make deps installs it)", err)
	}
	a := newAccount(t)
	a.subIDs(t)
	home := filepath.Join(a.dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// podman leaves its pause process (and, on failure, conmon) running as
	// the account; the storage holds files of its subordinate ids.
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-u", strconv.Itoa(a.uid)).Run()
		time.Sleep(100 * time.Millisecond)
	})
	const image = "localhost/rt-rootless/busybox:latest"
	files := map[string]string{
		"containers.conf": fmt.Sprintf("[containers]\nlog_driver = \"k8s-file\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = %q\n", filepath.Join(home, "events.log")),
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(home, "storage"), filepath.Join(a.xdg, "containers")),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(home, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.BuildImageArchive(filepath.Join(home, "image.tar"), image); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", a.uid, a.gid), home).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	podman := func(args ...string) harness.Result {
		cmd := exec.Command("podman", args...)
		cmd.Dir = home
		cmd.Env = []string{
			"XDG_RUNTIME_DIR=" + a.xdg, "HOME=" + home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			"CONTAINERS_CONF=" + filepath.Join(home, "containers.conf"), "CONTAINERS_STORAGE_CONF=" + filepath.Join(home, "storage.conf"),
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{}}}
		return a.run(cmd, nil)
	}
	if res := podman("load", "-i", filepath.Join(home, "image.tar")); res.Code != 0 {
		t.Fatalf("podman load as uid %d: %s", a.uid, res)
	}
	res := podman("--runtime", filepath.Join(a.bin, "rt"), "run", "--rm", "--network", "none", image,
		"sh", "-c", "id -u; head -1 /proc/self/uid_map")
	f := strings.Fields(res.Stdout)
	if res.Code != 0 || len(f) != 4 || f[0] != "0" || f[2] != strconv.Itoa(a.uid) {
		t.Fatalf("podman --runtime rt run as uid %d: %s, want uid 0 mapped to %d", a.uid, res, a.uid)
	}
	if ents, _ := os.ReadDir(filepath.Join(a.xdg, "rt")); len(ents) != 0 {
		t.Errorf("%d state dirs left under %s/rt after run --rm", len(ents), a.xdg)
	}
}
