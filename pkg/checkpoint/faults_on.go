//go:build rt_faults

package checkpoint

import (
	"os"
	"strings"
	"syscall"
)

// fault injects the failure $RT_FAULT names at point, in test builds only
// (-tags rt_faults): "kill:POINT" SIGKILLs this process there, "fail:POINT"
// makes fault return true, and the caller fails as if the step had.
func fault(point string) bool {
	action, at, ok := strings.Cut(os.Getenv("RT_FAULT"), ":")
	if !ok || at != point {
		return false
	}
	if action == "kill" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return action == "fail"
}
