// Package initproc is rt-init's Go path: the container's init (or an
// exec's process) once the C stage (pkg/nsexec) has joined and created the
// namespaces and handed over. It reads the configuration rt sends, sets up
// the rootfs and the process, reports ready, waits for `rt start` on the
// exec fifo and execs the program. cmd/rt-init is its main.
//
// Everything runs on the calling OS thread, which the caller must have
// locked (runtime.LockOSThread in an init function): capabilities, the uid
// switch, no_new_privs and LSM labels are per thread.
package initproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/nsexec"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/seccomp"
)

// Main runs the Go path on the protocol socket sock and returns only on
// failure, with the exit code: the error went to rt through sock where it
// still listens, else to stderr.
func Main(sock *os.File) int {
	err := start(sock)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, initproto.ErrClosed):
		// rt went away (it failed, or was killed): it reports, or
		// delete --force cleans up; nothing to add.
	case errors.Is(err, errReported):
		// start has it through the exec fifo.
	case errors.Is(err, errAfterReady):
		// create has returned and start is gone: stderr is the only
		// place left.
		fmt.Fprintln(os.Stderr, "rt-init:", err)
	default:
		// rt turns this into the error of create.
		if werr := initproto.Write(sock, initproto.MsgError, []byte(err.Error())); werr != nil {
			fmt.Fprintln(os.Stderr, "rt-init:", err)
		}
	}
	return 127
}

// errAfterReady marks failures after create returned; errReported those
// that reached start (or exec) already.
var (
	errAfterReady = errors.New("after create")
	errReported   = errors.New("reported")
)

// step names the stage an error came from, so that rt can report
// `create: rootfs: mount proc on /proc: …`.
func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// peer is rt: the socket, for what crosses besides messages (fds), and
// the conversation on it.
type peer struct {
	sock *os.File
	conv *initproto.Conv
}

// talk is the rest of the conversation after cfg, which says its kind and
// its optional messages.
func talk(sock *os.File, cfg *initproto.InitConfig) *peer {
	kind := initproto.Create
	if cfg.Exec {
		kind = initproto.Exec
	}
	f := initproto.FactsOf(cfg.Spec, false)
	return &peer{sock: sock, conv: initproto.NewConv(sock, kind, initproto.Init, f).After(kind, initproto.MsgConfig)}
}

// runtimeHooks has rt run prestart and createRuntime, in the runtime's
// namespaces, now that the container's mounts exist.
func (rt *peer) runtimeHooks(s *specs.Spec) error {
	if !initproto.RuntimeHooks(s) {
		return nil
	}
	if err := rt.conv.Send(initproto.MsgHooks, nil); err != nil {
		return err
	}
	_, err := rt.conv.Recv(initproto.MsgHooksDone)
	return err
}

// sendListener loads a seccomp filter that has a listener now, while rt
// still waits, and sends rt the listener for the agent; rt-init keeps no
// copy, so the container never holds it. Like runc, rt-init runs under
// the filter from here to execve.
func (rt *peer) sendListener(last *lastSteps) error {
	if !last.filter.Listener() {
		return nil
	}
	l, err := last.filter.LoadListener()
	if err != nil {
		return err
	}
	defer l.Close()
	if err := rt.conv.Send(initproto.MsgSeccomp, nil); err != nil {
		return err
	}
	return console.SendFd(rt.sock, "seccomp", l)
}

func start(sock *os.File) error {
	os.Unsetenv(initproto.EnvInitFD)
	payload, err := initproto.Read(sock, initproto.MsgConfig)
	if err != nil {
		return step("read config", err)
	}
	var cfg initproto.InitConfig
	if err := json.Unmarshal(payload, &cfg); err != nil {
		return step("read config", err)
	}
	rt := talk(sock, &cfg)
	if cfg.Exec {
		return execProcess(rt, &cfg)
	}
	// rootfs.MountAll moves the idmapped mounts rt made into place and
	// closes them.
	trees, err := initproto.ReadTrees(sock, cfg.MountTrees)
	if err != nil {
		return step("read config", err)
	}
	s := cfg.Spec
	proc := s.Process
	rc := &rootfs.Config{
		Rootfs: cfg.Rootfs, Spec: s, NoPivot: cfg.NoPivot, HostMounts: cfg.HostMounts, UserNS: cfg.NewUserNS,
		CgroupNS: cfg.CgroupNS, CgroupPaths: cfg.CgroupPaths, Trees: trees,
		Joined: func() error { return joinedCgroups(rt, cfg.CgroupNS) },
	}
	if err := step("rootfs", rootfs.Prepare(rc)); err != nil {
		return err
	}
	if err := step("rootfs", rootfs.MountAll(rc)); err != nil {
		return err
	}
	if err := step("sync", rt.runtimeHooks(s)); err != nil {
		return err
	}
	ctx := context.Background()
	// Hooks run in the container's namespaces get the pid as the container
	// sees it.
	cfg.State.Pid = os.Getpid()
	if s.Hooks != nil && len(s.Hooks.CreateContainer) > 0 {
		cfg.State.Status = "creating"
		if err := hooks.Run(ctx, "createContainer", s.Hooks.CreateContainer, &cfg.State); err != nil {
			return err
		}
	}
	if err := step("rootfs", rootfs.PivotRoot(rc)); err != nil {
		return err
	}
	// Before Finish: sysctls are written through /proc/sys, which the
	// default readonlyPaths make read-only, and a missing cwd is created,
	// which a read-only root would forbid.
	if err := setupSystem(&cfg); err != nil {
		return err
	}
	if err := os.MkdirAll(proc.Cwd, 0o755); err != nil {
		return fmt.Errorf("process: create cwd %q: %w", proc.Cwd, err)
	}
	if err := step("rootfs", rootfs.Finish(rc)); err != nil {
		return err
	}
	last, err := prepareProcess(rt, &cfg, func() error { return setProcAttrs(s) })
	if err != nil {
		return err
	}
	if err := step("seccomp", rt.sendListener(last)); err != nil {
		return err
	}
	if err := rt.conv.Send(initproto.MsgReady, nil); err != nil {
		return step("sync", err)
	}

	// Created. `rt start` opens the fifo for reading; until then this open
	// blocks. The fifo's host path is gone after pivot_root: it is reopened
	// through the O_PATH fd rt passed.
	return waitStart(ctx, &cfg, last)
}

// waitStart blocks until `rt start`, then runs startContainer hooks and
// becomes the container's program. A failure from here on is written to
// the fifo after its byte: start reads to end of file and reports it.
func waitStart(ctx context.Context, cfg *initproto.InitConfig, last *lastSteps) error {
	// The write end stays open (close-on-exec) until execve: start reads
	// until end of file, so it knows whether the program runs.
	fifo, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", initproto.FdFifo), os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", errAfterReady, step("open exec fifo", err))
	}
	if _, err := fifo.Write([]byte{0}); err != nil {
		return fmt.Errorf("%w: %w", errAfterReady, step("write exec fifo", err))
	}
	err = becomeProgram(ctx, cfg, last)
	if _, werr := fifo.Write([]byte(err.Error())); werr != nil {
		// start is gone: the container's stderr is all that is left.
		return fmt.Errorf("%w: %w", errAfterReady, err)
	}
	return fmt.Errorf("%w: %w", errReported, err)
}

// becomeProgram is what the init does once started; it returns only on
// failure.
func becomeProgram(ctx context.Context, cfg *initproto.InitConfig, last *lastSteps) error {
	s, proc := cfg.Spec, cfg.Spec.Process
	if s.Hooks != nil && len(s.Hooks.StartContainer) > 0 {
		cfg.State.Status = "created"
		if err := hooks.Run(ctx, "startContainer", s.Hooks.StartContainer, &cfg.State); err != nil {
			return err
		}
	}
	if err := movePreservedFds(cfg.PreserveFDs); err != nil {
		return step("preserve fds", err)
	}
	if err := step("process", process.SetLSM(proc)); err != nil {
		return err
	}
	if err := step("process", process.Credentials(proc, last.lockdown)); err != nil {
		return err
	}
	return last.execve.Exec()
}

// lastSteps are what rt-init does after the container's rlimits are in
// force, prepared before: they may leave no fd or mapping to spare
// (process.Rlimits says why), so nothing after them may allocate.
type lastSteps struct {
	limits process.Rlimits
	filter *seccomp.Program
	execve *process.Execve
}

// prepareLast raises the rlimits that the config sets above the current
// ones, compiles the seccomp filter and converts the execve's arguments,
// while rt-init has its capabilities and no limit in its way.
func prepareLast(s *specs.Spec, path string) (*lastSteps, error) {
	limits, err := process.PrepareRlimits(s.Process)
	if err != nil {
		return nil, step("process", err)
	}
	if cur, max, ok := nsexec.OrigNofile(); ok {
		// The Go runtime raised it for itself; the program gets it back
		// unless the config sets it (Go's own exec would restore it).
		limits = limits.Default("RLIMIT_NOFILE", cur, max)
	}
	if err := limits.Raise(); err != nil {
		return nil, step("process", err)
	}
	last := &lastSteps{limits: limits}
	if s.Linux != nil && s.Linux.Seccomp != nil {
		if last.filter, err = seccomp.Compile(s.Linux.Seccomp); err != nil {
			return nil, step("process", err)
		}
	}
	if last.execve, err = process.PrepareExec(path, s.Process); err != nil {
		return nil, step("process", err)
	}
	return last, nil
}

// lockdown sets the exact rlimits and loads the seccomp filter: the last
// steps before execve that process.Credentials orders.
func (l *lastSteps) lockdown() error {
	if err := l.limits.Apply(); err != nil {
		return err
	}
	return l.filter.Load()
}

// joinedCgroups waits until rt has put this process in its cgroups, then
// makes the cgroup namespace, whose root is the cgroup the process is in.
// unshare affects this thread only, which is the thread that mounts and
// execs.
func joinedCgroups(rt *peer, newNS bool) error {
	if _, err := rt.conv.Recv(initproto.MsgJoined); err != nil {
		return step("cgroups", err)
	}
	if newNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	return nil
}

// prepareProcess is what the container's init and an exec's process share
// once the root is theirs: the OOM score, the terminal, HOME, the program's
// path, the last steps prepared, the host's fds closed, the working
// directory. attrs, if set, runs once the path is known (the init's own
// process attributes).
func prepareProcess(rt *peer, cfg *initproto.InitConfig, attrs func() error) (*lastSteps, error) {
	proc := cfg.Spec.Process
	if err := step("process", process.SetOOMScoreAdj(proc)); err != nil {
		return nil, err
	}
	if proc.Terminal {
		if err := setupTerminal(rt, cfg); err != nil {
			return nil, step("terminal", err)
		}
	}
	process.SetHome(proc)
	path, err := process.LookPath(proc)
	if err != nil {
		return nil, err
	}
	if attrs != nil {
		if err := attrs(); err != nil {
			return nil, err
		}
	}
	last, err := prepareLast(cfg.Spec, path)
	if err != nil {
		return nil, err
	}
	if err := closeHostFds(cfg.PreserveFDs); err != nil {
		return nil, step("close fds", err)
	}
	if err := step("process", process.Chdir(proc)); err != nil {
		return nil, err
	}
	return last, nil
}

// execProcess becomes an additional process of a running container (rt
// exec): the C stage joined its namespaces, which put this process in the
// container's root and cwd "/"; what is left is the process set-up shared
// with the init.
func execProcess(rt *peer, cfg *initproto.InitConfig) error {
	proc := cfg.Spec.Process
	// Without a mount namespace of the container's own, joining did not
	// set the root: chroot as the init did.
	if err := step("rootfs", cfg.HostMounts.Enter()); err != nil {
		return err
	}
	if err := step("process", setPersonality(cfg.Spec.Linux.Personality)); err != nil {
		return err
	}
	last, err := prepareProcess(rt, cfg, nil)
	if err != nil {
		return err
	}
	if err := step("process", process.SetLSM(proc)); err != nil {
		return err
	}
	// rt joins this process to the container's cgroups meanwhile; nothing
	// above forks or runs the container's code, and nothing below may
	// before the join.
	if _, err := rt.conv.Recv(initproto.MsgJoined); err != nil {
		return step("cgroups", err)
	}
	if err := step("seccomp", rt.sendListener(last)); err != nil {
		return err
	}
	if err := rt.conv.Send(initproto.MsgReady, nil); err != nil {
		return step("sync", err)
	}
	// rt reads until the socket closes at execve; keep it out of the way
	// of the preserved fds so a late failure still reaches rt.
	high, err := unix.FcntlInt(rt.sock.Fd(), unix.F_DUPFD_CLOEXEC, initproto.FdPreserved+cfg.PreserveFDs)
	if err != nil {
		return step("sync", err)
	}
	report := os.NewFile(uintptr(high), "init")
	fail := func(err error) error {
		if initproto.Write(report, initproto.MsgError, []byte(err.Error())) == nil {
			return fmt.Errorf("%w: %w", errReported, err)
		}
		return fmt.Errorf("%w: %w", errAfterReady, err)
	}
	if err := movePreservedFds(cfg.PreserveFDs); err != nil {
		return fail(step("preserve fds", err))
	}
	if err := setExecAttrs(cfg.Spec); err != nil {
		return fail(err)
	}
	if err := process.Credentials(proc, last.lockdown); err != nil {
		return fail(step("process", err))
	}
	return fail(last.execve.Exec())
}
