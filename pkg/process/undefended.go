package process

import (
	"fmt"
	"os"

	"github.com/rtkit/rt/pkg/spec"
)

// undefendedSysctl writes a sysctl through the container's /proc, whatever
// is mounted there, as runc did before its fix (CVE-2025-52881). It runs
// instead of the defence only when defencesOff is true (the build tag
// rt_nodefence, test/security's positive controls), and is dead code in
// every other build.
func undefendedSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+spec.SysctlPath(key), []byte(value), 0); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
