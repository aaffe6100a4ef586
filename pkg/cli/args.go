package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// usageError is a command-line mistake: it names the command, points to its
// help and matches api.ErrUsage.
func usageError(cmd *cobra.Command, format string, a ...any) error {
	return &UsageError{Command: cmd.CommandPath(), Msg: fmt.Sprintf(format, a...)}
}

// UsageError is a command line that does not fit the command.
type UsageError struct {
	// Command is the command path ("rt state").
	Command string
	Msg     string
}

func (e *UsageError) Error() string {
	// The program name is the report's prefix already; name the subcommand.
	if _, sub, ok := strings.Cut(e.Command, " "); ok {
		return fmt.Sprintf("%s: %s; see '%s --help'", sub, e.Msg, e.Command)
	}
	return fmt.Sprintf("%s; see '%s --help'", e.Msg, e.Command)
}

// Unwrap makes errors.Is(err, api.ErrUsage) true.
func (e *UsageError) Unwrap() error { return api.ErrUsage }

// plural is "argument" or "arguments".
func plural(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// exactArgs wants exactly len(names) arguments, named in the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageError(cmd, "requires exactly %d %s (%s), got %d", len(names), plural(len(names)), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// rangeArgs wants between min and max arguments.
func rangeArgs(min, max int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			if min == max {
				return usageError(cmd, "requires exactly %d %s (%s), got %d", min, plural(min), usage, len(args))
			}
			return usageError(cmd, "requires %d to %d arguments (%s), got %d", min, max, usage, len(args))
		}
		return nil
	}
}

// minArgs wants at least min arguments.
func minArgs(min int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min {
			return usageError(cmd, "requires at least %d %s (%s), got %d", min, plural(min), usage, len(args))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usageError(cmd, "unknown command %q", args[0])
		}
		return usageError(cmd, "takes no arguments, got %d", len(args))
	}
	return nil
}

// containerID validates the id argument before it reaches the runtime, so
// that a bad id is reported as a usage problem with the id in the message.
func containerID(cmd *cobra.Command, id string) (string, error) {
	if err := api.ValidateID(id); err != nil {
		return "", fmt.Errorf("%s: %w", cmd.Name(), err)
	}
	return id, nil
}
