package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// NewPSCommand is `ps`.
func NewPSCommand(e *Env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] <container-id> [ps options]",
		Short: "display the processes running inside a container",
		Long: `ps lists the container's processes. With --format json it prints a JSON array
of host pids and nothing else; as a table it runs ps(1) with the given options
(default -ef) and keeps the container's lines.`,
		Args: minArgs(1, "<container-id> [ps options]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return usageError(cmd, "--format %q: must be table or json", format)
			}
			ops, id, err := e.container(cmd, args[0])
			if err != nil {
				return err
			}
			pids, err := ops.PS(cmd.Context(), id)
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(e.Stdout).Encode(pids)
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
			}
			return filterPS(e, out, pids)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}

// filterPS keeps ps's header and the lines whose PID column is one of pids.
func filterPS(e *Env, out []byte, pids []int) error {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps: no PID column in the output header %q", lines[0])
	}
	in := make(map[int]bool, len(pids))
	for _, p := range pids {
		in[p] = true
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			b.WriteString(l + "\n")
		}
	}
	_, err := e.Stdout.Write(b.Bytes())
	return err
}
