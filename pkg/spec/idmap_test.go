package spec

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestValidateIDMapMounts: an idmapped mount is refused, with the exact
// message, where it is not a bind, where its mappings are half or empty or
// map nothing, and where it takes the container's user namespace's
// mappings without one; accepted otherwise, mappings of its own needing no
// user namespace.
func TestValidateIDMapMounts(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	bind := func(opts ...string) specs.Mount {
		return specs.Mount{Destination: "/mnt/b", Type: "bind", Source: "/src", Options: opts}
	}
	mapped := func(mnt specs.Mount, uids, gids []specs.LinuxIDMapping) specs.Mount {
		mnt.UIDMappings, mnt.GIDMappings = uids, gids
		return mnt
	}
	userNS := func(s *specs.Spec) {
		addNS(s, specs.UserNamespace)
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	}
	const at = `invalid configuration: mounts[1] "/mnt/b": `
	tests := []struct {
		name   string
		mount  specs.Mount
		userNS bool
		// want is the whole error; "" means the spec is valid.
		want string
	}{
		{"mappings, no option", mapped(bind("bind"), m, m), false, ""},
		{"idmap with mappings, no user namespace", mapped(bind("rbind", "idmap"), m, m), false, ""},
		{"ridmap with mappings", mapped(bind("rbind", "ridmap"), m, m), true, ""},
		{"idmap alone in a user namespace", bind("bind", "idmap"), true, ""},
		{"type none with rbind", mapped(specs.Mount{Destination: "/mnt/b", Type: "none", Source: "/src", Options: []string{"rbind"}}, m, m), false, ""},
		{"idmap alone without a user namespace", bind("bind", "idmap"), false,
			at + `idmap without uidMappings and gidMappings takes the mappings of the container's user namespace, and it has none (linux.namespaces has no "user")`},
		{"idmap on a tmpfs", specs.Mount{Destination: "/mnt/b", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}}, true,
			at + `only bind mounts can be idmapped (idmap, ridmap, uidMappings, gidMappings); this one is of type "tmpfs"`},
		{"mappings on a tmpfs", mapped(specs.Mount{Destination: "/mnt/b", Type: "tmpfs", Source: "tmpfs"}, m, m), false,
			at + `only bind mounts can be idmapped (idmap, ridmap, uidMappings, gidMappings); this one is of type "tmpfs"`},
		{"uidMappings alone", mapped(bind("bind"), m, nil), true, at + "uidMappings and gidMappings must be given together, neither empty"},
		{"gidMappings empty", mapped(bind("bind", "idmap"), m, []specs.LinuxIDMapping{}), true,
			at + "uidMappings and gidMappings must be given together, neither empty"},
		{"size 0", mapped(bind("bind"), m, []specs.LinuxIDMapping{{HostID: 1, Size: 1}, {ContainerID: 5, HostID: 5}}), false,
			at + "gidMappings[1]: size 0 maps no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Mounts = append(s.Mounts, tt.mount)
			if tt.userNS {
				userNS(s)
			}
			err := Validate(s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.want == "":
			case err == nil || err.Error() != tt.want:
				t.Fatalf("Validate: %v\nwant %s", err, tt.want)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("Validate: %v does not wrap ErrInvalid", err)
			}
		})
	}
}
