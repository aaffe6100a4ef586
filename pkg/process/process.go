// Package process turns the calling process into a container's process as
// runtime-spec's `process` describes it: rlimits, oom_score_adj, user and
// groups, capabilities, no_new_privs, LSM labels, umask, cwd, and finally
// execve. rt-init uses it for the container's init, and exec will use the
// same code for additional processes.
//
// Capabilities, no_new_privs, the uid switch and LSM labels are per-thread
// in Linux: every function here must run on the one OS thread that will
// call execve (the caller locks it with runtime.LockOSThread). Nothing here
// spawns goroutines for that reason.
package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/spec"
)

// SetOOMScoreAdj writes process.oomScoreAdj, if set.
func SetOOMScoreAdj(p *specs.Process) error {
	if p.OOMScoreAdj == nil {
		return nil
	}
	// Through a private procfs instance, never the container's /proc,
	// which a mount or a racing container could redirect (CVE-2025-52881).
	if err := writeThreadSelf("oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
		return fmt.Errorf("oom_score_adj %d: %w", *p.OOMScoreAdj, err)
	}
	return nil
}

// LookPath finds the program to run the way execvp would, in the PATH of
// the process's own environment, and checks it can be executed. The error
// wording ("executable file not found in $PATH", "no such file or
// directory", "permission denied") is what podman maps to exit codes 127
// and 126.
func LookPath(p *specs.Process) (string, error) {
	if len(p.Args) == 0 {
		return "", errNoArgs
	}
	name := p.Args[0]
	if strings.Contains(name, "/") {
		return name, checkExecutable(name)
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, name)
		err := checkExecutable(cand)
		if err == nil {
			return cand, nil
		}
		if errors.Is(err, fs.ErrPermission) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("exec: %q: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("exec: %q: is a directory: %w", path, fs.ErrPermission)
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("exec: %q: %w", path, fs.ErrPermission)
	}
	return nil
}

// Chdir enters process.cwd. The init creates a missing cwd before the root
// may turn read-only; for exec a missing cwd is an error, as runc's. It runs
// with no host fd open, so the path can only resolve inside the container
// (CVE-2024-21626); getcwd confirms it.
func Chdir(p *specs.Process) error {
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to cwd %q: %w", p.Cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("cwd %q is outside the container (getcwd %q): %v", p.Cwd, wd, err)
	}
	return nil
}

// Credentials switches to process.user and sets the capabilities: bounding
// set first (dropping needs CAP_SETPCAP, which the switch may lose), then
// groups, gid and uid with the permitted set kept, then the other sets.
// lockdown (the rlimits and the seccomp filter) runs as late as it can:
// after everything with no_new_privs, else before the capabilities go,
// because loading a filter without no_new_privs needs CAP_SYS_ADMIN. What
// follows lockdown makes system calls only: the capabilities are read
// before it, as the rlimits it sets may leave no fd or mapping to spare.
func Credentials(p *specs.Process, lockdown func() error) error {
	caps, err := wantedCaps(p.Capabilities)
	if err != nil {
		return err
	}
	if !p.NoNewPrivileges {
		if err := lockdown(); err != nil {
			return err
		}
	}
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("set capability bounding set: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	if err := caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	// An ambient capability can only be raised when it is permitted and
	// inheritable; runc's own default spec asks for ambient caps without
	// inheritable ones, and runc raises what it can one by one and goes on,
	// so specs written for it run here too. rt has taken those out of the
	// spec with a warning in its log (runtime's usableCapabilities, as
	// this process's stderr is the container's); whatever else the kernel
	// refuses here is skipped too, as runc does.
	if p.Capabilities != nil {
		for _, n := range p.Capabilities.Ambient {
			if c, ok := spec.Capability(n); ok {
				capability.SetAmbient(true, c)
			}
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
		return lockdown()
	}
	return nil
}

// wantedCaps reads this thread's capabilities and sets them to want's.
func wantedCaps(want *specs.LinuxCapabilities) (capability.Capabilities, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	if err := caps.Load(); err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	if want == nil {
		want = &specs.LinuxCapabilities{}
	}
	sets := []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, want.Bounding},
		{capability.EFFECTIVE, want.Effective},
		{capability.PERMITTED, want.Permitted},
		{capability.INHERITABLE, want.Inheritable},
		{capability.AMBIENT, want.Ambient},
	}
	caps.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	last, lastErr := capability.LastCap()
	for _, s := range sets {
		for _, n := range s.names {
			c, ok := spec.Capability(n)
			if !ok {
				return nil, fmt.Errorf("capability %s: unknown", n)
			}
			if lastErr == nil && c > last {
				// The kernel does not know it: nothing to grant.
				continue
			}
			caps.Set(s.which, c)
		}
	}
	return caps, nil
}

// setUser switches groups, gid and uid of this thread only (raw syscalls:
// Go's wrappers would change every thread, which is wasted work just
// before execve).
func setUser(u specs.User) error {
	gids := make([]uint32, 0, len(u.AdditionalGids)+1)
	gids = append(gids, u.AdditionalGids...)
	var gp uintptr
	if len(gids) > 0 {
		gp = uintptr(unsafe.Pointer(&gids[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), gp, 0); e != 0 {
		// setgroups is denied in a user namespace whose setgroups file
		// says "deny"; without extra groups that is fine.
		if !(e == unix.EPERM && len(u.AdditionalGids) == 0) {
			return fmt.Errorf("setgroups %v: %w", u.AdditionalGids, e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	umask := 0o022 // runc's default when the spec has none
	if u.Umask != nil {
		umask = int(*u.Umask)
	}
	unix.Umask(umask)
	return nil
}

// Execve is the container program's execve, its arguments converted
// beforehand: once the container's rlimits are in force (RLIMIT_AS below
// what the Go runtime has reserved), an allocation that needs a new
// mapping kills the process, and unix.Exec allocates.
type Execve struct {
	name string
	path *byte
	argv []*byte
	envv []*byte
}

// errNoArgs is for a process without args (a Windows commandLine instead),
// which spec.Validate refuses with the same words.
var errNoArgs = errors.New("process.args must not be empty")

// PrepareExec builds the execve of path with p's args and env.
func PrepareExec(path string, p *specs.Process) (*Execve, error) {
	if len(p.Args) == 0 {
		return nil, errNoArgs
	}
	x := &Execve{name: p.Args[0]}
	var err error
	if x.path, err = unix.BytePtrFromString(path); err != nil {
		return nil, fmt.Errorf("exec %s: %w", x.name, err)
	}
	if x.argv, err = ptrsOf(p.Args); err != nil {
		return nil, fmt.Errorf("exec %s: args: %w", x.name, err)
	}
	if x.envv, err = ptrsOf(p.Env); err != nil {
		return nil, fmt.Errorf("exec %s: env: %w", x.name, err)
	}
	return x, nil
}

// ptrsOf is ss as a NULL-terminated array of C strings.
func ptrsOf(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Exec replaces the process with the program: one system call. It
// returns only on failure.
func (x *Execve) Exec() error {
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(x.path)),
		uintptr(unsafe.Pointer(&x.argv[0])), uintptr(unsafe.Pointer(&x.envv[0])))
	runtime.KeepAlive(x)
	return fmt.Errorf("exec %s: %w", x.name, errno)
}

// SetHome adds HOME to the environment when the spec has none, from the
// container's /etc/passwd entry of process.user.uid, else "/", as runc
// does: ctr and others pass no HOME and programs expect one. It reads the
// container's file, so it runs after pivot_root.
func SetHome(p *specs.Process) {
	for _, e := range p.Env {
		if strings.HasPrefix(e, "HOME=") {
			return
		}
	}
	home := "/"
	if data, err := os.ReadFile("/etc/passwd"); err == nil {
		uid := strconv.FormatUint(uint64(p.User.UID), 10)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 6 && f[2] == uid && f[5] != "" {
				home = f[5]
				break
			}
		}
	}
	p.Env = append(p.Env, "HOME="+home)
}
