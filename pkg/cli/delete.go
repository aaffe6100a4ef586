package cli

import (
	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewDeleteCommand is `delete`.
func NewDeleteCommand(e *Env) *cobra.Command {
	var opts api.DeleteOpts
	cmd := &cobra.Command{
		Use:   "delete [flags] <container-id>",
		Short: "delete a container and the resources it holds",
		Long: `Delete removes a stopped container: its processes, cgroups, mounts and state.
With --force a running container is killed first, and an unknown id is not an
error (clients delete every container more than once).`,
		Args: exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			ops, err := e.Runtime()
			if err != nil {
				return err
			}
			return ops.Delete(cmd.Context(), id, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "kill the container first if it is running, and ignore an unknown id")
	return cmd
}
