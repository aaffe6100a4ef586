package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/killpoint"
)

// Run implements api.ContainerOperations: create, start, and in the
// foreground relay signals (and a terminal), wait for the init and return
// its status; then delete unless opts.Keep.
func (r *Runtime) Run(ctx context.Context, id string, opts api.CreateOpts) (*api.Result, error) {
	if !opts.Detach && !opts.NoSubreaper {
		// The init is rt's child already (CLONE_PARENT); as a subreaper rt
		// also collects the processes it leaves behind.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("set child subreaper: %w", err)
		}
	}
	// Signals that arrive while the container is being set up are held
	// and forwarded once it runs.
	var sigs chan os.Signal
	if !opts.Detach {
		sigs = relaySignals()
	}
	c, err := r.create(ctx, id, opts, !opts.Detach)
	if err != nil {
		return nil, err
	}
	killpoint.Hit("run.created")
	h, err := r.store.Open(id)
	if err != nil {
		return nil, err
	}
	err = r.start(ctx, h, c.st)
	h.Close()
	if err != nil {
		if c.pty != nil {
			c.pty.Close()
		}
		r.Delete(ctx, id, api.DeleteOpts{Force: true})
		return nil, err
	}
	if opts.Detach {
		return &api.Result{}, nil
	}

	status := r.foreground(id, c.pid, c.pty, os.Stdin, os.Stdout, sigs)
	if c.pty != nil {
		c.pty.Close()
	}
	if !opts.Keep {
		if err := r.Delete(ctx, id, api.DeleteOpts{Force: true}); err != nil {
			return &api.Result{Status: status}, err
		}
	}
	return &api.Result{Status: status}, nil
}

// foreground relays the terminal (pty, when set, to in and out) and the
// signals of a foreground run, exec or restore of container id until its
// process pid exits, and returns the exit status as a shell reports it.
func (r *Runtime) foreground(id string, pid int, pty, in *os.File, out io.Writer, sigs chan os.Signal) int {
	relayDone := make(chan error, 1)
	if pty != nil {
		go func() { relayDone <- console.Relay(pty, in, out) }()
	} else {
		relayDone <- nil
	}
	status := r.wait(pid, sigs)
	if err := <-relayDone; err != nil {
		r.log.Warn("terminal relay", "id", id, "error", err)
	}
	return status
}

// forwarded are the signals a foreground run or exec passes on to the
// container: every catchable standard signal but those that concern rt's
// own plumbing (SIGCHLD, SIGPIPE, SIGURG, and SIGWINCH, which the terminal
// relay turns into a resize).
var forwarded = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS, unix.SIGFPE,
	unix.SIGUSR1, unix.SIGSEGV, unix.SIGUSR2, unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGCONT,
	unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGPROF,
	unix.SIGIO, unix.SIGPWR, unix.SIGSYS,
}

// relaySignals starts catching the forwarded signals. They stay caught:
// restoring each handler costs a round of syscalls on every thread, and the
// foreground command ends right after the process does.
func relaySignals() chan os.Signal {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwarded...)
	return sigs
}

// wait forwards signals to pid until it exits and returns its status as a
// shell reports it: the exit code, or 128+N when signal N killed it. Other
// children (orphans reparented to rt as subreaper) are reaped on the way.
func (r *Runtime) wait(pid int, sigs chan os.Signal) int {
	exited := make(chan int, 1)
	go func() {
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				exited <- 255
				return
			}
			if wpid != pid {
				continue
			}
			switch {
			case ws.Exited():
				exited <- ws.ExitStatus()
			case ws.Signaled():
				exited <- 128 + int(ws.Signal())
			default:
				continue
			}
			return
		}
	}()
	for {
		select {
		case status := <-exited:
			return status
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
				continue
			}
			if sig == unix.SIGWINCH {
				continue // the terminal relay resizes the pty itself
			}
			unix.Kill(pid, sig)
		}
	}
}
