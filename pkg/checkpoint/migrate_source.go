package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/migration"
	"github.com/rtkit/rt/pkg/runtime"
	"github.com/rtkit/rt/pkg/store"
	"github.com/rtkit/rt/pkg/version"
)

// ErrSwitchedOver is wrapped by a post-copy failure after the switch-over:
// the container's memory is split between the hosts, and neither can run it
// alone any more.
var ErrSwitchedOver = errors.New("failed after the switch-over: the source cannot resume the container")

// Migrate implements api.Migrator on the source: see docs/migration.md.
// The container's lock is held from the offer to the end.
func (r *Runtime) Migrate(ctx context.Context, id string, opts api.MigrateOpts) (*api.MigrationReport, error) {
	if opts.Mode == "" {
		opts.Mode = api.MigrateStopCopy
	}
	if err := r.checkMode(opts.Mode); err != nil {
		return nil, fmt.Errorf("migrate container %q: %w (the container was not touched)", id, err)
	}
	if len(opts.Token) == 0 {
		opts.Token = r.token
	}
	if err := migration.CheckToken(opts.Token); err != nil {
		return nil, fmt.Errorf("migrate container %q: %w", id, err)
	}
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if err := runtime.Refuse(api.OpCheckpoint, id, r.Status(st)); err != nil {
		return nil, err
	}
	crv, err := criuVersion(r.criu)
	if err != nil {
		return nil, fmt.Errorf("migrate container %q: %w", id, err)
	}
	s := &sourceRun{r: r, h: h, st: st, opts: opts, start: time.Now(),
		report: &api.MigrationReport{ID: id, Mode: opts.Mode, Peer: opts.To}}
	conn, tc, _, err := migration.Dial(ctx, opts.To, opts.Token, migration.Hello{Role: migration.RoleSource, Version: version.Version, CRIU: crv})
	if err != nil {
		return nil, fmt.Errorf("migrate container %q: %w; the container runs here as before", id, err)
	}
	defer tc.Close()
	s.conn, s.tc = conn, tc
	if err := s.run(ctx); err != nil {
		return nil, fmt.Errorf("migrate container %q to %s: %w", id, opts.To, err)
	}
	s.report.TotalUs = time.Since(s.start).Microseconds()
	return s.report, nil
}

// checkMode refuses an unknown mode, and one that this host's kernel or
// CRIU cannot do, before anything is touched.
func (r *Runtime) checkMode(mode string) error {
	switch mode {
	case api.MigrateStopCopy:
		return nil
	case api.MigratePreCopy:
		if err := r.checkFeatures("", api.CheckpointOpts{PreDump: true}); err != nil {
			return fmt.Errorf("pre-copy needs iterative pre-dumps: %w", err)
		}
		// Iterative pre-dumps are not driven yet even where the kernel
		// tracks dirty pages; refuse rather than pretend.
		return fmt.Errorf("pre-copy: not implemented yet on a kernel with soft-dirty tracking: %w", ErrUnsupported)
	case api.MigratePostCopy:
		return r.checkFeatures("", api.CheckpointOpts{LazyPages: true})
	}
	return fmt.Errorf("migration mode %q: must be %s, %s or %s", mode, api.MigrateStopCopy, api.MigratePreCopy, api.MigratePostCopy)
}

// sourceRun is one migration on the source.
type sourceRun struct {
	r      *Runtime
	h      *store.Handle
	st     *store.State
	opts   api.MigrateOpts
	conn   *migration.Conn
	tc     net.Conn
	start  time.Time
	report *api.MigrationReport
	// synced is the source rootfs as the target has it now.
	synced *migration.Manifest
	cache  migration.HashCache
	tls    *migration.Certs
	frozen time.Time
}

func (s *sourceRun) progress(phase string, bytes int64, since time.Time) {
	addPhase(s.report, s.opts.OnProgress, phase, bytes, since)
}

// addPhase records a phase that ended now in rep, and tells on about it.
func addPhase(rep *api.MigrationReport, on func(api.MigrationProgress), phase string, bytes int64, since time.Time) {
	p := api.MigrationProgress{Phase: phase, Bytes: bytes, Duration: time.Since(since)}
	rep.Phases = append(rep.Phases, p)
	if on != nil {
		on(p)
	}
}

// run is the source's side of the exchange; a failure before the
// switch-over leaves the container as it was (running, or paused if it was
// paused) and the target cleans up when the connection goes.
func (s *sourceRun) run(ctx context.Context) (retErr error) {
	spec, err := json.Marshal(s.st.Spec)
	if err != nil {
		return err
	}
	if err := s.conn.Send(opOffer, offerMsg{ID: s.st.ID, Mode: s.opts.Mode, Spec: spec}); err != nil {
		return err
	}
	var acc acceptedMsg
	if err := s.conn.Recv(opAccepted, &acc); err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	if acc.Manifest == nil || acc.TLS == nil {
		return fmt.Errorf("the target's answer to the offer lacks its manifest or credentials: %w", migration.ErrProtocol)
	}
	s.tls, s.synced, s.cache = acc.TLS, acc.Manifest, migration.HashCache{}
	// The bulk of the rootfs goes while the container runs; what changes
	// meanwhile goes again once it is frozen.
	if err := s.syncRootfs(false); err != nil {
		return err
	}
	cg := fs.Load(s.st.CgroupPaths)
	wasFrozen, err := cg.Frozen()
	if err != nil {
		return fmt.Errorf("freezer state: %w", err)
	}
	s.frozen = time.Now()
	if !wasFrozen {
		if err := cg.Freeze(); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
	}
	switched := false
	defer func() {
		if retErr != nil && !switched && !wasFrozen {
			if err := cg.Thaw(); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("thaw the container again: %w", err))
				return
			}
		}
		if retErr != nil && !switched {
			retErr = fmt.Errorf("%w; the container runs here as before", retErr)
		}
	}()
	if err := s.syncRootfs(true); err != nil {
		return err
	}
	if s.opts.Mode == api.MigratePostCopy {
		return s.postCopy(ctx, &switched)
	}
	return s.stopCopy(ctx, &switched)
}

// syncRootfs sends what differs between the source rootfs now and what
// the target has.
func (s *sourceRun) syncRootfs(final bool) error {
	t := time.Now()
	now, err := migration.Scan(s.st.Rootfs, s.cache)
	if err != nil {
		return err
	}
	send, remove := migration.Diff(s.synced, now)
	if err := s.conn.Send(opRootfs, rootfsMsg{Remove: remove, Final: final}); err != nil {
		return err
	}
	want := make(map[string]bool, len(send))
	for _, p := range send {
		want[p] = true
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := writeRootfsTar(pw, s.st.Rootfs, func(rel string, _ *unix.Stat_t) bool { return want[rel] })
		pw.CloseWithError(err)
	}()
	n, err := s.conn.SendStream(pr)
	pr.Close()
	if err != nil {
		return fmt.Errorf("send the rootfs: %w", err)
	}
	if err := s.conn.Recv(opRootfsApplied, nil); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	s.synced = now
	s.report.RootfsBytes += n
	phase := "rootfs"
	if final {
		phase = "rootfs (frozen)"
	}
	s.progress(phase, n, t)
	return nil
}

// dumpOpts are the CRIU options of the migration's dump into dir.
func (s *sourceRun) dumpOpts(dir string, tlsFiles migration.CertFiles) api.CheckpointOpts {
	c := s.opts.Checkpoint
	o := api.CheckpointOpts{
		ImagePath: dir, TCPEstablished: c.TCPEstablished, ExtUnixSk: c.ExtUnixSk, ShellJob: c.ShellJob,
		FileLocks: c.FileLocks, ManageCgroupsMode: c.ManageCgroupsMode, StatusFd: -1,
	}
	o.PageServer.TLS = &api.PageServerTLS{CACert: tlsFiles.CACert, Cert: tlsFiles.Cert, Key: tlsFiles.Key}
	o.OnDumpStats = func(d *api.DumpStats) {
		s.report.Dump = d
		s.report.FrozenUs = int64(d.FrozenTimeUs)
	}
	return o
}

// dumpMsg announces the dump (port: a post-copy's lazy page server).
func (s *sourceRun) dumpMsg(port int) dumpMsg {
	c := s.opts.Checkpoint
	return dumpMsg{
		Mode: s.opts.Mode, Port: port, TCPEstablished: c.TCPEstablished, ExtUnixSk: c.ExtUnixSk,
		ShellJob: c.ShellJob, FileLocks: c.FileLocks, ManageCgroupsMode: c.ManageCgroupsMode,
	}
}

// workDir makes the private directory for the images and credentials.
func (s *sourceRun) workDir() (string, migration.CertFiles, error) {
	dir, err := os.MkdirTemp(s.opts.WorkPath, "rt-migrate-")
	if err != nil {
		return "", migration.CertFiles{}, err
	}
	files, err := s.tls.Write(filepath.Join(dir, "tls"))
	if err != nil {
		os.RemoveAll(dir)
		return "", migration.CertFiles{}, err
	}
	return dir, files, nil
}

// remoteIP is the target's address as this side's connection sees it.
func (s *sourceRun) remoteIP() string { return s.tc.RemoteAddr().(*net.TCPAddr).IP.String() }

// localIP is this side's address on the connection to the target.
func (s *sourceRun) localIP() string { return s.tc.LocalAddr().(*net.TCPAddr).IP.String() }

// stopCopy dumps the frozen container straight into the target's page
// server, keeping its tasks frozen here until the target runs it.
func (s *sourceRun) stopCopy(ctx context.Context, switched *bool) error {
	dir, tlsFiles, err := s.workDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := s.conn.Send(opDump, s.dumpMsg(0)); err != nil {
		return err
	}
	var ps pageServerMsg
	if err := s.conn.Recv(opPageServer, &ps); err != nil {
		return fmt.Errorf("page server: %w", err)
	}
	t := time.Now()
	o := s.dumpOpts(filepath.Join(dir, "images"), tlsFiles)
	// Frozen before CRIU starts, the tasks stay frozen after it: CRIU
	// restores the freezer state it found.
	o.LeaveRunning = true
	o.PageServer.Address, o.PageServer.Port = s.remoteIP(), int32(ps.Port)
	if err := s.r.checkpoint(ctx, s.h, s.st, o, true); err != nil {
		return err
	}
	if s.report.Dump != nil {
		s.report.MemoryBytes = int64(s.report.Dump.PagesWritten) * int64(os.Getpagesize())
	}
	s.progress("memory", s.report.MemoryBytes, t)
	if err := s.sendImages(o.ImagePath); err != nil {
		return err
	}
	return s.awaitRunning(ctx, switched)
}

// sendImages sends the image directory (the images CRIU did not send to
// a page server) as a tar.
func (s *sourceRun) sendImages(dir string) error {
	t := time.Now()
	if err := s.conn.Send(opImages, nil); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeImageTar(pw, dir)) }()
	n, err := s.conn.SendStream(pr)
	pr.Close()
	if err != nil {
		return fmt.Errorf("send the images: %w", err)
	}
	s.report.ImageBytes = n
	s.progress("images", n, t)
	return nil
}

// awaitRunning waits for the target to run the container, then removes it
// here: from the target's answer on, the container is the target's.
func (s *sourceRun) awaitRunning(ctx context.Context, switched *bool) error {
	if err := s.awaitSwitch(switched); err != nil {
		return err
	}
	t := time.Now()
	if err := s.r.Remove(ctx, s.h, s.st); err != nil {
		return fmt.Errorf("the container runs on the target, but removing it here: %w", err)
	}
	s.progress("source removed", 0, t)
	return s.conn.Send(opDone, nil)
}

// freePort is a TCP port free on ip now (CRIU's lazy page server takes a
// port number, not a socket).
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("a port for the page server: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
