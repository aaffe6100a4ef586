package cli

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/config"
)

func TestSingleDashLongFlags(t *testing.T) {
	e := &Env{prog: Program{Name: "rt", Factory: nil, Config: HostConfig{Flags: config.RegisterFlags}, Commands: []func(*Env) *cobra.Command{
		NewDeleteCommand, NewExecCommand, NewRestoreCommand, NewKillCommand, NewPSCommand,
	}}}
	root := e.rootCommand()
	tests := []struct {
		in, want []string
	}{
		{[]string{"delete", "-force", "x"}, []string{"delete", "--force", "x"}},
		{[]string{"-root", "/r", "delete", "-f", "x"}, []string{"--root", "/r", "delete", "-f", "x"}},
		{[]string{"-log-format=json", "kill", "x", "9"}, []string{"--log-format=json", "kill", "x", "9"}},
		{[]string{"restore", "-no-subreaper", "-bundle", "/b", "x"}, []string{"restore", "--no-subreaper", "--bundle", "/b", "x"}},
		// The container's command line is never touched.
		{[]string{"exec", "x", "ls", "-la", "-force"}, []string{"exec", "x", "ls", "-la", "-force"}},
		{[]string{"exec", "-cwd", "/tmp", "x", "sh", "-detach"}, []string{"exec", "--cwd", "/tmp", "x", "sh", "-detach"}},
		{[]string{"ps", "x", "-ef"}, []string{"ps", "x", "-ef"}},
		// A flag's value that looks like a flag is left alone.
		{[]string{"--root", "-force", "delete", "x"}, []string{"--root", "-force", "delete", "x"}},
		{[]string{"delete", "-nosuch", "x"}, []string{"delete", "-nosuch", "x"}},
		{[]string{"delete", "--", "-force"}, []string{"delete", "--", "-force"}},
	}
	for _, tt := range tests {
		if got := singleDashLongFlags(root, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("singleDashLongFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
