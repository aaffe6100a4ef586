package spec

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sysctlNamespace says which namespace a sysctl belongs to: exact names
// first, then prefixes (ending in "."). Anything else is host-wide and a
// container must not set it.
var sysctlNamespace = map[string]specs.LinuxNamespaceType{
	"kernel.msgmax":          specs.IPCNamespace,
	"kernel.msgmnb":          specs.IPCNamespace,
	"kernel.msgmni":          specs.IPCNamespace,
	"kernel.sem":             specs.IPCNamespace,
	"kernel.shmall":          specs.IPCNamespace,
	"kernel.shmmax":          specs.IPCNamespace,
	"kernel.shmmni":          specs.IPCNamespace,
	"kernel.shm_rmid_forced": specs.IPCNamespace,
	"fs.mqueue.":             specs.IPCNamespace,
	"net.":                   specs.NetworkNamespace,
	"kernel.hostname":        specs.UTSNamespace,
	"kernel.domainname":      specs.UTSNamespace,
}

// validateSysctl refuses sysctls that are not namespaced, or whose
// namespace the container does not have of its own.
func validateSysctl(s *specs.Spec, has map[specs.LinuxNamespaceType]bool) error {
	for k := range s.Linux.Sysctl {
		ns, ok := sysctlNamespace[k]
		if !ok {
			for prefix, t := range sysctlNamespace {
				if strings.HasSuffix(prefix, ".") && strings.HasPrefix(k, prefix) {
					ns, ok = t, true
					break
				}
			}
		}
		if !ok {
			return fmt.Errorf("%w: linux.sysctl %q is not namespaced: it would change the host", ErrInvalid, k)
		}
		if !has[ns] {
			return fmt.Errorf("%w: linux.sysctl %q needs a %s namespace, which the container does not have", ErrInvalid, k, ns)
		}
	}
	return nil
}
