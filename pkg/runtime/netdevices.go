package runtime

import (
	"errors"
	"fmt"
	"net"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/spec"
)

// checkNetDevices refuses, before anything of the container exists, what
// would make linux.netDevices fail halfway through create or change the
// host: a network namespace joined by path that is rt's own (the device
// would stay on the host, renamed) and a device the host does not have.
// Every device is checked before any is moved, so a missing one leaves the
// others where they were. pkg/spec has checked the names and that there is
// a network namespace.
func checkNetDevices(s *specs.Spec) error {
	names := spec.NetDeviceNames(s)
	if len(names) == 0 {
		return nil
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace || ns.Path == "" {
			continue
		}
		same, err := sameFile(ns.Path, "/proc/self/ns/net")
		if err != nil {
			return fmt.Errorf("linux.netDevices: network namespace: %w", err)
		}
		if same {
			return fmt.Errorf("%w: linux.netDevices: the network namespace joined by path (%s) is rt's own: the devices would stay on the host",
				spec.ErrInvalid, ns.Path)
		}
	}
	for _, n := range names {
		if _, err := netlink.LinkByName(n); err != nil {
			if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
				return fmt.Errorf("linux.netDevices: %q: no such network interface on the host", n)
			}
			return fmt.Errorf("linux.netDevices: %q: %w", n, err)
		}
	}
	return nil
}

// moveNetDevices moves each device of linux.netDevices into the network
// namespace of the init pid, as runc does: renamed in the same request
// (so that the name cannot clash on either side in between), its permanent
// addresses of global scope added again (the kernel drops every address of
// a device leaving a namespace), and up. Nothing is undone on failure: the
// caller kills the init, and the kernel destroys virtual devices with its
// namespace and returns physical ones to the host's, as it will at delete
// (the spec forbids moving them back).
func moveNetDevices(pid int, s *specs.Spec) error {
	names := spec.NetDeviceNames(s)
	if len(names) == 0 {
		return nil
	}
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("linux.netDevices: container's network namespace: %w", err)
	}
	defer ns.Close()
	// Sockets made in the container's namespace: the moved devices are
	// found and set up there without this thread joining it.
	in, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("linux.netDevices: netlink in the container's network namespace: %w", err)
	}
	defer in.Close()
	// The spec: a name the namespace has MUST be an error. It must be
	// found before any move: the kernel renames a device after moving it,
	// so the rename would fail with the device already in the namespace,
	// where it is destroyed with it (a virtual one) instead of staying on
	// the host.
	for _, n := range names {
		to := spec.NetDeviceName(n, s.Linux.NetDevices[n])
		if strings.Contains(to, "%") {
			continue // a template: the kernel picks a free name
		}
		if _, err := in.LinkByName(to); err == nil {
			return fmt.Errorf("linux.netDevices: %q cannot be named %q in the container: its network namespace has a device of that name", n, to)
		}
	}
	for _, n := range names {
		to := spec.NetDeviceName(n, s.Linux.NetDevices[n])
		if err := moveNetDevice(in, ns, n, to); err != nil {
			return fmt.Errorf("linux.netDevices: move %q into the container as %q: %w", n, to, err)
		}
	}
	return nil
}

func moveNetDevice(in *netlink.Handle, ns netns.NsHandle, name, to string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find it on the host: %w", err)
	}
	// Listed while the device is as it was: setting it down would flush
	// its IPv6 addresses (net.ipv6.conf.*.keep_addr_on_down is off by
	// default). runc sets it down first, and loses them; it also leaves
	// the device down on the host when the move then fails (the loopback
	// cannot move, a name may be taken). The move itself brings it down.
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("list its addresses: %w", err)
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(link.Attrs().Index)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(to)))
	req.AddData(nl.NewRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(ns))))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return err
	}
	moved, err := findMoved(in, link, to)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_PERMANENT == 0 || a.Scope != unix.RT_SCOPE_UNIVERSE {
			// Dynamic and host- or link-scoped addresses belong to
			// where they were made (the spec keeps only these).
			continue
		}
		if err := in.AddrAdd(moved, keptAddr(a)); err != nil {
			return fmt.Errorf("add its address %s: %w", a.IPNet, err)
		}
	}
	if err := in.LinkSetUp(moved); err != nil {
		return fmt.Errorf("set it up: %w", err)
	}
	return nil
}

// findMoved finds link in the container's namespace: by its new name, or,
// when the name is a template ("eth%d") the kernel filled in, by its index
// (kept unless the namespace has it taken), checked against its hardware
// address.
func findMoved(in *netlink.Handle, link netlink.Link, to string) (netlink.Link, error) {
	if !strings.Contains(to, "%") {
		moved, err := in.LinkByName(to)
		if err != nil {
			return nil, fmt.Errorf("find it in the container: %w", err)
		}
		return moved, nil
	}
	moved, err := in.LinkByIndex(link.Attrs().Index)
	if err != nil {
		return nil, fmt.Errorf("find it in the container by index %d: %w", link.Attrs().Index, err)
	}
	if hw := link.Attrs().HardwareAddr; hw != nil && moved.Attrs().HardwareAddr.String() != hw.String() {
		return nil, fmt.Errorf("find it in the container: index %d is %s there", link.Attrs().Index, moved.Attrs().Name)
	}
	return moved, nil
}

// keptAddr is what of a moved address is added again: the address, its
// peer and broadcast, and the flags one may set. The label is left out: it
// must begin with the device's name, which may have changed.
func keptAddr(a netlink.Addr) *netlink.Addr {
	const settable = unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_MANAGETEMPADDR | unix.IFA_F_HOMEADDRESS
	out := &netlink.Addr{IPNet: a.IPNet, Peer: a.Peer, Flags: a.Flags & settable}
	if a.Broadcast != nil {
		out.Broadcast = append(net.IP(nil), a.Broadcast...)
	}
	return out
}
