package spec

import (
	"fmt"
	"path/filepath"
	"strings"

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
