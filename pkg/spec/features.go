package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rtkit/rt/pkg/rootfs"
)

// MinVersion is the oldest runtime-spec version rt accepts.
const MinVersion = "1.0.0"

// Features builds the OCI features document from the tables the code uses
// (Namespaces, Hooks, the capability table and rootfs.Options), so it says
// exactly what this build implements. Sections rt does not implement yet
// (cgroup drivers, seccomp, LSMs, idmapped mounts) are left out rather than
// claimed.
func Features() *features.Features {
	ns := make([]string, 0, len(Namespaces))
	for t := range Namespaces {
		ns = append(ns, string(t))
	}
	slices.Sort(ns)
	return &features.Features{
		OCIVersionMin: MinVersion,
		OCIVersionMax: specs.Version,
		Hooks:         slices.Clone(Hooks),
		MountOptions:  rootfs.OptionNames(),
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: CapabilityNames(),
		},
	}
}
