package cli_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cli"
)

// toy is a runtime that knows one container, always running.
type toy struct {
	api.ContainerOperations // the rest: not implemented
	root                    string
}

func (t toy) State(_ context.Context, id string) (*api.Container, error) {
	if id != "only" {
		return nil, api.NewContainerError(id, api.ErrNotExist)
	}
	return &api.Container{ID: id, Status: api.StatusRunning, Bundle: t.root}, nil
}

func (toy) Delete(_ context.Context, id string, _ api.DeleteOpts) error {
	return api.NewContainerError(id, api.ErrRunning)
}

// A second runtime on pkg/cli: its own name, version, global flag and host
// configuration (no pkg/config, no RT_* variables, no /etc/rt), and the
// commands it picks of runc's.
func Example_toyRuntime() {
	var root string
	prog := cli.Program{
		Name:  "toy",
		Short: "toy runs one pretend container",
		Factory: func(g api.GlobalConfig) (api.ContainerOperations, error) {
			return toy{root: g.Root}, nil
		},
		Commands: []func(*cli.Env) *cobra.Command{cli.NewStateCommand, cli.NewDeleteCommand},
		Config: cli.HostConfig{
			Flags: func(fs *pflag.FlagSet) { fs.StringVar(&root, "root", "/run/toy", "state directory") },
			Load: func(*pflag.FlagSet) (*cli.Settings, error) {
				return &cli.Settings{GlobalConfig: api.GlobalConfig{Root: root}}, nil
			},
		},
		Version: func(w io.Writer, name string) { fmt.Fprintf(w, "%s version 0.1\n", name) },
	}
	in := strings.NewReader("")
	cli.Main(prog, []string{"--version"}, in, os.Stdout, os.Stdout)
	cli.Main(prog, []string{"--root", "/srv/toy", "state", "only"}, in, os.Stdout, os.Stdout)
	code := cli.Main(prog, []string{"delete", "only"}, in, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// toy version 0.1
	// {
	//   "ociVersion": "",
	//   "id": "only",
	//   "pid": 0,
	//   "status": "running",
	//   "bundle": "/srv/toy",
	//   "rootfs": "",
	//   "created": "0001-01-01T00:00:00Z",
	//   "owner": ""
	// }
	// toy: container "only" is running
	// exit 1
}
