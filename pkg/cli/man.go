//go:build rt_man

package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { docCommands = append(docCommands, manCommand) }

// manCommand writes a man page per command into a directory (section 8):
// `go run -tags rt_man ./cmd/rt gen-man DIR`, as `make man` does.
func manCommand(e *Env) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "write the man pages of every command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, &doc.GenManHeader{Title: e.prog.Name, Section: "8", Source: e.prog.Name}, args[0])
		},
	}
}
