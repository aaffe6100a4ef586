package initproc

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/initproto"
)

// pair is a socketpair: rt's end and the init's.
func pair(t *testing.T) (rt, init *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	rt, init = os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
	t.Cleanup(func() { rt.Close(); init.Close() })
	return rt, init
}

// TestMainReportsToRT: what fails before the set-up starts reaches rt as
// one MsgError naming the step, and rt-init exits 127; when rt is gone,
// nothing is written.
func TestMainReportsToRT(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, rt *os.File)
		want string // the start of rt's error; "" for no message
	}{
		{"config not JSON", func(t *testing.T, rt *os.File) {
			if err := initproto.Write(rt, initproto.MsgConfig, []byte("{")); err != nil {
				t.Fatal(err)
			}
		}, "read config: unexpected end of JSON input"},
		{"message out of order", func(t *testing.T, rt *os.File) {
			if err := initproto.Write(rt, initproto.MsgJoined, nil); err != nil {
				t.Fatal(err)
			}
		}, `read config: got message joined ('J'), want config ('C'): protocol error`},
		{"rt's error", func(t *testing.T, rt *os.File) {
			if err := initproto.Write(rt, initproto.MsgError, []byte("rt gave up")); err != nil {
				t.Fatal(err)
			}
		}, "read config: rt gave up"},
		{"rt gone", func(t *testing.T, rt *os.File) {
			if err := unix.Shutdown(int(rt.Fd()), unix.SHUT_WR); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, init := pair(t)
			tt.send(t, rt)
			if code := Main(init); code != 127 {
				t.Errorf("Main = %d, want 127", code)
			}
			init.Close()
			msg, err := initproto.Read(rt, initproto.MsgReady)
			var re *initproto.RemoteError
			switch {
			case tt.want == "" && !errors.Is(err, initproto.ErrClosed):
				t.Errorf("rt read %q, %v; want nothing", msg, err)
			case tt.want != "" && (!errors.As(err, &re) || !strings.HasPrefix(re.Msg, tt.want)):
				t.Errorf("rt read %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestStep(t *testing.T) {
	if step("rootfs", nil) != nil {
		t.Error("step of nil is not nil")
	}
	base := errors.New("mount proc on /proc: EPERM")
	err := step("rootfs", base)
	if err.Error() != "rootfs: mount proc on /proc: EPERM" || !errors.Is(err, base) {
		t.Errorf("step = %v", err)
	}
}

// TestTalk: the conversation the Go path carries on after MsgConfig
// follows from the config: the init's next message is MsgHooks when rt
// runs hooks, MsgPty with a terminal, else MsgReady, and an exec has no
// hooks round trip.
func TestTalk(t *testing.T) {
	hooks := &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true"}}}
	for _, tt := range []struct {
		name string
		cfg  initproto.InitConfig
		next byte
	}{
		{"create", initproto.InitConfig{Spec: &specs.Spec{Process: &specs.Process{}}}, initproto.MsgReady},
		{"create, hooks", initproto.InitConfig{Spec: &specs.Spec{Process: &specs.Process{Terminal: true}, Hooks: hooks}}, initproto.MsgHooks},
		{"create, terminal", initproto.InitConfig{Spec: &specs.Spec{Process: &specs.Process{Terminal: true}}}, initproto.MsgPty},
		{"exec, terminal", initproto.InitConfig{Exec: true, Spec: &specs.Spec{Process: &specs.Process{Terminal: true}, Hooks: hooks}}, initproto.MsgPty},
		{"no spec", initproto.InitConfig{}, initproto.MsgReady},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, init := pair(t)
			rt := talk(init, &tt.cfg)
			if tt.next != initproto.MsgReady {
				if err := rt.conv.Send(initproto.MsgReady, nil); !errors.Is(err, initproto.ErrProtocol) {
					t.Errorf("ready before %s: %v, want a protocol error", initproto.Name(tt.next), err)
				}
			}
			if err := rt.conv.Send(tt.next, nil); err != nil {
				t.Errorf("send %s: %v", initproto.Name(tt.next), err)
			}
		})
	}
}
