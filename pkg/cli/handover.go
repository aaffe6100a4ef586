package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/sibling"
)

// NewHandover returns a command named name that replaces this process with
// the binary target, passing it the original command line (global flags
// included) unchanged. rt uses it for checkpoint and restore: clients call
// `<runtime> checkpoint`, and podman probes `<runtime> checkpoint --help`,
// taking exit 0 as "supported", so the hand-over must fail when target is
// missing rather than print help of its own.
func NewHandover(name, target, short string) func(*Env) *cobra.Command {
	return func(e *Env) *cobra.Command {
		return &cobra.Command{
			Use:                name,
			Short:              short + " (runs " + target + ")",
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, _ []string) error {
				path, err := findSibling(target)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				argv := append([]string{path}, e.args...)
				if err := unix.Exec(path, argv, os.Environ()); err != nil {
					return fmt.Errorf("%s: exec %s: %w", name, path, err)
				}
				return nil
			},
		}
	}
}

// findSibling looks for binary next to the running executable (symlinks
// resolved, so a `runc` symlink to rt still finds rt's siblings), then on
// PATH.
func findSibling(binary string) (string, error) {
	if p, err := sibling.Path(nil, binary); err == nil {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(binary)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s is not installed (not next to this binary nor on PATH)", binary)
		}
		return "", err
	}
	return p, nil
}
