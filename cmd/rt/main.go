// Command rt is an OCI container runtime with runc's command line.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/cli"
	"github.com/rtkit/rt/pkg/runtime"
)

func main() {
	os.Exit(cli.Main(cli.Program{
		Name:  "rt",
		Short: "rt is an OCI container runtime",
		Long: `rt runs OCI containers. It takes runc's commands, flags and exit codes, so
containerd, podman and Kubernetes can drive it unchanged; checkpoint and
restore are handed over to rt-checkpoint.`,
		Factory: runtime.New,
		Commands: []func(*cli.Env) *cobra.Command{
			cli.NewCreateCommand,
			cli.NewStartCommand,
			cli.NewRunCommand,
			cli.NewExecCommand,
			cli.NewStateCommand,
			cli.NewListCommand,
			cli.NewPSCommand,
			cli.NewKillCommand,
			cli.NewDeleteCommand,
			cli.NewPauseCommand,
			cli.NewResumeCommand,
			cli.NewUpdateCommand,
			cli.NewEventsCommand,
			cli.NewSpecCommand,
			cli.NewFeaturesCommand,
			cli.NewConfigCommand,
			cli.NewHandover("checkpoint", "rt-checkpoint", "checkpoint a running container"),
			cli.NewHandover("restore", "rt-checkpoint", "restore a container from a previous checkpoint"),
		},
	}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
