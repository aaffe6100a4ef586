package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
)

// NewKillCommand is `kill ID [SIGNAL]`.
func NewKillCommand(e *Env) *cobra.Command {
	var opts api.KillOpts
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "send a signal to a container's init process",
		Long: `Kill sends a signal (a name such as KILL or SIGKILL, or a number; default
SIGTERM) to the container's init process, or with --all to every process in
the container.`,
		Args: rangeArgs(1, 2, "<container-id> [signal]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := containerID(cmd, args[0])
			if err != nil {
				return err
			}
			sig := api.Signal(unix.SIGTERM)
			if len(args) == 2 {
				if sig, err = parseSignal(args[1]); err != nil {
					return usageError(cmd, "%v", err)
				}
			}
			ops, err := e.Runtime()
			if err != nil {
				return err
			}
			return ops.Kill(cmd.Context(), id, sig, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "send the signal to all processes in the container")
	return cmd
}

// parseSignal accepts "9", "KILL", "SIGKILL", "sigkill" and realtime names
// ("SIGRTMIN+3").
func parseSignal(s string) (api.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, &signalError{s}
		}
		return api.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return api.Signal(sig), nil
	}
	for base, off := range map[string]int{"SIGRTMIN+": 34, "SIGRTMAX-": 64} {
		if rest, ok := strings.CutPrefix(name, base); ok {
			n, err := strconv.Atoi(rest)
			if err != nil {
				break
			}
			if base == "SIGRTMAX-" {
				n = -n
			}
			if v := off + n; v >= 34 && v <= 64 {
				return api.Signal(v), nil
			}
		}
	}
	return 0, &signalError{s}
}

type signalError struct{ s string }

func (e *signalError) Error() string { return "unknown signal " + strconv.Quote(e.s) }
