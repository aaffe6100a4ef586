// Package sibling finds the binaries installed beside the running one
// (rt-init and rt-checkpoint beside rt).
package sibling

import (
	"fmt"
	"os"
	"path/filepath"
)

// Path is name in the directory of the executable that exe reports
// (os.Executable when nil), after resolving symlinks: a `runc` symlink to
// /opt/rt/bin/rt finds /opt/rt/bin/rt-init. It fails when the executable
// cannot be located or resolved (deleted by an upgrade, say), rather than
// guess. Whether the file exists is the caller's business.
func Path(exe func() (string, error), name string) (string, error) {
	if exe == nil {
		exe = os.Executable
	}
	self, err := exe()
	if err != nil {
		return "", fmt.Errorf("locate the running executable: %w", err)
	}
	real, err := filepath.EvalSymlinks(self)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(real), name), nil
}
