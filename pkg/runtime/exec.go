package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
)

// Exec implements api.ContainerOperations: a new process in every
// namespace and the cgroups of a running container, set up by the same
// rt-init and pkg/process code as the container's init.
func (r *Runtime) Exec(ctx context.Context, id string, opts api.ExecOpts) (*api.Result, error) {
	bin := r.copyInit()
	defer bin.Close()
	in, err := r.execInput(id, opts)
	if err != nil {
		return nil, err
	}
	var sigs chan os.Signal
	if !opts.Detach {
		sigs = relaySignals()
	}
	killpoint.Hit("exec.checked")
	pid, pty, err := r.startExec(bin, in, opts)
	if err != nil {
		return nil, err
	}
	killpoint.Hit("exec.running")
	if pty != nil {
		defer pty.Close()
	}
	if opts.PidFile != "" {
		if err := WritePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
		killpoint.Hit("exec.pid-file-written")
	}
	if opts.Detach {
		return &api.Result{}, nil
	}
	return &api.Result{Status: r.foreground(id, pid, pty, os.Stdin, os.Stdout, sigs)}, nil
}

// execRequest is what an exec needs, checked before anything starts.
type execRequest struct {
	st      *store.State
	spec    *specs.Spec
	process *specs.Process
	// initial is process.execCPUAffinity.initial, parsed.
	initial []uint64
	join    []initproto.Join
	userns  bool
}

// initSpec is the spec rt-init gets: the process to run and the
// container's linux section.
func (in *execRequest) initSpec() *specs.Spec {
	return &specs.Spec{Version: in.spec.Version, Process: in.process, Linux: in.spec.Linux}
}

// execInput reads and checks container id and the process opts asks for.
func (r *Runtime) execInput(id string, opts api.ExecOpts) (*execRequest, error) {
	st, err := r.store.Read(id)
	if err != nil {
		return nil, err
	}
	if s := r.Status(st); s != api.StatusPaused || !opts.IgnorePaused {
		if err := Refuse(api.OpExec, id, s); err != nil {
			return nil, err
		}
	}
	s, err := st.Spec.Spec()
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	if s == nil || s.Process == nil || s.Linux == nil {
		return nil, fmt.Errorf("container %q: state has no spec", id)
	}
	p, err := execProcess(s.Process, opts)
	if err != nil {
		return nil, err
	}
	if err := spec.ValidateProcessAttrs(p); err != nil {
		return nil, err
	}
	initial, err := spec.ParseList(execInitialCPUs(p))
	if err != nil {
		return nil, err
	}
	r.usableCapabilities(id, p)
	if p.Terminal && opts.ConsoleSocket == "" && opts.Detach {
		return nil, errors.New("a terminal with --detach needs --console-socket")
	}
	if !p.Terminal && opts.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given without a terminal (-t)")
	}
	if err := process.CheckLSM(p); err != nil {
		return nil, err
	}
	join, userns, err := containerNamespaces(st)
	if err != nil {
		return nil, err
	}
	return &execRequest{st: st, spec: s, process: p, initial: initial, join: join, userns: userns}, nil
}

// startExec starts rt-init in the container's namespaces and cgroups and
// takes it through the protocol until the process runs. It returns the
// process's pid and, when rt relays its terminal, the pty master.
func (r *Runtime) startExec(bin *initCopy, in *execRequest, opts api.ExecOpts) (int, *os.File, error) {
	cg, err := execCgroups(in.st, opts.Cgroup)
	if err != nil {
		return 0, nil, err
	}
	entry, err := cg.Prepare()
	if err != nil {
		return 0, nil, err
	}
	killpoint.Hit("exec.cgroups-opened")
	init, err := spawnOn(in.initial, execInitialCPUs(in.process), func() (*startedInit, error) {
		return r.spawnInit(initSpawn{
			bin: bin, dir: "/", extra: opts.PreserveFDs, stdio: opts.Stdio,
			ns: initproto.Namespaces{Join: in.join}, cgroup: entry,
			kind: initproto.Exec, facts: initproto.FactsOf(in.initSpec(), false),
		})
	})
	entry.Close()
	if err != nil {
		return 0, nil, err
	}
	defer init.sock.Close()
	pty, err := r.setUpExec(init, cg, in, opts)
	if err != nil {
		// rt's child (CLONE_PARENT), just killed: the wait is short and
		// leaves no zombie in the container.
		unix.Kill(init.pid, unix.SIGKILL)
		unix.Wait4(init.pid, nil, 0, nil)
		return 0, nil, err
	}
	return init.pid, pty, nil
}

// setUpExec is the protocol with an exec's rt-init: the cgroup join beside
// the config, then the terminal, until the program replaced rt-init.
func (r *Runtime) setUpExec(init *startedInit, cg cgroups.Manager, in *execRequest, opts api.ExecOpts) (*os.File, error) {
	pid, sock := init.pid, init.sock
	if err := in.st.IntelRdt.Enter(pid); err != nil {
		return nil, err
	}
	joined := make(chan error, 1)
	if init.entered {
		joined <- nil
	} else {
		go func() { joined <- cg.Apply(pid) }()
	}
	if err := sendExecConfig(init, in, opts); err != nil {
		<-joined
		return nil, err
	}
	killpoint.Hit("exec.config-sent")
	if err := <-joined; err != nil {
		return nil, err
	}
	if err := init.conv.Send(initproto.MsgJoined, nil); err != nil {
		return nil, waitInitError(sock, "sync", err)
	}
	killpoint.Hit("exec.joined")
	var pty *os.File
	if in.process.Terminal {
		var err error
		if pty, err = receivePty(init, opts.ConsoleSocket); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*os.File, error) {
		if pty != nil {
			pty.Close()
		}
		return nil, err
	}
	state := specs.State{
		Version: in.spec.Version, ID: in.st.ID, Status: specs.StateRunning, Pid: in.st.InitPid, Bundle: in.st.Bundle,
		Annotations: in.spec.Annotations,
	}
	if err := handOverListener(init, in.spec, state); err != nil {
		return fail(err)
	}
	if _, err := init.conv.Recv(initproto.MsgReady); err != nil {
		return fail(initError(err))
	}
	killpoint.Hit("exec.init-ready")
	// The socket is close-on-exec in the process: end of file means the
	// program replaced rt-init; a message means it failed first.
	if err := init.conv.Closed(); err != nil {
		return fail(initError(err))
	}
	return pty, nil
}

// sendExecConfig starts an exec's rt-init on its Go path with the process
// to run.
func sendExecConfig(init *startedInit, in *execRequest, opts api.ExecOpts) error {
	if err := init.conv.Send(initproto.MsgGo, initproto.GoPayload(in.userns)); err != nil {
		return waitInitError(init.sock, "start process", err)
	}
	cfg, err := json.Marshal(&initproto.InitConfig{
		ID: in.st.ID, Exec: true, PreserveFDs: opts.PreserveFDs, HostMounts: in.st.HostMounts,
		Spec: in.initSpec(),
	})
	if err != nil {
		return err
	}
	if err := init.conv.Send(initproto.MsgConfig, cfg); err != nil {
		return waitInitError(init.sock, "send config", err)
	}
	return nil
}

// receivePty takes the pty master rt-init sends and hands it to the
// console socket (returning nil), or returns it for rt to relay.
func receivePty(init *startedInit, consoleSocket string) (*os.File, error) {
	if _, err := init.conv.Recv(initproto.MsgPty); err != nil {
		return nil, initError(err)
	}
	master, err := console.RecvFd(init.sock)
	if err != nil {
		return nil, fmt.Errorf("terminal: receive pty master: %w", err)
	}
	if consoleSocket == "" {
		return master, nil
	}
	err = console.SendToSocket(consoleSocket, master)
	master.Close() // the client owns it now; rt keeps no copy
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return nil, nil
}

// execCgroups is the manager of the cgroups an exec'd process goes to: the
// container's, or the sub-cgroups --cgroup names ("path" for every
// hierarchy, or "controller:path" for one).
func execCgroups(st *store.State, sub []string) (cgroups.Manager, error) {
	paths := maps.Clone(st.CgroupPaths)
	for _, s := range sub {
		ctrl, rel, hasCtrl := strings.Cut(s, ":")
		if !hasCtrl {
			ctrl, rel = "", s
		}
		if filepath.IsAbs(rel) || strings.Contains("/"+rel+"/", "/../") {
			return nil, fmt.Errorf("--cgroup %q: must be a path below the container's cgroup", s)
		}
		found := false
		for k, dir := range st.CgroupPaths {
			if !hasCtrl || k == ctrl {
				paths[k] = filepath.Join(dir, rel)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--cgroup %q: the container has no %q hierarchy", s, ctrl)
		}
	}
	return fs.Load(paths), nil
}

// containerNamespaces lists the namespaces of the container's init for the
// C stage to join, leaving out those that are rt's own (joining one's own
// user namespace is an error, the others a waste). userns reports a user
// namespace to join.
func containerNamespaces(st *store.State) (join []initproto.Join, userns bool, err error) {
	s, err := st.Spec.Spec()
	if err != nil {
		return nil, false, err
	}
	for _, ns := range s.Linux.Namespaces {
		name, ok := spec.Namespaces[ns.Type]
		if !ok {
			continue
		}
		path := fmt.Sprintf("/proc/%d/ns/%s", st.InitPid, name)
		theirs, err := os.Stat(path)
		if err != nil {
			return nil, false, fmt.Errorf("container %q: %s namespace: %w", st.ID, ns.Type, err)
		}
		if mine, err := os.Stat("/proc/self/ns/" + name); err == nil && os.SameFile(mine, theirs) {
			continue
		}
		join = append(join, initproto.Join{Type: cloneFlags[ns.Type], Path: path})
		if ns.Type == specs.UserNamespace {
			userns = true
		}
	}
	// The init may have exited between the status check and now: its
	// namespace files would then be another process's.
	if !alive(st.InitPid, st.InitStartTime) {
		return nil, false, Refuse(api.OpExec, st.ID, api.StatusStopped)
	}
	return join, userns, nil
}
