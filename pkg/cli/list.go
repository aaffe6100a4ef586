package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewListCommand is `list`.
func NewListCommand(e *Env) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "list containers started by rt with the given root",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageError(cmd, "--format %q: must be table or json", format)
			}
			ops, err := e.Runtime()
			if err != nil {
				return err
			}
			list, err := ops.List(cmd.Context())
			if err != nil {
				return err
			}
			if list == nil {
				list = []api.Container{}
			}
			sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
			switch {
			case quiet:
				for _, c := range list {
					fmt.Fprintln(e.Stdout, c.ID)
				}
				return nil
			case format == "json":
				return json.NewEncoder(e.Stdout).Encode(list)
			}
			w := tabwriter.NewWriter(e.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, c := range list {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", c.ID, c.InitProcessPid, c.Status, c.Bundle,
					c.Created.UTC().Format(time.RFC3339Nano), c.Owner)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container ids")
	return cmd
}
