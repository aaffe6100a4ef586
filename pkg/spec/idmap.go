package spec

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/rootfs"
)

// validateIDMapMounts checks the idmapped mounts (rootfs.MountIDMap) as
// runc's checkIDMapMounts does, and what the spec says MUST error:
//   - only a bind can be idmapped (runc: "id-mapped mounts are only
//     supported for bind-mounts"; rt makes the mount with open_tree, which
//     copies an existing one);
//   - uidMappings and gidMappings come together, neither empty (the spec:
//     each "MUST be specified along with" the other), no entry of size 0;
//   - without them (idmap or ridmap alone) the mapping is the container's
//     user namespace's, which it must have (the spec: "an error MUST be
//     returned").
//
// Mappings of its own need no user namespace of the container's (runc
// neither, since 1.2).
func validateIDMapMounts(s *specs.Spec, seen map[specs.LinuxNamespaceType]bool) error {
	for i, m := range s.Mounts {
		idm := rootfs.MountIDMap(m)
		if idm == nil {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: mounts[%d] %q: "+format, append([]any{ErrInvalid, i, m.Destination}, a...)...)
		}
		if !rootfs.IsBind(m) {
			return bad("only bind mounts can be idmapped (idmap, ridmap, uidMappings, gidMappings); this one is of type %q", m.Type)
		}
		if idm.UIDs == nil && idm.GIDs == nil {
			if !seen[specs.UserNamespace] {
				return bad(`idmap without uidMappings and gidMappings takes the mappings of the container's user namespace, and it has none (linux.namespaces has no "user")`)
			}
			continue
		}
		if len(idm.UIDs) == 0 || len(idm.GIDs) == 0 {
			return bad("uidMappings and gidMappings must be given together, neither empty")
		}
		for _, f := range []struct {
			name string
			maps []specs.LinuxIDMapping
		}{{"uidMappings", idm.UIDs}, {"gidMappings", idm.GIDs}} {
			for j, e := range f.maps {
				if e.Size == 0 {
					return bad("%s[%d]: size 0 maps no id", f.name, j)
				}
			}
		}
	}
	return nil
}
