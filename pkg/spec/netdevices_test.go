package spec

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestValidateNetDevices: linux.netDevices is refused, with the exact
// message, without a network namespace, with a name the kernel would not
// take, or with two devices given one name; accepted otherwise.
func TestValidateNetDevices(t *testing.T) {
	const valid = `not a valid interface name (1 to 15 bytes, no "/", ":" or white space, not "." or "..")`
	withNet := func(devs map[string]specs.LinuxNetDevice) func(*specs.Spec) {
		return func(s *specs.Spec) {
			addNS(s, specs.NetworkNamespace)
			s.Linux.NetDevices = devs
		}
	}
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		// want is the whole error; "" means the spec is valid.
		want string
	}{
		{"none", func(s *specs.Spec) {}, ""},
		{"renamed", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "ctr0"}}), ""},
		{"name kept", withNet(map[string]specs.LinuxNetDevice{"eth0": {}, "eth1": {}}), ""},
		{"15 bytes", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "abcdefghijklmno"}}), ""},
		{"a template twice", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "ctr%d"}, "eth1": {Name: "ctr%d"}}), ""},
		{"joined network namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"})
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {}}
		}, ""},
		{"no network namespace", func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth0": {}} },
			`invalid configuration: linux.netDevices need a network namespace of the container's own (linux.namespaces has no "network")`},
		{"16 bytes", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "abcdefghijklmnop"}}),
			`invalid configuration: linux.netDevices["eth0"].name: "abcdefghijklmnop" is ` + valid},
		{"slash", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "a/b"}}),
			`invalid configuration: linux.netDevices["eth0"].name: "a/b" is ` + valid},
		{"colon", withNet(map[string]specs.LinuxNetDevice{"eth0:1": {}}),
			`invalid configuration: linux.netDevices: "eth0:1" is ` + valid},
		{"space", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "a b"}}),
			`invalid configuration: linux.netDevices["eth0"].name: "a b" is ` + valid},
		{"dot dot", withNet(map[string]specs.LinuxNetDevice{"..": {}}),
			`invalid configuration: linux.netDevices: ".." is ` + valid},
		{"empty host name", withNet(map[string]specs.LinuxNetDevice{"": {Name: "x"}}),
			`invalid configuration: linux.netDevices: "" is ` + valid},
		{"two renamed alike", withNet(map[string]specs.LinuxNetDevice{"eth0": {Name: "ctr0"}, "eth1": {Name: "ctr0"}}),
			`invalid configuration: linux.netDevices: "eth0" and "eth1" would both be named "ctr0" in the container`},
		{"renamed to another's kept name", withNet(map[string]specs.LinuxNetDevice{"eth0": {}, "eth1": {Name: "eth0"}}),
			`invalid configuration: linux.netDevices: "eth0" and "eth1" would both be named "eth0" in the container`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(s)
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

func TestNetDeviceNames(t *testing.T) {
	tests := []struct {
		name  string
		devs  map[string]specs.LinuxNetDevice
		names []string // sorted host names
		in    []string // their names in the container
	}{
		{"none", nil, nil, nil},
		{"kept and renamed", map[string]specs.LinuxNetDevice{"veth1": {}, "eth0": {Name: "ctr0"}},
			[]string{"eth0", "veth1"}, []string{"ctr0", "veth1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Linux.NetDevices = tt.devs
			names := NetDeviceNames(s)
			if !slices.Equal(names, tt.names) {
				t.Fatalf("NetDeviceNames: %q, want %q", names, tt.names)
			}
			var in []string
			for _, n := range names {
				in = append(in, NetDeviceName(n, tt.devs[n]))
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("NetDeviceName: %q, want %q", in, tt.in)
			}
		})
	}
}
