package initproc

// The namespaced system settings, the terminal and the preserved fds: the
// pieces of the set-up that touch the kernel's state outside the rootfs
// and the process's credentials.

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/rootfs"
)

// setupSystem applies the namespaced system settings: hostname, domainname,
// lo, sysctls, personality and the session keyring.
func setupSystem(cfg *initproto.InitConfig) error {
	s := cfg.Spec
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", s.Hostname, err)
		}
	}
	if s.Domainname != "" {
		if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", s.Domainname, err)
		}
	}
	if cfg.NewNetNS {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("bring up lo: %w", err)
		}
	}
	for k, v := range s.Linux.Sysctl {
		if err := process.Sysctl(k, v); err != nil {
			return err
		}
	}
	if err := setPersonality(s.Linux.Personality); err != nil {
		return err
	}
	if !cfg.NoNewKeyring {
		// A keyring of its own, so the container cannot see the host's
		// keys; EDQUOT/ENOSYS hosts run without one, as runc does.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EDQUOT) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	return nil
}

// setPersonality sets linux.personality's execution domain (spec.Validate
// allows LINUX and LINUX32, no flags), for the init and for every exec:
// a process inherits its parent's, and rt-init's parent is rt, on the host.
func setPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	dom := map[specs.LinuxPersonalityDomain]uintptr{"LINUX": 0x0000, "LINUX32": 0x0008}[p.Domain]
	if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, dom, 0, 0); e != 0 {
		return fmt.Errorf("personality %s: %w", p.Domain, e)
	}
	return nil
}

// setupTerminal opens a pty in the container's devpts, sends the master to
// rt and makes the slave this process's stdio and controlling terminal.
func setupTerminal(rt *peer, cfg *initproto.InitConfig) error {
	master, slave, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		return err
	}
	defer master.Close()
	if sz := cfg.Spec.Process.ConsoleSize; sz != nil {
		if err := console.Resize(master, sz.Height, sz.Width); err != nil {
			return err
		}
	}
	if !cfg.Exec {
		// The container's init owns /dev/console; an exec'd process
		// gets a terminal of its own and leaves it alone, as with runc.
		peer, err := console.OpenSlave(master)
		if err != nil {
			return err
		}
		err = rootfs.BindConsole(peer)
		peer.Close()
		if err != nil {
			return err
		}
	}
	if err := rt.conv.Send(initproto.MsgPty, nil); err != nil {
		return err
	}
	// runc's payload is the master's name, /dev/ptmx; clients may log it.
	if err := console.SendFd(rt.sock, master.Name(), master); err != nil {
		return err
	}
	return console.SetupSlave(slave)
}

// movePreservedFds moves the --preserve-fds from FdPreserved… to 3…, where
// the process expects them (over the socket and fifo O_PATH fd, now done
// with), and leaves nothing else open at exec. The fifo's write end cannot
// be in the way: fds 0 to FdPreserved+n-1 were all taken when it was
// opened, so its number is above every target.
func movePreservedFds(n int) error {
	for i := 0; i < n; i++ {
		if err := unix.Dup3(initproto.FdPreserved+i, 3+i, 0); err != nil {
			return err
		}
	}
	// Everything from 3+n up, the socket and fifo included unless a
	// preserved fd took their place, closes at exec.
	return unix.CloseRange(uint(3+n), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}
