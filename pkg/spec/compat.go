package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file holds what rt accepts where the spec or runc is lenient, turned
// into the one form the rest of rt applies. Each function returns what the
// runtime warns about (pkg/runtime logs it): validation has no logger, and
// rt-init, which applies the spec, writes to the container's stderr.

// AbsMountDestinations makes every relative mounts[].destination absolute,
// "/" + destination: runtime-spec 1.2 deprecated relative destinations, and
// runc takes them relative to the container's root with a warning. Like
// every destination, the result is resolved inside the rootfs, so a ".."
// stops at its root. It returns one warning naming each, or "" when every
// destination was absolute. s.Mounts is replaced by a copy, not written to.
func AbsMountDestinations(s *specs.Spec) string {
	var rel []string
	for i, m := range s.Mounts {
		if m.Destination == "" || filepath.IsAbs(m.Destination) {
			continue
		}
		if rel == nil {
			s.Mounts = append([]specs.Mount(nil), s.Mounts...)
		}
		abs := "/" + m.Destination
		rel = append(rel, fmt.Sprintf("mounts[%d].destination %q taken as %q", i, m.Destination, abs))
		s.Mounts[i].Destination = abs
	}
	if rel == nil {
		return ""
	}
	return "mount destinations not absolute, deprecated since runtime-spec 1.2, taken relative to the container's root: " +
		strings.Join(rel, "; ")
}

// UsableCapabilities returns a copy of c without the names rt cannot grant,
// as runc skips them: the names its capability table lacks and those above
// last, the running kernel's last capability (cap_last_cap), listed sorted
// and once each in unknown; and without the ambient ones that are not also
// permitted and inheritable, which the kernel refuses to raise, listed in
// unraisable. The spec says a runtime SHOULD NOT fail on unknown names and
// MUST log a warning: pkg/runtime logs one for each list, before rt-init
// applies what is left.
func UsableCapabilities(c *specs.LinuxCapabilities, last capability.Cap) (usable *specs.LinuxCapabilities, unknown, unraisable []string) {
	if c == nil {
		return nil, nil, nil
	}
	named := map[string]bool{}
	keep := func(names []string) []string {
		if names == nil {
			return nil
		}
		out := make([]string, 0, len(names))
		for _, n := range names {
			if cp, ok := Capability(n); ok && cp <= last {
				out = append(out, n)
			} else if !named[n] {
				named[n] = true
				unknown = append(unknown, n)
			}
		}
		return out
	}
	u := &specs.LinuxCapabilities{
		Bounding: keep(c.Bounding), Effective: keep(c.Effective), Inheritable: keep(c.Inheritable),
		Permitted: keep(c.Permitted), Ambient: keep(c.Ambient),
	}
	slices.Sort(unknown)
	in := func(set []string, cp capability.Cap) bool {
		return slices.ContainsFunc(set, func(n string) bool { x, _ := Capability(n); return x == cp })
	}
	ambient := u.Ambient[:0:0]
	named = map[string]bool{}
	for _, n := range u.Ambient {
		if cp, _ := Capability(n); in(u.Permitted, cp) && in(u.Inheritable, cp) {
			ambient = append(ambient, n)
		} else if !named[n] {
			named[n] = true
			unraisable = append(unraisable, n)
		}
	}
	if u.Ambient != nil {
		u.Ambient = ambient
	}
	return u, unknown, unraisable
}
