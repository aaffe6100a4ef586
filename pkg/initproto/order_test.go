package initproto

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func socketpair(t *testing.T) (rt, init *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	rt, init = os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
	t.Cleanup(func() { rt.Close(); init.Close() })
	return rt, init
}

func TestOrder(t *testing.T) {
	for _, tt := range []struct {
		name             string
		kind             Kind
		f                Facts
		fromRT, fromInit string
	}{
		{"create", Create, Facts{}, "NGCJ", "PR"},
		{"create, fast path", Create, Facts{Plan: true}, "NGXJ", "PR"},
		{"create, hooks", Create, Facts{Hooks: true}, "NGCJh", "PHR"},
		{"create, terminal", Create, Facts{Terminal: true}, "NGCJ", "PTR"},
		{"create, hooks and terminal", Create, Facts{Hooks: true, Terminal: true}, "NGCJh", "PHTR"},
		{"exec", Exec, Facts{}, "NGCJ", "PR"},
		{"exec, terminal", Exec, Facts{Terminal: true}, "NGCJ", "PTR"},
		{"create, everything", Create, Facts{Hooks: true, Terminal: true, Notify: true}, "NGCJh", "PHTSR"},
		{"exec, seccomp listener", Exec, Facts{Notify: true}, "NGCJ", "PSR"},
		// Exec has no runtime hooks: the fact changes nothing.
		{"exec, hooks", Exec, Facts{Hooks: true}, "NGCJ", "PR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Order(tt.kind, tt.f, Runtime)); got != tt.fromRT {
				t.Errorf("rt sends %q, want %q", got, tt.fromRT)
			}
			if got := string(Order(tt.kind, tt.f, Init)); got != tt.fromInit {
				t.Errorf("init sends %q, want %q", got, tt.fromInit)
			}
		})
	}
}

// TestConvWalk: both ends of a create with every optional message go
// through it in the table's order, each direction on its own, and the
// init's Go path picks up after MsgConfig.
func TestConvWalk(t *testing.T) {
	sock, peer := socketpair(t)
	f := Facts{Hooks: true, Terminal: true}
	rt := NewConv(sock, Create, Runtime, f)
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			// The C stage: plain reads and writes, as pkg/nsexec does.
			if _, err := Read(peer, MsgNamespaces); err != nil {
				return err
			}
			if err := Write(peer, MsgPid, []byte{1, 0, 0, 0}); err != nil {
				return err
			}
			if _, err := Read(peer, MsgGo); err != nil {
				return err
			}
			if _, err := Read(peer, MsgConfig); err != nil {
				return err
			}
			init := NewConv(peer, Create, Init, f).After(Create, MsgConfig)
			// The pty before the join is read: each direction has its
			// own order.
			for _, m := range []struct {
				send bool
				typ  byte
			}{{false, MsgJoined}, {true, MsgHooks}, {false, MsgHooksDone}, {true, MsgPty}, {true, MsgReady}} {
				var err error
				if m.send {
					err = init.Send(m.typ, nil)
				} else {
					_, err = init.Recv(m.typ)
				}
				if err != nil {
					return err
				}
			}
			return peer.Close()
		}()
	}()
	steps := []struct {
		send bool
		typ  byte
	}{
		{true, MsgNamespaces}, {false, MsgPid}, {true, MsgGo}, {true, MsgConfig}, {true, MsgJoined},
		{false, MsgHooks}, {true, MsgHooksDone}, {false, MsgPty}, {false, MsgReady},
	}
	for _, s := range steps {
		var err error
		if s.send {
			err = rt.Send(s.typ, nil)
		} else {
			_, err = rt.Recv(s.typ)
		}
		if err != nil {
			t.Fatalf("rt at %s: %v", Name(s.typ), err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("init: %v", err)
	}
	if err := rt.Closed(); err != nil {
		t.Errorf("Closed = %v, want nil", err)
	}
}

// TestConvOutOfOrder: a message out of the table's order is a clear
// ErrProtocol error naming both messages, on the side that would send it
// (nothing is written) and on the side that receives it.
func TestConvOutOfOrder(t *testing.T) {
	t.Run("send", func(t *testing.T) {
		sock, peer := socketpair(t)
		rt := NewConv(sock, Create, Runtime, Facts{})
		err := rt.Send(MsgJoined, nil)
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "send joined ('J'): namespaces ('N') is due first") {
			t.Errorf("Send out of order = %v", err)
		}
		if err := rt.Send(MsgError, []byte("failed")); err != nil {
			t.Errorf("MsgError is refused: %v", err)
		}
		sock.Close()
		if _, err := Read(peer, MsgNamespaces); !errorIsRemote(err, "failed") {
			t.Errorf("peer read %v, want only the error message", err)
		}
	})
	t.Run("receive", func(t *testing.T) {
		sock, peer := socketpair(t)
		rt := NewConv(sock, Create, Runtime, Facts{Hooks: true}).After(Create, MsgJoined)
		// An init that does not know about the hooks round trip.
		if err := Write(peer, MsgReady, nil); err != nil {
			t.Fatal(err)
		}
		_, err := rt.Recv(MsgHooks)
		if !errors.Is(err, ErrProtocol) || err.Error() != "got message ready ('R'), want hooks ('H'): protocol error" {
			t.Errorf("Recv = %v", err)
		}
	})
	t.Run("receive what is not due", func(t *testing.T) {
		sock, _ := socketpair(t)
		rt := NewConv(sock, Exec, Runtime, Facts{})
		_, err := rt.Recv(MsgReady)
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "pid ('P') is due first") {
			t.Errorf("Recv = %v", err)
		}
	})
	t.Run("past the end", func(t *testing.T) {
		sock, peer := socketpair(t)
		rt := NewConv(sock, Exec, Runtime, Facts{}).After(Exec, MsgReady)
		if err := rt.Send(MsgJoined, nil); !errors.Is(err, ErrProtocol) {
			t.Errorf("Send past the end = %v", err)
		}
		if err := Write(peer, MsgReady, nil); err != nil {
			t.Fatal(err)
		}
		if err := rt.Closed(); !errors.Is(err, ErrProtocol) {
			t.Errorf("Closed after a stray message = %v", err)
		}
	})
	t.Run("closed early", func(t *testing.T) {
		sock, _ := socketpair(t)
		rt := NewConv(sock, Exec, Runtime, Facts{})
		if err := rt.Closed(); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "pid ('P') is still due") {
			t.Errorf("Closed before the end = %v", err)
		}
	})
}

func errorIsRemote(err error, msg string) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Msg == msg
}

// TestFactsOf: both ends derive the optional messages from the same spec
// the same way.
func TestFactsOf(t *testing.T) {
	all := &specs.Spec{
		Process: &specs.Process{Terminal: true},
		Hooks:   &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}},
		Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: "/a",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
		}},
	}
	for _, tt := range []struct {
		name string
		s    *specs.Spec
		plan bool
		want Facts
	}{
		{"nil", nil, false, Facts{}},
		{"empty", &specs.Spec{}, true, Facts{Plan: true}},
		{"everything", all, false, Facts{Hooks: true, Terminal: true, Notify: true}},
	} {
		if got := FactsOf(tt.s, tt.plan); got != tt.want {
			t.Errorf("%s: FactsOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
