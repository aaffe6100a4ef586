package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/runtime"
	"github.com/rtkit/rt/pkg/store"
)

// criuRestore records the container with its new cgroups, has CRIU restore
// it into them and returns the restored init's pid and, when rt relays its
// terminal, the pty master (else the master went to the console socket).
// *pidFileWritten is set once opts.PidFile is written.
func (r *Runtime) criuRestore(ctx context.Context, in *restoreIn, h *store.Handle, st *store.State, opts *api.RestoreOpts, pidFileWritten *bool) (int, *os.File, error) {
	id, s := in.id, in.spec
	cg, err := r.recordCgroups(h, st, s)
	if err != nil {
		return 0, nil, err
	}
	x, err := r.startRestoreSwrk(in, opts)
	if err != nil {
		return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	defer x.close()
	killpoint.Hit("restore.criu-started")
	// criu, and so the tree it restores, is in the container's cgroups
	// before it starts; CgRoot then maps the dumped paths onto them.
	if err := cg.Apply(x.sw.pid()); err != nil {
		return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	killpoint.Hit("restore.criu-in-cgroups")
	if res := runtime.ContainerResources(s); res != nil {
		if err := cg.Set(res); err != nil {
			return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
		}
	}
	roots, err := cgroupRoots(x.sw.pid())
	if err != nil {
		return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	req, err := restoreRequest(opts, restoreTarget{
		Root:        in.rootfs,
		Mounts:      restoreMounts(mountSource{Spec: s, CgroupPaths: st.CgroupPaths, Hierarchies: readHierarchies()}),
		CgroupRoots: roots,
		InheritFds:  x.inherit,
		StatusFd:    opts.StatusFd,
	})
	if err != nil {
		return 0, nil, err
	}
	req.Opts.ImagesDirFd = proto.Int32(int32(x.images.Fd()))
	if x.work != nil {
		req.Opts.WorkDirFd = proto.Int32(int32(x.work.Fd()))
	}
	n := &restoreNotify{ctx: ctx, in: in, h: h, st: st, opts: opts, pty: &ptyReceiver{want: in.terminal}, pidFileWritten: pidFileWritten}
	defer n.pty.close()
	// A killed criu fails the call: the caller's cleanup removes all.
	x.sw.watch(r.progressTimeout, in.logPath)
	killpoint.Hit("restore.request-sent")
	_, err = x.sw.call(req, n.notify)
	x.answered = true
	killpoint.Hit("restore.criu-answered")
	// Nothing of criu's namespace outlives criu (a foreground restore
	// returns only when the container exits).
	x.close()
	if nerr := (*notifyError)(nil); errors.As(err, &nerr) {
		// rt's own failure (a hook, the terminal): CRIU's log would
		// only say that its client went away.
		return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("restore container %q: %w", id, newCRIUError("restore", err, in.logPath))
	}
	if n.pid == 0 {
		return 0, nil, fmt.Errorf("restore container %q: criu answered without a post-restore notification", id)
	}
	master, err := n.pty.take()
	if err != nil {
		return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	if master != nil && opts.ConsoleSocket != "" {
		// rt keeps no copy: the client's closing the master must hang
		// the terminal up.
		err := console.SendToSocket(opts.ConsoleSocket, master)
		master.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("restore container %q: %w", id, err)
		}
		master = nil
	}
	return n.pid, master, nil
}

// recordCgroups makes the manager of the restored container's cgroups and,
// as create does, records them before anything exists, so that a restore
// killed half-way leaves what delete --force needs.
func (r *Runtime) recordCgroups(h *store.Handle, st *store.State, s *specs.Spec) (cgroups.Manager, error) {
	cgPath := ""
	if s.Linux != nil {
		cgPath = s.Linux.CgroupsPath
	}
	cg, err := r.NewCgroups(st, cgPath)
	if err != nil {
		return nil, err
	}
	st.CgroupPaths = cg.Paths()
	if err := h.Save(st); err != nil {
		return nil, err
	}
	return cg, nil
}

// restoreSwrk is criu swrk started for a restore, in a mount namespace of
// its own, with the files it was given.
type restoreSwrk struct {
	sw *swrk
	// images and work are the directories as criu's namespace sees them.
	images, work *os.File
	inherit      []inheritFd
	netns        *os.File
	// answered is set once criu has answered the request: it then exits
	// on its own and is not killed.
	answered, closed bool
}

// close kills criu unless it answered, and closes what it was given.
func (x *restoreSwrk) close() {
	if x.closed {
		return
	}
	x.closed = true
	if x.sw != nil {
		if !x.answered {
			x.sw.cmd.Process.Kill()
		}
		x.sw.close()
	}
	closeFiles([]*os.File{x.images, x.work, x.netns})
}

// startRestoreSwrk starts criu with the restored init's stdio and network
// namespace. CRIU pivots into the root it restores onto, so that root must
// be a mount point: the rootfs is bound onto itself, in a mount namespace
// of criu's own (inPrivateMountNS). The host never sees the bind, so there
// is nothing to unmount, no temporary directory, and nothing is left when
// rt-checkpoint is killed while CRIU runs: the namespace goes with criu.
// criu resolves root, ext mount sources and cgroup directories in that
// namespace, a copy of the host's.
func (r *Runtime) startRestoreSwrk(in *restoreIn, opts *api.RestoreOpts) (_ *restoreSwrk, retErr error) {
	x := &restoreSwrk{}
	defer func() {
		if retErr != nil {
			x.close()
		}
	}()
	// criu's stdio is the restored init's, for the fds recorded as pipes
	// or host files at dump.
	stdio := [3]*os.File{stdFile(opts.Stdin, os.Stdin), stdFile(opts.Stdout, os.Stdout), stdFile(opts.Stderr, os.Stderr)}
	var err error
	if x.inherit, err = stdioInherit(in.imageDir.Name()); err != nil {
		return nil, err
	}
	var extra []*os.File
	if p := nsPath(in.spec, specs.NetworkNamespace); p != "" {
		if x.netns, err = os.Open(p); err != nil {
			return nil, fmt.Errorf("network namespace: %w", err)
		}
		extra = append(extra, x.netns)
		x.inherit = append(x.inherit, inheritFd{Key: extNetKey, Fd: swrkFd + len(extra)})
	}
	err = inPrivateMountNS(func() error {
		if err := unix.Mount(in.rootfs, in.rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind rootfs: %w", err)
		}
		if err := makeMountpoints(in.rootfs, in.spec); err != nil {
			return err
		}
		// criu makes its work directory (the image directory without
		// one) its cwd through the fd it is given and mounts its cgroup
		// yard there: on a directory opened in the host's namespace
		// that mount fails (EINVAL, the mount is not in criu's
		// namespace). So the directories criu gets are opened here.
		var err error
		if x.images, err = openDir(in.imageDir.Name()); err != nil {
			return fmt.Errorf("image path: %w", err)
		}
		if in.workDir != nil {
			if x.work, err = openDir(in.workDir.Name()); err != nil {
				return fmt.Errorf("work path: %w", err)
			}
		}
		x.sw, err = startSwrk(r.criu, stdio, extra)
		return err
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// restoreNotify answers CRIU's notifications during a restore.
type restoreNotify struct {
	ctx            context.Context
	in             *restoreIn
	h              *store.Handle
	st             *store.State
	opts           *api.RestoreOpts
	pty            *ptyReceiver
	pid            int // the restored init, from post-restore
	pidFileWritten *bool
}

func (n *restoreNotify) notify(script string, msg *rpc.CriuNotify, fds []*os.File) error {
	s := n.in.spec
	switch script {
	case orphanPtsMaster:
		return n.pty.notify(fds)
	case "setup-namespaces":
		// As runc: prestart (and createRuntime) hooks run once the
		// namespaces exist, with the restored init's pid.
		if err := restoredNetNS(int(msg.GetPid()), s); err != nil {
			return err
		}
		state := specs.State{Version: s.Version, ID: n.in.id, Status: specs.StateCreating, Pid: int(msg.GetPid()), Bundle: n.in.bundle, Annotations: s.Annotations}
		if s.Hooks != nil {
			if err := hooks.Run(n.ctx, "prestart", s.Hooks.Prestart, &state); err != nil {
				return err
			}
			if err := hooks.Run(n.ctx, "createRuntime", s.Hooks.CreateRuntime, &state); err != nil {
				return err
			}
		}
		killpoint.Hit("restore.setup-namespaces")
	case "post-restore":
		n.pid = int(msg.GetPid())
		start, err := runtime.ProcStartTime(n.pid)
		if err != nil {
			return fmt.Errorf("restored init %d: %w", n.pid, err)
		}
		n.st.InitPid, n.st.InitStartTime, n.st.Ready = n.pid, start, true
		killpoint.Hit("restore.post-restore")
		if err := n.h.Save(n.st); err != nil {
			return err
		}
		if n.opts.PidFile != "" {
			if err := runtime.WritePidFile(n.opts.PidFile, n.pid); err != nil {
				return err
			}
			*n.pidFileWritten = true
		}
	}
	return nil
}
