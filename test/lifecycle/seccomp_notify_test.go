package lifecycle_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

// listener is what the agent got in one connection.
type listener struct {
	state  specs.ContainerProcessState
	fds    int
	target string // the fd's /proc link
	err    error
}

// agent is a seccomp agent on a unix socket: it takes each listener rt
// hands over and answers every notification with -errno until the
// filter's processes are gone.
type agent struct {
	path  string
	got   chan *listener
	errno unix.Errno
	// answered counts the notifications answered.
	answered atomic.Int32
}

func startAgent(t *testing.T, errno unix.Errno) *agent {
	t.Helper()
	a := &agent{path: filepath.Join(t.TempDir(), "agent.sock"), got: make(chan *listener, 4), errno: errno}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			go a.serve(conn, stop)
		}
	}()
	return a
}

func (a *agent) serve(conn *net.UnixConn, stop chan struct{}) {
	defer conn.Close()
	l := &listener{}
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		l.err = err
		a.got <- l
		return
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
		fds, _ = unix.ParseUnixRights(&msgs[0])
	}
	l.fds = len(fds)
	if len(fds) != 1 {
		l.err = fmt.Errorf("%d fds", len(fds))
		a.got <- l
		return
	}
	fd := fds[0]
	defer unix.Close(fd)
	l.target, _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	l.err = json.Unmarshal(buf[:n], &l.state)
	a.got <- l
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		if pfd[0].Revents&unix.POLLHUP != 0 {
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			continue
		}
		if a.answer(fd) {
			a.answered.Add(1)
		}
	}
}

// answer takes one notification and fails its syscall with a.errno.
func (a *agent) answer(fd int) bool {
	// struct seccomp_notif and seccomp_notif_resp of linux/seccomp.h.
	var req struct {
		ID    uint64
		Pid   uint32
		Flags uint32
		Nr    int32
		Arch  uint32
		IP    uint64
		Args  [6]uint64
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return false
	}
	resp := struct {
		ID    uint64
		Val   int64
		Error int32
		Flags uint32
	}{ID: req.ID, Error: -int32(a.errno)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	return errno == 0
}

func (a *agent) next(t *testing.T) *listener {
	t.Helper()
	select {
	case l := <-a.got:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("the agent got no listener")
		return nil
	}
}

func notifyProfile(path string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: path, ListenerMetadata: "rt-test",
		Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
}

// checkListener: one fd, the seccomp listener, with runtime-spec's
// container process state.
func checkListener(t *testing.T, l *listener, id, status string, initPid int) {
	t.Helper()
	s := l.state
	if l.err != nil || l.fds != 1 || l.target != "anon_inode:seccomp notify" {
		t.Errorf("agent got %d fds (%q): %v", l.fds, l.target, l.err)
	}
	if s.Version != specs.Version || !slicesEqual(s.Fds, []string{"seccompFd"}) || s.Metadata != "rt-test" || s.Pid <= 0 ||
		s.State.ID != id || string(s.State.Status) != status || s.State.Pid != initPid {
		t.Errorf("agent got state %+v, want id %s, status %s, the init's pid %d", s, id, status, initPid)
	}
	if (s.Pid == initPid) != (status == "creating") {
		t.Errorf("agent got the pid %d, the init's %d: want the init's for create only", s.Pid, initPid)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// The container's mkdir gets the agent's errno; the container holds no
// copy of the listener.
const notifyScript = `mkdir /tmp/x 2>&1; ls -l /proc/self/fd/ /proc/1/fd/ 2>/dev/null | grep -c 'seccomp notify'; exit 0`

// TestSeccompNotify: with SCMP_ACT_NOTIFY, the agent on listenerPath gets
// the listener and the state from create (status creating) and from exec
// (status running), and its answer is what the container's syscall
// returns, with and without noNewPrivileges.
func TestSeccompNotify(t *testing.T) {
	r := runner(t)
	a := startAgent(t, unix.EHOSTDOWN)
	for _, nnp := range []bool{true, false} {
		b := bundle(t, sh(notifyScript), func(s *specs.Spec) {
			s.Linux.Seccomp = notifyProfile(a.path)
			s.Process.NoNewPrivileges = nnp
		})
		id := harness.ID("notify")
		before := a.answered.Load()
		res := r.RT("run", "--bundle", b, id)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Host is down") || !strings.HasSuffix(res.Stdout, "\n0\n") {
			t.Errorf("noNewPrivileges %v: %s, want mkdir to fail with EHOSTDOWN and no listener in the container", nnp, res)
		}
		l := a.next(t)
		checkListener(t, l, id, "creating", l.state.State.Pid)
		if a.answered.Load() == before {
			t.Errorf("noNewPrivileges %v: the agent answered nothing", nnp)
		}
		r.AssertNoTrace(t, id, b)
	}

	b := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Linux.Seccomp = notifyProfile(a.path) })
	id := harness.ID("notify-exec")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatal(res)
	}
	defer r.RT("delete", "--force", id)
	var st specs.State
	if res := r.RT("state", id); res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil {
		t.Fatal(res)
	}
	checkListener(t, a.next(t), id, "creating", st.Pid)
	res := r.RT("exec", id, "sh", "-c", notifyScript)
	if !strings.Contains(res.Stdout, "Host is down") || !strings.HasSuffix(res.Stdout, "\n0\n") {
		t.Errorf("exec: %s, want mkdir to fail with EHOSTDOWN and no listener in the container", res)
	}
	checkListener(t, a.next(t), id, "running", st.Pid)
}

// TestSeccompNotifyNoAgent: a listenerPath nobody listens on fails create
// with one line naming it, and leaves nothing behind.
func TestSeccompNotifyNoAgent(t *testing.T) {
	r := runner(t)
	path := filepath.Join(t.TempDir(), "nobody.sock")
	b := bundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.Seccomp = notifyProfile(path) })
	id := harness.ID("notify-none")
	res := r.RT("run", "--bundle", b, id)
	if res.Code == 0 || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 ||
		!strings.Contains(res.Stderr, "listenerPath "+path) || !strings.Contains(res.Stderr, "no such file") {
		t.Errorf("%s, want one line naming listenerPath %s", res, path)
	}
	r.AssertNoTrace(t, id, b)
}
