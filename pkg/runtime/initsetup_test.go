package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/store"
)

// slowJoin is a cgroup manager whose Apply takes its time, as systemd's
// does (a transient unit over D-Bus); only Apply and Set are used.
type slowJoin struct {
	cgroups.Manager
	err  error
	done atomic.Bool
}

func (f *slowJoin) Apply(int) error {
	time.Sleep(200 * time.Millisecond)
	f.done.Store(true)
	return f.err
}

func (f *slowJoin) Set(*specs.LinuxResources) error { return nil }

// TestSetUpInitWaitsForJoin: when the init could not enter its cgroups by
// itself, Apply moves it in the background; whatever makes the setup fail
// meanwhile, setUpInit returns only once Apply has ended, so that the
// caller's clean-up never destroys the cgroups before Apply has made them
// (a directory, or with systemd a transient unit, left behind). It once
// returned at once from a failure before the config was sent.
func TestSetUpInitWaitsForJoin(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	applyErr := errors.New("apply failed")
	tests := []struct {
		name    string
		newUser bool // with a child not in a new user namespace, its id maps cannot be written
		peer    int  // messages the fake init reads before it closes its end
		apply   error
		want    string
	}{
		{"id maps fail", true, 0, nil, "user namespace: write uid_map"},
		{"the init is gone before it is told to go", false, 0, nil, "start init"},
		{"the init is gone once configured", false, 2, nil, "sync"},
		{"the init is gone once in its cgroups", false, 3, nil, "container init exited before it was set up"},
		{"the join fails", false, 2, applyErr, "apply failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, s := newRuntime(t)
			h, err := s.Create("c")
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			sock, peer := os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
			defer sock.Close()
			if tt.peer == 0 {
				peer.Close()
			} else {
				go func() {
					defer peer.Close()
					for range tt.peer {
						// Any type: the message is read whole either way.
						if _, err := initproto.Read(peer, 0); errors.Is(err, initproto.ErrClosed) {
							return
						}
					}
				}()
			}
			spec := &specs.Spec{Version: "1.3.0", Process: &specs.Process{Args: []string{"true"}}, Linux: &specs.Linux{
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}},
			}}
			in := &createInput{bundle: "/b", rootfs: "/b/rootfs", spec: spec, plan: nsPlan{newUser: tt.newUser}}
			st := &store.State{ID: "c", InitPid: child.Process.Pid}
			cg := &slowJoin{err: tt.apply}
			_, err = r.setUpInit(context.Background(), in, api.CreateOpts{}, h, st, cg,
				&startedInit{sock: sock, pid: child.Process.Pid, entered: false,
					conv: initproto.NewConv(sock, initproto.Create, initproto.Runtime, initproto.Facts{}).After(initproto.Create, initproto.MsgPid)}, nil)
			if !cg.done.Load() {
				t.Errorf("setUpInit returned before the cgroup join ended")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("setUpInit = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestJoinCgroups: an init that entered its cgroups needs no Apply; wait
// returns Apply's error every time it is asked.
func TestJoinCgroups(t *testing.T) {
	cg := &slowJoin{err: errors.New("x")}
	if err := joinCgroups(cg, 1, true).wait(); err != nil || cg.done.Load() {
		t.Errorf("entered: wait = %v, Apply ran: %v", err, cg.done.Load())
	}
	j := joinCgroups(cg, 1, false)
	if err := j.wait(); err == nil || !cg.done.Load() {
		t.Errorf("not entered: wait = %v, Apply ran: %v", err, cg.done.Load())
	}
	if err := j.wait(); err == nil {
		t.Errorf("second wait = nil, want Apply's error again")
	}
}
