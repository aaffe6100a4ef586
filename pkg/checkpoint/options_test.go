package checkpoint

import (
	"errors"
	"slices"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
)

// Long for its table of cases, which reads best in one place.
func TestDumpRequest(t *testing.T) {
	target := dumpTarget{Pid: 42, Rootfs: "/b/rootfs", FreezerDir: "/sys/fs/cgroup/freezer/c", Mounts: []extMount{{"/data", "/data"}}}
	tests := []struct {
		name  string
		opts  api.CheckpointOpts
		t     dumpTarget
		check func(t *testing.T, r *rpc.CriuReq)
	}{
		{"defaults", api.CheckpointOpts{StatusFd: -1}, target, func(t *testing.T, r *rpc.CriuReq) {
			o := r.GetOpts()
			if r.GetType() != rpc.CriuReqType_DUMP || o.GetPid() != 42 || o.GetRoot() != "/b/rootfs" || o.GetLogFile() != dumpLog {
				t.Errorf("type %v pid %d root %q log %q", r.GetType(), o.GetPid(), o.GetRoot(), o.GetLogFile())
			}
			if o.GetLeaveRunning() || o.GetShellJob() || o.GetTcpEstablished() || o.GetExtUnixSk() || o.GetFileLocks() || o.GetAutoDedup() || o.GetLazyPages() || o.GetTrackMem() {
				t.Errorf("an option is on by default: %v", o)
			}
			if !o.GetManageCgroups() || !o.GetOrphanPtsMaster() || !o.GetNotifyScripts() || o.GetLogLevel() != 4 {
				t.Errorf("runc's fixed options missing: %v", o)
			}
			if o.ManageCgroupsMode != nil || o.Ps != nil || o.StatusFd != nil {
				t.Errorf("unset options set: %v", o)
			}
			if o.GetEmptyNs() != unix.CLONE_NEWNET {
				t.Errorf("empty ns %x, want the network namespace's always (as runc)", o.GetEmptyNs())
			}
			if o.GetNetworkLock() != rpc.CriuNetworkLockMethod_SKIP {
				t.Errorf("network lock %v without --tcp-established, want skip", o.GetNetworkLock())
			}
			if o.GetFreezeCgroup() != "/sys/fs/cgroup/freezer/c" {
				t.Errorf("freeze cgroup %q", o.GetFreezeCgroup())
			}
			if len(o.ExtMnt) != 1 || o.ExtMnt[0].GetKey() != "/data" || o.ExtMnt[0].GetVal() != "/data" {
				t.Errorf("ext mounts %v", o.ExtMnt)
			}
		}},
		{"every flag", api.CheckpointOpts{
			LeaveRunning: true, TCPEstablished: true, ExtUnixSk: true, ShellJob: true, FileLocks: true,
			ManageCgroupsMode: "strict", EmptyNs: []string{"network"}, AutoDedup: true, LazyPages: true, StatusFd: 7,
			PageServer: api.PageServer{Address: "10.0.0.1", Port: 1234}, ParentPath: "../parent",
		}, target, func(t *testing.T, r *rpc.CriuReq) {
			o := r.GetOpts()
			if !o.GetLeaveRunning() || !o.GetTcpEstablished() || !o.GetExtUnixSk() || !o.GetShellJob() || !o.GetFileLocks() || !o.GetAutoDedup() || !o.GetLazyPages() {
				t.Errorf("a flag is lost: %v", o)
			}
			if o.GetManageCgroupsMode() != rpc.CriuCgMode_STRICT {
				t.Errorf("cg mode %v", o.GetManageCgroupsMode())
			}
			if o.GetEmptyNs() != unix.CLONE_NEWNET {
				t.Errorf("empty ns %x", o.GetEmptyNs())
			}
			if o.NetworkLock != nil {
				t.Errorf("network lock %v with --tcp-established, want CRIU's default", o.GetNetworkLock())
			}
			if o.GetStatusFd() != 7 {
				t.Errorf("status fd %d", o.GetStatusFd())
			}
			if o.GetPs().GetAddress() != "10.0.0.1" || o.GetPs().GetPort() != 1234 {
				t.Errorf("page server %v", o.GetPs())
			}
			if o.GetParentImg() != "../parent" || !o.GetTrackMem() {
				t.Errorf("parent %q track %v", o.GetParentImg(), o.GetTrackMem())
			}
		}},
		{"page server with TLS", api.CheckpointOpts{StatusFd: -1, PageServer: api.PageServer{
			Address: "10.0.0.1", Port: 1234, TLS: &api.PageServerTLS{CACert: "/t/ca.pem", Cert: "/t/c.pem", Key: "/t/k.pem"},
		}}, target, func(t *testing.T, r *rpc.CriuReq) {
			o := r.GetOpts()
			if !o.GetTls() || o.GetTlsCacert() != "/t/ca.pem" || o.GetTlsCert() != "/t/c.pem" || o.GetTlsKey() != "/t/k.pem" || !o.GetTlsNoCnVerify() {
				t.Errorf("tls %v cacert %q cert %q key %q no-cn-verify %v", o.GetTls(), o.GetTlsCacert(), o.GetTlsCert(), o.GetTlsKey(), o.GetTlsNoCnVerify())
			}
		}},
		{"no TLS without it", api.CheckpointOpts{StatusFd: -1, PageServer: api.PageServer{Address: "10.0.0.1", Port: 1234}}, target, func(t *testing.T, r *rpc.CriuReq) {
			if o := r.GetOpts(); o.Tls != nil || o.TlsCacert != nil || o.TlsNoCnVerify != nil {
				t.Errorf("TLS options set: %v", o)
			}
		}},
		{"pre-dump", api.CheckpointOpts{PreDump: true, StatusFd: -1}, target, func(t *testing.T, r *rpc.CriuReq) {
			o := r.GetOpts()
			if r.GetType() != rpc.CriuReqType_PRE_DUMP || !o.GetTrackMem() || !o.GetLeaveRunning() || o.GetLogFile() != preDumpLog {
				t.Errorf("type %v track %v leave %v log %q", r.GetType(), o.GetTrackMem(), o.GetLeaveRunning(), o.GetLogFile())
			}
		}},
		{"status fd only with lazy pages", api.CheckpointOpts{StatusFd: 7}, target, func(t *testing.T, r *rpc.CriuReq) {
			if r.GetOpts().StatusFd != nil {
				t.Errorf("status fd set without lazy pages")
			}
		}},
		{"no freezer, joined netns", api.CheckpointOpts{StatusFd: -1}, dumpTarget{Pid: 1, ExtNetNS: 4026531992}, func(t *testing.T, r *rpc.CriuReq) {
			o := r.GetOpts()
			if o.FreezeCgroup != nil {
				t.Errorf("freeze cgroup set: %q", o.GetFreezeCgroup())
			}
			if !slices.Equal(o.External, []string{"net[4026531992]:extRootNetNS"}) {
				t.Errorf("external %v", o.External)
			}
		}},
		{"manage-cgroups-mode names", api.CheckpointOpts{ManageCgroupsMode: "ignore"}, target, func(t *testing.T, r *rpc.CriuReq) {
			if m := r.GetOpts().ManageCgroupsMode; m == nil || *m != rpc.CriuCgMode_IGNORE {
				t.Errorf("mode %v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := dumpRequest(&tt.opts, tt.t, tt.opts.StatusFd)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestDumpRequestRejects(t *testing.T) {
	for _, o := range []api.CheckpointOpts{
		{ManageCgroupsMode: "bogus"},
		{EmptyNs: []string{"pid"}},
	} {
		if _, err := dumpRequest(&o, dumpTarget{}, -1); !errors.Is(err, api.ErrUsage) {
			t.Errorf("%+v: err %v, want ErrUsage", o, err)
		}
	}
}

func TestRestoreRequest(t *testing.T) {
	opts := api.RestoreOpts{LSMProfile: "apparmor:p", LSMMountContext: "ctx"}
	opts.TCPEstablished, opts.FileLocks, opts.ManageCgroupsMode, opts.StatusFd = true, true, "full", -1
	r, err := restoreRequest(&opts, restoreTarget{
		Root: "/state/c/criu-root", Mounts: []extMount{{"/data", "/host/data"}},
		CgroupRoots: map[string]string{"memory": "/c", "": "/c"},
		InheritFds:  []inheritFd{{"pipe:[12]", 1}}, StatusFd: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := r.GetOpts()
	if r.GetType() != rpc.CriuReqType_RESTORE || o.GetRoot() != "/state/c/criu-root" || !o.GetRstSibling() || o.GetLogFile() != restoreLog {
		t.Errorf("type %v root %q sibling %v log %q", r.GetType(), o.GetRoot(), o.GetRstSibling(), o.GetLogFile())
	}
	if !o.GetTcpEstablished() || !o.GetFileLocks() || o.GetManageCgroupsMode() != rpc.CriuCgMode_FULL || o.GetLsmProfile() != "apparmor:p" || o.GetLsmMountContext() != "ctx" {
		t.Errorf("options lost: %v", o)
	}
	if len(o.CgRoot) != 2 || o.CgRoot[0].GetCtrl() != "" || o.CgRoot[1].GetCtrl() != "memory" || o.CgRoot[1].GetPath() != "/c" {
		t.Errorf("cgroup roots (sorted by controller) %v", o.CgRoot)
	}
	if len(o.InheritFd) != 1 || o.InheritFd[0].GetKey() != "pipe:[12]" || o.InheritFd[0].GetFd() != 1 {
		t.Errorf("inherit fds %v", o.InheritFd)
	}
	if len(o.ExtMnt) != 1 || o.ExtMnt[0].GetVal() != "/host/data" {
		t.Errorf("ext mounts %v", o.ExtMnt)
	}
}
