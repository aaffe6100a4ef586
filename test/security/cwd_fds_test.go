package security_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

// TestExecCwdProcFds covers the cwd half of the CVE-2024-21626 class through
// exec, for every fd a process in the container could name: runc exec
// --cwd /proc/self/fd/7 started the process in a host directory that runc
// had leaked. Here rt is given host directories (the test's, each with a
// secret file) as its stdin and as leaked fds 3-5, for create and for each
// exec, and exec --cwd names /proc/self/fd/N (the fds of the exec'd rt-init,
// N 0-31 and 255) and /proc/1/fd/N (the init's: created, holding the sync
// socket, the exec fifo and create's stdio, then the running program), each
// also with "/..", and the container's own directories through
// /proc/self/cwd, /proc/1/cwd and /proc/1/root, which must work. Every exec either fails in one line naming the cwd
// (exit 255) or runs in the container: getcwd is a path of its root that
// leads to the same directory, / is the rootfs, and no secret is readable.
// (pkg/process Chdir's getcwd check, rt-init's fd hygiene: docs/security.md.)
func TestExecCwdProcFds(t *testing.T) {
	r := runner(t)
	secret := fmt.Sprintf("host-secret-%d", os.Getpid())
	hostDir := func() *os.File {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "sentinel"), []byte(secret+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	b := bundle(t, []string{"sleep", "1000"}, nil)
	var rootEntries []string
	ents, _ := os.ReadDir(filepath.Join(b, "rootfs"))
	for _, e := range ents {
		rootEntries = append(rootEntries, e.Name())
	}

	id := harness.ID("cwdfds")
	create := r.Command("create", "--bundle", b, id)
	create.Stdin, create.ExtraFiles = hostDir(), []*os.File{hostDir(), hostDir(), hostDir()}
	if res := runResult(t, create); res.Code != 0 {
		t.Fatalf("create: %s", res)
	}
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	pid := state(t, r, id).InitProcessPid

	stdin, extra := hostDir(), []*os.File{hostDir(), hostDir(), hostDir()}
	script := `d=$(pwd -P 2>&1); echo "pwd|$d"
		[ "$(stat -c %d:%i . 2>&1)" = "$(stat -c %d:%i "$d" 2>&1)" ] && echo "same|yes" || echo "same|no"
		echo "root|$(ls / | tr '\n' ' ')"; cat sentinel ../sentinel 2>&1; true`
	// outcomes counts, per stage, the execs that ran and those refused.
	var outcomes map[string]int
	check := func(t *testing.T, cwd string) harness.Result {
		t.Helper()
		cmd := r.Command("exec", "--cwd", cwd, id, "sh", "-c", script)
		cmd.Stdin, cmd.ExtraFiles = stdin, extra
		res := runResult(t, cmd)
		if strings.Contains(res.Stdout+res.Stderr, secret) {
			t.Errorf("--cwd %s: the exec'd process read a host directory: %s", cwd, res)
		}
		if res.Code != 0 {
			if res.Code != 255 || strings.Count(res.Stderr, "\n") != 1 ||
				!strings.Contains(res.Stderr, "cwd") && !strings.Contains(res.Stderr, "chdir") {
				t.Errorf("--cwd %s refused without exit 255 and one line naming the cwd: %s", cwd, res)
			}
			if strings.Contains(res.Stderr, "outside the container") {
				outcomes["refused: outside the container"]++
			} else {
				outcomes["refused: "+res.Stderr[strings.LastIndex(res.Stderr, ": ")+2:len(res.Stderr)-1]]++
			}
			return res
		}
		outcomes["ran in the container"]++
		got := map[string]string{}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if k, v, ok := strings.Cut(line, "|"); ok {
				got[k] = v
			}
		}
		if pwd := got["pwd"]; !strings.HasPrefix(pwd, "/") || strings.Contains(pwd, "unreachable") || got["same"] != "yes" {
			t.Errorf("--cwd %s: the cwd is not a directory of the container: %s", cwd, res)
		}
		if root := strings.Fields(got["root"]); !slices.Equal(root, rootEntries) {
			t.Errorf("--cwd %s: / is %v, not the rootfs's %v", cwd, root, rootEntries)
		}
		return res
	}
	fdsOf := func(pid int) []int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		var fds []int
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				fds = append(fds, n)
			}
		}
		return fds
	}
	self := []int{255}
	for n := 0; n < 32; n++ {
		self = append(self, n)
	}
	for _, stage := range []string{"created", "running"} {
		t.Run(stage, func(t *testing.T) {
			if stage == "running" {
				if res := r.RT("start", id); res.Code != 0 {
					t.Fatalf("start: %s", res)
				}
				waitFor(t, "the init runs sleep", func() bool { return comm(pid) == "sleep" })
			}
			initFds := fdsOf(pid)
			t.Logf("the init's fds (%s): %v", stage, initFds)
			outcomes = map[string]int{}
			defer func() { t.Logf("%s: %v", stage, outcomes) }()
			// fd 0 is a host directory in both, the attack itself: chdir
			// gets there, and the check after it must refuse it.
			for _, cwd := range []string{"/proc/self/fd/0", "/proc/1/fd/0"} {
				if res := check(t, cwd); !strings.Contains(res.Stderr, "outside the container") {
					t.Errorf("--cwd %s, a host directory, not refused as outside the container: %s", cwd, res)
				}
			}
			// Directories of the container through /proc: these run.
			for _, cwd := range []string{"/proc/self/cwd", "/proc/1/cwd", "/proc/1/root", "/proc/self/root/proc/1/cwd"} {
				if res := check(t, cwd); res.Code != 0 {
					t.Errorf("--cwd %s, a directory of the container, refused: %s", cwd, res)
				}
			}
			for _, n := range self {
				check(t, fmt.Sprintf("/proc/self/fd/%d", n))
				check(t, fmt.Sprintf("/proc/self/fd/%d/..", n))
			}
			for _, n := range initFds {
				check(t, fmt.Sprintf("/proc/1/fd/%d", n))
				check(t, fmt.Sprintf("/proc/1/fd/%d/..", n))
			}
		})
	}
}

// comm is the command name of pid, "" once it is gone.
func comm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}
