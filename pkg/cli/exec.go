package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// execSetupFailed is runc's exit code when exec could not start the process.
const execSetupFailed = 255

// NewExecCommand is `exec`.
func NewExecCommand(e *Env) *cobra.Command {
	var (
		opts        api.ExecOpts
		processFile string
		gids        []string
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> <command> [args...]",
		Short: "execute a new process inside a container",
		Long: `Exec runs a new process in a running container, in all of its namespaces and
its cgroup, with its (or the given) user, capabilities and security settings.
The process is the command given, or the JSON runtime-spec Process in
--process. rt exits with the process's status (128+N if signal N killed it),
or 255 if the process could not be started.`,
		Args: minArgs(1, "<container-id> <command> [args...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := execCommand(e, cmd, args, &opts, processFile, gids); err != nil {
				var ee *ExitError
				if errors.As(err, &ee) || errors.Is(err, api.ErrUsage) {
					return err
				}
				// As runc: anything that keeps the process from starting
				// is 255, so callers can tell it from the process's status.
				return &ExitError{Code: execSetupFailed, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&opts.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	f.StringVar(&opts.Cwd, "cwd", "", "current working directory in the container")
	f.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable (NAME=value; repeatable)")
	f.BoolVarP(&opts.Tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringVarP(&opts.User, "user", "u", "", "UID (format: <uid>[:<gid>])")
	f.StringArrayVarP(&gids, "additional-gids", "g", nil, "additional gids (repeatable)")
	f.StringVarP(&processFile, "process", "p", "", "path to the process.json (runtime-spec Process)")
	f.BoolVarP(&opts.Detach, "detach", "d", false, "detach from the container's process")
	f.StringVar(&opts.PidFile, "pid-file", "", "file to write the process id to")
	f.StringVar(&opts.ProcessLabel, "process-label", "", "set the asm process label for the process commonly used with selinux")
	f.StringVar(&opts.AppArmor, "apparmor", "", "set the apparmor profile for the process")
	f.BoolVar(&opts.NoNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	f.StringArrayVarP(&opts.Caps, "cap", "c", nil, "add a capability to the bounding set for the process (repeatable)")
	f.IntVar(&opts.PreserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)")
	f.StringArrayVar(&opts.Cgroup, "cgroup", nil, "run the process in a (sub)cgroup: PATH or CONTROLLER:PATH (repeatable)")
	f.BoolVar(&opts.IgnorePaused, "ignore-paused", false, "allow exec in a paused container")
	return cmd
}

// readProcess loads a runtime-spec Process from path ("-" is stdin is not
// supported: clients always pass a file).
func readProcess(path string) (*specs.Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--process: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("--process %s: invalid JSON: %w", path, err)
	}
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("--process %s: args is empty", path)
	}
	return &p, nil
}

// checkUser validates "uid[:gid]".
func checkUser(u string) error {
	uid, gid, hasGid := strings.Cut(u, ":")
	if _, err := strconv.ParseUint(uid, 10, 32); err != nil {
		return fmt.Errorf("uid %q is not a number", uid)
	}
	if hasGid {
		if _, err := strconv.ParseUint(gid, 10, 32); err != nil {
			return fmt.Errorf("gid %q is not a number", gid)
		}
	}
	return nil
}

// execCommand turns exec's arguments into options and runs the process.
func execCommand(e *Env, cmd *cobra.Command, args []string, opts *api.ExecOpts, processFile string, gids []string) error {
	id, err := containerID(cmd, args[0])
	if err != nil {
		return err
	}
	if processFile != "" {
		if len(args) > 1 {
			return usageError(cmd, "--process and a command line are mutually exclusive")
		}
		if opts.Process, err = readProcess(processFile); err != nil {
			return err
		}
	} else {
		if len(args) < 2 {
			return usageError(cmd, "requires a command to run after the container id (or --process FILE)")
		}
		opts.Args = args[1:]
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return usageError(cmd, "--additional-gids %q: not a numeric group id", g)
		}
		opts.AdditionalGids = append(opts.AdditionalGids, uint32(n))
	}
	if opts.User != "" {
		if err := checkUser(opts.User); err != nil {
			return usageError(cmd, "--user %q: %v", opts.User, err)
		}
	}
	if opts.PreserveFDs < 0 {
		return usageError(cmd, "--preserve-fds %d: must not be negative", opts.PreserveFDs)
	}
	ops, err := e.Runtime()
	if err != nil {
		return err
	}
	opts.Stdio = e.stdio()
	res, err := ops.Exec(cmd.Context(), id, *opts)
	if err != nil {
		return &ExitError{Code: execSetupFailed, Err: err}
	}
	return statusError(res, nil)
}
