package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rtkit/rt/pkg/api"
)

// createFlags registers the flags create and run share and returns the
// options they fill.
func createFlags(fs *pflag.FlagSet) *api.CreateOpts {
	o := &api.CreateOpts{}
	fs.StringVarP(&o.Bundle, "bundle", "b", "", "path to the root of the bundle directory (default: the current directory)")
	fs.StringVar(&o.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	fs.StringVar(&o.PidFile, "pid-file", "", "file to write the process id to")
	fs.BoolVar(&o.NoPivot, "no-pivot", false, "do not use pivot_root to jail the process inside the rootfs")
	fs.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "do not create a new session keyring for the container")
	fs.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)")
	return o
}

// NewCreateCommand is `create`.
func NewCreateCommand(e *Env) *cobra.Command {
	var opts *api.CreateOpts
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "create a container",
		Long: `Create a container from a bundle. The container's process is set up and waits
until 'start' lets it run the process given in config.json.`,
		Args: exactArgs("container-id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, ops, err := e.prepareCreate(cmd, args[0], opts)
			if err != nil {
				return err
			}
			return ops.Create(cmd.Context(), id, *opts)
		},
	}
	opts = createFlags(cmd.Flags())
	return cmd
}

// prepareCreate checks what create and run share and returns the id and
// the runtime, with the stdio filled in opts.
func (e *Env) prepareCreate(cmd *cobra.Command, arg string, opts *api.CreateOpts) (string, api.ContainerOperations, error) {
	id, err := containerID(cmd, arg)
	if err != nil {
		return "", nil, err
	}
	if opts.PreserveFDs < 0 {
		return "", nil, usageError(cmd, "--preserve-fds %d: must not be negative", opts.PreserveFDs)
	}
	ops, err := e.Runtime()
	if err != nil {
		return "", nil, err
	}
	opts.Stdio = e.stdio()
	return id, ops, nil
}

// statusError turns a foreground process's result into the program's exit:
// its status, silently.
func statusError(res *api.Result, err error) error {
	if err != nil {
		return err
	}
	if res != nil && res.Status != 0 {
		return &ExitError{Code: res.Status}
	}
	return nil
}

func (e *Env) stdio() api.Stdio {
	return api.Stdio{Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr}
}
