package checkpoint

import (
	"fmt"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// inPrivateMountNS runs fn on an OS thread of its own that first moves into
// a new mount namespace whose mounts are all slaves: what fn mounts there
// never reaches the host's namespace (slaves propagate nothing back), while
// host mounts made meanwhile still show. fn returns before inPrivateMountNS
// does.
//
// The thread is locked and never unlocked, so Go ends it when the
// goroutine returns instead of handing it, still in that namespace, to
// other goroutines. The namespace then lives only as long as processes fn
// started from that thread (os/exec forks from the calling thread, so a
// child is born in the thread's namespace): when the last of them exits,
// or if rt is SIGKILLed and they exit after it, the kernel drops the
// namespace and every mount in it. Nothing is ever left to unmount on the
// host.
//
// Children fn starts must not use SysProcAttr.Pdeathsig: their parent is
// this thread, which exits as soon as fn returns.
func inPrivateMountNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread: Go never ends it but parks it for good,
			// so its namespace would live as long as rt, and be the one
			// rt's /proc/self/mountinfo shows. While this goroutine holds
			// it, the one below runs on another thread; this one never
			// left the host's namespace and can be handed back.
			errc <- inPrivateMountNS(fn)
			goruntime.UnlockOSThread()
			return
		}
		errc <- func() error {
			// CLONE_NEWNS unshares the thread's fs_struct (cwd and root)
			// as well; the rest of the process keeps the host's namespace.
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("make the private mount namespace a slave: %w", err)
			}
			return fn()
		}()
	}()
	return <-errc
}
