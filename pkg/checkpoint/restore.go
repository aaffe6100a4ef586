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

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/killpoint"
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
	in, err := r.restoreInput(id, &opts)
	if err != nil {
		return nil, err
	}
	defer in.close()
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
	s := in.spec
	st := &store.State{
		ID: id, OCIVersion: s.Version, Bundle: in.bundle, Rootfs: in.rootfs,
		Created: time.Now().UTC(), Annotations: s.Annotations, Spec: store.RecordSpec(s),
	}
	defer func() {
		if retErr != nil {
			if err := r.Remove(ctx, h, st); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("cleanup after the failed restore: %w", err))
			}
		}
	}()
	pidFileWritten := false
	defer func() {
		// The pid of a process the failure killed must not be left for
		// a supervisor to signal.
		if retErr != nil && pidFileWritten {
			os.Remove(opts.PidFile)
		}
	}()
	pid, master, err := r.criuRestore(ctx, in, h, st, &opts, &pidFileWritten)
	if err != nil {
		return nil, err
	}
	killpoint.Hit("restore.restored")
	if master != nil {
		defer master.Close()
	}
	r.afterRestore(ctx, in, pid, &opts)
	if opts.Detach {
		killpoint.Hit("restore.done")
		return &api.Result{}, nil
	}
	h.Close() // the lock must not be held while the container runs
	out := io.Writer(os.Stdout)
	if opts.Stdout != nil {
		out = opts.Stdout
	}
	status := r.Foreground(id, pid, master, stdFile(opts.Stdin, os.Stdin), out)
	if err := r.Delete(ctx, id, api.DeleteOpts{Force: true}); err != nil {
		return &api.Result{Status: status}, err
	}
	return &api.Result{Status: status}, nil
}

// restoreIn is what a restore reads and opens before anything of the
// container exists.
type restoreIn struct {
	id, bundle, rootfs string
	spec               *specs.Spec
	terminal           bool
	imageDir, workDir  *os.File // workDir nil without --work-path
	logPath            string   // CRIU's restore log
	importDir          string   // the unpacked --import archive, removed by close
}

func (in *restoreIn) close() {
	if in.workDir != nil {
		in.workDir.Close()
	}
	if in.imageDir != nil {
		in.imageDir.Close()
	}
	if in.importDir != "" {
		os.RemoveAll(in.importDir)
	}
}

// restoreInput loads the bundle's spec, unpacks an --import archive
// (applying its rootfs diff) and opens the image and work directories.
func (r *Runtime) restoreInput(id string, opts *api.RestoreOpts) (_ *restoreIn, retErr error) {
	if err := api.ValidateID(id); err != nil {
		return nil, err
	}
	bundle, err := spec.BundleDir(opts.Bundle)
	if err != nil {
		return nil, err
	}
	s, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	in := &restoreIn{id: id, bundle: bundle, spec: s, terminal: s.Process != nil && s.Process.Terminal}
	if err := checkTerminal(in.terminal, opts.ConsoleSocket, opts.Detach); err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	in.rootfs = s.Root.Path
	if !filepath.IsAbs(in.rootfs) {
		in.rootfs = filepath.Join(bundle, in.rootfs)
	}
	if in.rootfs, err = filepath.EvalSymlinks(in.rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	defer func() {
		if retErr != nil {
			in.close()
		}
	}()
	if opts.Import != "" {
		// An id in use would fail the restore below, after the rootfs
		// diff was applied: refuse it first (store.Create still
		// decides, race-free).
		if r.hasState(id) {
			return nil, api.NewContainerError(id, api.ErrExist)
		}
		// Unpacked and checked whole, and its rootfs diff applied,
		// before anything of the container exists.
		if in.importDir, err = importArchive(opts.Import, in.rootfs); err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
		opts.ImagePath = filepath.Join(in.importDir, archiveImageDir)
	}
	if in.imageDir, err = openImages(opts.ImagePath); err != nil {
		return nil, fmt.Errorf("restore container %q: %w", id, err)
	}
	in.logPath = filepath.Join(in.imageDir.Name(), restoreLog)
	if opts.WorkPath != "" {
		if _, in.workDir, err = openDirs(opts.ImagePath, opts.WorkPath); err != nil {
			return nil, fmt.Errorf("restore container %q: %w", id, err)
		}
		in.logPath = filepath.Join(in.workDir.Name(), restoreLog)
	}
	return in, nil
}

// afterRestore runs the poststart hooks and hands over CRIU's statistics
// of a restore that succeeded: their failures are only warned of.
func (r *Runtime) afterRestore(ctx context.Context, in *restoreIn, pid int, opts *api.RestoreOpts) {
	s := in.spec
	if s.Hooks != nil && len(s.Hooks.Poststart) > 0 {
		state := specs.State{Version: s.Version, ID: in.id, Status: specs.StateRunning, Pid: pid, Bundle: in.bundle, Annotations: s.Annotations}
		if err := hooks.Run(ctx, "poststart", s.Hooks.Poststart, &state); err != nil {
			r.log.Warn("poststart hook failed", "id", in.id, "error", err)
		}
	}
	if opts.OnRestoreStats == nil {
		return
	}
	wd := ""
	if in.workDir != nil {
		wd = in.workDir.Name()
	}
	if rs, err := readRestoreStats(statsDir(in.imageDir.Name(), wd)); err != nil || rs == nil {
		// The container runs: statistics that cannot be read must not
		// fail (and so undo) the restore.
		if err == nil {
			err = fmt.Errorf("CRIU wrote no %s", statsRestoreFile)
		}
		r.log.Warn("restore: no restore statistics to print", "container", in.id, "error", err)
	} else {
		opts.OnRestoreStats(rs)
	}
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
