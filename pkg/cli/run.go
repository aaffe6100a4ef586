package cli

import (
	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewRunCommand is `run`: create and start, and unless detached wait for the
// process and exit with its status.
func NewRunCommand(e *Env) *cobra.Command {
	var opts *api.CreateOpts
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "create and run a container",
		Long: `Create and start a container. In the foreground, rt relays stdio and signals
and exits with the container process's exit status (128+N if signal N
killed it).`,
		Args: exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, ops, err := e.prepareCreate(cmd, args[0], opts)
			if err != nil {
				return err
			}
			return statusError(ops.Run(cmd.Context(), id, *opts))
		},
	}
	opts = createFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&opts.Detach, "detach", "d", false, "detach from the container's process")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "do not delete the container after it exits")
	cmd.Flags().BoolVar(&opts.NoSubreaper, "no-subreaper", false, "disable the use of the subreaper used to reap reparented processes")
	return cmd
}
