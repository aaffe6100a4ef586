package checkpoint

// Post-copy: the source's lazy dump and its wait for the switch-over, and the
// target's lazy restore.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rtkit/rt/pkg/api"
)

// postCopy dumps with lazy pages: CRIU sends the non-memory images, then
// serves the memory from here while the target already runs the container,
// which faults the pages in (userfaultfd) or has them pushed in the
// background. Until the target reports the restore running, a failure
// resumes the container here; after that, the source's memory is part of
// the running container and a failure loses it (ErrSwitchedOver).
func (s *sourceRun) postCopy(ctx context.Context, switched *bool) error {
	dir, tlsFiles, err := s.workDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort(s.localIP())
	if err != nil {
		return err
	}
	if err := s.conn.Send(opDump, s.dumpMsg(port)); err != nil {
		return err
	}
	o := s.dumpOpts(filepath.Join(dir, "images"), tlsFiles)
	o.LazyPages = true
	o.PageServer.Address, o.PageServer.Port = s.localIP(), int32(port)
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer statusR.Close()
	o.StatusFd = int(statusW.Fd())
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	t := time.Now()
	go func() {
		err := s.r.checkpoint(dctx, s.h, s.st, o, true)
		statusW.Close()
		done <- err
	}()
	// CRIU writes one byte once the images are made and it serves pages;
	// EOF without it means the dump ended first (it failed).
	ready := make(chan bool, 1)
	go func() {
		var b [1]byte
		n, _ := statusR.Read(b[:])
		ready <- n == 1
	}()
	if ok := <-ready; !ok {
		return fmt.Errorf("lazy dump: %w", <-done)
	}
	// CRIU keeps the tasks frozen until the last page is served and
	// counts all that as frozen time; what stopped the container is the
	// dump up to here.
	dumped := time.Since(s.frozen).Microseconds()
	// CRIU's own statistics of a lazy dump are reset when it starts
	// serving pages: what is left for after the switch-over is read
	// from the pagemaps instead (mapped, not stored here).
	ps := uint64(os.Getpagesize())
	if m, err := sumMemory(o.ImagePath, ps); err == nil && m.MappedPages >= m.Pages {
		s.report.MemoryBytes = int64(m.Bytes)
		s.report.LazyBytes = int64((m.MappedPages - m.Pages) * ps)
	}
	s.progress("dump (lazy)", s.report.MemoryBytes, t)
	err = s.sendImages(o.ImagePath)
	if err == nil {
		err = s.awaitSwitch(switched)
	}
	if err != nil {
		cancel() // kills criu: the tasks are thawed by run
		<-done
		return err
	}
	t = time.Now()
	if err := <-done; err != nil {
		return fmt.Errorf("serving the memory after the switch-over: %w: %w", err, ErrSwitchedOver)
	}
	s.report.FrozenUs = dumped
	s.progress("memory (lazy)", s.report.LazyBytes, t)
	return s.conn.Send(opDone, nil)
}

// awaitSwitch waits for the target's restore to run (post-copy).
func (s *sourceRun) awaitSwitch(switched *bool) error {
	var run runningMsg
	if err := s.conn.Recv(opRunning, &run); err != nil {
		return fmt.Errorf("restore on the target: %w", err)
	}
	*switched = true
	s.report.DowntimeUs = time.Since(s.frozen).Microseconds()
	s.report.Restore = run.Restore
	if s.opts.Mode == api.MigratePostCopy {
		// Progress: the container runs there; this much memory is
		// still here.
		s.progress("switch-over (memory left here)", s.report.LazyBytes, s.frozen)
	}
	return nil
}

// postCopy takes the images of a lazy dump, starts the lazy-pages daemon
// against the source's page server and restores at once: the container
// runs while its memory is still coming.
func (t *targetRun) postCopy(ctx context.Context, dump dumpMsg, ps *api.PageServerTLS) error {
	images := filepath.Join(t.staging, "images")
	if err := os.Mkdir(images, 0o700); err != nil {
		return err
	}
	if err := t.receiveImages(images); err != nil {
		return err
	}
	d, err := t.r.StartLazyPages(ctx, LazyPagesOpts{ImagePath: images, Address: t.peerIP(), Port: dump.Port, TLS: ps})
	if err != nil {
		return err
	}
	defer d.Kill()
	if err := t.restore(ctx, images, dump, true); err != nil {
		return err
	}
	start := time.Now()
	if err := d.Wait(); err != nil {
		return fmt.Errorf("the container runs, but fetching its memory from the source failed (it cannot run correctly): %w", err)
	}
	t.progress("memory (lazy)", 0, start)
	return nil
}
