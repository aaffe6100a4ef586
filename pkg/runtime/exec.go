package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/initproto"
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
	st, err := r.store.Read(id)
	if err != nil {
		return nil, err
	}
	if s := r.status(st); s != api.StatusPaused || !opts.IgnorePaused {
		if err := refuse(api.OpExec, id, s); err != nil {
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
	var sigs chan os.Signal
	if !opts.Detach {
		sigs = relaySignals()
	}
	cg, err := execCgroups(st, opts.Cgroup)
	if err != nil {
		return nil, err
	}
	entry, err := cg.Prepare()
	if err != nil {
		return nil, err
	}
	init, err := spawnOn(initial, execInitialCPUs(p), func() (*startedInit, error) {
		return r.spawnInit(initSpawn{
			bin: bin, dir: "/", extra: opts.PreserveFDs, stdio: opts.Stdio,
			ns: initproto.Namespaces{Join: join}, cgroup: entry,
		})
	})
	entry.Close()
	if err != nil {
		return nil, err
	}
	defer init.sock.Close()
	pid, sock := init.pid, init.sock
	ok := false
	defer func() {
		if !ok {
			// rt's child (CLONE_PARENT), just killed: the wait is short
			// and leaves no zombie in the container.
			unix.Kill(pid, unix.SIGKILL)
			unix.Wait4(pid, nil, 0, nil)
		}
	}()
	if err := st.IntelRdt.Enter(pid); err != nil {
		return nil, err
	}
	joined := make(chan error, 1)
	if init.entered {
		joined <- nil
	} else {
		go func() { joined <- cg.Apply(pid) }()
	}
	if err := initproto.Write(sock, initproto.MsgGo, initproto.GoPayload(userns)); err != nil {
		<-joined
		return nil, waitInitError(sock, "start process", err)
	}
	cfg, err := json.Marshal(&initproto.InitConfig{
		ID: id, Exec: true, PreserveFDs: opts.PreserveFDs, HostMounts: st.HostMounts,
		Spec: &specs.Spec{Version: s.Version, Process: p, Linux: s.Linux},
	})
	if err != nil {
		<-joined
		return nil, err
	}
	if err := initproto.Write(sock, initproto.MsgConfig, cfg); err != nil {
		<-joined
		return nil, waitInitError(sock, "send config", err)
	}
	if err := <-joined; err != nil {
		return nil, err
	}
	if err := initproto.Write(sock, initproto.MsgJoined, nil); err != nil {
		return nil, waitInitError(sock, "sync", err)
	}
	var pty *os.File
	if p.Terminal {
		if pty, err = receivePty(sock, opts.ConsoleSocket); err != nil {
			return nil, err
		}
		if pty != nil {
			defer pty.Close()
		}
	}
	if _, err := initproto.Read(sock, initproto.MsgReady); err != nil {
		return nil, initError(err)
	}
	// The socket is close-on-exec in the process: end of file means the
	// program replaced rt-init; a message means it failed first.
	if _, err := initproto.Read(sock, 0); !errors.Is(err, initproto.ErrClosed) {
		return nil, initError(err)
	}
	ok = true
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	if opts.Detach {
		return &api.Result{}, nil
	}
	relayDone := make(chan error, 1)
	if pty != nil {
		go func() { relayDone <- console.Relay(pty, os.Stdin, os.Stdout) }()
	} else {
		relayDone <- nil
	}
	status := r.wait(pid, sigs)
	if err := <-relayDone; err != nil {
		r.log.Warn("terminal relay", "id", id, "error", err)
	}
	return &api.Result{Status: status}, nil
}

// receivePty takes the pty master rt-init sends and hands it to the
// console socket (returning nil), or returns it for rt to relay.
func receivePty(sock *os.File, consoleSocket string) (*os.File, error) {
	if _, err := initproto.Read(sock, initproto.MsgPty); err != nil {
		return nil, initError(err)
	}
	master, err := console.RecvFd(sock)
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
	return cgroups.Load(paths), nil
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
		return nil, false, refuse(api.OpExec, st.ID, api.StatusStopped)
	}
	return join, userns, nil
}

// execProcess is the process exec runs: --process as given, or the
// container's own process with the command line and the overrides applied,
// as runc does.
func execProcess(base *specs.Process, o api.ExecOpts) (*specs.Process, error) {
	if o.Process != nil {
		p := *o.Process
		if p.Cwd == "" {
			p.Cwd = "/"
		}
		// As runc: what --process leaves out of these, the container's
		// process gives.
		if p.Scheduler == nil {
			p.Scheduler = base.Scheduler
		}
		if p.IOPriority == nil {
			p.IOPriority = base.IOPriority
		}
		if p.ExecCPUAffinity == nil {
			p.ExecCPUAffinity = base.ExecCPUAffinity
		}
		return &p, nil
	}
	if len(o.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	p := *base
	p.Args = slices.Clone(o.Args)
	p.CommandLine = ""
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = slices.Clone(base.Env)
	for _, e := range o.Env {
		name, _, hasValue := strings.Cut(e, "=")
		if !hasValue || name == "" {
			return nil, fmt.Errorf("--env %q: not NAME=value", e)
		}
		p.Env = slices.DeleteFunc(p.Env, func(x string) bool { return strings.HasPrefix(x, name+"=") })
		p.Env = append(p.Env, e)
	}
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	if o.User != "" {
		uid, gid, hasGid := strings.Cut(o.User, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: uid is not a number", o.User)
		}
		p.User.UID = uint32(u)
		if hasGid {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: gid is not a number", o.User)
			}
			p.User.GID = uint32(g)
		}
	}
	p.User.AdditionalGids = append(slices.Clone(base.User.AdditionalGids), o.AdditionalGids...)
	if len(o.Caps) > 0 {
		c := specs.LinuxCapabilities{}
		if base.Capabilities != nil {
			c = *base.Capabilities
		}
		for _, n := range o.Caps {
			n = strings.ToUpper(n)
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			// A name unknown to rt or the kernel is skipped with a
			// warning (usableCapabilities), as runc does.
			c.Bounding = append(slices.Clone(c.Bounding), n)
			c.Effective = append(slices.Clone(c.Effective), n)
			c.Permitted = append(slices.Clone(c.Permitted), n)
			// Never inheritable (CVE-2022-29162); ambient only when the
			// process has inheritable capabilities already, as runc.
			if len(c.Inheritable) > 0 {
				c.Ambient = append(slices.Clone(c.Ambient), n)
			}
		}
		p.Capabilities = &c
	}
	if o.NoNewPrivs {
		p.NoNewPrivileges = true
	}
	if o.AppArmor != "" {
		p.ApparmorProfile = o.AppArmor
	}
	if o.ProcessLabel != "" {
		p.SelinuxLabel = o.ProcessLabel
	}
	return &p, nil
}
