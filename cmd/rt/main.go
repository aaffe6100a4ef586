// Command rt is an OCI container runtime with runc's command line.
package main

import (
	"os"

	"github.com/rtkit/rt/pkg/cli"
	"github.com/rtkit/rt/pkg/rtcli"
	"github.com/rtkit/rt/pkg/runtime"
)

func main() {
	os.Exit(cli.Main(rtcli.Program(cli.Program{
		Name:  "rt",
		Short: "rt is an OCI container runtime",
		Long: `rt runs OCI containers. It takes runc's commands, flags and exit codes, so
containerd, podman and Kubernetes can drive it unchanged; checkpoint and
restore are handed over to rt-checkpoint.`,
		Factory:  runtime.New,
		Commands: cli.LifecycleCommands("rt-checkpoint"),
	}), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
