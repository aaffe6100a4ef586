package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lazyStatusFd is the daemon's fd of the status pipe (ExtraFiles[0]).
const lazyStatusFd = 3

// StartLazyPages starts `criu lazy-pages`, the daemon a lazy restore
// (restore --lazy-pages) takes the memory pages from, as rt's child, and
// returns once it is ready (written to its status fd), within the criu
// progress timeout. It serves the pages of o.ImagePath, or, with
// o.Address, those the dumping criu of a --lazy-pages dump serves there;
// it makes its socket, lazy-pages.socket, in o.WorkPath (else
// o.ImagePath), where the restore's criu looks for it in its own work
// directory. It exits once every page is restored; ctx's end kills it, and
// so does rt's death (Pdeathsig, from a thread kept for it: startLocked).
func (r *Runtime) StartLazyPages(ctx context.Context, o LazyPagesOpts) (*Daemon, error) {
	args, logPath, err := lazyPagesArgs(o)
	if err != nil {
		return nil, fmt.Errorf("lazy-pages: %w", err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("lazy-pages: %w", err)
	}
	if o.Address != "" {
		r.warnLazyDaemon(net.JoinHostPort(o.Address, strconv.Itoa(o.Port)))
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("lazy-pages: status pipe: %w", err)
	}
	defer rd.Close()
	cmd := exec.Command(r.criu, args...)
	cmd.ExtraFiles = []*os.File{wr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d, err := startLocked(cmd, func(pid int) *Daemon {
		return newDaemon("lazy-pages", pid, 0, logPath, func() { cmd.Process.Kill() })
	})
	wr.Close()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lazy-pages: criu %q: %w (install criu 3.x or later, or set --criu / RT_CRIU)", r.criu, ErrNoCRIU)
		}
		return nil, fmt.Errorf("lazy-pages: start criu: %w", err)
	}
	if err := r.awaitReady(ctx, d, rd); err != nil {
		return nil, err
	}
	d.killWith(ctx)
	return d, nil
}

// lazyPagesArgs are criu's arguments for o, and the log's path. The
// directories are checked, the work directory created (0700).
func lazyPagesArgs(o LazyPagesOpts) ([]string, string, error) {
	if err := checkDaemonOpts(o.Port, o.TLS); err != nil {
		return nil, "", err
	}
	if o.Address == "" && (o.Port != 0 || o.TLS != nil) {
		return nil, "", errors.New("a port or TLS without the address of the page server to fetch the pages from")
	}
	if o.Address != "" && o.Port == 0 {
		return nil, "", fmt.Errorf("page server %s: no port", o.Address)
	}
	images, err := openImages(o.ImagePath)
	if err != nil {
		return nil, "", err
	}
	images.Close()
	// Without a process tree CRIU's daemon waits for a restore that
	// cannot come.
	if _, err := os.Stat(filepath.Join(images.Name(), "pstree.img")); err != nil {
		return nil, "", fmt.Errorf("image path %s holds no process tree (no pstree.img): %w", images.Name(), err)
	}
	args := []string{"lazy-pages", "--images-dir", images.Name()}
	logDir := images.Name()
	if o.WorkPath != "" {
		work, err := filepath.Abs(o.WorkPath)
		if err == nil {
			err = os.MkdirAll(work, 0o700)
		}
		if err != nil {
			return nil, "", fmt.Errorf("work path: %w", err)
		}
		args = append(args, "--work-dir", work)
		logDir = work
	}
	logPath := filepath.Join(logDir, lazyPagesLog)
	args = append(args, "-o", logPath, "-v"+strconv.Itoa(criuLogLevel), "--status-fd", strconv.Itoa(lazyStatusFd))
	if o.Address != "" {
		args = append(args, "--page-server", "--address", o.Address, "--port", strconv.Itoa(o.Port))
	}
	if t := o.TLS; t != nil {
		args = append(args, "--tls", "--tls-cacert", t.CACert, "--tls-cert", t.Cert, "--tls-key", t.Key, "--tls-no-cn-verify")
	}
	return args, logPath, nil
}

// awaitReady waits for the daemon's byte on its status pipe. If the daemon
// exits first, its error (the digest of its log) is returned; if ctx ends,
// or the criu progress timeout passes first, it is killed.
func (r *Runtime) awaitReady(ctx context.Context, d *Daemon, status *os.File) error {
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := status.Read(b[:])
		ready <- err
	}()
	var timeout <-chan time.Time
	if r.progressTimeout > 0 {
		t := time.NewTimer(r.progressTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-ready:
		if err == nil {
			return nil
		}
		if !errors.Is(err, io.EOF) {
			d.Kill()
			return fmt.Errorf("lazy-pages: read criu's status pipe: %w", err)
		}
		// The daemon closed the pipe without a word: it exited.
		if err := d.Wait(); err != nil {
			return err
		}
		return newCRIUError(d.step, errors.New("exited before it was ready"), d.logPath)
	case <-ctx.Done():
		d.Kill()
		return fmt.Errorf("lazy-pages: %w", context.Cause(ctx))
	case <-timeout:
		d.Kill()
		return newCRIUError(d.step, &stalledError{after: r.progressTimeout}, d.logPath)
	}
}

// startLocked starts cmd from a goroutine locked to its OS thread, which
// then waits for it: Pdeathsig is tied to the thread that forks, not to the
// process, and the Go runtime retires a thread whenever a goroutine that
// locked it ends (restore's inPrivateMountNS does, right after): the daemon
// would die with it. newD makes the Daemon from the pid; the goroutine
// reports the exit to it.
func startLocked(cmd *exec.Cmd, newD func(pid int) *Daemon) (*Daemon, error) {
	started := make(chan *Daemon, 1)
	failed := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			failed <- err
			return
		}
		d := newD(cmd.Process.Pid)
		started <- d
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil
		}
		var ws syscall.WaitStatus
		if cmd.ProcessState != nil {
			ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
		}
		d.finish(unix.WaitStatus(ws), err)
	}()
	select {
	case d := <-started:
		return d, nil
	case err := <-failed:
		return nil, err
	}
}
