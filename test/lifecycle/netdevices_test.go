package lifecycle_test

// linux.netDevices (runtime-spec 1.3): host interfaces moved into the
// container's network namespace at create, renamed, with their addresses,
// up; destroyed with the namespace when virtual.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"

	"github.com/rtkit/rt/test/harness"
)

// Addresses the tests give their interfaces: link-local IPv4 and the IPv6
// documentation prefix, neither routed anywhere.
const (
	netdevAddr4 = "169.254.77.1/16"
	netdevAddr6 = "2001:db8::77:1/64"
)

// netdevName is an interface name unique to this test process (IFNAMSIZ
// leaves 15 bytes).
func netdevName(tag string) string {
	return fmt.Sprintf("rt%s%d", tag, os.Getpid()%100000)
}

// netdevCleanup removes the host interfaces named at the end of the test,
// whatever happened; a veth's peer goes with it.
func netdevCleanup(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			if l, err := netlink.LinkByName(n); err == nil {
				if err := netlink.LinkDel(l); err != nil {
					t.Errorf("remove test interface %s: %v", n, err)
				}
			}
		}
	})
}

// netdevIPv6 says whether the host has IPv6.
func netdevIPv6() bool {
	_, err := os.Stat("/proc/net/if_inet6")
	return err == nil
}

// netdevVeth makes a veth pair tag+"a", tag+"b" on the host, with the test
// addresses on the "a" end, removed at cleanup.
func netdevVeth(t *testing.T, tag string) (string, string) {
	t.Helper()
	a, b := netdevName(tag)+"a", netdevName(tag)+"b"
	netdevCleanup(t, a, b)
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		t.Fatalf("make veth %s/%s: %v", a, b, err)
	}
	netdevAddrs(t, a)
	// Up, as a device in use is: setting it down would flush its IPv6
	// addresses before they could be listed and moved.
	l, err := netlink.LinkByName(a)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		t.Fatalf("set %s up: %v", a, err)
	}
	return a, b
}

func netdevAddrs(t *testing.T, name string) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{netdevAddr4}
	if netdevIPv6() {
		addrs = append(addrs, netdevAddr6)
	}
	for _, a := range addrs {
		addr, err := netlink.ParseAddr(a)
		if err != nil {
			t.Fatal(err)
		}
		// No duplicate address detection: the address is usable (and
		// moved) at once, not tentative.
		addr.Flags = 0x02 // IFA_F_NODAD
		if err := netlink.AddrAdd(l, addr); err != nil {
			t.Fatalf("address %s on %s: %v", a, name, err)
		}
	}
}

// netdevOnHost reports whether the host has an interface named name.
func netdevOnHost(t *testing.T, name string) bool {
	t.Helper()
	_, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		t.Fatalf("look up %s: %v", name, err)
	}
	return err == nil
}

// netdevHostAddrs lists the addresses of the host interface name.
func netdevHostAddrs(t *testing.T, name string) []string {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("%s on the host: %v", name, err)
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		if !a.IP.IsLinkLocalUnicast() || a.IP.To4() != nil {
			out = append(out, a.IPNet.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestConfigNetDevices moves the ends of two veth pairs into the
// container, one renamed eth9, one keeping its name (this kernel has no
// dummy driver): inside they are up with their addresses, on the host they
// are gone; after delete the pairs' host ends are gone too (the kernel
// destroys virtual devices with the namespace) and neither moved end came
// back.
func TestConfigNetDevices(t *testing.T) {
	r := runner(t)
	veth, peer := netdevVeth(t, "nv")
	kept, keptPeer := netdevVeth(t, "nk")
	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{veth: {Name: "eth9"}, kept: {}}
	})
	id := harness.ID("netdev")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("rt run -d: %s", res)
	}
	for _, n := range []string{veth, kept} {
		if netdevOnHost(t, n) {
			t.Errorf("%s is still on the host", n)
		}
	}
	for _, n := range []string{peer, keptPeer} {
		if !netdevOnHost(t, n) {
			t.Errorf("the veth's host end %s is gone while the container runs", n)
		}
	}
	for _, n := range []string{"eth9", kept} {
		res := r.RT("exec", id, "sh", "-c", "ip -o link show dev "+n+"; ip -o addr show dev "+n)
		if res.Code != 0 {
			t.Errorf("ip in the container: %s", res)
			continue
		}
		want := []string{netdevAddr4}
		if netdevIPv6() {
			want = append(want, netdevAddr6)
		}
		for _, w := range want {
			if !strings.Contains(res.Stdout, " "+w+" ") {
				t.Errorf("%s in the container has no %s:\n%s", n, w, res.Stdout)
			}
		}
		if flags, _, _ := strings.Cut(strings.SplitN(res.Stdout, "<", 2)[1], ">"); !slices.Contains(strings.Split(flags, ","), "UP") {
			t.Errorf("%s in the container is not up (flags <%s>)", n, flags)
		}
	}
	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Fatalf("delete --force: %s", res)
	}
	r.AssertNoTrace(t, id, b)
	waitFor(t, func() bool { return !netdevOnHost(t, peer) && !netdevOnHost(t, keptPeer) })
	if netdevOnHost(t, kept) || netdevOnHost(t, veth) {
		t.Errorf("a virtual device came back to the host after delete")
	}
}

// TestConfigNetDevicesRefused: a device that is not on the host, a
// container without a network namespace of its own, bad or clashing names
// are refused at create with one line; the host's interfaces are left as
// they were (none is moved while another is missing).
func TestConfigNetDevicesRefused(t *testing.T) {
	r := runner(t)
	veth, _ := netdevVeth(t, "nr")
	other, _ := netdevVeth(t, "ns")
	missing := netdevName("nx") + "z"
	before := netdevHostAddrs(t, veth)
	hostNet := func(s *specs.Spec) {
		s.Linux.Namespaces = append(without(s.Linux.Namespaces, specs.NetworkNamespace),
			specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", os.Getpid())})
	}
	for _, tc := range []struct {
		name  string
		devs  map[string]specs.LinuxNetDevice
		edit  func(*specs.Spec)
		words []string
	}{
		{"missing device", map[string]specs.LinuxNetDevice{missing: {}}, nil,
			[]string{"linux.netDevices", fmt.Sprintf("%q", missing), "no such network interface on the host"}},
		{"one of two missing", map[string]specs.LinuxNetDevice{veth: {Name: "eth9"}, missing: {}}, nil,
			[]string{"linux.netDevices", fmt.Sprintf("%q", missing), "no such network interface on the host"}},
		{"no network namespace", map[string]specs.LinuxNetDevice{veth: {}},
			func(s *specs.Spec) { s.Linux.Namespaces = without(s.Linux.Namespaces, specs.NetworkNamespace) },
			[]string{"linux.netDevices", "network namespace"}},
		{"the host's network namespace joined", map[string]specs.LinuxNetDevice{veth: {}}, hostNet,
			[]string{"linux.netDevices", "rt's own"}},
		{"a name with a slash", map[string]specs.LinuxNetDevice{veth: {Name: "a/b"}}, nil,
			[]string{"linux.netDevices", `"a/b"`, "not a valid interface name"}},
		{"a name too long", map[string]specs.LinuxNetDevice{veth: {Name: "abcdefghijklmnop"}}, nil,
			[]string{"linux.netDevices", `"abcdefghijklmnop"`, "not a valid interface name"}},
		// The namespace has a lo: refused before the move, which the
		// kernel makes before the rename fails (runc loses the device:
		// a veth is destroyed with the namespace).
		{"named as the container's loopback", map[string]specs.LinuxNetDevice{veth: {Name: "lo"}}, nil,
			[]string{"linux.netDevices", fmt.Sprintf("%q cannot be named \"lo\" in the container", veth), "has a device of that name"}},
		{"two devices named alike", map[string]specs.LinuxNetDevice{veth: {Name: "eth9"}, other: {Name: "eth9"}}, nil,
			[]string{"linux.netDevices", `"eth9"`, other, veth}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, []string{"true"}, func(s *specs.Spec) {
				s.Linux.NetDevices = tc.devs
				if tc.edit != nil {
					tc.edit(s)
				}
			})
			cfgRefused(t, r, "netdev-bad", b, tc.words...)
			for _, n := range []string{veth, other} {
				if !netdevOnHost(t, n) {
					t.Fatalf("%s left the host", n)
				}
			}
			if l, err := netlink.LinkByName(veth); err != nil || l.Attrs().Flags&net.FlagUp == 0 {
				t.Errorf("%s is no longer up on the host (%v)", veth, err)
			}
			if got := netdevHostAddrs(t, veth); !slices.Equal(got, before) {
				t.Errorf("%s's addresses on the host: %q, were %q", veth, got, before)
			}
		})
	}
}
