package runtime

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestKeptAddr: what of a moved device's address is added again in the
// container: address, peer, broadcast and the flags one may set; never the
// label (it names the device, which may be renamed) nor the flags the
// kernel keeps for itself.
func TestKeptAddr(t *testing.T) {
	parse := func(s string) *net.IPNet {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	tests := []struct {
		name string
		in   netlink.Addr
		want string // netlink.Addr's String of the result
		bc   string
		flag int
	}{
		{"ipv4 with label", netlink.Addr{IPNet: parse("169.254.77.1/16"), Label: "veth0", Broadcast: net.ParseIP("169.254.255.255"),
			Flags: unix.IFA_F_PERMANENT, Scope: unix.RT_SCOPE_UNIVERSE}, "169.254.77.1/16", "169.254.255.255", 0},
		{"ipv6 nodad", netlink.Addr{IPNet: parse("2001:db8::1/64"), Flags: unix.IFA_F_PERMANENT | unix.IFA_F_NODAD | unix.IFA_F_TENTATIVE},
			"2001:db8::1/64", "", unix.IFA_F_NODAD},
		{"noprefixroute", netlink.Addr{IPNet: parse("169.254.1.1/24"), Flags: unix.IFA_F_NOPREFIXROUTE}, "169.254.1.1/24", "", unix.IFA_F_NOPREFIXROUTE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keptAddr(tt.in)
			if got.IPNet.String() != tt.want || got.Label != "" || got.Flags != tt.flag || got.Scope != 0 {
				t.Errorf("keptAddr = %s label %q flags %#x scope %d, want %s no label flags %#x scope 0",
					got.IPNet, got.Label, got.Flags, got.Scope, tt.want, tt.flag)
			}
			if (got.Broadcast == nil && tt.bc != "") || (got.Broadcast != nil && got.Broadcast.String() != tt.bc) {
				t.Errorf("broadcast %v, want %q", got.Broadcast, tt.bc)
			}
		})
	}
}
