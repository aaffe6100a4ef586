package fs

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.network: net_cls and net_prio, v1 only.

func TestNetworkV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "network", r: specs.LinuxResources{Network: &specs.LinuxNetwork{
			ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 2}},
		}}, want: []string{
			"net_cls/c1/net_cls.classid=1048577",
			"net_prio/c1/net_prio.ifpriomap=eth0 5",
			"net_prio/c1/net_prio.ifpriomap=lo 2",
		}},
	})
}

func TestNetworkRefused(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "interface name", r: specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth 0"}}}},
			want: `linux.resources.network.priorities[0].name: "eth 0" is not an interface name`},
		{name: "v2 network", v2: true, r: specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			want: "linux.resources.network: cgroup2 has no net_cls or net_prio controller (use eBPF or nftables on the cgroup)"},
		{name: "hierarchy not mounted", prepare: func(f *fakeTree) { delete(f.m.paths, "net_cls") },
			r:    specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			want: "linux.resources.network.classID: no net_cls hierarchy (cgroup v1) is mounted; rt sets limits on the cgroup2 hierarchy of a hybrid host only through linux.resources.unified"},
	})
}
