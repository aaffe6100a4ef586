package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewDeleteCommand is `delete`.
func NewDeleteCommand(e *Env) *cobra.Command {
	var opts api.DeleteOpts
	cmd := idCommand(e, "delete [flags]", "delete a container and the resources it holds",
		`Delete removes a stopped container: its processes, cgroups, mounts and state.
With --force a running container is killed first, and an unknown id is not an
error (clients delete every container more than once).`,
		func(ctx context.Context, ops api.ContainerOperations, id string) error {
			return ops.Delete(ctx, id, opts)
		})
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "kill the container first if it is running, and ignore an unknown id")
	return cmd
}
