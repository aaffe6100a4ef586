package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// idCommand builds a command that takes one container id and calls do.
func idCommand(e *Env, use, short, long string, do func(ctx context.Context, ops api.ContainerOperations, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " <container-id>",
		Short: short,
		Long:  long,
		Args:  exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, id, err := e.container(cmd, args[0])
			if err != nil {
				return err
			}
			return do(cmd.Context(), ops, id)
		},
	}
}

// NewStartCommand is `start`.
func NewStartCommand(e *Env) *cobra.Command {
	return idCommand(e, "start", "start a created container",
		"Start lets a created container run the process given in its config.json.",
		func(ctx context.Context, ops api.ContainerOperations, id string) error {
			return ops.Start(ctx, id)
		})
}

// NewPauseCommand is `pause`.
func NewPauseCommand(e *Env) *cobra.Command {
	return idCommand(e, "pause", "suspend all processes of a container",
		"Pause freezes every process of the container with the cgroup freezer.",
		func(ctx context.Context, ops api.ContainerOperations, id string) error {
			return ops.Pause(ctx, id)
		})
}

// NewResumeCommand is `resume`.
func NewResumeCommand(e *Env) *cobra.Command {
	return idCommand(e, "resume", "resume all processes of a paused container",
		"Resume thaws every process of a paused container.",
		func(ctx context.Context, ops api.ContainerOperations, id string) error {
			return ops.Resume(ctx, id)
		})
}

// NewStateCommand is `state`: the container's state as runc's JSON.
func NewStateCommand(e *Env) *cobra.Command {
	return idCommand(e, "state", "output the state of a container",
		"State prints the container's state as JSON (ociVersion, id, pid, status, bundle, rootfs, created, annotations, owner).",
		func(ctx context.Context, ops api.ContainerOperations, id string) error {
			c, err := ops.State(ctx, id)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				return err
			}
			_, err = e.Stdout.Write(append(data, '\n'))
			return err
		})
}
