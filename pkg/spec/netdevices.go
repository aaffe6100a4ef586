package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxIfName is the longest interface name the kernel takes: IFNAMSIZ (16)
// bytes with the terminating NUL.
const maxIfName = 15

// NetDeviceName is the name the host interface host gets in the container:
// its entry's name, or its own when none is given (runtime-spec 1.3).
func NetDeviceName(host string, d specs.LinuxNetDevice) string {
	if d.Name != "" {
		return d.Name
	}
	return host
}

// NetDeviceNames lists the host interfaces of linux.netDevices, sorted, so
// that every check and move goes in one order and errors are the same from
// run to run.
func NetDeviceNames(s *specs.Spec) []string {
	if s.Linux == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.Linux.NetDevices))
}

// validateNetDevices checks linux.netDevices as far as the host is not
// needed: the container must have a network namespace (without one the
// device would stay on the host, renamed), every name must be one the
// kernel takes, and no two devices may get the same name in the container
// (the second move would fail halfway through create). That each device
// exists on the host, and that a namespace joined by path is not rt's own,
// pkg/runtime checks before anything is made.
func validateNetDevices(s *specs.Spec, seen map[specs.LinuxNamespaceType]bool) error {
	if len(s.Linux.NetDevices) == 0 {
		return nil
	}
	if !seen[specs.NetworkNamespace] {
		return fmt.Errorf(`%w: linux.netDevices need a network namespace of the container's own (linux.namespaces has no "network")`, ErrInvalid)
	}
	const valid = `not a valid interface name (1 to 15 bytes, no "/", ":" or white space, not "." or "..")`
	taken := map[string]string{}
	for _, host := range NetDeviceNames(s) {
		if !validIfName(host) {
			return fmt.Errorf("%w: linux.netDevices: %q is %s", ErrInvalid, host, valid)
		}
		name := NetDeviceName(host, s.Linux.NetDevices[host])
		if !validIfName(name) {
			return fmt.Errorf("%w: linux.netDevices[%q].name: %q is %s", ErrInvalid, host, name, valid)
		}
		// A name with "%d" is a template the kernel fills in with a free
		// number: several devices may share it.
		if other, ok := taken[name]; ok && !strings.Contains(name, "%") {
			return fmt.Errorf("%w: linux.netDevices: %q and %q would both be named %q in the container", ErrInvalid, other, host, name)
		}
		taken[name] = host
	}
	return nil
}

// validIfName is the kernel's dev_valid_name.
func validIfName(n string) bool {
	if n == "" || len(n) > maxIfName || n == "." || n == ".." {
		return false
	}
	return !strings.ContainsAny(n, "/: \t\n\v\f\r")
}
