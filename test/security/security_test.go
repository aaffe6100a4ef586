// Package security_test holds regression tests for the classes of container
// escape that runc has had CVEs for: each test names the class it covers
// and attacks rt the way the original exploit attacked runc.
package security_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

func runner(t *testing.T) *harness.Runner {
	harness.RequireRoot(t)
	return harness.NewRunner(t)
}

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

// run runs the bundle in the foreground and fails the test unless the
// container exits 0.
func run(t *testing.T, r *harness.Runner, b string) string {
	t.Helper()
	id := harness.ID("sec")
	res := r.RT("run", "--bundle", b, id)
	if res.Code != 0 {
		t.Fatalf("run: %s", res)
	}
	r.AssertNoTrace(t, id, b)
	return res.Stdout
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10s", what)
}

// mountPoints lists the mount points of a mountinfo text, with their
// filesystem type and mount options.
type mountEntry struct{ point, fstype, opts string }

func mountPoints(mountinfo string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 1 {
			continue
		}
		out = append(out, mountEntry{point: f[4], fstype: g[0], opts: f[5]})
	}
	return out
}

// assertHostDirUntouched fails if dir has any entry or anything is mounted
// on or under it in the host's mount namespace.
func assertHostDirUntouched(t *testing.T, dir string) {
	t.Helper()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host dir %s changed: %v %v", dir, names, err)
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range mountPoints(string(data)) {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			t.Errorf("host mount on %s (%s)", m.point, m.fstype)
		}
	}
}

// TestMountDestinationSymlinkEscape covers the CVE-2021-30465 class
// (symlink-exchange attack on mount destinations), without the race: a
// mount whose destination is, or goes through, a symlink in the rootfs pointing at a
// host path, absolute or by enough "..", must be mounted where the symlink
// points inside the rootfs, never on the host path, and must create
// nothing there.
func TestMountDestinationSymlinkEscape(t *testing.T) {
	r := runner(t)
	host := t.TempDir() // the host paths the symlinks aim at
	tmpfsDir, subDir, bindDir, relDir, relSubDir := filepath.Join(host, "tmpfs"), filepath.Join(host, "sub"),
		filepath.Join(host, "bind"), filepath.Join(host, "rel"), filepath.Join(host, "relsub")
	for _, d := range []string{tmpfsDir, subDir, bindDir, relDir, relSubDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := t.TempDir() // what the bind mount shows
	if err := os.WriteFile(filepath.Join(src, "from-src"), []byte("src\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 12)
	links := map[string]string{
		"evil":        tmpfsDir,
		"evilsub":     subDir,
		"evilbind":    bindDir,
		"a/b/evilrel": up + relDir[1:],
		"evilrelsub":  "../../../.." + relSubDir,
	}
	tmpfs := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=64k"}}
	}
	b := bundle(t, sh(`cat /proc/self/mountinfo; echo ---;
		for d in /evil /evilsub/sub /evilbind /a/b/evilrel /evilrelsub/sub; do touch $d/written-by-container || exit 1; done;
		ls /evilbind`), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			tmpfs("/evil"),
			tmpfs("/evilsub/sub"),
			specs.Mount{Destination: "/evilbind", Type: "bind", Source: src, Options: []string{"rbind", "rw"}},
			tmpfs("/a/b/evilrel"),
			tmpfs("/evilrelsub/sub"),
		)
	})
	rootfs := filepath.Join(b, "rootfs")
	for link, target := range links {
		p := filepath.Join(rootfs, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// The targets exist inside the rootfs: a runtime that resolves the
	// destinations on the host finds the host dirs instead, and mounts
	// there. (Dangling links are TestMountDestinationDanglingSymlink.)
	for _, d := range []string{tmpfsDir, subDir, bindDir, relDir, relSubDir} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, r, b)
	mountinfo, ls, _ := strings.Cut(out, "---\n")

	for _, d := range []string{tmpfsDir, subDir, bindDir, relDir, relSubDir} {
		assertHostDirUntouched(t, d)
	}
	if _, err := os.Stat(filepath.Join(src, "written-by-container")); err != nil {
		t.Errorf("the bind mount is not the source's: %v", err)
	}
	if !strings.Contains(ls, "from-src") {
		t.Errorf("/evilbind in the container does not show the bind source: %q", ls)
	}
	// Inside, each mount is at the symlink's target as resolved in the
	// rootfs, which is the host path's spelling under the container's /.
	mounts := mountPoints(mountinfo)
	for _, want := range []mountEntry{
		{point: tmpfsDir, fstype: "tmpfs"},
		{point: subDir + "/sub", fstype: "tmpfs"},
		{point: bindDir},
		{point: relDir, fstype: "tmpfs"},
		{point: relSubDir + "/sub", fstype: "tmpfs"},
	} {
		if !slices.ContainsFunc(mounts, func(m mountEntry) bool {
			return m.point == want.point && (want.fstype == "" || m.fstype == want.fstype)
		}) {
			t.Errorf("no %s mount on %s inside the container:\n%s", want.fstype, want.point, mountinfo)
		}
	}
	// And on the host those are directories inside the rootfs.
	for _, d := range []string{tmpfsDir, subDir + "/sub", bindDir, relDir, relSubDir + "/sub"} {
		if st, err := os.Lstat(filepath.Join(rootfs, d)); err != nil || !st.IsDir() {
			t.Errorf("mount point %s not made inside the rootfs: %v", d, err)
		}
	}
}

// TestMountDestinationDanglingSymlink is TestMountDestinationSymlinkEscape
// with symlinks whose targets do not exist in the rootfs (CVE-2021-30465
// class, the mkdir half): the mount either fails with one line naming the
// destination, as runc 1.2+ does, or is made inside the rootfs, as runc 1.1
// does; nothing is created or mounted on the host path.
func TestMountDestinationDanglingSymlink(t *testing.T) {
	r := runner(t)
	src := t.TempDir()
	for _, tc := range []struct {
		name  string
		link  func(host string) string
		mount func(dest string) specs.Mount
		dest  string
	}{
		{"tmpfs on the link", func(h string) string { return h }, nil, "/evil"},
		{"tmpfs under the link", func(h string) string { return h }, nil, "/evil/sub"},
		{"tmpfs under a relative link", func(h string) string { return strings.Repeat("../", 12) + h[1:] }, nil, "/evil/sub"},
		{"bind on the link", func(h string) string { return h }, func(d string) specs.Mount {
			return specs.Mount{Destination: d, Type: "bind", Source: src, Options: []string{"rbind"}}
		}, "/evil"},
		{"bind under the link", func(h string) string { return h }, func(d string) specs.Mount {
			return specs.Mount{Destination: d, Type: "bind", Source: src, Options: []string{"rbind"}}
		}, "/evil/sub"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			host := t.TempDir()
			m := specs.Mount{Destination: tc.dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}}
			if tc.mount != nil {
				m = tc.mount(tc.dest)
			}
			b := bundle(t, sh("cat /proc/self/mountinfo"), func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) })
			if err := os.Symlink(tc.link(host), filepath.Join(b, "rootfs/evil")); err != nil {
				t.Fatal(err)
			}
			id := harness.ID("dangling")
			res := r.RT("run", "--bundle", b, id)
			t.Logf("exit %d, stderr %q", res.Code, res.Stderr)
			r.AssertNoTrace(t, id, b)
			assertHostDirUntouched(t, host)
			if res.Code != 0 {
				if strings.Count(res.Stderr, "\n") != 1 || !strings.Contains(res.Stderr, tc.dest) {
					t.Errorf("refused without one line naming %s: %s", tc.dest, res)
				}
				return
			}
			want := host + strings.TrimPrefix(tc.dest, "/evil")
			if !slices.ContainsFunc(mountPoints(res.Stdout), func(m mountEntry) bool { return m.point == want }) {
				t.Errorf("no mount on %s inside the container:\n%s", want, res.Stdout)
			}
		})
	}
}

// TestNoHostFdLeak covers the fd-leak half of the CVE-2024-21626 class
// ("Leaky Vessels"): the container's process starts with fds 0-2 only (and
// with --preserve-fds N, exactly 3..N+2 more, the caller's), so no host
// directory fd is there to escape through.
func TestNoHostFdLeak(t *testing.T) {
	r := runner(t)
	script := sh(`ls -l /proc/$$/fd; echo ---; ls -l /proc/self/fd; echo ---; cat <&3; cat <&4`)
	b := bundle(t, script, nil)

	id := harness.ID("fds")
	res := r.RT("run", "--bundle", b, id)
	init, self, _ := strings.Cut(res.Stdout, "---\n")
	self, _, _ = strings.Cut(self, "---\n")
	if got := harness.FdNumbers(harness.ListFds(t, init)); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("container init holds fds %v, want [0 1 2]:\n%s", got, init)
	}
	// ls itself has the directory it lists open as 3.
	if got := harness.FdNumbers(harness.ListFds(t, self)); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("a child of the init holds fds %v, want [0 1 2] and its own 3:\n%s", got, self)
	}
	r.AssertNoTrace(t, id, b)

	dir := t.TempDir()
	var extra []*os.File
	for _, name := range []string{"preserved-a", "preserved-b"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content of "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	id = harness.ID("fds")
	cmd := exec.Command(r.Bins.RT, "--root", r.Root, "run", "--preserve-fds", "2", "--bundle", b, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &stdout, &stderr, extra
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --preserve-fds 2: %v: %s", err, stderr.String())
	}
	init, rest, _ := strings.Cut(stdout.String(), "---\n")
	_, cat, _ := strings.Cut(rest, "---\n")
	fds := harness.ListFds(t, init)
	if got := harness.FdNumbers(fds); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("with --preserve-fds 2 the init holds fds %v, want [0 1 2 3 4]:\n%s", got, init)
	}
	if !strings.HasSuffix(fds[3], "/preserved-a") || !strings.HasSuffix(fds[4], "/preserved-b") {
		t.Errorf("preserved fds 3 and 4 are %q and %q", fds[3], fds[4])
	}
	if cat != "content of preserved-a\ncontent of preserved-b\n" {
		t.Errorf("reading the preserved fds: %q", cat)
	}
	r.AssertNoTrace(t, id, b)
}

// TestCwdEscape covers the cwd half of the CVE-2024-21626 class:
// process.cwd naming an fd of the runtime (/proc/self/fd/N, which in runc
// 1.1.11 was a leaked host /sys/fs/cgroup) or a symlink in the rootfs to a
// host path either fails create or leaves the process inside the rootfs;
// it never gets the host's filesystem as its working directory.
func TestCwdEscape(t *testing.T) {
	r := runner(t)
	host := t.TempDir()
	secret := fmt.Sprintf("host-secret-%d", os.Getpid())
	sentinel := filepath.Join(host, "sentinel")
	if err := os.WriteFile(sentinel, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 20)
	// pwd; what / is; and the sentinel through every spelling that would
	// reach it from a cwd on the host.
	script := sh(fmt.Sprintf(`pwd; echo ---; ls /; echo ---; ls -a .; echo ---
		cat %[1]s%[2]s %[2]s .%[2]s 2>/dev/null; cat %[1]setc/hostname %[1]sproc/1/root%[2]s 2>/dev/null; true`, up, sentinel))
	rootEntries := func(b string) string {
		ents, err := os.ReadDir(filepath.Join(b, "rootfs"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return strings.Join(names, "\n") + "\n"
	}
	hostname, _ := os.ReadFile("/etc/hostname")
	check := func(t *testing.T, cwd string, b string, mustRun bool) (pwd string) {
		t.Helper()
		id := harness.ID("cwd")
		res := r.RT("run", "--bundle", b, id)
		t.Logf("cwd %q: %s", cwd, res)
		r.AssertNoTrace(t, id, b)
		if strings.Contains(res.Stdout+res.Stderr, secret) {
			t.Errorf("cwd %q: the container read a host file: %s", cwd, res)
		}
		if res.Code != 0 {
			if mustRun {
				t.Errorf("cwd %q: %s", cwd, res)
			}
			if strings.Count(res.Stderr, "\n") != 1 || !strings.Contains(res.Stderr, "cwd") {
				t.Errorf("cwd %q refused without one line naming the cwd: %s", cwd, res)
			}
			return ""
		}
		parts := strings.SplitN(res.Stdout, "---\n", 4)
		if len(parts) != 4 {
			t.Fatalf("cwd %q: output %q", cwd, res.Stdout)
		}
		pwd = strings.TrimSpace(parts[0])
		if !strings.HasPrefix(pwd, "/") || strings.Contains(pwd, "unreachable") {
			t.Errorf("cwd %q: pwd in the container is %q", cwd, pwd)
		}
		if parts[1] != rootEntries(b) {
			t.Errorf("cwd %q: / in the container is not the rootfs:\n%s", cwd, parts[1])
		}
		if len(hostname) > 0 && strings.Contains(parts[3], strings.TrimSpace(string(hostname))) {
			t.Errorf("cwd %q: the host's /etc/hostname is readable: %q", cwd, parts[3])
		}
		return pwd
	}

	t.Run("runtime fds", func(t *testing.T) {
		for _, n := range []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 200, 255} {
			for _, cwd := range []string{fmt.Sprintf("/proc/self/fd/%d", n), fmt.Sprintf("/proc/self/fd/%d/..", n)} {
				b := bundle(t, script, func(s *specs.Spec) { s.Process.Cwd = cwd })
				check(t, cwd, b, false)
			}
		}
	})

	t.Run("symlink to host path", func(t *testing.T) {
		hostTarget := filepath.Join(host, "target")
		if err := os.Mkdir(hostTarget, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(hostTarget, "marker"), []byte(secret+"\n"), 0o644)
		for _, tc := range []struct{ name, link string }{
			{"absolute", hostTarget},
			{"relative", up + hostTarget[1:]},
		} {
			for _, exists := range []bool{true, false} {
				b := bundle(t, sh(`pwd; echo ---; ls /; echo ---; ls -a .; echo ---; cat marker 2>/dev/null; touch made-in-cwd; true`), func(s *specs.Spec) {
					s.Process.Cwd = "/link"
					s.Root.Readonly = false
				})
				rootfs := filepath.Join(b, "rootfs")
				if err := os.Symlink(tc.link, filepath.Join(rootfs, "link")); err != nil {
					t.Fatal(err)
				}
				if exists {
					if err := os.MkdirAll(filepath.Join(rootfs, hostTarget), 0o755); err != nil {
						t.Fatal(err)
					}
					os.WriteFile(filepath.Join(rootfs, hostTarget, "marker"), []byte("inside\n"), 0o644)
				}
				what := fmt.Sprintf("%s link, target exists in rootfs %v", tc.name, exists)
				id := harness.ID("cwdlink")
				res := r.RT("run", "--bundle", b, id)
				t.Logf("%s: %s", what, res)
				r.AssertNoTrace(t, id, b)
				if strings.Contains(res.Stdout+res.Stderr, secret) {
					t.Errorf("%s: the container read the host dir: %s", what, res)
				}
				if _, err := os.Stat(filepath.Join(hostTarget, "made-in-cwd")); err == nil {
					t.Errorf("%s: the container wrote into the host dir", what)
				}
				if ents, _ := os.ReadDir(hostTarget); len(ents) != 1 {
					t.Errorf("%s: host dir has %d entries, want only its marker", what, len(ents))
				}
				if res.Code != 0 {
					if exists {
						t.Errorf("%s: %s", what, res)
					}
					continue
				}
				parts := strings.SplitN(res.Stdout, "---\n", 4)
				if len(parts) != 4 || strings.TrimSpace(parts[0]) != hostTarget || parts[1] != rootEntries(b) {
					t.Errorf("%s: not inside the rootfs at %s: %q", what, hostTarget, res.Stdout)
				}
				if exists && parts[3] != "inside\n" {
					t.Errorf("%s: cwd is not the rootfs's %s: %q", what, hostTarget, parts[3])
				}
				if _, err := os.Stat(filepath.Join(rootfs, hostTarget, "made-in-cwd")); err != nil {
					t.Errorf("%s: file made in cwd not in the rootfs: %v", what, err)
				}
			}
		}
	})
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// TestInitBinaryOverwrite covers the CVE-2019-5736 class: a container
// process that reaches the runtime binary through /proc/<init>/exe (or
// re-executes it as /proc/self/exe) and writes to it must not change the
// rt-init on the host. rt runs the file through a detached read-only
// overlayfs (or, where that is missing, a sealed memfd copy), so
// /proc/<pid>/exe is never the file on disk as mounted on the host, and
// refuses writers.
func TestInitBinaryOverwrite(t *testing.T) {
	r := runner(t)
	before := hashFile(t, r.Bins.Init)
	defer func() {
		if hashFile(t, r.Bins.Init) != before {
			t.Errorf("rt-init on disk (%s) was changed", r.Bins.Init)
		}
	}()

	b := bundle(t, []string{"sleep", "1000"}, nil)
	id := harness.ID("victim")
	if res := r.RT("create", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	pid := state(t, r, id).InitProcessPid
	exe := fmt.Sprintf("/proc/%d/exe", pid)

	t.Run("from the host", func(t *testing.T) {
		target, err := os.Readlink(exe)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s -> %s", exe, target)
		if target == r.Bins.Init || target != "/"+filepath.Base(r.Bins.Init) && !strings.HasPrefix(target, "/memfd:") {
			t.Errorf("%s -> %q, want %s in a detached overlay or a memfd, not the file on disk", exe, target, "/"+filepath.Base(r.Bins.Init))
		}
		for _, flags := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC} {
			if f, err := os.OpenFile(exe, flags, 0); err == nil {
				_, werr := f.Write([]byte("pwned"))
				f.Close()
				t.Errorf("opening %s with flags %#x succeeded (write: %v)", exe, flags, werr)
			} else if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ETXTBSY) {
				t.Errorf("opening %s for writing: %v, want EROFS (overlay) or EPERM (sealed memfd)", exe, err)
			}
		}
	})

	// A second container in the first one's pid namespace sees the waiting
	// rt-init as its pid 1, as a process of the first container would.
	attacker := func(t *testing.T, script string, privileged bool) *exec.Cmd {
		ab := bundle(t, sh(script), func(s *specs.Spec) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.PIDNamespace {
					s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", pid)
				}
			}
			if privileged {
				all := []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_KILL"}
				c := s.Process.Capabilities
				c.Bounding, c.Effective, c.Permitted = all, all, all
				s.Process.NoNewPrivileges = false
			}
		})
		return exec.Command(r.Bins.RT, "--root", r.Root, "run", "--bundle", ab, harness.ID("attacker"))
	}

	t.Run("write /proc/1/exe from a container", func(t *testing.T) {
		for _, privileged := range []bool{false, true} {
			out, err := attacker(t, `cat /proc/1/comm; echo pwned > /proc/1/exe && echo WROTE; true`, privileged).CombinedOutput()
			t.Logf("privileged %v: %s", privileged, out)
			if err != nil || !strings.Contains(string(out), "/proc/1/exe") {
				t.Errorf("privileged %v: attacker: %v: %s", privileged, err, out)
			}
			if strings.Contains(string(out), "WROTE") {
				t.Errorf("privileged %v: the container wrote to its pid 1's exe: %s", privileged, out)
			}
		}
	})

	// The exploit proper: hold the runtime's exe open while it runs, and
	// write through it once it has exec'd the container's program and the
	// file is no longer busy.
	t.Run("write through a held fd after start", func(t *testing.T) {
		cmd := attacker(t, `exec 5</proc/1/exe || exit 10; echo opened
			while [ "$(cat /proc/1/comm)" != sleep ]; do sleep 0.01; done
			echo pwned > /proc/self/fd/5 && echo WROTE; true`, true)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if line != "opened\n" {
			cmd.Wait()
			t.Fatalf("attacker could not open /proc/1/exe: %q %v: %s", line, err, stderr.String())
		}
		if res := r.RT("start", id); res.Code != 0 {
			t.Fatalf("start: %s", res)
		}
		rest, _ := io.ReadAll(br)
		t.Logf("attacker after start: %s %s", rest, stderr.String())
		if err := cmd.Wait(); err != nil {
			t.Errorf("attacker: %v: %s", err, stderr.String())
		}
		if strings.Contains(string(rest), "WROTE") {
			t.Errorf("the container wrote through a held fd of the runtime's exe: %s %s", rest, stderr.String())
		}
	})
	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Fatal(res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestReexecSelf covers the other half of CVE-2019-5736: a container whose
// program is /proc/self/exe re-executes whatever the runtime left as the
// init's exe. That is rt-init, which without rt's socket does nothing but
// exit non-zero; the loader and libc are put in the rootfs so that it
// really runs (rt-init is dynamically linked).
func TestReexecSelf(t *testing.T) {
	r := runner(t)
	before := hashFile(t, r.Bins.Init)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"plain", []string{"/proc/self/exe"}, nil},
		{"with init fd env", []string{"/proc/self/exe"}, []string{"_RT_INITFD=3"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			b := bundle(t, tc.args, func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, tc.env...) })
			copyLoader(t, r.Bins.Init, filepath.Join(b, "rootfs"))
			id := harness.ID("reexec")
			res := r.RT("run", "--bundle", b, id)
			t.Logf("%s", res)
			if res.Code == 0 {
				t.Errorf("rt-init re-executed in the container succeeded: %s", res)
			}
			if !strings.Contains(res.Stderr, "rt-init") {
				t.Errorf("the re-executed rt-init did not run: %s", res)
			}
			r.AssertNoTrace(t, id, b)
		})
	}
	if hashFile(t, r.Bins.Init) != before {
		t.Errorf("rt-init on disk (%s) was changed", r.Bins.Init)
	}
}

// copyLoader copies the shared objects bin needs into rootfs, at the paths
// ldd names.
func copyLoader(t *testing.T, bin, rootfs string) {
	t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) { // "not a dynamic executable": nothing to copy
			return
		}
		t.Skipf("ldd: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if !strings.HasPrefix(f, "/") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(rootfs, f)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestMaskedAndReadonlyPaths covers the masked/read-only paths class (the
// baseline that runc's CVE-2025-31133 defeated by racing the /dev/null used
// for masking; the race itself is not attempted here): the default spec's
// masked paths (/proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware,
// …) read empty and its read-only paths (/proc/sys, /proc/sysrq-trigger, …)
// are read-only mounts that refuse writes.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	r := runner(t)
	b := bundle(t, sh(`
		for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
			[ -e $f ] && echo "file $f $(wc -c < $f)"
		done
		for d in /sys/firmware /proc/acpi /proc/scsi /proc/asound; do
			[ -e $d ] && echo "dir $d $(ls -A $d | wc -l)"
		done
		{ echo rt-test > /proc/sys/kernel/domainname && echo "wrote /proc/sys"; } 2>&1
		echo ---; cat /proc/self/mountinfo; true`), nil)
	out := run(t, r, b)
	checks, mountinfo, _ := strings.Cut(out, "---\n")
	t.Logf("in the container:\n%s", checks)
	seen := map[string]string{}
	for _, line := range strings.Split(checks, "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			seen[f[1]] = f[2]
		}
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats", "/proc/timer_stats", "/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/asound"} {
		if _, err := os.Stat(p); err != nil {
			continue // not on this host
		}
		if n, ok := seen[p]; !ok || n != "0" {
			t.Errorf("%s in the container: %q entries/bytes (read %v), want empty", p, n, ok)
		}
	}
	if _, ok := seen["/proc/kcore"]; !ok {
		if _, err := os.Stat("/proc/kcore"); err == nil {
			t.Error("/proc/kcore unreadable in the container rather than masked")
		}
	}
	// Without the read-only mount, uid 0 could write this file: the
	// sysctl needs no capability, only the owner's write bit.
	if strings.Contains(checks, "wrote /proc/sys") || !strings.Contains(checks, "Read-only file system") {
		t.Errorf("/proc/sys/kernel/domainname is not refused as read-only in the container:\n%s", checks)
	}
	mounts := mountPoints(mountinfo)
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		i := slices.IndexFunc(mounts, func(m mountEntry) bool { return m.point == p })
		if i < 0 || !slices.Contains(strings.Split(mounts[i].opts, ","), "ro") {
			t.Errorf("%s is not a read-only mount in the container:\n%s", p, mountinfo)
		}
	}
}

// TestMaskSourceIsNullDevice covers the CVE-2025-31133 class: runc masked
// paths by bind-mounting whatever "/dev/null" resolved to, so a container
// that got /dev/null swapped for a symlink to /proc/sys/kernel/core_pattern
// (through a mount shared with a racing container) had runc mount that
// file, writable, over a masked path. rt opens /dev/null once without
// following symlinks, checks it is the null device and mounts from that fd.
// The race is not attempted: a createContainer hook, which runs in the
// container's mount namespace after /dev is made and before the paths are
// masked, does the swap, and create must refuse to mask with it.
func TestMaskSourceIsNullDevice(t *testing.T) {
	r := runner(t)
	if harness.Compared != "" {
		t.Skip("Debian's runc 1.1 predates the fix for CVE-2025-31133")
	}
	b := bundle(t, sh(`cat /proc/sysrq-trigger; true`), func(s *specs.Spec) {
		hook := filepath.Join(t.TempDir(), "swap-null")
		script := "#!/bin/sh\nrm -f \"$1/dev/null\" && ln -s /proc/sys/kernel/core_pattern \"$1/dev/null\"\n"
		if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: hook, Args: []string{"swap-null", "ROOTFS"}}}}
		s.Linux.MaskedPaths = []string{"/proc/sysrq-trigger"}
		s.Linux.ReadonlyPaths = nil
	})
	// The hook's argument is the rootfs, known once the bundle exists.
	harness.EditConfig(t, b, func(s *specs.Spec) { s.Hooks.CreateContainer[0].Args[1] = filepath.Join(b, "rootfs") })
	before, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	id := harness.ID("null")
	res := r.RT("run", "--bundle", b, id)
	if res.Code == 0 {
		t.Errorf("run with /dev/null swapped for a symlink succeeded: %s; want a refusal before any path is masked with it", res)
	}
	if !strings.Contains(res.Stderr, "/dev/null") || !strings.Contains(res.Stderr, "not the null device") {
		t.Errorf("error %q does not say that /dev/null is not the null device", res.Stderr)
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(after) != string(before) {
		t.Errorf("the host's core_pattern changed: %q -> %q", before, after)
	}
	r.AssertNoTrace(t, id, b)
}

// TestSysctlNotRedirected covers the CVE-2025-52881 class: runc wrote
// linux.sysctl values (and LSM labels) through paths under the container's
// /proc, so a mount over one of those files (set up by a racing container
// through a shared mount, or by a config that mounts over /proc) had runc
// write the value into whatever file was mounted there. rt writes through a
// procfs of its own that no container mount covers. Here a host file is
// mounted over /proc/sys/kernel/domainname and the spec sets
// kernel.domainname: the host file must stay as it was, and the container's
// domain name must be set.
func TestSysctlNotRedirected(t *testing.T) {
	r := runner(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("untouched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle(t, sh(`cat /proc/sys/kernel/domainname; hostname -d 2>/dev/null || uname -n; true`), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys/kernel/domainname", Type: "bind", Source: victim, Options: []string{"bind", "rw"}})
		s.Linux.Sysctl = map[string]string{"kernel.domainname": "sysctl-value"}
		s.Linux.ReadonlyPaths = nil
	})
	id := harness.ID("sysctl")
	res := r.RT("run", "--bundle", b, id)
	t.Logf("run: %s", res)
	if data, err := os.ReadFile(victim); err != nil || string(data) != "untouched\n" {
		t.Errorf("the file mounted over /proc/sys/kernel/domainname was written: %q (%v)", data, err)
	} else if res.Code == 0 && !strings.Contains(res.Stdout, "untouched") {
		t.Errorf("the container does not see the mounted file, so the test proves nothing: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}
