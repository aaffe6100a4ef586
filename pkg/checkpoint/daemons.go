package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
)

// CRIU's logs of the daemons, in the work directory (else the image
// directory).
const (
	pageServerLog = "page-server.log"
	lazyPagesLog  = "lazy-pages.log"
)

// Daemon is a running CRIU page server or lazy-pages daemon.
type Daemon struct {
	step    string // "page-server" or "lazy-pages": the CRIUError's Step
	pid     int
	port    int
	logPath string
	// signal SIGKILLs the process; called only before done is closed.
	signal func()

	mu sync.Mutex
	// killed is why rt killed the process (wrapping ErrDaemonKilled), nil
	// if it did not.
	killed error
	// err is how the process ended, set (under mu) before done closes.
	err  error
	done chan struct{}
}

// ErrDaemonKilled is wrapped by Daemon.Wait's error when Kill, or the end
// of the context the daemon was started with, ended it.
var ErrDaemonKilled = errors.New("killed")

// TLSFiles are the PEM files of an encrypted page transfer (see
// api.PageServerTLS).
type TLSFiles = api.PageServerTLS

// PageServerOpts are the options of StartPageServer.
type PageServerOpts struct {
	ImagePath string    // images dir (created 0700 if missing), where received pages go
	WorkPath  string    // optional log/work dir
	Address   string    // address to listen on ("" = all)
	Port      int       // 0 = pick a free port (report it through Daemon.Port)
	TLS       *TLSFiles // nil = plain TCP
}

// LazyPagesOpts are the options of StartLazyPages.
type LazyPagesOpts struct {
	ImagePath string // images dir of a --lazy-pages dump (from the source), where the daemon makes its socket
	// WorkPath, if set, is where the daemon makes its socket and log
	// instead: the restore must then have the same --work-path.
	WorkPath string
	Address  string // the source's page server (the dumping criu) to fetch pages from; "" = pages are local
	Port     int
	TLS      *TLSFiles
}

// Port is the TCP port the page server listens on; 0 for lazy-pages.
func (d *Daemon) Port() int { return d.port }

// Pid is the daemon's pid.
func (d *Daemon) Pid() int { return d.pid }

// Wait waits for the daemon to exit. It returns nil when it succeeded, a
// *CRIUError with the one-line digest of its log when it failed, and an
// error wrapping ErrDaemonKilled when rt killed it.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// Kill kills the daemon and waits until it is gone (reaped, when it is
// rt's child). It is safe after Wait and more than once.
func (d *Daemon) Kill() { d.kill(ErrDaemonKilled) }

func (d *Daemon) kill(why error) {
	d.mu.Lock()
	select {
	case <-d.done:
	default:
		if d.killed == nil {
			d.killed = why
		}
		d.signal()
	}
	d.mu.Unlock()
	<-d.done
}

func newDaemon(step string, pid, port int, logPath string, signal func()) *Daemon {
	return &Daemon{step: step, pid: pid, port: port, logPath: logPath, signal: signal, done: make(chan struct{})}
}

// finish records how the process ended (its wait status, or werr when that
// could not be known) and releases Wait and Kill.
func (d *Daemon) finish(ws unix.WaitStatus, werr error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = d.outcome(ws, werr)
	close(d.done)
}

// outcome is Wait's error. A clean exit is a success even if Kill came too
// late to matter. When the kernel cannot say how a process that is not
// rt's child ended, CRIU's log does: an Error line means it failed.
func (d *Daemon) outcome(ws unix.WaitStatus, werr error) error {
	switch {
	case werr == nil && ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case d.killed != nil:
		return fmt.Errorf("criu %s (pid %d) %w", d.step, d.pid, d.killed)
	case errors.Is(werr, errNoExitStatus):
		if !logHasError(d.logPath) {
			return nil
		}
		return newCRIUError(d.step, werr, d.logPath)
	case werr != nil:
		return fmt.Errorf("wait for criu %s (pid %d): %w", d.step, d.pid, werr)
	case ws.Signaled():
		return newCRIUError(d.step, fmt.Errorf("killed by %v", ws.Signal()), d.logPath)
	default:
		return newCRIUError(d.step, fmt.Errorf("exit status %d", ws.ExitStatus()), d.logPath)
	}
}

// killWith kills the daemon when ctx ends first.
func (d *Daemon) killWith(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	go func() {
		select {
		case <-ctx.Done():
			d.kill(fmt.Errorf("%w: %w", ErrDaemonKilled, context.Cause(ctx)))
		case <-d.done:
		}
	}()
}

// StartPageServer starts a CRIU page server that receives one dump's pages
// (checkpoint --page-server) into o.ImagePath, and returns once it
// listens. It exits after that dump's connection; ctx's end kills it.
//
// It is started through swrk's PAGE_SERVER_CHLD request, which makes it a
// child of criu, not of rt (init inherits it): Wait follows it through a
// pidfd, and takes its exit status from the kernel (PIDFD_GET_INFO, Linux
// 6.15; on older kernels from CRIU's log). A page server nobody connects
// to runs until killed, even after rt exits.
func (r *Runtime) StartPageServer(ctx context.Context, o PageServerOpts) (*Daemon, error) {
	if err := checkDaemonOpts(o.Port, o.TLS); err != nil {
		return nil, fmt.Errorf("page server: %w", err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("page server: %w", err)
	}
	imageDir, workDir, err := openDirs(o.ImagePath, o.WorkPath)
	if err != nil {
		return nil, fmt.Errorf("page server: %w", err)
	}
	defer imageDir.Close()
	defer workDir.Close()
	typ := rpc.CriuReqType_PAGE_SERVER_CHLD
	c := &rpc.CriuOpts{
		ImagesDirFd: proto.Int32(int32(imageDir.Fd())),
		LogLevel:    proto.Int32(criuLogLevel),
		LogFile:     proto.String(pageServerLog),
		Ps:          &rpc.CriuPageServerInfo{Port: proto.Int32(int32(o.Port))},
	}
	if o.Address != "" {
		c.Ps.Address = proto.String(o.Address)
	}
	logPath := filepath.Join(imageDir.Name(), pageServerLog)
	if workDir != nil {
		c.WorkDirFd = proto.Int32(int32(workDir.Fd()))
		logPath = filepath.Join(workDir.Name(), pageServerLog)
	}
	setTLS(c, o.TLS)
	sw, err := startSwrk(r.criu, [3]*os.File{}, nil)
	if err != nil {
		return nil, fmt.Errorf("page server: %w", err)
	}
	// swrk stays (keep_open) until its socket closes, and with it its
	// child: the pid cannot name another process before the pidfd is
	// open.
	defer sw.close()
	sw.watch(r.progressTimeout, logPath)
	resp, err := sw.call(&rpc.CriuReq{Type: &typ, Opts: c, KeepOpen: proto.Bool(true)}, nil)
	if err != nil {
		return nil, newCRIUError("page-server", err, logPath)
	}
	pid := int(resp.GetPs().GetPid())
	if pid <= 0 {
		return nil, fmt.Errorf("page server: criu answered without the server's pid (%v)", resp.GetPs())
	}
	d, err := follow(ctx, "page-server", pid, int(resp.GetPs().GetPort()), logPath)
	if err != nil {
		// swrk, alive, has not reaped it: the pid is still the server's.
		unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("page server: %w", err)
	}
	return d, nil
}

// follow is the Daemon of process pid, which is not rt's child: it is
// waited for and killed through a pidfd.
func follow(ctx context.Context, step string, pid, port int, logPath string) (*Daemon, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd of criu %s (pid %d): %w", step, pid, err)
	}
	d := newDaemon(step, pid, port, logPath, func() {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	})
	go func() {
		ws, err := exitOf(pidfd)
		d.finish(ws, err)
		unix.Close(pidfd) // no signal after done
	}()
	d.killWith(ctx)
	return d, nil
}

// checkDaemonOpts checks a daemon's port and TLS files up front.
func checkDaemonOpts(port int, tls *TLSFiles) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("port %d: not a TCP port: %w", port, api.ErrUsage)
	}
	return checkTLSFiles(tls)
}

// checkTLSFiles checks that the TLS files (nil: no TLS) are given and can
// be read: CRIU reads them only once it is connected to its peer, and
// would then fail half-way (a dump, with the container frozen).
func checkTLSFiles(tls *TLSFiles) error {
	if tls == nil {
		return nil
	}
	for _, f := range []struct{ name, path string }{{"CA certificate", tls.CACert}, {"certificate", tls.Cert}, {"key", tls.Key}} {
		if f.path == "" {
			return fmt.Errorf("TLS: no %s file given: %w", f.name, api.ErrUsage)
		}
		file, err := os.Open(f.path)
		if err != nil {
			return fmt.Errorf("TLS %s: %w", f.name, err)
		}
		file.Close()
	}
	return nil
}

// PageServer implements api.PageServerRunner: StartPageServer, then Wait.
func (r *Runtime) PageServer(ctx context.Context, o api.PageServerOpts) error {
	d, err := r.StartPageServer(ctx, PageServerOpts{ImagePath: o.ImagePath, WorkPath: o.WorkPath, Address: o.Address, Port: o.Port, TLS: o.TLS})
	if err != nil {
		return err
	}
	if o.OnListening != nil {
		o.OnListening(d.Port())
	}
	return d.Wait()
}

// LazyPages implements api.PageServerRunner: StartLazyPages, then Wait.
func (r *Runtime) LazyPages(ctx context.Context, o api.LazyPagesOpts) error {
	d, err := r.StartLazyPages(ctx, LazyPagesOpts{ImagePath: o.ImagePath, WorkPath: o.WorkPath, Address: o.Address, Port: o.Port, TLS: o.TLS})
	if err != nil {
		return err
	}
	return d.Wait()
}

var _ api.PageServerRunner = (*Runtime)(nil)
