package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// migrationFlags are the flags migrate and receive share.
type migrationFlags struct {
	tokenFile string
	format    string
	progress  bool
}

func (mf *migrationFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&mf.tokenFile, "token-file", "", "file holding the shared migration token (default: the migration-token setting)")
	f.StringVar(&mf.format, "format", "text", "report format: text or json")
	f.BoolVar(&mf.progress, "progress", false, "report each phase on stderr (default when stderr is a terminal)")
}

// finish checks the flags and reads the token file; an empty token means
// the runtime's configured one.
func (mf *migrationFlags) finish(cmd *cobra.Command) ([]byte, error) {
	if mf.format != "text" && mf.format != "json" {
		return nil, usageError(cmd, "--format %q: must be text or json", mf.format)
	}
	if mf.tokenFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(mf.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	return bytes.TrimRight(data, "\r\n"), nil
}

// onProgress prints each phase on stderr when asked or on a terminal.
func (mf *migrationFlags) onProgress(e *Env) func(api.MigrationProgress) {
	if !mf.progress && !isCharDevice(e.Stderr) {
		return nil
	}
	return func(p api.MigrationProgress) {
		rate := ""
		if p.Bytes > 0 && p.Duration > 0 {
			rate = fmt.Sprintf(" (%s/s)", humanBytes(uint64(float64(p.Bytes)/p.Duration.Seconds())))
		}
		fmt.Fprintf(e.Stderr, "%s: %s in %s%s\n", p.Phase, humanBytes(uint64(p.Bytes)), p.Duration.Round(100*time.Microsecond), rate)
	}
}

// NewMigrateCommand is rt-checkpoint's `migrate`: move a running container
// to a host where `rt-checkpoint receive` waits (docs/migration.md).
func NewMigrateCommand(e *Env) *cobra.Command {
	var opts api.MigrateOpts
	var mf migrationFlags
	cmd := &cobra.Command{
		Use:   "migrate [flags] <container-id>",
		Short: "move a running container to another host",
		Long: "Migrate moves a running container to the host where `rt-checkpoint receive` listens, over one " +
			"authenticated connection: its config, the rootfs files that differ, CRIU's images and its memory. " +
			"stop-copy freezes it and sends everything; post-copy runs it on the target at once and sends the " +
			"memory as it is touched; pre-copy needs soft-dirty page tracking. A failure before the target runs " +
			"the container leaves it running here. The report (downtime, bytes) goes to stdout.",
		Args: exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			if opts.To == "" {
				return usageError(cmd, "--to HOST:PORT is required")
			}
			if _, _, err := net.SplitHostPort(opts.To); err != nil {
				return usageError(cmd, "--to %q: must be HOST:PORT", opts.To)
			}
			if opts.Token, err = mf.finish(cmd); err != nil {
				return err
			}
			m, err := runtimeAs[api.Migrator](e, "migrate")
			if err != nil {
				return err
			}
			opts.OnProgress = mf.onProgress(e)
			rep, err := m.Migrate(cmd.Context(), id, opts)
			if err != nil {
				return err
			}
			return writeMigrationReport(e.Stdout, mf.format, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.To, "to", "", "HOST:PORT where rt-checkpoint receive listens")
	f.StringVar(&opts.Mode, "mode", api.MigrateStopCopy, "stop-copy, pre-copy or post-copy")
	f.StringVar(&opts.WorkPath, "work-path", "", "directory for the images before they are sent (default: a temporary one)")
	f.BoolVar(&opts.Checkpoint.TCPEstablished, "tcp-established", false, "allow open tcp connections")
	f.BoolVar(&opts.Checkpoint.ExtUnixSk, "ext-unix-sk", false, "allow external unix sockets")
	f.BoolVar(&opts.Checkpoint.ShellJob, "shell-job", false, "allow shell jobs")
	f.BoolVar(&opts.Checkpoint.FileLocks, "file-locks", false, "handle file locks")
	f.StringVar(&opts.Checkpoint.ManageCgroupsMode, "manage-cgroups-mode", "", "cgroups mode: soft (default), full, strict or ignore")
	mf.register(cmd)
	return cmd
}

// NewReceiveCommand is rt-checkpoint's `receive`: wait for one migration
// and run the container here.
func NewReceiveCommand(e *Env) *cobra.Command {
	var opts api.ReceiveOpts
	var mf migrationFlags
	cmd := &cobra.Command{
		Use:   "receive [flags]",
		Short: "receive a container that another host migrates here",
		Long: "Receive listens for one `rt-checkpoint migrate` from another host, checks its token and version, " +
			"makes the container's bundle in --bundle-dir/<id> and restores it under its id. Peers with a " +
			"wrong token are logged and ignored. It exits once the container runs, or after a failed attempt " +
			"(leaving nothing behind).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Listen == "" || opts.BundleDir == "" {
				return usageError(cmd, "--listen ADDRESS:PORT and --bundle-dir DIR are required")
			}
			var err error
			if opts.Token, err = mf.finish(cmd); err != nil {
				return err
			}
			m, err := runtimeAs[api.Migrator](e, "receive")
			if err != nil {
				return err
			}
			opts.OnProgress = mf.onProgress(e)
			opts.Listening = func(a net.Addr) { fmt.Fprintf(e.Stderr, "receive: listening on %s\n", a) }
			rep, err := m.Receive(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return writeMigrationReport(e.Stdout, mf.format, rep)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "ADDRESS:PORT to listen on")
	cmd.Flags().StringVar(&opts.BundleDir, "bundle-dir", "", "directory for the received container's bundle (<dir>/<id>)")
	mf.register(cmd)
	return cmd
}

// writeMigrationReport prints the report: aligned lines for people, one
// JSON object for programs.
func writeMigrationReport(w io.Writer, format string, r *api.MigrationReport) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(r)
	}
	us := func(v int64) string {
		return (time.Duration(v) * time.Microsecond).Round(10 * time.Microsecond).String()
	}
	tw := tabwriter.NewWriter(w, 0, 1, 2, ' ', 0)
	fmt.Fprintf(tw, "Container:\t%s\nMode:\t%s\nPeer:\t%s\nTotal time:\t%s\n", r.ID, r.Mode, r.Peer, us(r.TotalUs))
	if r.DowntimeUs > 0 {
		fmt.Fprintf(tw, "Downtime:\t%s (CRIU frozen time %s)\n", us(r.DowntimeUs), us(r.FrozenUs))
	}
	fmt.Fprintf(tw, "Rootfs sent:\t%s\nImages sent:\t%s\nMemory sent:\t%s\n", humanBytes(uint64(r.RootfsBytes)), humanBytes(uint64(r.ImageBytes)), humanBytes(uint64(r.MemoryBytes)))
	if r.LazyBytes > 0 {
		fmt.Fprintf(tw, "Memory after switch-over:\t%s\n", humanBytes(uint64(r.LazyBytes)))
	}
	fmt.Fprintln(tw, "Phases:")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Phase, p.Duration.Round(10*time.Microsecond), humanBytes(uint64(p.Bytes)))
	}
	return tw.Flush()
}

// isCharDevice reports whether w is a terminal (or another character
// device): where progress lines are for a person.
func isCharDevice(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull
}
