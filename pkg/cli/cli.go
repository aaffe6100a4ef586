// Package cli is rt's command line: cobra commands that turn flags into
// pkg/api option types, call a runtime through the api interfaces, and turn
// the outcome into output, log records and an exit code.
//
// It depends only on pkg/api, never on the Linux implementation nor on rt's
// host configuration: a Program names the runtime's Factory, its host
// configuration (HostConfig) and its version, so another runtime can reuse
// this command line unchanged (see the example). pkg/rtcli gives rt's. The
// exit-code and error-reporting rules live here and nowhere else (see Main).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rtkit/rt/pkg/api"
)

// Program describes one binary built from these commands.
type Program struct {
	// Name is the binary's name, used in messages and --version.
	Name string
	// Short is the one-line description in --help.
	Short string
	// Long is the description in --help.
	Long string
	// Factory builds the runtime the commands call.
	Factory api.Factory
	// Commands are the constructors of the binary's subcommands.
	Commands []func(*Env) *cobra.Command
	// Config is the host configuration: global flags and their resolution.
	Config HostConfig
	// Version writes what --version prints; nil prints the name alone.
	Version func(w io.Writer, name string)
}

// HostConfig is a program's host configuration: the global flags it adds
// to the root command, and how they (and whatever else the program reads:
// environment, files) resolve into Settings once parsed. The zero value
// adds no flags and resolves to zero Settings: text logs on stderr, and a
// runtime built from a zero api.GlobalConfig.
type HostConfig struct {
	// Flags defines the global flags on the root command's persistent
	// flag set; nil for none.
	Flags func(*pflag.FlagSet)
	// Load resolves the parsed flags; nil gives zero Settings.
	Load func(*pflag.FlagSet) (*Settings, error)
}

// Settings are what a host configuration resolves to. The CLI fills in
// GlobalConfig's Rootless and Logger itself.
type Settings struct {
	api.GlobalConfig
	// Log is the file the CLI logs to, "" for stderr; LogFormat is "text"
	// (the default) or "json".
	Log, LogFormat string
	// Report writes the settings and where each came from in format
	// ("table" or "json"), for the config command; nil when the program
	// has nothing to report.
	Report func(w io.Writer, format string) error
}

// Env is what every command of one invocation shares: the global flags, the
// host configuration resolved from them, the logger and the runtime. The
// configuration is resolved lazily, so --version and the hand-over to
// rt-checkpoint read no config file (an error report still does, to reach
// the --log file).
type Env struct {
	prog     Program
	args     []string
	flags    *pflag.FlagSet
	rootless string

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	cfg     *Settings
	logger  *slog.Logger
	logFile *os.File
	// logIsStderr: the log sink is our stderr, so the final error is written
	// there once, in the log format, not a second time as a plain line.
	logIsStderr bool
	ops         api.ContainerOperations
}

// ExitError ends the program with Code. When Err is set it is reported like
// any error; a nil Err exits silently (a container's own exit status).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the program with args (without argv[0]) and returns the exit
// code: 0 on success, the process status for run and exec, 1 for every
// error (as runc), or what an ExitError says. Errors are written once to the
// log (--log, in --log-format) and once to stderr as one plain line, so that
// containerd (reading the log's last error record) and podman (reading
// stderr when the log is not one JSON object) both show it.
func Main(p Program, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{prog: p, args: args, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	defer env.close()
	root := env.rootCommand()
	args, err := hoistShadowed(root, args)
	if err != nil {
		env.report(usageError(root, "%v", err))
		return 1
	}
	args = singleDashLongFlags(root, args)
	if args == nil {
		args = []string{} // cobra would fall back to os.Args
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	}
	env.report(err)
	return code
}

func (e *Env) rootCommand() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:           e.prog.Name,
		Short:         e.prog.Short,
		Long:          e.prog.Long,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				if e.prog.Version == nil {
					fmt.Fprintln(e.Stdout, e.prog.Name)
				} else {
					e.prog.Version(e.Stdout, e.prog.Name)
				}
				return nil
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch e.rootless {
			case "true", "false", "auto":
				return nil
			}
			return usageError(cmd, "--rootless %q: must be true, false or auto", e.rootless)
		},
	}
	// cobra's `completion bash|zsh|fish|powershell`; the scripts ask the
	// binary itself (__complete), so they follow its commands and flags.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, "%v", err)
	})
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "print the version")
	e.flags = root.PersistentFlags()
	if e.prog.Config.Flags != nil {
		e.prog.Config.Flags(e.flags)
	}
	e.flags.StringVar(&e.rootless, "rootless", "auto", "ignore cgroup permission errors (true, false or auto)")
	for _, mk := range slices.Concat(e.prog.Commands, docCommands) {
		root.AddCommand(mk(e))
	}
	return root
}

// docCommands are added to every program by builds with the rt_man tag
// (man.go): documentation generators that release binaries leave out.
var docCommands []func(*Env) *cobra.Command

// Config resolves the host configuration (once) and sets up logging from it.
func (e *Env) Config() (*Settings, error) {
	if e.cfg != nil {
		return e.cfg, nil
	}
	cfg := &Settings{}
	if e.prog.Config.Load != nil {
		var err error
		if cfg, err = e.prog.Config.Load(e.flags); err != nil {
			return nil, err
		}
	}
	if err := e.setupLog(cfg); err != nil {
		return nil, err
	}
	e.cfg = cfg
	return cfg, nil
}

// Runtime builds the runtime (once) from the configuration.
func (e *Env) Runtime() (api.ContainerOperations, error) {
	if e.ops != nil {
		return e.ops, nil
	}
	cfg, err := e.Config()
	if err != nil {
		return nil, err
	}
	global := cfg.GlobalConfig
	global.Rootless, global.Logger = e.rootless, e.logger
	ops, err := e.prog.Factory(global)
	if err != nil {
		return nil, err
	}
	e.ops = ops
	return ops, nil
}

// runtimeAs is the runtime as the optional interface T (CheckpointOperations,
// Migrator, …) that command what needs; a runtime without it is
// api.ErrNotImplemented.
func runtimeAs[T any](e *Env, what string) (T, error) {
	var zero T
	ops, err := e.Runtime()
	if err != nil {
		return zero, err
	}
	t, ok := ops.(T)
	if !ok {
		return zero, fmt.Errorf("%s: %w", what, api.ErrNotImplemented)
	}
	return t, nil
}

// Logger is the logger set up from the configuration; before the
// configuration is resolved it writes text to stderr.
func (e *Env) Logger() *slog.Logger {
	if e.logger == nil {
		return newLogger(e.Stderr, "text", false)
	}
	return e.logger
}

func (e *Env) setupLog(cfg *Settings) error {
	w := e.Stderr
	e.logIsStderr = true
	if cfg.Log != "" {
		f, err := os.OpenFile(cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		e.logFile, w, e.logIsStderr = f, f, false
	}
	e.logger = newLogger(w, cfg.LogFormat, cfg.Debug)
	return nil
}

// report writes a failed command's error: into the log, and as one plain
// line on stderr unless the log already is stderr.
func (e *Env) report(err error) {
	msg := api.OneLine(err.Error())
	if e.logger == nil {
		// The command failed before it resolved the configuration (or
		// resolving it failed); try once more so the error still reaches
		// the --log file the caller reads.
		if _, cerr := e.Config(); cerr != nil && cerr.Error() != err.Error() {
			fmt.Fprintf(e.Stderr, "%s: %s\n", e.prog.Name, api.OneLine(cerr.Error()))
		}
	}
	if e.logger != nil && !(e.logIsStderr && e.cfg.LogFormat != "json") {
		e.logger.Error(msg)
		if e.logIsStderr {
			return
		}
	}
	fmt.Fprintf(e.Stderr, "%s: %s\n", e.prog.Name, msg)
}

func (e *Env) close() {
	if e.logFile != nil {
		e.logFile.Close()
	}
}
