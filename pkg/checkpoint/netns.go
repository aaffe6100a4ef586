package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The container's own network namespace is not dumped, as runc never dumps
// it ("runc doesn't manage network devices": runc always passes empty-ns
// network), so that rt's and runc's images restore on either runtime, and
// the dump does not run ip and iptables-save while the container is frozen
// (about 30 ms each way here). The restore gets a fresh namespace, which
// restoredNetNS makes what create makes: the loopback up (runc leaves it
// down, so 127.0.0.1 stops working) and the spec's net.* sysctls. What the
// prestart hooks set up (CNI) they set up again; what a process changed
// inside the namespace itself is lost, as with runc.

// alwaysEmptyNs is what every dump and restore leaves empty.
const alwaysEmptyNs = unix.CLONE_NEWNET

// restoredNetNS sets up the fresh network namespace of the restored init
// pid, if the container has one of its own.
func restoredNetNS(pid int, s *specs.Spec) error {
	if s.Linux == nil || !hasNS(s, specs.NetworkNamespace) || nsPath(s, specs.NetworkNamespace) != "" {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		// The thread ends in the container's namespace: never
		// unlocked, so the Go runtime retires it.
		goruntime.LockOSThread()
		done <- inNetNS(pid, s.Linux.Sysctl)
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("network namespace of the restored init: %w", err)
	}
	return nil
}

func inNetNS(pid int, sysctl map[string]string) error {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter it: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	for k, v := range sysctl {
		if !strings.HasPrefix(k, "net.") {
			continue
		}
		// /proc/sys/net shows the namespace of the thread that opens it.
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sysctl %s: not in this network namespace", k)
			}
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
	}
	return nil
}
