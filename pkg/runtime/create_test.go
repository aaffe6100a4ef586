package runtime

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
)

func nsSpec(ns ...specs.LinuxNamespace) *specs.Spec {
	return &specs.Spec{Linux: &specs.Linux{Namespaces: ns}}
}

// Long for its table of cases, which reads best in one place.
func TestPlanNamespaces(t *testing.T) {
	all := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.MountNamespace},
		{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.UserNamespace},
		{Type: specs.CgroupNamespace}, {Type: specs.TimeNamespace},
	}
	allTypes := map[specs.LinuxNamespaceType]bool{}
	for _, n := range all {
		allTypes[n.Type] = true
	}
	withOffsets := nsSpec(specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
	withOffsets.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: 100, Nanosecs: 5},
		"boottime":  {Secs: -20, Nanosecs: 999999999},
	}
	monoOnly := nsSpec(specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
	monoOnly.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 7}}
	joinedTime := nsSpec(specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"})
	joinedTime.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 7}}

	tests := []struct {
		name                       string
		spec                       *specs.Spec
		msg                        initproto.Namespaces
		has                        []specs.LinuxNamespaceType
		newUser, newNet, newCgroup bool
	}{
		{
			name: "none",
			spec: nsSpec(),
		},
		{
			name: "all new",
			spec: nsSpec(all...),
			msg: initproto.Namespaces{
				// No CLONE_NEWCGROUP (rt-init unshares it once in its
				// cgroups) and no CLONE_NEWTIME (unshared before clone).
				CloneFlags: unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWUSER,
				NewTime:    true,
			},
			has:     slices.Collect(maps.Keys(allTypes)),
			newUser: true, newNet: true, newCgroup: true,
		},
		{
			name: "default spec",
			spec: nsSpec(
				specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.NetworkNamespace},
				specs.LinuxNamespace{Type: specs.IPCNamespace}, specs.LinuxNamespace{Type: specs.UTSNamespace},
				specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.CgroupNamespace},
			),
			msg: initproto.Namespaces{CloneFlags: unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS},
			has: []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace,
				specs.MountNamespace, specs.CgroupNamespace},
			newNet: true, newCgroup: true,
		},
		{
			name: "joined by path, in spec order",
			spec: nsSpec(
				specs.LinuxNamespace{Type: specs.MountNamespace},
				specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"},
				specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/42/ns/user"},
				specs.LinuxNamespace{Type: specs.CgroupNamespace, Path: "/proc/42/ns/cgroup"},
				specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/42/ns/time"},
				specs.LinuxNamespace{Type: specs.PIDNamespace},
			),
			msg: initproto.Namespaces{
				CloneFlags: unix.CLONE_NEWNS | unix.CLONE_NEWPID,
				Join: []initproto.Join{
					{Type: unix.CLONE_NEWNET, Path: "/run/netns/x"},
					{Type: unix.CLONE_NEWUSER, Path: "/proc/42/ns/user"},
					{Type: unix.CLONE_NEWCGROUP, Path: "/proc/42/ns/cgroup"},
					{Type: unix.CLONE_NEWTIME, Path: "/proc/42/ns/time"},
				},
			},
			has: []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UserNamespace,
				specs.CgroupNamespace, specs.TimeNamespace, specs.PIDNamespace},
		},
		{
			name: "time offsets copied",
			spec: withOffsets,
			msg: initproto.Namespaces{CloneFlags: unix.CLONE_NEWNS, NewTime: true,
				MonoSec: 100, MonoNsec: 5, BootSec: -20, BootNsec: 999999999},
			has: []specs.LinuxNamespaceType{specs.MountNamespace, specs.TimeNamespace},
		},
		{
			name: "monotonic offset only",
			spec: monoOnly,
			msg:  initproto.Namespaces{CloneFlags: unix.CLONE_NEWNS, NewTime: true, MonoSec: 7},
			has:  []specs.LinuxNamespaceType{specs.MountNamespace, specs.TimeNamespace},
		},
		{
			name: "joined time namespace takes no offsets",
			spec: joinedTime,
			msg: initproto.Namespaces{CloneFlags: unix.CLONE_NEWNS,
				Join: []initproto.Join{{Type: unix.CLONE_NEWTIME, Path: "/proc/1/ns/time"}}},
			has: []specs.LinuxNamespaceType{specs.MountNamespace, specs.TimeNamespace},
		},
		{
			name: "new user only",
			spec: nsSpec(specs.LinuxNamespace{Type: specs.UserNamespace}, specs.LinuxNamespace{Type: specs.MountNamespace}),
			msg:  initproto.Namespaces{CloneFlags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS},
			has:  []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace},
			// A new user namespace only.
			newUser: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planNamespaces(tt.spec)
			if p.msg.CloneFlags != tt.msg.CloneFlags {
				t.Errorf("clone flags %#x, want %#x", p.msg.CloneFlags, tt.msg.CloneFlags)
			}
			if p.msg.CloneFlags&(unix.CLONE_NEWCGROUP|unix.CLONE_NEWTIME) != 0 {
				t.Errorf("clone flags %#x include CLONE_NEWCGROUP or CLONE_NEWTIME", p.msg.CloneFlags)
			}
			if p.msg.NewTime != tt.msg.NewTime || p.msg.MonoSec != tt.msg.MonoSec || p.msg.MonoNsec != tt.msg.MonoNsec ||
				p.msg.BootSec != tt.msg.BootSec || p.msg.BootNsec != tt.msg.BootNsec {
				t.Errorf("time: %+v, want %+v", p.msg, tt.msg)
			}
			if !slices.Equal(p.msg.Join, tt.msg.Join) {
				t.Errorf("joins %+v, want %+v", p.msg.Join, tt.msg.Join)
			}
			wantHas := map[specs.LinuxNamespaceType]bool{}
			for _, h := range tt.has {
				wantHas[h] = true
			}
			if !maps.Equal(p.has, wantHas) {
				t.Errorf("has %v, want %v", p.has, wantHas)
			}
			if p.newUser != tt.newUser || p.newNet != tt.newNet || p.newCgroup != tt.newCgroup {
				t.Errorf("newUser/newNet/newCgroup = %v/%v/%v, want %v/%v/%v",
					p.newUser, p.newNet, p.newCgroup, tt.newUser, tt.newNet, tt.newCgroup)
			}
		})
	}
}

func TestRootHostIDs(t *testing.T) {
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	tests := []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
		wantUID  int
		wantGID  int
		wantOK   bool
	}{
		{name: "no mappings"},
		{name: "uid only", uid: []specs.LinuxIDMapping{m(0, 1000, 1)}, wantUID: 1000, wantGID: -1, wantOK: true},
		{name: "gid only", gid: []specs.LinuxIDMapping{m(0, 2000, 1)}, wantUID: -1, wantGID: 2000, wantOK: true},
		{name: "both", uid: []specs.LinuxIDMapping{m(0, 100000, 65536)}, gid: []specs.LinuxIDMapping{m(0, 200000, 65536)},
			wantUID: 100000, wantGID: 200000, wantOK: true},
		{name: "root in a later range", uid: []specs.LinuxIDMapping{m(1, 100001, 1000), m(0, 1000, 1)},
			gid: []specs.LinuxIDMapping{m(1, 100001, 1000), m(0, 1001, 1)}, wantUID: 1000, wantGID: 1001, wantOK: true},
		{name: "container 0 not mapped", uid: []specs.LinuxIDMapping{m(1, 100000, 1000)}, gid: []specs.LinuxIDMapping{m(1000, 5000, 10)}},
		{name: "zero-size range is no mapping", uid: []specs.LinuxIDMapping{m(0, 1000, 0)}},
		{name: "uid root mapped, gid root not", uid: []specs.LinuxIDMapping{m(0, 1000, 1)}, gid: []specs.LinuxIDMapping{m(1, 5000, 1)},
			wantUID: 1000, wantGID: -1, wantOK: true},
	}
	for _, tt := range tests {
		s := &specs.Spec{Linux: &specs.Linux{UIDMappings: tt.uid, GIDMappings: tt.gid}}
		uid, gid, ok := rootHostIDs(s)
		if ok != tt.wantOK || (ok && (uid != tt.wantUID || gid != tt.wantGID)) {
			t.Errorf("%s: rootHostIDs = %d, %d, %v; want %d, %d, %v", tt.name, uid, gid, ok, tt.wantUID, tt.wantGID, tt.wantOK)
		}
	}
}

func TestListenFDs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name      string
		pid, fds  string
		want      int
		wantAdded []string
	}{
		{name: "not ours", pid: "1", fds: "2", want: 0},
		{name: "unset", pid: "", fds: "", want: 0},
		{name: "ours, 2 fds", pid: self, fds: "2", want: 2, wantAdded: []string{"LISTEN_FDS=2", "LISTEN_PID=1"}},
		{name: "ours, 1 fd", pid: self, fds: "1", want: 1, wantAdded: []string{"LISTEN_FDS=1", "LISTEN_PID=1"}},
		{name: "ours, 0 fds", pid: self, fds: "0", want: 0},
		{name: "ours, negative", pid: self, fds: "-3", want: 0},
		{name: "ours, garbage", pid: self, fds: "two", want: 0},
		{name: "ours, no LISTEN_FDS", pid: self, fds: "", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LISTEN_PID", tt.pid)
			t.Setenv("LISTEN_FDS", tt.fds)
			env := []string{"PATH=/bin", "TERM=xterm"}
			p := &specs.Process{Env: slices.Clone(env)}
			if got := listenFDs(p); got != tt.want {
				t.Errorf("listenFDs = %d, want %d", got, tt.want)
			}
			want := append(slices.Clone(env), tt.wantAdded...)
			if !slices.Equal(p.Env, want) {
				t.Errorf("env %q, want %q", p.Env, want)
			}
		})
	}
}

// TestWaitInitErrorIsBounded: when a write to the init failed but the init
// neither reports nor closes its end, the read for its report gives up
// instead of hanging create; a report that is there is returned.
func TestWaitInitErrorIsBounded(t *testing.T) {
	pair := func(t *testing.T) (*os.File, *os.File) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, b := os.NewFile(uintptr(fds[0]), "rt"), os.NewFile(uintptr(fds[1]), "init")
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	t.Run("silent peer", func(t *testing.T) {
		sock, _ := pair(t)
		done := make(chan error, 1)
		go func() { done <- waitInitError(sock, "send config", errors.New("broken pipe")) }()
		select {
		case err := <-done:
			if err == nil || err.Error() != "send config: broken pipe" {
				t.Errorf("error %v, want the step's", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("waitInitError still reading after 10s")
		}
	})
	t.Run("reported", func(t *testing.T) {
		sock, peer := pair(t)
		if err := initproto.Write(peer, initproto.MsgError, []byte("rootfs: mount proc: EPERM")); err != nil {
			t.Fatal(err)
		}
		if err := waitInitError(sock, "send config", errors.New("broken pipe")); err == nil || err.Error() != "rootfs: mount proc: EPERM" {
			t.Errorf("error %v, want the init's report", err)
		}
	})
}
