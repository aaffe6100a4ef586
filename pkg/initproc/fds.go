package initproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
)

// closeHostFds leaves rt-init with no fd that names a file of the host but
// stdio, the socket, the fifo and the preserved fds: in the created state
// every fd of the init is reachable through /proc/1/fd by a privileged
// exec, and close-on-exec does not help until execve (CVE-2024-21626 used
// a leaked host directory fd). Stage 0 closed what rt inherited from its
// caller; what is left is the Go runtime's (its netpoller's epoll and
// eventfd, anonymous inodes, kept) and what libraries keep open for the
// process's life, such as pathrs-lite's cached procfs handle. Those are
// held by Go objects, so their numbers must stay valid: each is replaced,
// atomically, by an anonymous eventfd; a later use of one fails instead of
// reaching the host. Everything left is close-on-exec.
func closeHostFds(preserve int) error {
	first := initproto.FdPreserved + preserve
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	dummy := -1
	defer func() {
		if dummy >= 0 {
			unix.Close(dummy)
		}
	}()
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || strings.HasPrefix(target, "anon_inode:") {
			continue // gone meanwhile (ReadDir's own fd), or anonymous
		}
		if dummy < 0 {
			if dummy, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
				return fmt.Errorf("eventfd: %w", err)
			}
			if dummy == fd {
				// The number was free after all: not one to replace.
				continue
			}
		}
		if fd == dummy {
			continue
		}
		if err := unix.Dup3(dummy, fd, unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("replace fd %d (%s): %w", fd, target, err)
		}
	}
	return unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}
