package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/hooks"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/store"
)

// Start implements api.ContainerOperations.
func (r *Runtime) Start(ctx context.Context, id string) error {
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return err
	}
	defer h.Close()
	return r.start(ctx, h, st)
}

func (r *Runtime) start(ctx context.Context, h *store.Handle, st *store.State) error {
	if err := Refuse(api.OpStart, st.ID, r.Status(st)); err != nil {
		return err
	}
	killpoint.Hit("start.checked")
	hks, err := st.Spec.Hooks()
	if err != nil {
		return fmt.Errorf("start container %q: %w", st.ID, err)
	}
	hasPoststart := hks != nil && len(hks.Poststart) > 0
	if err := releaseFifo(h.Path(ExecFifo), st); err != nil {
		return fmt.Errorf("start container %q: %w", st.ID, err)
	}
	killpoint.Hit("start.released")
	if hasPoststart {
		state := r.ociState(st, specs.StateRunning)
		if err := hooks.Run(ctx, "poststart", hks.Poststart, &state); err != nil {
			// The process runs already; the spec says to warn.
			r.log.Warn("poststart hook failed", "id", st.ID, "error", err)
		}
	}
	killpoint.Hit("start.done")
	return nil
}

// releaseFifo opens the exec fifo for reading, which lets the init's
// blocked open for writing through, removes it, reads the byte it writes,
// then reads until end of file: the init keeps its write end open until
// execve, so at EOF the container's program runs. Whatever the init writes
// after the byte is the error it failed with after start (a seccomp
// filter, the credentials, a startContainer hook), returned as start's. The
// open is non-blocking so that an init that died cannot hang start forever.
//
// The fifo goes as soon as it is open, before the init can run anything
// (it opens its end through the fd it inherited, which the removal does
// not affect): its name says "created". Removed after the read, a start
// killed in between left a running container reported as created, and a
// second start waited forever for a byte no writer would send. A start
// killed between the open and the removal still leaves the name: then
// the init no longer holds the fifo (holdsFifo), which Status and the wait
// below look at.
func releaseFifo(path string, st *store.State) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	killpoint.Hit("start.fifo-opened")
	var fifo unix.Stat_t
	if err := unix.Fstat(fd, &fifo); err != nil {
		return fmt.Errorf("stat exec fifo: %w", err)
	}
	if err := unix.Unlink(path); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	killpoint.Hit("start.fifo-removed")
	buf := make([]byte, 4096)
	var msg []byte
	got, dead := false, false
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case n > 0:
			data := buf[:n]
			if !got {
				got, data = true, data[1:]
				killpoint.Hit("start.byte-read")
			}
			if len(msg) < maxInitError {
				msg = append(msg, data...)
			}
			continue
		case n == 0 && err == nil && got:
			// The write end closed: at execve, or when the init
			// exited after saying why.
			if len(msg) > 0 {
				return fmt.Errorf("container init: %s", strings.TrimSpace(string(msg)))
			}
			return nil
		case err != nil && err != unix.EAGAIN && err != unix.EINTR:
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if !alive(st.InitPid, st.InitStartTime) && !dead {
			// It may have written and gone between the read and
			// now: read once more what it left.
			dead = true
			continue
		}
		if dead {
			if got && len(msg) > 0 {
				return fmt.Errorf("container init: %s", strings.TrimSpace(string(msg)))
			}
			if got {
				// The program ran and is gone already, or the init
				// died without a word (killed): nothing to report.
				return nil
			}
			return errors.New("container init exited before start")
		}
		if !got && !holdsFifo(st.InitPid, &fifo) {
			// An earlier start, killed before it read the byte, let
			// the init through: the program runs (or is on its way).
			return nil
		}
		// No writer yet (EOF before the byte) or no byte/EOF yet: wait.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 10); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll exec fifo: %w", err)
		}
		if !got && pfd[0].Revents&unix.POLLHUP != 0 && pfd[0].Revents&unix.POLLIN == 0 {
			// No writer has opened yet; poll returns at once on a
			// writerless fifo, so pace the retries.
			time.Sleep(time.Millisecond)
		}
	}
}

// maxInitError bounds what start keeps of the init's error.
const maxInitError = 4096

// holdsFifo reports whether the init pid still holds the exec fifo: it
// keeps the fd it inherited (initproto.FdFifo) until its execve, which
// closes it. An init that no longer holds it went through it, released by
// a start killed before it removed the fifo. An fd that cannot be looked at
// (no right to) counts as held: the fifo's name then decides, as before.
// So does one a dying init closed: it is not through, and is soon dead.
func holdsFifo(pid int, fifo *unix.Stat_t) bool {
	var fd unix.Stat_t
	err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/fd/"+strconv.Itoa(initproto.FdFifo), &fd)
	if err == nil {
		return fd.Dev == fifo.Dev && fd.Ino == fifo.Ino
	}
	return !errors.Is(err, unix.ENOENT) || exiting(pid)
}

// exiting reports whether pid is on its way out (PF_EXITING in the flags,
// field 9 of /proc/<pid>/stat), or gone. The kernel sets the flag before it
// closes the process's files, so a file found closed and then no flag
// was closed by the process itself.
func exiting(pid int) bool {
	const pfExiting = 0x4
	f, err := ProcStat(pid)
	if err != nil || len(f) < 7 {
		return true
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err != nil || flags&pfExiting != 0
}

// ociState is the state hooks receive.
func (r *Runtime) ociState(st *store.State, status specs.ContainerState) specs.State {
	return specs.State{Version: st.OCIVersion, ID: st.ID, Status: status, Pid: st.InitPid, Bundle: st.Bundle, Annotations: st.Annotations}
}

// Kill implements api.ContainerOperations.
func (r *Runtime) Kill(_ context.Context, id string, sig api.Signal, opts api.KillOpts) error {
	st, err := r.store.Read(id)
	if err != nil {
		return err
	}
	if opts.All {
		cg := fs.Load(st.CgroupPaths)
		n, err := signalCgroup(cg, unix.Signal(sig))
		if err != nil {
			return err
		}
		if n > 0 {
			return thawToKill(cg, unix.Signal(sig))
		}
		if r.Status(st) == api.StatusStopped {
			// As runc: --all of a stopped container is no error.
			return nil
		}
	}
	if err := Refuse(api.OpKill, id, r.Status(st)); err != nil {
		return err
	}
	if err := signalInit(st, unix.Signal(sig)); err != nil {
		return err
	}
	return thawToKill(fs.Load(st.CgroupPaths), unix.Signal(sig))
}

// thawToKill thaws a frozen cgroup after a SIGKILL was sent into it: a
// frozen process gets a signal only once thawed, and SIGKILL is meant to
// act now (runc thaws too). Other signals wait for resume.
func thawToKill(cg cgroups.Manager, sig unix.Signal) error {
	if sig != unix.SIGKILL {
		return nil
	}
	if frozen, err := cg.Frozen(); err == nil && frozen {
		return cg.Thaw()
	}
	return nil
}

// signalInit signals the container's init through a pidfd checked against
// the recorded start time, so a recycled pid is never signalled. An init
// gone since the status was read is kill's refusal of a stopped container.
func signalInit(st *store.State, sig unix.Signal) error {
	gone := func() error { return Refuse(api.OpKill, st.ID, api.StatusStopped) }
	pidfd, err := unix.PidfdOpen(st.InitPid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return gone()
		}
		return fmt.Errorf("pidfd_open %d: %w", st.InitPid, err)
	}
	defer unix.Close(pidfd)
	if !alive(st.InitPid, st.InitStartTime) {
		return gone()
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return gone()
		}
		return fmt.Errorf("signal %d to container %q: %w", sig, st.ID, err)
	}
	return nil
}

// signalCgroup signals every process in the container's cgroup and returns
// how many it reached.
func signalCgroup(cg cgroups.Manager, sig unix.Signal) (int, error) {
	pids, err := cg.Pids()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, cgroups.ErrNoCgroup) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, p := range pids {
		if err := unix.Kill(p, sig); err == nil {
			n++
		} else if !errors.Is(err, unix.ESRCH) {
			return n, fmt.Errorf("signal %d to pid %d: %w", sig, p, err)
		}
	}
	return n, nil
}

// Delete implements api.ContainerOperations.
func (r *Runtime) Delete(ctx context.Context, id string, opts api.DeleteOpts) error {
	h, err := r.store.Open(id)
	if err != nil {
		if opts.Force && errors.Is(err, api.ErrNotExist) {
			return nil
		}
		return err
	}
	defer h.Close()
	st, err := h.Load()
	if err != nil {
		if !opts.Force {
			return err
		}
		// A corrupt state file must not make a container undeletable,
		// nor leave its processes running: what can be read of it still
		// finds the init and the cgroups.
		st = h.Salvage()
	}
	killpoint.Hit("delete.loaded")
	// A created container goes without --force, its init killed, as with
	// runc (containerd deletes one that was never started so).
	if !opts.Force {
		if err := Refuse(api.OpDelete, id, r.Status(st)); err != nil {
			return err
		}
	}
	return r.Remove(ctx, h, st)
}

// Remove kills whatever is left of the container, runs poststop hooks,
// removes its cgroups and its state.
func (r *Runtime) Remove(ctx context.Context, h *store.Handle, st *store.State) error {
	// Through the container's driver: systemd must stop its unit. (The
	// other commands read and freeze through cgroupfs, which serves both
	// drivers and needs no D-Bus.)
	cg, err := loadCgroups(st)
	if err != nil {
		return err
	}
	if err := r.destroy(st, cg); err != nil {
		return err
	}
	killpoint.Hit("delete.destroyed")
	hks, err := st.Spec.Hooks()
	if err != nil {
		// The container is gone already; a state too damaged to say
		// which hooks to run must not keep its directory alive.
		r.log.Warn("poststop hooks not run", "id", st.ID, "error", err)
	}
	if hks != nil && len(hks.Poststop) > 0 && st.Ready {
		state := r.ociState(st, specs.StateStopped)
		if err := hooks.RunAll(ctx, "poststop", hks.Poststop, &state); err != nil {
			r.log.Warn("poststop hook failed", "id", st.ID, "error", err)
		}
	}
	if err := h.Remove(); err != nil {
		return err
	}
	killpoint.Hit("delete.removed")
	return nil
}

// destroy kills every process of the container, removes the mounts it made
// in rt's mount namespace (if it has none of its own) and its cgroups.
func (r *Runtime) destroy(st *store.State, cg cgroups.Manager) error {
	if alive(st.InitPid, st.InitStartTime) {
		if err := signalInit(st, unix.SIGKILL); err != nil && !errors.Is(err, api.ErrNotRunning) {
			return err
		}
		killpoint.Hit("destroy.init-killed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := signalCgroup(cg, unix.SIGKILL)
		if err != nil {
			return err
		}
		if n > 0 {
			thawToKill(cg, unix.SIGKILL)
		}
		if n == 0 && !alive(st.InitPid, st.InitStartTime) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %q: processes still alive 5s after SIGKILL", st.ID)
		}
		reapIfChild(st.InitPid)
		time.Sleep(time.Millisecond)
	}
	killpoint.Hit("destroy.all-dead")
	// Once nothing of the container runs: no process of its can stack
	// a mount meanwhile.
	if err := r.unmountHost(st); err != nil {
		return err
	}
	if err := cg.Destroy(); err != nil {
		return err
	}
	killpoint.Hit("destroy.cgroups-removed")
	return st.IntelRdt.Destroy()
}

// reapIfChild collects pid's exit status when rt is its parent (a run in
// the foreground), so that it does not linger as a zombie.
func reapIfChild(pid int) {
	if pid <= 0 {
		return
	}
	var ws syscall.WaitStatus
	unix.Wait4(pid, (*unix.WaitStatus)(&ws), unix.WNOHANG, nil)
}
