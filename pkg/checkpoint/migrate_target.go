package checkpoint

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/migration"
	"github.com/rtkit/rt/pkg/version"
)

// incomingPrefix names a migration's staging directory in the bundle dir
// (images and credentials) while it is received; a receive killed half-way
// leaves one, which the next receive removes.
const incomingPrefix = ".incoming-"

// Receive implements api.Migrator on the target: it listens, authenticates
// the source (a peer with a wrong token is logged and gets nothing, and
// Receive waits for the next), receives one container and restores it
// under its id, its bundle made in opts.BundleDir/<id>. On failure
// everything it made is removed.
func (r *Runtime) Receive(ctx context.Context, opts api.ReceiveOpts) (*api.MigrationReport, error) {
	if len(opts.Token) == 0 {
		opts.Token = r.token
	}
	if err := migration.CheckToken(opts.Token); err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	if opts.BundleDir == "" {
		return nil, errors.New("receive: no bundle directory")
	}
	bundleDir, err := filepath.Abs(opts.BundleDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(bundleDir, 0o711); err != nil {
		return nil, fmt.Errorf("receive: bundle dir: %w", err)
	}
	r.sweepIncoming(bundleDir)
	// CRIU's page server is criu's child and is orphaned at once: as a
	// subreaper, receive reaps it the moment it ends instead of waiting
	// for init to (which can take seconds, all of it downtime).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("receive: set child subreaper: %w", err)
	}
	crv, err := criuVersion(r.criu)
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	cfg, err := migration.ServerTLS()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	if opts.Listening != nil {
		opts.Listening(l.Addr())
	}
	hello := migration.Hello{Role: migration.RoleTarget, Version: version.Version, CRIU: crv}
	for {
		nc, err := l.Accept()
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		tc := tls.Server(nc, cfg)
		conn, _, err := migration.Accept(tc, opts.Token, hello)
		if err != nil {
			// A refused peer must not stop the migration it may be
			// trying to disturb.
			r.log.Warn("receive: refused a peer", "peer", nc.RemoteAddr().String(), "error", err)
			tc.Close()
			continue
		}
		l.Close()
		t := &targetRun{r: r, conn: conn, tc: tc, bundleDir: bundleDir, opts: opts, start: time.Now(),
			report: &api.MigrationReport{Peer: nc.RemoteAddr().String()}}
		err = t.run(ctx)
		tc.Close()
		if err != nil {
			return nil, fmt.Errorf("receive container %q from %s: %w", t.report.ID, t.report.Peer, err)
		}
		t.report.TotalUs = time.Since(t.start).Microseconds()
		return t.report, nil
	}
}

// sweepIncoming removes what a killed receive left: its staging
// directory, and the bundle it was making unless a container of that id
// exists (the receive was killed after the restore).
func (r *Runtime) sweepIncoming(bundleDir string) {
	ents, _ := os.ReadDir(bundleDir)
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), incomingPrefix)
		if !ok {
			continue
		}
		r.log.Warn("receive: removing what an interrupted receive left", "dir", filepath.Join(bundleDir, e.Name()))
		if dir, err := r.Store().Dir(id); err == nil && api.ValidateID(id) == nil {
			if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(filepath.Join(bundleDir, id))
			}
		}
		os.RemoveAll(filepath.Join(bundleDir, e.Name()))
	}
}

// targetRun is one migration on the target.
type targetRun struct {
	r         *Runtime
	conn      *migration.Conn
	tc        net.Conn
	bundleDir string
	opts      api.ReceiveOpts
	start     time.Time
	report    *api.MigrationReport
	bundle    string // bundleDir/<id>, made here
	rootfs    string
	staging   string
	running   bool
}

func (t *targetRun) progress(phase string, bytes int64, since time.Time) {
	addPhase(t.report, t.opts.OnProgress, phase, bytes, since)
}

// run receives and restores; on failure the source is told why and what
// was made here is removed (the restore removes its own container).
func (t *targetRun) run(ctx context.Context) (retErr error) {
	defer func() {
		if t.staging != "" {
			defer os.RemoveAll(t.staging)
		}
		if retErr != nil {
			if kept := t.keepLogs(); kept != "" {
				retErr = fmt.Errorf("%w (CRIU's logs kept in %s)", retErr, kept)
			}
			t.conn.SendError(retErr)
			if t.bundle != "" && !t.running {
				os.RemoveAll(t.bundle)
			}
		}
	}()
	var offer offerMsg
	if err := t.conn.Recv(opOffer, &offer); err != nil {
		return err
	}
	t.report.ID, t.report.Mode = offer.ID, offer.Mode
	if err := t.prepare(offer); err != nil {
		return err
	}
	mine, theirs, err := migration.NewCerts()
	if err != nil {
		return err
	}
	tlsFiles, err := mine.Write(filepath.Join(t.staging, "tls"))
	if err != nil {
		return err
	}
	have, err := migration.Scan(t.rootfs, nil)
	if err != nil {
		return err
	}
	if err := t.conn.Send(opAccepted, acceptedMsg{Manifest: have, TLS: theirs}); err != nil {
		return err
	}
	if err := t.receiveRootfs(); err != nil {
		return err
	}
	var dump dumpMsg
	if err := t.conn.Recv(opDump, &dump); err != nil {
		return err
	}
	if dump.Mode != offer.Mode {
		return fmt.Errorf("the source dumps %s after offering %s: %w", dump.Mode, offer.Mode, migration.ErrProtocol)
	}
	ps := api.PageServerTLS{CACert: tlsFiles.CACert, Cert: tlsFiles.Cert, Key: tlsFiles.Key}
	if dump.Mode == api.MigratePostCopy {
		err = t.postCopy(ctx, dump, &ps)
	} else {
		err = t.stopCopy(ctx, dump, &ps)
	}
	if err != nil {
		return err
	}
	// The source removes its container and says so; if it does not, the
	// container runs here all the same.
	if err := t.conn.Recv(opDone, nil); err != nil {
		t.r.log.Warn("receive: the container runs here; the source did not confirm its removal", "container", t.report.ID, "error", err)
	}
	return nil
}

// prepare checks the offer and makes the bundle directory with the
// container's config; the rootfs is the bundle's unless the spec names an
// absolute one, which must then be on storage both hosts share.
func (t *targetRun) prepare(offer offerMsg) error {
	if err := api.ValidateID(offer.ID); err != nil {
		return err
	}
	switch offer.Mode {
	case api.MigrateStopCopy, api.MigratePostCopy:
	default:
		return fmt.Errorf("migration mode %q: not one this target receives", offer.Mode)
	}
	var s specs.Spec
	if err := json.Unmarshal(offer.Spec, &s); err != nil {
		return fmt.Errorf("the container's config: %w", err)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("the container's config has no root.path")
	}
	if t.r.hasState(offer.ID) {
		return api.NewContainerError(offer.ID, api.ErrExist)
	}
	// The staging directory first: it marks the bundle as this receive's
	// for the sweep of a later one, should this one be killed.
	staging := filepath.Join(t.bundleDir, incomingPrefix+offer.ID)
	if err := os.Mkdir(staging, 0o700); err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	t.staging = staging
	bundle := filepath.Join(t.bundleDir, offer.ID)
	if err := os.Mkdir(bundle, 0o711); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	t.bundle = bundle
	t.rootfs = s.Root.Path
	if !filepath.IsAbs(t.rootfs) {
		t.rootfs = filepath.Join(bundle, t.rootfs)
	}
	if err := os.MkdirAll(t.rootfs, 0o755); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), offer.Spec, 0o600); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// receiveRootfs applies the source's rootfs transfers up to the final one.
func (t *targetRun) receiveRootfs() error {
	for {
		start := time.Now()
		var m rootfsMsg
		if err := t.conn.Recv(opRootfs, &m); err != nil {
			return err
		}
		if err := removeInRootfs(t.rootfs, m.Remove); err != nil {
			return err
		}
		diff := filepath.Join(t.staging, "rootfs-diff.tar")
		f, err := os.OpenFile(diff, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		n, err := t.conn.RecvStream(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		if err := applyRootfsDiffFile(diff, t.rootfs); err != nil {
			return err
		}
		t.report.RootfsBytes += n
		t.progress("rootfs", n, start)
		if err := t.conn.Send(opRootfsApplied, nil); err != nil {
			return err
		}
		if m.Final {
			if fault("receive-frozen") {
				// The control connection drops while the source is
				// frozen: closed without a word.
				t.tc.Close()
				return errors.New("test fault: connection dropped")
			}
			return nil
		}
	}
}

// localIP is this side's address on the control connection: the page
// server listens there only.
func (t *targetRun) localIP() string { return t.tc.LocalAddr().(*net.TCPAddr).IP.String() }

func (t *targetRun) peerIP() string { return t.tc.RemoteAddr().(*net.TCPAddr).IP.String() }

// stopCopy runs a page server for the source's dump, takes the other
// images, and restores.
func (t *targetRun) stopCopy(ctx context.Context, dump dumpMsg, ps *api.PageServerTLS) error {
	images := filepath.Join(t.staging, "images")
	if err := os.Mkdir(images, 0o700); err != nil {
		return err
	}
	start := time.Now()
	d, err := t.r.StartPageServer(ctx, PageServerOpts{ImagePath: images, Address: t.localIP(), TLS: ps})
	if err != nil {
		return err
	}
	defer d.Kill()
	if err := t.conn.Send(opPageServer, pageServerMsg{Port: d.Port()}); err != nil {
		return err
	}
	if err := t.receiveImages(images); err != nil {
		return err
	}
	// The source sends the images after its dump, so the page server has
	// had the last page: it ends on its own.
	if err := d.Wait(); err != nil {
		return err
	}
	t.progress("memory and images", 0, start)
	return t.restore(ctx, images, dump, false)
}

// receiveImages writes the source's image stream into dir.
func (t *targetRun) receiveImages(dir string) error {
	start := time.Now()
	if err := t.conn.Recv(opImages, nil); err != nil {
		return err
	}
	fault("receive-images")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := extractImageTar(pr, dir)
		pr.CloseWithError(err)
		done <- err
	}()
	n, err := t.conn.RecvStream(pw)
	pw.CloseWithError(err)
	if xerr := <-done; err == nil {
		err = xerr
	}
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	t.report.ImageBytes = n
	t.progress("images", n, start)
	return nil
}

// restore restores the container detached, with /dev/null for its stdio,
// and tells the source it runs.
func (t *targetRun) restore(ctx context.Context, images string, dump dumpMsg, lazy bool) error {
	start := time.Now()
	stdio, err := t.stdioFiles(images)
	if err != nil {
		return err
	}
	defer closeFiles(stdio[:])
	o := api.RestoreOpts{
		CreateOpts: api.CreateOpts{Bundle: t.bundle, Detach: true, Stdio: api.Stdio{Stdin: stdio[0], Stdout: stdio[1], Stderr: stdio[2]}},
		CheckpointOpts: api.CheckpointOpts{
			ImagePath: images, StatusFd: -1, LazyPages: lazy, TCPEstablished: dump.TCPEstablished,
			ExtUnixSk: dump.ExtUnixSk, ShellJob: dump.ShellJob, FileLocks: dump.FileLocks, ManageCgroupsMode: dump.ManageCgroupsMode,
		},
		OnRestoreStats: func(s *api.RestoreStats) { t.report.Restore = s },
	}
	if _, err := t.r.Restore(ctx, t.report.ID, o); err != nil {
		return err
	}
	t.running = true
	t.progress("restore", 0, start)
	st, err := t.r.State(ctx, t.report.ID)
	pid := 0
	if err == nil {
		pid = st.InitProcessPid
	}
	if err := t.conn.Send(opRunning, runningMsg{Pid: pid, Restore: t.report.Restore}); err != nil {
		t.r.log.Warn("receive: the container runs here, but the source was not told", "container", t.report.ID, "error", err)
		return nil
	}
	return nil
}
