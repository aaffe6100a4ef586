package checkpoint

import (
	"fmt"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
)

// CRIU's log files, in the work directory (the image directory without
// --work-path), named as runc names them so that tools that collect them
// (podman, containerd's shim) find them.
const (
	dumpLog    = "dump.log"
	preDumpLog = "predump.log"
	restoreLog = "restore.log"
)

// descriptorsFile records, beside the images, what the init's stdio fds
// were at dump (runc's name and format: a JSON array of their link
// targets), so that restore can hand pipes over to the restored process.
const descriptorsFile = "descriptors.json"

// cgModes maps --manage-cgroups-mode to CRIU's; "" leaves CRIU's default
// (soft).
var cgModes = map[string]rpc.CriuCgMode{
	"soft":   rpc.CriuCgMode_SOFT,
	"full":   rpc.CriuCgMode_FULL,
	"strict": rpc.CriuCgMode_STRICT,
	"ignore": rpc.CriuCgMode_IGNORE,
}

// emptyNsFlags maps --empty-ns names to clone flags.
var emptyNsFlags = map[string]uint32{
	"network": unix.CLONE_NEWNET,
}

// criuLogLevel is CRIU's most verbose level short of debug dumps: the log
// is what the error digest is made from.
const criuLogLevel = 4

// commonOpts are the options dump and restore share, mapped as runc maps
// them. Fds are set by the caller.
func commonOpts(o *api.CheckpointOpts, logFile string) (*rpc.CriuOpts, error) {
	var emptyNs uint32 = alwaysEmptyNs
	for _, ns := range o.EmptyNs {
		f, ok := emptyNsFlags[ns]
		if !ok {
			return nil, fmt.Errorf("--empty-ns %q: %w", ns, api.ErrUsage)
		}
		emptyNs |= f
	}
	c := &rpc.CriuOpts{
		LogLevel:        proto.Int32(criuLogLevel),
		LogFile:         proto.String(logFile),
		ManageCgroups:   proto.Bool(true),
		NotifyScripts:   proto.Bool(true),
		ShellJob:        proto.Bool(o.ShellJob),
		TcpEstablished:  proto.Bool(o.TCPEstablished),
		ExtUnixSk:       proto.Bool(o.ExtUnixSk),
		FileLocks:       proto.Bool(o.FileLocks),
		EmptyNs:         proto.Uint32(emptyNs),
		OrphanPtsMaster: proto.Bool(true),
		AutoDedup:       proto.Bool(o.AutoDedup),
		LazyPages:       proto.Bool(o.LazyPages),
	}
	if !o.TCPEstablished {
		// CRIU's network lock (iptables rules in the container's
		// namespace, ~10 ms at dump and ~50 ms at restore, all in the
		// downtime) keeps established connections from seeing a reset
		// while they are dumped; without --tcp-established CRIU dumps
		// none, and the container's own namespace is not dumped at all.
		c.NetworkLock = rpc.CriuNetworkLockMethod_SKIP.Enum()
	}
	if o.ManageCgroupsMode != "" {
		m, ok := cgModes[o.ManageCgroupsMode]
		if !ok {
			return nil, fmt.Errorf("--manage-cgroups-mode %q: %w", o.ManageCgroupsMode, api.ErrUsage)
		}
		c.ManageCgroupsMode = &m
	}
	return c, nil
}

// dumpTarget is what a dump needs to know of the container besides the
// user's options.
type dumpTarget struct {
	Pid    int
	Rootfs string
	// FreezerDir is the container's v1 freezer directory (or its cgroup2
	// directory), "" when there is none: CRIU then stops the tasks with
	// ptrace one by one, which races with forks.
	FreezerDir string
	// ExtNetNS is the inode of a network namespace the container joined
	// by path (it is not the container's to dump), 0 if none.
	ExtNetNS uint64
	Mounts   []extMount
}

// extNetKey is the name under which a joined network namespace is
// recorded, runc's, so images stay interchangeable.
const extNetKey = "extRootNetNS"

// dumpRequest maps checkpoint's options onto a CRIU DUMP (or PRE_DUMP)
// request as runc does. statusFd is the child's fd number for --status-fd,
// -1 if none.
func dumpRequest(o *api.CheckpointOpts, t dumpTarget, statusFd int) (*rpc.CriuReq, error) {
	logFile := dumpLog
	typ := rpc.CriuReqType_DUMP
	if o.PreDump {
		logFile, typ = preDumpLog, rpc.CriuReqType_PRE_DUMP
	}
	c, err := commonOpts(o, logFile)
	if err != nil {
		return nil, err
	}
	c.Pid = proto.Int32(int32(t.Pid))
	c.Root = proto.String(t.Rootfs)
	c.LeaveRunning = proto.Bool(o.LeaveRunning || o.PreDump)
	if t.FreezerDir != "" {
		c.FreezeCgroup = proto.String(t.FreezerDir)
	}
	if o.PageServer.Address != "" && o.PageServer.Port != 0 {
		c.Ps = &rpc.CriuPageServerInfo{Address: proto.String(o.PageServer.Address), Port: proto.Int32(o.PageServer.Port)}
		setTLS(c, o.PageServer.TLS)
	}
	if o.ParentPath != "" {
		c.ParentImg = proto.String(o.ParentPath)
		c.TrackMem = proto.Bool(true)
	}
	if o.PreDump {
		c.TrackMem = proto.Bool(true)
	}
	if o.LazyPages && statusFd >= 0 {
		c.StatusFd = proto.Int32(int32(statusFd))
	}
	if t.ExtNetNS != 0 {
		c.External = append(c.External, "net["+strconv.FormatUint(t.ExtNetNS, 10)+"]:"+extNetKey)
	}
	for _, m := range t.Mounts {
		c.ExtMnt = append(c.ExtMnt, &rpc.ExtMountMap{Key: proto.String(m.Key), Val: proto.String(m.Val)})
	}
	return &rpc.CriuReq{Type: &typ, Opts: c}, nil
}

// setTLS makes CRIU's page transfer use TLS with the files of t (nil: plain
// TCP). The peer's common name is never checked: the certificates are made
// for one transfer, not for a host name.
func setTLS(c *rpc.CriuOpts, t *api.PageServerTLS) {
	if t == nil {
		return
	}
	c.Tls = proto.Bool(true)
	c.TlsCacert = proto.String(t.CACert)
	c.TlsCert = proto.String(t.Cert)
	c.TlsKey = proto.String(t.Key)
	c.TlsNoCnVerify = proto.Bool(true)
}

// restoreTarget is what a restore needs besides the user's options.
type restoreTarget struct {
	// Root is where the container's rootfs is bound for CRIU to restore
	// the mount tree onto.
	Root   string
	Mounts []extMount
	// CgroupRoots maps each controller ("" for cgroup2's, as
	// /proc/<pid>/cgroup names it) to the container's cgroup, so that
	// CRIU restores the tasks into it and not into the dumped paths.
	CgroupRoots map[string]string
	// InheritFds gives CRIU an fd of its own for a resource of the image
	// (a pipe of the init's stdio, a joined network namespace).
	InheritFds []inheritFd
	// StatusFd is --status-fd in criu's fd numbering, -1 if none.
	StatusFd int
}

type inheritFd struct {
	Key string
	Fd  int
}

// restoreRequest maps restore's options onto a CRIU RESTORE request as runc
// does: the tree restored as rt's children (rst_sibling), so that a
// foreground restore can wait for its init.
func restoreRequest(o *api.RestoreOpts, t restoreTarget) (*rpc.CriuReq, error) {
	c, err := commonOpts(&o.CheckpointOpts, restoreLog)
	if err != nil {
		return nil, err
	}
	c.Root = proto.String(t.Root)
	c.RstSibling = proto.Bool(true)
	c.EvasiveDevices = proto.Bool(true)
	if o.LSMProfile != "" {
		c.LsmProfile = proto.String(o.LSMProfile)
	}
	if o.LSMMountContext != "" {
		c.LsmMountContext = proto.String(o.LSMMountContext)
	}
	if o.LazyPages && t.StatusFd >= 0 {
		c.StatusFd = proto.Int32(int32(t.StatusFd))
	}
	for _, m := range t.Mounts {
		c.ExtMnt = append(c.ExtMnt, &rpc.ExtMountMap{Key: proto.String(m.Key), Val: proto.String(m.Val)})
	}
	for _, ctrl := range sortedKeys(t.CgroupRoots) {
		c.CgRoot = append(c.CgRoot, &rpc.CgroupRoot{Ctrl: proto.String(ctrl), Path: proto.String(t.CgroupRoots[ctrl])})
	}
	for _, f := range t.InheritFds {
		c.InheritFd = append(c.InheritFd, &rpc.InheritFd{Key: proto.String(f.Key), Fd: proto.Int32(int32(f.Fd))})
	}
	typ := rpc.CriuReqType_RESTORE
	return &rpc.CriuReq{Type: &typ, Opts: c}, nil
}
