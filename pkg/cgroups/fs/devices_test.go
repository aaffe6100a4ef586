package fs

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// linux.resources.devices on v1 (the eBPF filter of cgroup2 needs a real cgroup: real_test.go).

func TestDevicesV1(t *testing.T) {
	runSetCases(t, newFakeV1, []setCase{
		{name: "devices: deny all, then the rules in order", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
			{Allow: true, Type: "c", Access: "m"},
			{Allow: true, Type: "b", Major: ptr[int64](8), Minor: ptr[int64](-1), Access: "r"},
			{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
		}}, want: []string{
			"devices/c1/devices.deny=a",
			"devices/c1/devices.deny=a",
			"devices/c1/devices.allow=c 1:3 rwm",
			"devices/c1/devices.allow=c *:* m",
			"devices/c1/devices.allow=b 8:* r",
			"devices/c1/devices.deny=c 1:3 w",
		}},
		{name: "devices: an empty list denies everything", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}},
			want: []string{"devices/c1/devices.deny=a"}},
		{name: "devices: allow all (privileged)", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: true, Access: "rwm"},
		}}, want: []string{"devices/c1/devices.deny=a", "devices/c1/devices.allow=a"}},
	})
}

func TestDevicesRefused(t *testing.T) {
	devs := func(d ...specs.LinuxDeviceCgroup) specs.LinuxResources { return specs.LinuxResources{Devices: d} }
	runBadCases(t, []badCase{
		{name: "device type", r: devs(specs.LinuxDeviceCgroup{Type: "p", Access: "r"}), want: `linux.resources.devices[0].type: "p" is not a, b or c`},
		{name: "device access", r: devs(specs.LinuxDeviceCgroup{Type: "c", Access: "rx"}),
			want: `linux.resources.devices[0].access: "rx" is not a combination of r, w and m`},
		{name: "device access twice", r: devs(specs.LinuxDeviceCgroup{Type: "c", Access: "rr"}),
			want: `linux.resources.devices[0].access: "rr" is not a combination of r, w and m`},
		{name: "device access empty", r: devs(specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1)}),
			want: "linux.resources.devices[0].access: empty: give a combination of r, w and m"},
		{name: "device number", r: devs(specs.LinuxDeviceCgroup{Type: "c", Major: ptr[int64](-2), Access: "r"}),
			want: "linux.resources.devices[0]: device -2:-1: numbers are -1 (any) or more"},
		{name: "every device with numbers", r: devs(specs.LinuxDeviceCgroup{Type: "a", Major: ptr[int64](1), Access: "rwm"}),
			want: "linux.resources.devices[0]: a rule for every device (type a) always covers all numbers and access rwm; give neither numbers nor other access"},
		{name: "every device partly", r: devs(specs.LinuxDeviceCgroup{Allow: true, Access: "r"}),
			want: "linux.resources.devices[0]: a rule for every device (type a) always covers all numbers and access rwm; give neither numbers nor other access"},
	})
}
