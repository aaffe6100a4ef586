package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

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

// container checks the id argument, then gets the runtime: what every
// command on one container starts with.
func (e *Env) container(cmd *cobra.Command, id string) (api.ContainerOperations, string, error) {
	id, err := containerID(cmd, id)
	if err != nil {
		return nil, "", err
	}
	ops, err := e.Runtime()
	return ops, id, err
}

// singleDashLongFlags rewrites "-name" and "-name=value" into their "--"
// forms when name is a long flag of the command, as runc (Go's flag
// package) takes them: containerd's shim passes "-no-subreaper", users type
// "rt delete -force". Rewriting stops at the first argument that is not a
// flag or the subcommand, that is at the container id: what follows can
// be the container's own command line ("rt exec id ls -la").
func singleDashLongFlags(root *cobra.Command, args []string) []string {
	out := append([]string(nil), args...)
	cmd := root
	lookup := func(name string) *pflag.Flag {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f
		}
		return root.PersistentFlags().Lookup(name)
	}
	for i := 0; i < len(out); i++ {
		a := out[i]
		switch {
		case a == "--" || a == "-":
			return out
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if f := lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" && f.Value.Type() != "bool" {
				i++ // its value
			}
		case strings.HasPrefix(a, "-"):
			name, _, hasValue := strings.Cut(a[1:], "=")
			if len(name) > 1 {
				if f := lookup(name); f != nil {
					out[i] = "-" + a
					if !hasValue && f.NoOptDefVal == "" && f.Value.Type() != "bool" {
						i++
					}
				}
				continue
			}
			if f := cmd.Flags().ShorthandLookup(name); f != nil && !hasValue && f.NoOptDefVal == "" && f.Value.Type() != "bool" {
				i++
			}
		default:
			if cmd != root {
				return out // the container id
			}
			sub, _, err := root.Find([]string{a})
			if err != nil || sub == root {
				return out
			}
			cmd = sub
		}
	}
	return out
}

// hoistShadowed applies, and removes from args, the global flags given
// before the subcommand whose name the subcommand also uses for a flag of
// its own: cobra parses every flag in the subcommand's set, where the local
// one shadows the global, so `rt --rootless auto spec` would give spec's
// bool --rootless the word "auto" as an argument. runc's parser keeps the
// two apart by position; this does the same. It stops at the first
// argument that is neither a flag nor a flag's value.
func hoistShadowed(root *cobra.Command, args []string) ([]string, error) {
	global := root.PersistentFlags()
	var sub *cobra.Command
	end := len(args)
scan:
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			return args, nil
		case strings.HasPrefix(a, "-"):
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if f := global.Lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" && f.Value.Type() != "bool" {
				i++
			}
		default:
			if s, _, err := root.Find([]string{a}); err == nil && s != root {
				sub, end = s, i
			}
			break scan
		}
	}
	if sub == nil {
		return args, nil
	}
	out := make([]string, 0, len(args))
	for i := 0; i < end; i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || a == "--" {
			out = append(out, a)
			continue
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		f := global.Lookup(name)
		if f == nil || sub.LocalNonPersistentFlags().Lookup(name) == nil {
			out = append(out, a)
			if f != nil && !hasValue && f.NoOptDefVal == "" && f.Value.Type() != "bool" && i+1 < end {
				i++
				out = append(out, args[i])
			}
			continue
		}
		if !hasValue && f.Value.Type() != "bool" && f.NoOptDefVal == "" {
			if i+1 >= end {
				return nil, fmt.Errorf("flag needs an argument: --%s", name)
			}
			i++
			value = args[i]
		} else if !hasValue {
			value = "true"
		}
		if err := global.Set(name, value); err != nil {
			return nil, fmt.Errorf("invalid argument %q for --%s: %w", value, name, err)
		}
	}
	return append(out, args[end:]...), nil
}
