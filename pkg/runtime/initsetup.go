package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/seccomp"
	"github.com/rtkit/rt/pkg/store"
)

// This file is create's conversation with the init it spawned, up to the
// init waiting on the exec fifo.

// setUpInit takes the spawned init through its setup: into its cgroups,
// its id maps, its config, the runtime hooks, its terminal, until it waits
// on the exec fifo; then the limits, the state and the pid file. On error
// the caller removes everything; by then the cgroup join has ended.
//
// With a plan (fast path) the init gets it instead of the config and
// answers MsgReady, or a *initproto.FallbackError that the caller handles.
func (r *Runtime) setUpInit(ctx context.Context, in *createInput, opts api.CreateOpts, h *store.Handle, st *store.State, cg cgroups.Manager, init *startedInit, plan []byte) (_ *created, retErr error) {
	s, sock, conv, pid := in.spec, init.sock, init.conv, init.pid
	// The init is in its cgroups already, unless it could not enter them
	// itself (see cgroups.Entry): then Apply moves it, waiting for an RCU
	// grace period, while the init starts and mounts. The init waits for
	// MsgJoined before it forks, runs anything of the container's, or makes
	// its cgroup namespace (which must have its cgroup as the root).
	join := joinCgroups(cg, pid, init.entered)
	// Every return waits for the join: the caller's clean-up must not
	// destroy the cgroups while Apply makes them (or, with systemd, starts
	// the unit), which would then be left behind.
	defer join.wait()
	trees, err := fromHost(pid, s, in.plan, in.bundle)
	if err != nil {
		return nil, err
	}
	defer closeFiles(trees)
	killpoint.Hit("create.host-side-done")
	if err := conv.Send(initproto.MsgGo, initproto.GoPayload(in.plan.newUser)); err != nil {
		return nil, waitInitError(sock, "start init", err)
	}
	state := specs.State{Version: s.Version, ID: st.ID, Status: specs.StateCreating, Pid: pid, Bundle: in.bundle, Annotations: s.Annotations}
	if plan != nil {
		if err := conv.Send(initproto.MsgPlan, plan); err != nil {
			return nil, waitInitError(sock, "send plan", err)
		}
	} else if err := sendConfig(init, in, opts, st, state, trees); err != nil {
		return nil, err
	}
	killpoint.Hit("create.config-sent")
	// The pid is saved while the init sets up. delete --force does not
	// need it: until the init runs anything of the container's it blocks
	// on this socket, and exits when a killed rt's end closes; and the
	// processes are found through the cgroup anyway.
	if err := h.Save(st); err != nil {
		return nil, err
	}
	if err := join.wait(); err != nil {
		return nil, err
	}
	if err := conv.Send(initproto.MsgJoined, nil); err != nil {
		return nil, waitInitError(sock, "sync", err)
	}
	killpoint.Hit("create.joined")
	if err := runtimeHooks(ctx, init, s, &state); err != nil {
		return nil, err
	}
	c := &created{st: st, pid: pid}
	if s.Process.Terminal {
		if c.pty, err = receivePty(init, opts.ConsoleSocket); err != nil {
			return nil, err
		}
		if c.pty != nil {
			defer func() {
				if retErr != nil {
					c.pty.Close()
				}
			}()
		}
	}
	if err := handOverListener(init, s, state); err != nil {
		return nil, err
	}
	if _, err := conv.Recv(initproto.MsgReady); err != nil {
		return nil, initError(err)
	}
	killpoint.Hit("create.init-ready")
	if err := ready(h, st, cg, s, opts.PidFile); err != nil {
		return nil, err
	}
	return c, nil
}

// sendConfig sends the Go path its InitConfig and the idmapped mounts.
func sendConfig(init *startedInit, in *createInput, opts api.CreateOpts, st *store.State, state specs.State, trees map[int]*os.File) error {
	s := in.spec
	cfg, err := json.Marshal(&initproto.InitConfig{
		ID: st.ID, Spec: s, Bundle: in.bundle, Rootfs: in.rootfs, NoPivot: opts.NoPivot, HostMounts: in.hostMounts,
		NoNewKeyring: opts.NoNewKeyring, PreserveFDs: in.extraFDs, NewNetNS: in.plan.newNet, NewUserNS: in.plan.newUser,
		CgroupNS: in.plan.newCgroup, CgroupPaths: st.CgroupPaths, MountTrees: len(trees), State: state,
	})
	if err != nil {
		return err
	}
	err = init.conv.Send(initproto.MsgConfig, cfg)
	if err == nil {
		err = initproto.WriteTrees(init.sock, trees)
	}
	if err != nil {
		return waitInitError(init.sock, "send config", err)
	}
	return nil
}

// handOverListener takes the seccomp listener rt-init loaded, when the
// conversation has one, and hands it to the agent with the state, keeping
// no copy.
func handOverListener(init *startedInit, s *specs.Spec, state specs.State) error {
	if !init.facts.Notify {
		return nil
	}
	if _, err := init.conv.Recv(initproto.MsgSeccomp); err != nil {
		return initError(err)
	}
	l, err := console.RecvFd(init.sock)
	if err != nil {
		return fmt.Errorf("seccomp: receive the listener: %w", err)
	}
	defer l.Close()
	return seccomp.SendListener(s.Linux.Seccomp, init.pid, state, l)
}

// ready finishes a create whose init waits on the exec fifo. Limits go on
// now, before the program can run: a pids limit below the threads rt-init's
// Go runtime starts would otherwise kill it mid-start (runc, too, sets them
// here).
func ready(h *store.Handle, st *store.State, cg cgroups.Manager, s *specs.Spec, pidFile string) error {
	if err := cg.Set(ContainerResources(s)); err != nil {
		return err
	}
	killpoint.Hit("create.limits-set")
	st.Ready = true
	if err := h.Save(st); err != nil {
		return err
	}
	if pidFile != "" {
		if err := WritePidFile(pidFile, st.InitPid); err != nil {
			return err
		}
		killpoint.Hit("create.pid-file-written")
	}
	return nil
}

// runtimeHooks runs the prestart and createRuntime hooks when rt-init asks,
// after the mounts and before pivot_root, and tells it when they are done.
func runtimeHooks(ctx context.Context, init *startedInit, s *specs.Spec, state *specs.State) error {
	if !initproto.RuntimeHooks(s) {
		return nil
	}
	if _, err := init.conv.Recv(initproto.MsgHooks); err != nil {
		return initError(err)
	}
	if err := hooks.Run(ctx, "prestart", s.Hooks.Prestart, state); err != nil {
		return err
	}
	if err := hooks.Run(ctx, "createRuntime", s.Hooks.CreateRuntime, state); err != nil {
		return err
	}
	if err := init.conv.Send(initproto.MsgHooksDone, nil); err != nil {
		return waitInitError(init.sock, "sync", err)
	}
	return nil
}

// cgroupJoin is the init's move into its cgroups, in the background, when
// it could not enter them itself at its start.
type cgroupJoin struct {
	done   chan error
	err    error
	waited bool
}

// joinCgroups starts moving pid into cg's cgroups, unless entered says it
// is in them already. The caller waits for it (wait) before it returns.
func joinCgroups(cg interface{ Apply(int) error }, pid int, entered bool) *cgroupJoin {
	j := &cgroupJoin{done: make(chan error, 1)}
	if entered {
		j.done <- nil
	} else {
		go func() { j.done <- cg.Apply(pid) }()
	}
	return j
}

// wait returns the join's error, waiting for it to end the first time.
func (j *cgroupJoin) wait() error {
	if !j.waited {
		j.err, j.waited = <-j.done, true
	}
	return j.err
}

// reported is what rt-init said about err, nil if nothing: its MsgError
// text as the command's error, or its MsgFallback as is (create handles
// that one).
func reported(err error) error {
	var re *initproto.RemoteError
	if errors.As(err, &re) {
		return errors.New(re.Msg)
	}
	var fb *initproto.FallbackError
	if errors.As(err, &fb) {
		return err
	}
	return nil
}

// initError turns what rt-init reported into create's error.
func initError(err error) error {
	if r := reported(err); r != nil {
		return r
	}
	if errors.Is(err, initproto.ErrClosed) {
		return errors.New("container init exited before it was set up")
	}
	return fmt.Errorf("container init: %w", err)
}

// waitInitError is for a failed write to init: init probably died and
// said why first. The read is bounded to a second: the socket is blocking
// and outside Go's poller (SetReadDeadline would do nothing), so the bound
// is the kernel's receive timeout, set on the fd.
func waitInitError(sock *os.File, step string, err error) error {
	tv := unix.NsecToTimeval(time.Second.Nanoseconds())
	if sc, cerr := sock.SyscallConn(); cerr == nil {
		sc.Control(func(fd uintptr) { unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) })
	}
	if _, rerr := initproto.Read(sock, 0); rerr != nil {
		if r := reported(rerr); r != nil {
			return r
		}
	}
	return fmt.Errorf("%s: %w", step, err)
}
