package cli

import "github.com/spf13/cobra"

// LifecycleCommands are rt's commands, runc's set plus config, with
// checkpoint and restore handed over to the binary named checkpointer
// (rt-checkpoint next to rt, else on PATH).
func LifecycleCommands(checkpointer string) []func(*Env) *cobra.Command {
	return []func(*Env) *cobra.Command{
		NewCreateCommand,
		NewStartCommand,
		NewRunCommand,
		NewExecCommand,
		NewStateCommand,
		NewListCommand,
		NewPSCommand,
		NewKillCommand,
		NewDeleteCommand,
		NewPauseCommand,
		NewResumeCommand,
		NewUpdateCommand,
		NewEventsCommand,
		NewSpecCommand,
		NewFeaturesCommand,
		NewConfigCommand,
		NewHandover("checkpoint", checkpointer, "checkpoint a running container"),
		NewHandover("restore", checkpointer, "restore a container from a previous checkpoint"),
	}
}

// CheckpointCommands are rt-checkpoint's commands.
func CheckpointCommands() []func(*Env) *cobra.Command {
	return []func(*Env) *cobra.Command{
		NewCheckpointCommand,
		NewRestoreCommand,
		NewInspectCommand,
		NewPageServerCommand,
		NewLazyPagesCommand,
		NewMigrateCommand,
		NewReceiveCommand,
		NewConfigCommand,
	}
}
