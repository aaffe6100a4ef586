package runtime

import (
	"context"
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
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/rootfs"
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
	killpoint.Hit("create.done")
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
	in, err := r.createInput(id, opts, relayTerminal)
	if err != nil {
		return nil, err
	}
	s := in.spec
	rdt, err := intelRdtGroup(id, s)
	if err != nil {
		return nil, err
	}
	h, err := r.store.Create(id)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st := &store.State{
		ID: id, OCIVersion: s.Version, Bundle: in.bundle, Rootfs: in.rootfs, HostMounts: in.hostMounts, IntelRdt: rdt,
		Created: time.Now().UTC(), Annotations: s.Annotations, Spec: store.RecordSpec(s),
	}
	var cg cgroups.Manager
	defer func() {
		if retErr != nil {
			r.destroyPartial(h, st, cg)
		}
	}()
	if cg, err = r.NewCgroups(st, s.Linux.CgroupsPath); err != nil {
		return nil, err
	}
	st.CgroupPaths = cg.Paths()
	// Recorded before any cgroup directory or process exists, so that a
	// create killed from here on leaves what delete --force needs to find
	// and remove it all: the directories, and every process in them.
	if err := h.Save(st); err != nil {
		return nil, err
	}
	fifo, err := makeExecFifo(h, s)
	if err != nil {
		return nil, err
	}
	killpoint.Hit("create.fifo-made")
	defer fifo.Close()
	in.extraFDs = listenFDs(s.Process) + opts.PreserveFDs
	in.plan = planNamespaces(s)
	if err := createIntelRdt(h, st, s); err != nil {
		return nil, err
	}
	c, err := r.startInit(ctx, in, opts, h, st, cg, fifo, true)
	var fb *initproto.FallbackError
	if errors.As(err, &fb) {
		// The fast path stopped before it ran anything of the
		// container's; its init has exited. The Go path starts over and,
		// if the config is at fault, says why in its own words.
		r.log.Debug("fast init path: using the Go path", "id", id, "reason", fb.Reason)
		c, err = r.startInit(ctx, in, opts, h, st, cg, fifo, false)
	}
	return c, err
}

// startInit spawns the container's init and takes it through its set-up,
// on the fast path (a plan run by rt-init's C stage) when fast is set and
// the config allows it, else on the Go path.
func (r *Runtime) startInit(ctx context.Context, in *createInput, opts api.CreateOpts, h *store.Handle, st *store.State, cg cgroups.Manager, fifo *os.File, fast bool) (*created, error) {
	s := in.spec
	entry, err := cg.Prepare()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, err
	}
	killpoint.Hit("create.cgroups-made")
	if entry != nil {
		if err := setRealtimeFirst(cg, s); err != nil {
			entry.Close()
			return nil, err
		}
	}
	var plan []byte
	if fast {
		plan = r.fastPlan(in, opts, st)
	}
	bin := r.copyInit()
	defer bin.Close()
	init, err := r.spawnInit(initSpawn{
		bin: bin, dir: in.bundle, fifo: fifo, extra: in.extraFDs,
		stdio: opts.Stdio, ns: in.plan.msg, cgroup: entry, kind: initproto.Create,
		facts: initproto.FactsOf(s, plan != nil),
	})
	if entry != nil {
		entry.Close()
	}
	if err != nil {
		return nil, err
	}
	defer init.sock.Close()
	st.InitPid, st.InitStartTime = init.pid, init.startTime
	if err := st.IntelRdt.Enter(init.pid); err != nil {
		return nil, err
	}
	c, err := r.setUpInit(ctx, in, opts, h, st, cg, init, plan)
	var fb *initproto.FallbackError
	if errors.As(err, &fb) {
		// It exits right after saying so; it is rt's child.
		var ws unix.WaitStatus
		unix.Wait4(init.pid, &ws, 0, nil)
	}
	return c, err
}

// createInput is what create reads and checks before anything exists.
type createInput struct {
	bundle, rootfs string
	spec           *specs.Spec
	hostMounts     *rootfs.HostMounts
	// Set by create once it gets there.
	extraFDs int
	plan     nsPlan
}

// createInput loads and checks the bundle and what the options ask of it.
func (r *Runtime) createInput(id string, opts api.CreateOpts, relayTerminal bool) (*createInput, error) {
	bundle, err := spec.BundleDir(opts.Bundle)
	if err != nil {
		return nil, err
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
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("rootfs %s: %w", root, err)
	}
	if root, err = filepath.EvalSymlinks(root); err != nil {
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
	hostMounts, err := recordHostMounts(s, root)
	if err != nil {
		return nil, err
	}
	return &createInput{bundle: bundle, rootfs: root, spec: s, hostMounts: hostMounts}, nil
}

// makeExecFifo makes the fifo the init waits on until start, and opens it
// (O_PATH) for the init to inherit.
func makeExecFifo(h *store.Handle, s *specs.Spec) (*os.File, error) {
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
	return fifo, nil
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

// initFailed reports a failure of the C stage, preferring its own message.
func initFailed(cmd *exec.Cmd, step string, err error) error {
	if r := reported(err); r != nil {
		return r
	}
	if errors.Is(err, initproto.ErrClosed) {
		werr := cmd.Wait()
		return fmt.Errorf("%s: rt-init exited without a word (%v): is %s an rt-init of this build?", step, werr, cmd.Path)
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

// destroyPartial undoes a failed create: kill what was started, remove the
// cgroups and the state dir.
func (r *Runtime) destroyPartial(h *store.Handle, st *store.State, cg cgroups.Manager) {
	if cg == nil {
		// The driver refused before choosing any directory: nothing to
		// remove but the state.
		cg = fs.Load(st.CgroupPaths)
	}
	if err := r.destroy(st, cg); err != nil {
		r.log.Warn("cleanup after failed create", "id", st.ID, "error", err)
	}
	if err := h.Remove(); err != nil {
		r.log.Warn("cleanup after failed create", "id", st.ID, "error", err)
	}
}
