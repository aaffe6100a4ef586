package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
)

// created is a container whose create succeeded, with what run needs next.
type created struct {
	st  *store.State
	pid int
	// pty is the terminal master when rt relays it itself (foreground run
	// without a console socket).
	pty *os.File
}

// Create implements api.ContainerOperations.
func (r *Runtime) Create(ctx context.Context, id string, opts api.CreateOpts) error {
	c, err := r.create(ctx, id, opts, false)
	if err != nil {
		return err
	}
	if c.pty != nil {
		c.pty.Close()
	}
	return nil
}

// create runs the whole create sequence. relayTerminal says the caller
// relays a terminal itself (foreground run); otherwise a terminal needs a
// console socket. On failure nothing is left: no process, cgroup or state.
func (r *Runtime) create(ctx context.Context, id string, opts api.CreateOpts, relayTerminal bool) (_ *created, retErr error) {
	if err := api.ValidateID(id); err != nil {
		return nil, err
	}
	bin := r.copyInit()
	defer bin.Close()
	bundle := opts.Bundle
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	s := opts.Spec
	if s == nil {
		if s, err = spec.Load(bundle); err != nil {
			return nil, err
		}
	} else if err := spec.Validate(s); err != nil {
		return nil, err
	}
	if err := refuseHostSysctls(s); err != nil {
		return nil, err
	}
	if err := checkNetDevices(s); err != nil {
		return nil, err
	}
	if w := spec.AbsMountDestinations(s); w != "" {
		r.log.Warn(w, "id", id)
	}
	r.usableCapabilities(id, s.Process)
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	if s.Process.Terminal && opts.ConsoleSocket == "" && !relayTerminal {
		return nil, fmt.Errorf("process.terminal is true: --console-socket is required (or run in the foreground)")
	}
	if !s.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, fmt.Errorf("--console-socket given but process.terminal is false")
	}
	if err := process.CheckLSM(s.Process); err != nil {
		return nil, err
	}
	if err := process.CheckMountLabel(s.Linux.MountLabel); err != nil {
		return nil, err
	}
	hostMounts, err := recordHostMounts(s, rootfs)
	if err != nil {
		return nil, err
	}
	h, err := r.store.Create(id)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st := &store.State{
		ID: id, OCIVersion: s.Version, Bundle: bundle, Rootfs: rootfs, HostMounts: hostMounts,
		Created: time.Now().UTC(), Annotations: s.Annotations, Spec: store.RecordSpec(s),
	}
	var cg cgroups.Manager
	defer func() {
		if retErr != nil {
			r.destroyPartial(h, st, cg)
		}
	}()
	cgPath := ""
	if s.Linux != nil {
		cgPath = s.Linux.CgroupsPath
	}
	if cg, err = r.newCgroups(st, cgPath); err != nil {
		return nil, err
	}
	st.CgroupPaths = cg.Paths()
	// Recorded before any cgroup directory or process exists, so that a
	// create killed from here on leaves what delete --force needs to find
	// and remove it all: the directories, and every process in them.
	if err := h.Save(st); err != nil {
		return nil, err
	}
	if err := unix.Mkfifo(h.Path(ExecFifo), 0o600); err != nil {
		return nil, fmt.Errorf("make exec fifo: %w", err)
	}
	// In a user namespace the init is the container's root, some host uid:
	// the fifo must be its to open.
	if uid, gid, ok := rootHostIDs(s); ok {
		if err := os.Chown(h.Path(ExecFifo), uid, gid); err != nil {
			return nil, fmt.Errorf("chown exec fifo: %w", err)
		}
	}
	fifo, err := os.OpenFile(h.Path(ExecFifo), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	extraFDs := listenFDs(s.Process) + opts.PreserveFDs
	plan := planNamespaces(s)
	entry, err := cg.Prepare()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}
	init, err := r.spawnInit(initSpawn{
		bin: bin, dir: bundle, fifo: fifo, extra: extraFDs,
		stdio: opts.Stdio, ns: plan.msg, cgroup: entry,
	})
	if entry != nil {
		entry.Close()
	}
	if err != nil {
		return nil, err
	}
	sock, pid := init.sock, init.pid
	defer sock.Close()
	st.InitPid, st.InitStartTime = pid, init.startTime
	// The init is in its cgroups already, unless it could not enter them
	// itself (see cgroups.Entry): then Apply moves it, waiting for an RCU
	// grace period, while the init starts and mounts. The init waits for
	// MsgJoined before it forks, runs anything of the container's, or makes
	// its cgroup namespace (which must have its cgroup as the root).
	joined := make(chan error, 1)
	if init.entered {
		joined <- nil
	} else {
		go func() { joined <- cg.Apply(pid) }()
	}
	trees, err := fromHost(pid, s, plan, bundle)
	if err != nil {
		return nil, err
	}
	defer closeFiles(trees)
	if err := initproto.Write(sock, initproto.MsgGo, initproto.GoPayload(plan.newUser)); err != nil {
		return nil, waitInitError(sock, "start init", err)
	}
	state := specs.State{Version: s.Version, ID: id, Status: specs.StateCreating, Pid: pid, Bundle: bundle, Annotations: s.Annotations}
	cfg, err := json.Marshal(&initproto.InitConfig{
		ID: id, Spec: s, Bundle: bundle, Rootfs: rootfs, NoPivot: opts.NoPivot, HostMounts: hostMounts, NoNewKeyring: opts.NoNewKeyring,
		PreserveFDs: extraFDs, NewNetNS: plan.newNet, NewUserNS: plan.newUser, CgroupNS: plan.newCgroup,
		CgroupPaths: st.CgroupPaths, MountTrees: len(trees), State: state,
	})
	if err != nil {
		return nil, err
	}
	if err := initproto.WriteConfig(sock, cfg, trees); err != nil {
		<-joined
		return nil, waitInitError(sock, "send config", err)
	}
	// The pid is saved while the init sets up. delete --force does not
	// need it: until the init runs anything of the container's it blocks
	// on this socket, and exits when a killed rt's end closes; and the
	// processes are found through the cgroup anyway.
	if err := h.Save(st); err != nil {
		<-joined
		return nil, err
	}
	if err := <-joined; err != nil {
		return nil, err
	}
	if err := initproto.Write(sock, initproto.MsgJoined, nil); err != nil {
		return nil, waitInitError(sock, "sync", err)
	}
	if initproto.RuntimeHooks(s) {
		if _, err := initproto.Read(sock, initproto.MsgHooks); err != nil {
			return nil, initError(err)
		}
		if err := hooks.Run(ctx, "prestart", s.Hooks.Prestart, &state); err != nil {
			return nil, err
		}
		if err := hooks.Run(ctx, "createRuntime", s.Hooks.CreateRuntime, &state); err != nil {
			return nil, err
		}
		if err := initproto.Write(sock, initproto.MsgHooksDone, nil); err != nil {
			return nil, waitInitError(sock, "sync", err)
		}
	}
	c := &created{st: st, pid: pid}
	if s.Process.Terminal {
		if c.pty, err = receivePty(sock, opts.ConsoleSocket); err != nil {
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
	if _, err := initproto.Read(sock, initproto.MsgReady); err != nil {
		return nil, initError(err)
	}
	// Limits go on once the init is set up and waiting, before the program
	// can run: a pids limit below the threads rt-init's Go runtime starts
	// would otherwise kill it mid-start (runc, too, sets them here).
	if err := cg.Set(containerResources(s)); err != nil {
		return nil, err
	}
	st.Ready = true
	if err := h.Save(st); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// stdioFile passes w to the child as is when it is a file (the container
// then holds rt's own fd, as containerd's shim and conmon expect), and
// otherwise the default.
func stdioFile[T any](w T, def *os.File) *os.File {
	if f, ok := any(w).(*os.File); ok && f != nil {
		return f
	}
	return def
}

// initError turns what rt-init reported into create's error.
func initError(err error) error {
	var re *initproto.RemoteError
	if errors.As(err, &re) {
		return errors.New(re.Msg)
	}
	if errors.Is(err, initproto.ErrClosed) {
		return errors.New("container init exited before it was set up")
	}
	return fmt.Errorf("container init: %w", err)
}

// initFailed reports a failure of the C stage, preferring its own message.
func initFailed(cmd *exec.Cmd, step string, err error) error {
	var re *initproto.RemoteError
	if errors.As(err, &re) {
		return errors.New(re.Msg)
	}
	if errors.Is(err, initproto.ErrClosed) {
		werr := cmd.Wait()
		return fmt.Errorf("%s: rt-init exited without a word (%v): is %s an rt-init of this build?", step, werr, cmd.Path)
	}
	return fmt.Errorf("%s: %w", step, err)
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
		var re *initproto.RemoteError
		if errors.As(rerr, &re) {
			return errors.New(re.Msg)
		}
	}
	return fmt.Errorf("%s: %w", step, err)
}

// listenFDs passes socket activation through, as runc does: when rt itself
// was given $LISTEN_FDS sockets (LISTEN_PID is rt), they go to the
// container first, from fd 3, and its environment says so. It returns their
// number.
func listenFDs(p *specs.Process) int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return 0
	}
	p.Env = append(p.Env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
	return n
}

// usableCapabilities leaves in p the capabilities rt-init can grant, with a
// warning in rt's log for those it drops, as runc warns: names unknown to
// rt's table or to the running kernel (/proc/sys/kernel/cap_last_cap), and
// ambient ones that are not also permitted and inheritable, which the
// kernel would refuse to raise. rt logs them, not rt-init: rt-init's
// stderr is the container's.
func (r *Runtime) usableCapabilities(id string, p *specs.Process) {
	if p == nil || p.Capabilities == nil {
		return
	}
	last, err := capability.LastCap()
	if err != nil {
		// No /proc/sys: whatever the kernel lacks fails when applied.
		known := capability.ListKnown()
		last = known[len(known)-1]
	}
	usable, unknown, unraisable := spec.UsableCapabilities(p.Capabilities, last)
	if len(unknown) > 0 {
		r.log.Warn(fmt.Sprintf("ignoring unknown or unavailable capabilities: %v", unknown), "id", id)
	}
	if len(unraisable) > 0 {
		r.log.Warn(fmt.Sprintf("can't raise ambient capabilities %v: an ambient capability must also be permitted and inheritable", unraisable), "id", id)
	}
	p.Capabilities = usable
}

// writePidFile writes pid in decimal with no newline, atomically, as
// containerd and conmon read it.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// destroyPartial undoes a failed create: kill what was started, remove the
// cgroups and the state dir.
func (r *Runtime) destroyPartial(h *store.Handle, st *store.State, cg cgroups.Manager) {
	if cg == nil {
		// The driver refused before choosing any directory: nothing to
		// remove but the state.
		cg = cgroups.Load(st.CgroupPaths)
	}
	if err := r.destroy(st, cg); err != nil {
		r.log.Warn("cleanup after failed create", "id", st.ID, "error", err)
	}
	if err := h.Remove(); err != nil {
		r.log.Warn("cleanup after failed create", "id", st.ID, "error", err)
	}
}
