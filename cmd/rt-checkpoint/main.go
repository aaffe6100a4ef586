// Command rt-checkpoint checkpoints and restores rt containers with CRIU.
// `rt checkpoint` and `rt restore` hand over to it with their command line
// unchanged, so it takes rt's global flags too.
package main

import (
	"os"

	"github.com/rtkit/rt/pkg/checkpoint"
	"github.com/rtkit/rt/pkg/cli"
	"github.com/rtkit/rt/pkg/rtcli"
)

func main() {
	os.Exit(cli.Main(rtcli.Program(cli.Program{
		Name:     "rt-checkpoint",
		Short:    "rt-checkpoint checkpoints and restores rt containers with CRIU",
		Factory:  checkpoint.New,
		Commands: cli.CheckpointCommands(),
	}), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
