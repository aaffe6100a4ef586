package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/seccomp"
)

// MinVersion is the oldest runtime-spec version rt accepts.
const MinVersion = "1.0.0"

// Features builds the OCI features document from the tables the code uses
// (Namespaces, Hooks, the capability table, rootfs.Options, seccomp's and
// the memory policy tables), so it says exactly what this build
// implements; the cgroup drivers, LSMs and annotations are the runtime's
// to add. process.scheduler, ioPriority and execCPUAffinity, which rt
// honours, have no entry in the features document of runtime-spec 1.3.
func Features() *features.Features {
	ns := make([]string, 0, len(Namespaces))
	for t := range Namespaces {
		ns = append(ns, string(t))
	}
	slices.Sort(ns)
	yes := true
	return &features.Features{
		OCIVersionMin: MinVersion,
		OCIVersionMax: specs.Version,
		Hooks:         slices.Clone(Hooks),
		MountOptions:  rootfs.OptionNames(),
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: CapabilityNames(),
			Seccomp:      seccompFeatures(),
			MemoryPolicy: &features.MemoryPolicy{Modes: sortedNames(MemPolicyModes), Flags: sortedNames(MemPolicyFlags)},
			// pkg/intelrdt: the group, its schemata (schemata lines
			// too) and enableMonitoring's MON group. "Enabled" is the
			// build's, whether the host has resctrl or not.
			IntelRdt: &features.IntelRdt{Enabled: &yes, Schemata: &yes, Monitoring: &yes},
			// linux.netDevices: checked by validateNetDevices, moved
			// by pkg/runtime (netdevices.go).
			NetDevices:      &features.NetDevices{Enabled: ptr(true)},
			MountExtensions: mountExtensions(),
		},
	}
}

// mountExtensions says idmapped mounts are honoured when rootfs.Options has
// the words that ask for them (which the mount code and validateIDMapMounts
// read), and nothing otherwise.
func mountExtensions() *features.MountExtensions {
	for _, o := range rootfs.Options {
		if o.IDMap {
			return &features.MountExtensions{IDMap: &features.IDMap{Enabled: ptr(true)}}
		}
	}
	return nil
}

// seccompFeatures describes pkg/seccomp's tables.
func seccompFeatures() *features.Seccomp {
	yes := true
	f := &features.Seccomp{Enabled: &yes, Archs: seccomp.ArchNames()}
	for _, a := range seccomp.Actions {
		f.Actions = append(f.Actions, string(a))
	}
	for _, o := range seccomp.Operators {
		f.Operators = append(f.Operators, string(o))
	}
	for _, fl := range seccomp.Flags {
		f.KnownFlags = append(f.KnownFlags, string(fl))
		if seccomp.KernelHas(fl) {
			f.SupportedFlags = append(f.SupportedFlags, string(fl))
		}
	}
	return f
}

func ptr[T any](v T) *T { return &v }
