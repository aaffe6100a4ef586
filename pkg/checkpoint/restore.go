package checkpoint

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/runtime"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
)

// Restore implements api.CheckpointOperations: it recreates container id
// from the images in opts.ImagePath on the rootfs of opts.Bundle, in new
// cgroups made from the bundle's spec, and records it as create does, so
// that state, kill, exec and delete work on it. Detached, it returns once
// the container runs; in the foreground it waits for the init, relaying
// signals, returns its status and deletes the container.
//
// A container with a terminal (process.terminal) gets a new pty from CRIU,
// its master sent to opts.ConsoleSocket as create sends it, or, in the
// foreground without a console socket, relayed through the caller's stdio
// as `run` does.
//
// On failure nothing is left: no process, cgroup, mount or state, and
// nothing is sent to the console socket.
func (r *Runtime) Restore(ctx context.Context, id string, opts api.RestoreOpts) (_ *api.Result, retErr error) {
	if err := api.ValidateID(id); err != nil {
		return nil, err
	}
	bundle := opts.Bundle
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	s, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	terminal := s.Process != nil && s.Process.Terminal
	if err := checkTerminal(terminal, opts.ConsoleSocket, opts.Detach); err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	if opts.Import != "" {
		// An id in use would fail the restore below, after the
		// rootfs diff was applied: refuse it first (store.Create
		// still decides, race-free).
		if r.hasState(id) {
			return nil, api.NewContainerError(id, api.ErrExist)
		}
		// Unpacked and checked whole, and its rootfs diff applied,
		// before anything of the container exists.
		dir, err := importArchive(opts.Import, rootfs)
		if err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
		defer os.RemoveAll(dir)
		opts.ImagePath = filepath.Join(dir, archiveImageDir)
	}
	imageDir, err := openImages(opts.ImagePath)
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	defer imageDir.Close()
	var workDir *os.File
	logPath := filepath.Join(imageDir.Name(), restoreLog)
	if opts.WorkPath != "" {
		if _, workDir, err = openDirs(opts.ImagePath, opts.WorkPath); err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
		defer workDir.Close()
		logPath = filepath.Join(workDir.Name(), restoreLog)
	}
	if !opts.Detach && !opts.NoSubreaper {
		// The restored init is rt-checkpoint's child (rst_sibling); as a
		// subreaper it also collects what the init leaves behind.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("set child subreaper: %w", err)
		}
	}

	h, err := r.Store().Create(id)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st := &store.State{
		ID: id, OCIVersion: s.Version, Bundle: bundle, Rootfs: rootfs,
		Created: time.Now().UTC(), Annotations: s.Annotations, Spec: store.RecordSpec(s),
	}
	defer func() {
		if retErr != nil {
			if err := r.Remove(ctx, h, st); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("cleanup after the failed restore: %w", err))
			}
		}
	}()
	cgPath := ""
	if s.Linux != nil {
		cgPath = s.Linux.CgroupsPath
	}
	cg, err := r.NewCgroups(st, cgPath)
	if err != nil {
		return nil, err
	}
	st.CgroupPaths = cg.Paths()
	// As create: recorded before anything exists, so that a restore
	// killed half-way leaves what delete --force needs.
	if err := h.Save(st); err != nil {
		return nil, err
	}

	// criu's stdio is the restored init's, for the fds recorded as
	// pipes or host files at dump.
	stdio := [3]*os.File{stdFile(opts.Stdin, os.Stdin), stdFile(opts.Stdout, os.Stdout), stdFile(opts.Stderr, os.Stderr)}
	inherit, err := stdioInherit(imageDir.Name())
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	var extra []*os.File
	if p := nsPath(s, specs.NetworkNamespace); p != "" {
		ns, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("restore container %q: network namespace: %w", id, err)
		}
		defer ns.Close()
		extra = append(extra, ns)
		inherit = append(inherit, inheritFd{Key: extNetKey, Fd: swrkFd + len(extra)})
	}
	// CRIU pivots into the root it restores onto, so that root must be a
	// mount point: the rootfs is bound onto itself, in a mount namespace
	// of criu's own (inPrivateMountNS). The host never sees the bind, so
	// there is nothing to unmount, no temporary directory, and nothing
	// is left when rt-checkpoint is killed while CRIU runs: the namespace
	// goes with criu. criu resolves root, ext mount sources and cgroup
	// directories in that namespace, a copy of the host's.
	var sw *swrk
	var nsImages, nsWork *os.File
	defer func() { closeFiles([]*os.File{nsImages, nsWork}) }()
	err = inPrivateMountNS(func() error {
		if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind rootfs: %w", err)
		}
		if err := makeMountpoints(rootfs, s); err != nil {
			return err
		}
		// criu makes its work directory (the image directory without
		// one) its cwd through the fd it is given and mounts its cgroup
		// yard there: on a directory opened in the host's namespace
		// that mount fails (EINVAL, the mount is not in criu's
		// namespace). So the directories criu gets are opened here.
		var err error
		if nsImages, err = openDir(imageDir.Name()); err != nil {
			return fmt.Errorf("image path: %w", err)
		}
		if workDir != nil {
			if nsWork, err = openDir(workDir.Name()); err != nil {
				return fmt.Errorf("work path: %w", err)
			}
		}
		sw, err = startSwrk(r.criu, stdio, extra)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	swDone := false
	defer func() {
		if !swDone {
			sw.cmd.Process.Kill()
			sw.close()
		}
	}()
	// criu, and so the tree it restores, is in the container's cgroups
	// before it starts; CgRoot then maps the dumped paths onto them.
	if err := cg.Apply(sw.pid()); err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	if res := runtime.ContainerResources(s); res != nil {
		if err := cg.Set(res); err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
	}
	roots, err := cgroupRoots(sw.pid())
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	req, err := restoreRequest(&opts, restoreTarget{
		Root:        rootfs,
		Mounts:      restoreMounts(mountSource{Spec: s, CgroupPaths: st.CgroupPaths, Hierarchies: readHierarchies()}),
		CgroupRoots: roots,
		InheritFds:  inherit,
		StatusFd:    opts.StatusFd,
	})
	if err != nil {
		return nil, err
	}
	req.Opts.ImagesDirFd = proto.Int32(int32(nsImages.Fd()))
	if nsWork != nil {
		req.Opts.WorkDirFd = proto.Int32(int32(nsWork.Fd()))
	}
	pid := 0
	pidFileWritten := false
	defer func() {
		// The pid of a process the failure killed must not be left for
		// a supervisor to signal.
		if retErr != nil && pidFileWritten {
			os.Remove(opts.PidFile)
		}
	}()
	pty := &ptyReceiver{want: terminal}
	defer pty.close()
	// A killed criu fails the call: the cleanup below removes all.
	sw.watch(r.progressTimeout, logPath)
	_, err = sw.call(req, func(script string, n *rpc.CriuNotify, fds []*os.File) error {
		switch script {
		case orphanPtsMaster:
			return pty.notify(fds)
		case "setup-namespaces":
			// As runc: prestart (and createRuntime) hooks run once
			// the namespaces exist, with the restored init's pid.
			if err := restoredNetNS(int(n.GetPid()), s); err != nil {
				return err
			}
			state := specs.State{Version: s.Version, ID: id, Status: specs.StateCreating, Pid: int(n.GetPid()), Bundle: bundle, Annotations: s.Annotations}
			if s.Hooks != nil {
				if err := hooks.Run(ctx, "prestart", s.Hooks.Prestart, &state); err != nil {
					return err
				}
				if err := hooks.Run(ctx, "createRuntime", s.Hooks.CreateRuntime, &state); err != nil {
					return err
				}
			}
		case "post-restore":
			pid = int(n.GetPid())
			start, err := runtime.ProcStartTime(pid)
			if err != nil {
				return fmt.Errorf("restored init %d: %w", pid, err)
			}
			st.InitPid, st.InitStartTime, st.Ready = pid, start, true
			if err := h.Save(st); err != nil {
				return err
			}
			if opts.PidFile != "" {
				if err := runtime.WritePidFile(opts.PidFile, pid); err != nil {
					return err
				}
				pidFileWritten = true
			}
		}
		return nil
	})
	swDone = true
	sw.close()
	// Nothing of criu's namespace outlives criu (a foreground restore
	// returns only when the container exits).
	closeFiles([]*os.File{nsImages, nsWork})
	nsImages, nsWork = nil, nil
	if nerr := (*notifyError)(nil); errors.As(err, &nerr) {
		// rt's own failure (a hook, the terminal): CRIU's log would
		// only say that its client went away.
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, newCRIUError("restore", err, logPath))
	}
	if pid == 0 {
		return nil, fmt.Errorf("restore container %q: criu answered without a post-restore notification", id)
	}
	master, err := pty.take()
	if err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	if master != nil && opts.ConsoleSocket != "" {
		// rt keeps no copy: the client's closing the master must hang
		// the terminal up.
		err := console.SendToSocket(opts.ConsoleSocket, master)
		master.Close()
		master = nil
		if err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
	}
	if master != nil {
		defer master.Close()
	}
	if s.Hooks != nil && len(s.Hooks.Poststart) > 0 {
		state := specs.State{Version: s.Version, ID: id, Status: specs.StateRunning, Pid: pid, Bundle: bundle, Annotations: s.Annotations}
		if err := hooks.Run(ctx, "poststart", s.Hooks.Poststart, &state); err != nil {
			r.log.Warn("poststart hook failed", "id", id, "error", err)
		}
	}
	if opts.OnRestoreStats != nil {
		wd := ""
		if workDir != nil {
			wd = workDir.Name()
		}
		if rs, err := readRestoreStats(statsDir(imageDir.Name(), wd)); err != nil || rs == nil {
			// The container runs: statistics that cannot be read
			// must not fail (and so undo) the restore.
			if err == nil {
				err = fmt.Errorf("CRIU wrote no %s", statsRestoreFile)
			}
			r.log.Warn("restore: no restore statistics to print", "container", id, "error", err)
		} else {
			opts.OnRestoreStats(rs)
		}
	}
	if opts.Detach {
		return &api.Result{}, nil
	}
	h.Close() // the lock must not be held while the container runs
	relayDone := make(chan error, 1)
	if master != nil {
		out := io.Writer(os.Stdout)
		if opts.Stdout != nil {
			out = opts.Stdout
		}
		go func() { relayDone <- console.Relay(master, stdFile(opts.Stdin, os.Stdin), out) }()
	} else {
		relayDone <- nil
	}
	status := r.Wait(pid)
	if err := <-relayDone; err != nil {
		r.log.Warn("terminal relay", "id", id, "error", err)
	}
	if err := r.Delete(ctx, id, api.DeleteOpts{Force: true}); err != nil {
		return &api.Result{Status: status}, err
	}
	return &api.Result{Status: status}, nil
}

// hasState reports whether container id's state directory exists in this
// root: a check before work that an id in use would waste (store.Create
// still decides, race-free).
func (r *Runtime) hasState(id string) bool {
	dir, err := r.Store().Dir(id)
	if err != nil {
		return false
	}
	_, err = os.Lstat(dir)
	return err == nil
}

// openImages opens an existing image directory: restore creates nothing
// there, and a missing one is the user's mistake to name.
func openImages(p string) (*os.File, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("image path %s: %w", p, err)
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("image path: %w", err)
	}
	if _, err := os.Stat(filepath.Join(abs, "inventory.img")); err != nil {
		f.Close()
		return nil, fmt.Errorf("image path %s holds no checkpoint (no inventory.img): %w", abs, err)
	}
	return f, nil
}

// openDir opens directory p.
func openDir(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY, 0)
}

// stdFile is w when it is a file (criu, and through it the restored
// process, then holds the caller's own fd), else def.
func stdFile[T any](w T, def *os.File) *os.File {
	if f, ok := any(w).(*os.File); ok && f != nil {
		return f
	}
	return def
}

// stdioInherit maps the init's dumped stdio onto criu's own fds 0-2 (the
// restoring caller's stdio): pipes from runc's descriptors.json, host files
// from rt's record.
func stdioInherit(imageDir string) ([]inheritFd, error) {
	var out []inheritFd
	data, err := os.ReadFile(filepath.Join(imageDir, descriptorsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var fds []string
		if err := json.Unmarshal(data, &fds); err != nil {
			return nil, fmt.Errorf("%s: %w", descriptorsFile, err)
		}
		for i, l := range fds {
			if i < 3 && strings.HasPrefix(l, "pipe:") {
				out = append(out, inheritFd{Key: l, Fd: i})
			}
		}
	}
	ext, err := readStdioRecord(imageDir)
	if err != nil {
		return nil, err
	}
	for _, e := range ext {
		out = append(out, inheritFd{Key: e.Key, Fd: e.Fd})
	}
	return out, nil
}

// cgroupRoots reads /proc/<pid>/cgroup into CRIU's cgroup roots: each v1
// controller (and name=…) and cgroup2's "" to the process's cgroup.
func cgroupRoots(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, sc.Err()
}

// makeMountpoints creates, inside root, the mountpoint of each mount that is
// not inside a tmpfs of the spec (CRIU restores a tmpfs with its contents,
// mountpoints included): a directory, or a file for a bind of a file.
func makeMountpoints(root string, s *specs.Spec) error {
	var tmpfs []string
	for _, m := range s.Mounts {
		if m.Type == "tmpfs" {
			tmpfs = append(tmpfs, cleanDest(m.Destination))
		}
	}
	under := func(p string) bool {
		for _, t := range tmpfs {
			if p != t && strings.HasPrefix(p, t+"/") {
				return true
			}
		}
		return false
	}
	for _, m := range s.Mounts {
		dest := cleanDest(m.Destination)
		if under(dest) {
			continue
		}
		p, err := securejoin.SecureJoin(root, dest)
		if err != nil {
			return fmt.Errorf("mountpoint %s: %w", dest, err)
		}
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if isBind(m) {
			if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return fmt.Errorf("mountpoint %s: %w", dest, err)
				}
				f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
				if err != nil {
					return fmt.Errorf("mountpoint %s: %w", dest, err)
				}
				f.Close()
				continue
			}
		}
		if err := os.MkdirAll(p, 0o755); err != nil && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("mountpoint %s: %w", dest, err)
		}
	}
	return nil
}
