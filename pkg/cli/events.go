package cli

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewEventsCommand is `events`.
func NewEventsCommand(e *Env) *cobra.Command {
	var opts api.EventsOpts
	cmd := &cobra.Command{
		Use:   "events [flags] <container-id>",
		Short: "display container events such as OOM notifications and resource usage",
		Long: `Events prints one JSON object per line ({"type", "id", "data"}): resource
usage every --interval and OOM kills as they happen, until the container
exits. With --stats it prints one usage snapshot and returns.`,
		Args: exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			if !opts.Stats && opts.Interval <= 0 {
				return usageError(cmd, "--interval %s: must be positive", opts.Interval)
			}
			ops, err := e.Runtime()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.Stdout)
			opts.Sink = func(ev api.Event) error { return enc.Encode(ev) }
			return ops.Events(cmd.Context(), id, opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Interval, "interval", 5*time.Second, "set the stats collection interval")
	cmd.Flags().BoolVar(&opts.Stats, "stats", false, "display the container's stats then exit")
	return cmd
}
