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
	// The user namespace's own limits (ucounts), as runc allows them.
	"user.": specs.UserNamespace,
}

// SysctlName is key with dots between its components. A key may also be
// written with slashes, as its path under /proc/sys (runc accepts both);
// a dot in such a key is part of a component (an interface such as
// eth0.100), so the two swap: net/ipv4/conf/eth0.100/forwarding is
// net.ipv4.conf.eth0/100.forwarding.
func SysctlName(key string) string {
	i := strings.IndexAny(key, "./")
	if i < 0 || key[i] == '.' {
		return key
	}
	return swapSeparators(key)
}

// SysctlPath is key's file below /proc/sys.
func SysctlPath(key string) string { return swapSeparators(SysctlName(key)) }

func swapSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// SysctlNamespace is the namespace type sysctl key belongs to; false for a
// host-wide one.
func SysctlNamespace(key string) (specs.LinuxNamespaceType, bool) {
	name := SysctlName(key)
	if ns, ok := sysctlNamespace[name]; ok {
		return ns, true
	}
	for prefix, t := range sysctlNamespace {
		if strings.HasSuffix(prefix, ".") && strings.HasPrefix(name, prefix) {
			return t, true
		}
	}
	return "", false
}

// validateSysctl refuses sysctls that are not namespaced, or whose
// namespace the container does not have of its own. Whether a namespace
// joined by path is the host's is the runtime's to check (it needs the
// host).
func validateSysctl(s *specs.Spec, has map[specs.LinuxNamespaceType]bool) error {
	for k := range s.Linux.Sysctl {
		if strings.Contains(k, "..") || strings.Contains(k, "//") || strings.HasPrefix(k, ".") ||
			strings.HasPrefix(k, "/") || strings.HasSuffix(k, ".") || strings.HasSuffix(k, "/") {
			return fmt.Errorf("%w: linux.sysctl %q: not a sysctl name", ErrInvalid, k)
		}
		ns, ok := SysctlNamespace(k)
		if !ok {
			return fmt.Errorf("%w: linux.sysctl %q is not namespaced: it would change the host", ErrInvalid, k)
		}
		if !has[ns] {
			return fmt.Errorf("%w: linux.sysctl %q needs a %s namespace, which the container does not have", ErrInvalid, k, ns)
		}
	}
	return nil
}
