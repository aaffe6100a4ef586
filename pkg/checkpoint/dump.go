package checkpoint

// The steps of a dump after the checks: the request and rt's records, CRIU,
// and what follows.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/store"
)

// preparedDump is CRIU's dump request and where its log goes.
type preparedDump struct {
	id, step string
	req      *rpc.CriuReq
	logPath  string
}

// prepareDump builds the dump request for the container and, for a full
// dump, writes rt's records beside the images.
func prepareDump(st *store.State, s *specs.Spec, opts *api.CheckpointOpts, imageDir, workDir *os.File) (*preparedDump, error) {
	id := st.ID
	target := dumpTarget{
		Pid: st.InitPid, Rootfs: st.Rootfs, FreezerDir: freezerDir(st.CgroupPaths),
		Mounts: dumpMounts(mountSource{
			Spec: s, CgroupPaths: st.CgroupPaths, Hierarchies: readHierarchies(), MaskedFile: maskedFileIn(st.InitPid),
		}),
	}
	if p := nsPath(s, specs.NetworkNamespace); p != "" {
		var fi unix.Stat_t
		if err := unix.Stat(p, &fi); err != nil {
			return nil, fmt.Errorf("checkpoint container %q: network namespace %s: %w", id, p, err)
		}
		target.ExtNetNS = fi.Ino
	}
	// CRIU opens the directories and the status fd through
	// /proc/<client>/fd/N: they are given as rt-checkpoint's own fd
	// numbers, not passed to criu.
	req, err := dumpRequest(opts, target, opts.StatusFd)
	if err != nil {
		return nil, err
	}
	req.Opts.ImagesDirFd = proto.Int32(int32(imageDir.Fd()))
	logPath := filepath.Join(imageDir.Name(), req.Opts.GetLogFile())
	if workDir != nil {
		req.Opts.WorkDirFd = proto.Int32(int32(workDir.Fd()))
		logPath = filepath.Join(workDir.Name(), req.Opts.GetLogFile())
	}
	ext, err := externalStdio("/proc", st.InitPid)
	if err != nil {
		return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	for _, e := range ext {
		req.Opts.External = append(req.Opts.External, e.Key)
	}
	d := &preparedDump{id: id, step: "dump", req: req, logPath: logPath}
	if opts.PreDump {
		d.step = "pre-dump"
		return d, nil
	}
	if err := writeDescriptors(imageDir.Name(), st.InitPid); err != nil {
		return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	if err := writeStdioRecord(imageDir.Name(), ext); err != nil {
		return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	// CRIU's images do not say which container they hold: inspect shows
	// this record.
	if err := writeRecord(imageDir.Name(), st, time.Now()); err != nil {
		return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	return d, nil
}

// dump runs CRIU's dump (or pre-dump) under the progress watchdog;
// cancelling ctx kills criu.
func (r *Runtime) dump(ctx context.Context, d *preparedDump, opts *api.CheckpointOpts) error {
	sw, err := startSwrk(r.criu, [3]*os.File{}, nil)
	if err != nil {
		return fmt.Errorf("checkpoint container %q: %w", d.id, err)
	}
	stopKill := context.AfterFunc(ctx, sw.kill)
	defer stopKill()
	killpoint.Hit("checkpoint.criu-started")
	if !opts.LazyPages {
		// A lazy-pages dump waits, idle, for the lazy-pages daemon to
		// take the pages: silence there is no sign of a hang.
		sw.watch(r.progressTimeout, d.logPath)
	}
	_, err = sw.call(d.req, nil)
	sw.close()
	if err != nil {
		cerr := newCRIUError(d.step, err, d.logPath)
		if opts.LazyPages {
			cerr.Hint = pipeMaxSizeHint()
		}
		return cerr
	}
	return nil
}

// afterDump keeps CRIU's statistics, writes the archive and removes a
// container the dump stopped. *tmpImages is cleared when the images must
// outlive the call (the archive failed).
func (r *Runtime) afterDump(ctx context.Context, h *store.Handle, st *store.State, opts *api.CheckpointOpts, imageDir, workDir *os.File, tmpImages *string) error {
	id := st.ID
	if workDir != nil && !opts.PreDump {
		// CRIU wrote its statistics into the work directory: keep a
		// copy with the images for inspect. The dump itself succeeded,
		// so a failed copy is only logged (never on stdout: runc's
		// checkpoint prints nothing).
		if err := keepDumpStats(imageDir.Name(), workDir.Name()); err != nil {
			r.log.Warn("checkpoint: keeping CRIU's dump statistics with the images", "container", id, "error", err)
		}
	}
	var dumpStats *api.DumpStats
	if opts.OnDumpStats != nil {
		// Read now, while the directories are certainly there; handed
		// over only once the checkpoint has fully succeeded.
		wd := ""
		if workDir != nil {
			wd = workDir.Name()
		}
		dumpStats = r.dumpStatsOf(id, statsDir(imageDir.Name(), wd))
	}
	var exportErr error
	if opts.Export != "" {
		if err := exportArchive(opts.Export, imageDir.Name(), st); err != nil {
			exportErr = fmt.Errorf("checkpoint container %q: dumped, but writing the archive: %w", id, err)
			if *tmpImages != "" {
				exportErr = fmt.Errorf("%w (the images are kept in %s)", exportErr, *tmpImages)
				*tmpImages = ""
			}
		}
	}
	killpoint.Hit("checkpoint.stats-kept")
	if !opts.LeaveRunning && !opts.PreDump {
		// CRIU killed the processes: the container is stopped, and goes
		// as runc's does (its cgroups and state removed, poststop hooks
		// run).
		if err := r.Remove(ctx, h, st); err != nil {
			return errors.Join(exportErr, fmt.Errorf("checkpoint container %q: dumped, but removing the stopped container: %w", id, err))
		}
	}
	if dumpStats != nil && exportErr == nil {
		opts.OnDumpStats(dumpStats)
	}
	return exportErr
}
