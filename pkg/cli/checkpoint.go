package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rtkit/rt/pkg/api"
)

// checkpointFlags registers the CRIU options checkpoint and restore share.
func checkpointFlags(fs *pflag.FlagSet, o *api.CheckpointOpts) {
	fs.StringVar(&o.ImagePath, "image-path", "", "path for saving criu image files (default: ./checkpoint)")
	fs.StringVar(&o.WorkPath, "work-path", "", "path for saving work files and logs")
	fs.BoolVar(&o.TCPEstablished, "tcp-established", false, "allow open tcp connections")
	fs.BoolVar(&o.ExtUnixSk, "ext-unix-sk", false, "allow external unix sockets")
	fs.BoolVar(&o.ShellJob, "shell-job", false, "allow shell jobs")
	fs.BoolVar(&o.FileLocks, "file-locks", false, "handle file locks, for safety")
	fs.StringVar(&o.ManageCgroupsMode, "manage-cgroups-mode", "", "cgroups mode: soft (default), full, strict or ignore")
	fs.StringArrayVar(&o.EmptyNs, "empty-ns", nil, "create a namespace, but don't restore its properties (repeatable)")
	fs.BoolVar(&o.AutoDedup, "auto-dedup", false, "enable auto deduplication of memory images")
	fs.BoolVar(&o.LazyPages, "lazy-pages", false, "use userfaultfd to lazily restore memory pages")
}

// statsFlags are --print-stats and its --format, which checkpoint and
// restore share.
type statsFlags struct {
	print  bool
	format string
}

func (sf *statsFlags) register(fs *pflag.FlagSet, what string) {
	fs.BoolVar(&sf.print, "print-stats", false, "print CRIU's statistics of the "+what)
	fs.StringVar(&sf.format, "format", "text", "--print-stats output format: text or json")
}

func (sf *statsFlags) check(cmd *cobra.Command) error {
	if sf.format != "text" && sf.format != "json" {
		return usageError(cmd, "--format %q: must be text or json", sf.format)
	}
	return nil
}

// printStats writes stats, a *api.DumpStats or *api.RestoreStats, to w in
// the chosen format, in one write: on restore's stream it must not be
// interleaved with what the container writes there. JSON is one object on
// one line, its key (dumpStats, restoreStats) and fields named as inspect's.
func (sf *statsFlags) printStats(w io.Writer, e *Env, stats any) {
	var buf bytes.Buffer
	if sf.format == "json" {
		key := "dumpStats"
		if _, ok := stats.(*api.RestoreStats); ok {
			key = "restoreStats"
		}
		if err := json.NewEncoder(&buf).Encode(map[string]any{key: stats}); err != nil {
			e.Logger().Warn("print-stats", "error", err)
			return
		}
	} else {
		tw := tabwriter.NewWriter(&buf, 0, 1, 1, ' ', 0)
		switch s := stats.(type) {
		case *api.DumpStats:
			writeDumpStats(tw, "", s)
		case *api.RestoreStats:
			writeRestoreStats(tw, "", s)
		}
		tw.Flush()
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		e.Logger().Warn("print-stats", "error", err)
	}
}

// finishCheckpointOpts checks the shared options and fills defaults.
// archive is the --export or --import file: with one, --image-path has no
// default (the images go through a temporary directory).
func finishCheckpointOpts(cmd *cobra.Command, o *api.CheckpointOpts, archive string) error {
	switch o.ManageCgroupsMode {
	case "", "soft", "full", "strict", "ignore":
	default:
		return usageError(cmd, "--manage-cgroups-mode %q: must be soft, full, strict or ignore", o.ManageCgroupsMode)
	}
	for _, ns := range o.EmptyNs {
		if ns != "network" {
			return usageError(cmd, "--empty-ns %q: only network is supported", ns)
		}
	}
	if o.ImagePath == "" && archive == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("default --image-path: %w", err)
		}
		o.ImagePath = filepath.Join(cwd, "checkpoint")
	}
	return nil
}

// NewCheckpointCommand is `checkpoint` (rt-checkpoint's, which `rt
// checkpoint` hands over to).
func NewCheckpointCommand(e *Env) *cobra.Command {
	opts := api.CheckpointOpts{StatusFd: -1}
	var pageServer string
	var sf statsFlags
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "checkpoint [flags] <container-id>",
		Short: "checkpoint a running container",
		Long:  "Checkpoint saves the state of a running container with CRIU, so that restore can recreate it.",
		Args:  exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			if err := finishCheckpointOpts(cmd, &opts, opts.Export); err != nil {
				return err
			}
			if err := checkExportFlags(cmd, &opts, pageServer); err != nil {
				return err
			}
			if err := sf.check(cmd); err != nil {
				return err
			}
			if pageServer != "" {
				host, port, err := net.SplitHostPort(pageServer)
				p, perr := strconv.ParseUint(port, 10, 16)
				if err != nil || perr != nil || host == "" {
					return usageError(cmd, "--page-server %q: must be ADDRESS:PORT", pageServer)
				}
				opts.PageServer = api.PageServer{Address: host, Port: int32(p)}
			}
			if opts.PageServer.TLS, err = tf.files(cmd); err != nil {
				return err
			}
			if opts.PageServer.TLS != nil && pageServer == "" {
				return usageError(cmd, "--tls-cacert, --tls-cert and --tls-key need --page-server")
			}
			cr, err := runtimeAs[api.CheckpointOperations](e, "checkpoint")
			if err != nil {
				return err
			}
			if sf.print {
				// On stdout, after the dump: checkpoint prints
				// nothing else there.
				opts.OnDumpStats = func(s *api.DumpStats) { sf.printStats(e.Stdout, e, s) }
			}
			return cr.Checkpoint(cmd.Context(), id, opts)
		},
	}
	f := cmd.Flags()
	checkpointFlags(f, &opts)
	f.StringVar(&opts.ParentPath, "parent-path", "", "path for previous criu image files in pre-dump")
	f.BoolVar(&opts.LeaveRunning, "leave-running", false, "leave the process running after checkpointing")
	f.BoolVar(&opts.PreDump, "pre-dump", false, "dump the container's memory only, leaving it running")
	f.StringVar(&pageServer, "page-server", "", "ADDRESS:PORT of the page server")
	f.IntVar(&opts.StatusFd, "status-fd", -1, "criu writes \\0 to this fd once lazy-pages is ready")
	tf.register(f)
	sf.register(f, "dump")
	f.StringVar(&opts.Export, "export", "", "also write a checkpoint archive (podman's layout) to FILE.tar, FILE.tar.gz or FILE.tar.zst")
	return cmd
}

// archiveSuffixes are the archive names --export accepts, which say the
// compression.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst"}

// checkExportFlags refuses an --export that cannot work: an unknown suffix,
// or a dump whose pages do not all land in the images.
func checkExportFlags(cmd *cobra.Command, o *api.CheckpointOpts, pageServer string) error {
	if o.Export == "" {
		return nil
	}
	ok := false
	for _, s := range archiveSuffixes {
		ok = ok || strings.HasSuffix(o.Export, s)
	}
	if !ok {
		return usageError(cmd, "--export %q: must end in .tar, .tar.gz or .tar.zst", o.Export)
	}
	for _, c := range []struct {
		set  bool
		flag string
	}{{o.PreDump, "--pre-dump"}, {o.LazyPages, "--lazy-pages"}, {pageServer != "", "--page-server"}} {
		if c.set {
			return usageError(cmd, "--export cannot be used with %s: the archive would miss pages", c.flag)
		}
	}
	return nil
}

// NewRestoreCommand is `restore`.
func NewRestoreCommand(e *Env) *cobra.Command {
	var opts api.RestoreOpts
	opts.StatusFd = -1
	var sf statsFlags
	cmd := &cobra.Command{
		Use:   "restore [flags] <container-id>",
		Short: "restore a container from a previous checkpoint",
		Long:  "Restore recreates a container from CRIU images made by checkpoint.",
		Args:  exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			if opts.Import != "" && cmd.Flags().Changed("image-path") {
				return usageError(cmd, "--import and --image-path cannot be used together")
			}
			if err := finishCheckpointOpts(cmd, &opts.CheckpointOpts, opts.Import); err != nil {
				return err
			}
			if err := sf.check(cmd); err != nil {
				return err
			}
			cr, err := runtimeAs[api.CheckpointOperations](e, "restore")
			if err != nil {
				return err
			}
			opts.Stdio = e.stdio()
			if sf.print {
				// On stderr: restore's stdout is the restored
				// container's (docs/checkpoint.md).
				opts.OnRestoreStats = func(s *api.RestoreStats) { sf.printStats(e.Stderr, e, s) }
			}
			return statusError(cr.Restore(cmd.Context(), id, opts))
		},
	}
	f := cmd.Flags()
	checkpointFlags(f, &opts.CheckpointOpts)
	f.StringVarP(&opts.Bundle, "bundle", "b", "", "path to the root of the bundle directory")
	f.StringVar(&opts.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	f.BoolVarP(&opts.Detach, "detach", "d", false, "detach from the container's process")
	f.StringVar(&opts.PidFile, "pid-file", "", "file to write the process id to")
	f.BoolVar(&opts.NoSubreaper, "no-subreaper", false, "disable the use of the subreaper used to reap reparented processes")
	f.BoolVar(&opts.NoPivot, "no-pivot", false, "do not use pivot_root to jail the process inside the rootfs")
	f.StringVar(&opts.LSMProfile, "lsm-profile", "", "LSM profile to restore the container with (type:label)")
	f.StringVar(&opts.LSMMountContext, "lsm-mount-context", "", "LSM mount context to restore the container with")
	sf.register(f, "restore (on stderr)")
	f.StringVar(&opts.Import, "import", "", "restore from a checkpoint archive (as checkpoint --export writes) instead of --image-path; its rootfs changes are applied to the bundle's rootfs")
	return cmd
}
