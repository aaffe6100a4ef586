package initplan

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/initproto"
	"github.com/rtkit/rt/pkg/process"
	"github.com/rtkit/rt/pkg/rootfs"
	"github.com/rtkit/rt/pkg/spec"
)

// Input is what the plan is made from: the spec as create checked it and
// the facts rt resolved (the same as initproto.InitConfig carries).
type Input struct {
	ID, Bundle, Rootfs string
	Spec               *specs.Spec
	NoNewKeyring       bool
	// NoPivot is --no-pivot: MS_MOVE and chroot, which only the Go path does.
	NoPivot     bool
	PreserveFDs int
	// NewNetNS, NewUserNS, NewCgroupNS: created, not joined.
	NewNetNS, NewUserNS, NewCgroupNS bool
	CgroupPaths                      map[string]string
	// Hierarchies are the host's cgroup mounts (rootfs.HostHierarchies),
	// read only when the spec has a cgroup mount.
	Hierarchies func() ([]rootfs.Hierarchy, error)
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// Build makes the plan for a container's init, or says (ErrUnsupported)
// why the Go path must set it up.
func Build(in Input) (*Plan, error) {
	if err := eligible(in); err != nil {
		return nil, err
	}
	p := &Plan{}
	s := in.Spec
	prop := uint64(unix.MS_SLAVE | unix.MS_REC)
	if s.Linux.RootfsPropagation == "rprivate" {
		prop = unix.MS_PRIVATE | unix.MS_REC
	}
	p.add(OpMount, "", "/", "", "").A = prop
	p.add(OpMount, in.Rootfs, in.Rootfs, "", "").A = unix.MS_BIND | unix.MS_REC
	p.add(OpRoot, in.Rootfs)
	joined, devMounted := false, false
	for i, m := range s.Mounts {
		if (m.Type == "cgroup" || m.Type == "cgroup2") && !joined {
			p.joined(in)
			joined = true
		}
		if err := p.mount(in, i, m); err != nil {
			return nil, err
		}
		if filepath.Clean(m.Destination) == "/dev" {
			devMounted = true
		}
	}
	if !joined {
		p.joined(in)
	}
	if err := p.devices(s, devMounted); err != nil {
		return nil, err
	}
	p.system(in)
	p.add(OpPivot)
	p.namespaced(in)
	if err := p.process(in); err != nil {
		return nil, err
	}
	return p, nil
}

// eligible refuses what only the Go path does.
func eligible(in Input) error {
	s := in.Spec
	p := s.Process
	switch {
	case p == nil || s.Linux == nil || s.Root == nil:
		return unsupported("no process, root or linux section")
	case p.Terminal:
		return unsupported("process.terminal")
	case in.NoPivot:
		return unsupported("--no-pivot")
	case s.Hooks != nil && (len(s.Hooks.Prestart)+len(s.Hooks.CreateRuntime)+len(s.Hooks.CreateContainer)+
		len(s.Hooks.StartContainer)+len(s.Hooks.Poststart)+len(s.Hooks.Poststop) > 0):
		return unsupported("hooks")
	case s.Linux.Seccomp != nil:
		return unsupported("linux.seccomp")
	case p.ApparmorProfile != "" || p.SelinuxLabel != "" || s.Linux.MountLabel != "":
		return unsupported("LSM labels")
	case s.Linux.Personality != nil:
		return unsupported("linux.personality")
	case p.Scheduler != nil || p.IOPriority != nil || p.ExecCPUAffinity != nil || s.Linux.MemoryPolicy != nil:
		return unsupported("scheduler, I/O priority, CPU affinity or memory policy")
	case in.NewUserNS || len(s.Linux.UIDMappings) > 0:
		return unsupported("user namespace")
	case s.Linux.RootfsPropagation != "" && s.Linux.RootfsPropagation != "rslave" && s.Linux.RootfsPropagation != "rprivate":
		return unsupported("linux.rootfsPropagation %q", s.Linux.RootfsPropagation)
	case len(p.Args) == 0:
		return unsupported("no process.args")
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return unsupported("user namespace")
		}
	}
	if !hasNamespace(s, specs.MountNamespace) {
		return unsupported("no mount namespace")
	}
	return nil
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func (p *Plan) joined(in Input) {
	if in.NewCgroupNS {
		p.add(OpJoined).A = 1
	} else {
		p.add(OpJoined)
	}
}

// mount adds mounts[i], as rootfs.mountOne makes it.
func (p *Plan) mount(in Input, i int, m specs.Mount) error {
	o := rootfs.ParseMountOptions(m.Options)
	dest := filepath.Clean("/" + m.Destination)
	switch {
	case o.IDMap || rootfs.MountIDMap(m) != nil:
		return unsupported("mounts[%d]: idmapped", i)
	case o.CopyUp:
		return unsupported("mounts[%d]: tmpcopyup", i)
	case dest == "/proc" && m.Type != "proc", strings.HasPrefix(dest, "/proc/"):
		return unsupported("mounts[%d]: %s over /proc", i, dest)
	}
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return p.cgroupMount(in, dest, o)
	}
	rule := uint64(ProcNone)
	if m.Type == "proc" {
		rule = ProcFS
	}
	if !rootfs.IsBind(m) {
		op := p.add(OpMountIn, dest, m.Source, m.Type, o.Data)
		op.A, op.B, op.C = uint64(o.Flags), KindDir, rule
		p.finish(dest, o)
		return nil
	}
	if o.Data != "" {
		return unsupported("mounts[%d]: bind with data", i)
	}
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(in.Bundle, src)
	}
	op := p.add(OpMountIn, dest, src, "", "")
	op.A, op.B, op.C = uint64(o.Flags&(unix.MS_BIND|unix.MS_REC)), KindBind, rule
	if rest := o.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		p.add(OpRemountIn, dest).A = uint64(rest)
	}
	p.finish(dest, o)
	return nil
}

// finish adds the options' propagation and recursive attributes.
func (p *Plan) finish(dest string, o rootfs.MountOptions) {
	for _, fl := range o.Propagation {
		p.add(OpPropagateIn, dest).A = uint64(fl)
	}
	if o.AttrSet != 0 || o.AttrClr != 0 {
		op := p.add(OpSetattrIn, dest)
		op.A, op.B = o.AttrSet, o.AttrClr
	}
}

// cgroupMount is rootfs.mountCgroup as steps: the hierarchies under a
// tmpfs on a v1 or hybrid host, each mounted fresh in a cgroup namespace or
// bound from the container's own cgroup dir without one.
func (p *Plan) cgroupMount(in Input, dest string, o rootfs.MountOptions) error {
	if in.Hierarchies == nil {
		return unsupported("cgroup mount without the host's hierarchies")
	}
	hier, err := in.Hierarchies()
	if err != nil {
		return unsupported("cgroup mount: %v", err)
	}
	ro := o.Flags&unix.MS_RDONLY != 0
	flags := o.Flags &^ unix.MS_RDONLY
	if len(hier) == 1 && hier[0].V2 && hier[0].Mountpoint == "/sys/fs/cgroup" {
		p.hierarchy(in, dest, hier[0], flags, ro)
		return nil
	}
	op := p.add(OpMountIn, dest, "tmpfs", "tmpfs", "mode=755")
	op.A = uint64(flags)
	for _, h := range hier {
		rel := strings.TrimPrefix(h.Mountpoint, "/sys/fs/cgroup/")
		p.hierarchy(in, filepath.Join(dest, rel), h, flags, ro)
	}
	if ro {
		p.add(OpRemountIn, dest).A = uint64(flags | unix.MS_RDONLY)
	}
	return nil
}

func (p *Plan) hierarchy(in Input, dest string, h rootfs.Hierarchy, flags uintptr, ro bool) {
	if ro {
		flags |= unix.MS_RDONLY
	}
	if in.NewCgroupNS {
		typ, data := h.Type()
		p.add(OpMountIn, dest, "cgroup", typ, data).A = uint64(flags)
		return
	}
	op := p.add(OpMountIn, dest, h.BindSource(in.CgroupPaths), "", "")
	op.A, op.B = unix.MS_BIND|unix.MS_REC, KindBind
	p.add(OpRemountIn, dest).A = uint64(flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
}

// devices adds the devices the Go path makes (rootfs.Devices), and the
// standard links in a /dev the container mounted (rootfs.setupDev).
func (p *Plan) devices(s *specs.Spec, devMounted bool) error {
	for i, d := range rootfs.Devices(s) {
		typ, ok := rootfs.DeviceFileType(d.Type)
		if !ok {
			return unsupported("device %s of type %q", d.Path, d.Type)
		}
		perm := uint64(0o666)
		if d.FileMode != nil {
			perm = uint64(d.FileMode.Perm())
		}
		path := filepath.Clean("/" + d.Path)
		op := p.add(OpDevice, path, filepath.Base(path), filepath.Dir(path))
		op.A, op.B, op.C = uint64(typ)|perm, uint64(d.Major), uint64(d.Minor)
		if i < len(s.Linux.Devices) {
			op.A |= DevFromSpec
		}
		uid, gid := uint64(0xffffffff), uint64(0xffffffff)
		if d.UID != nil {
			uid = uint64(*d.UID)
		}
		if d.GID != nil {
			gid = uint64(*d.GID)
		}
		op.D = uid | gid<<32
	}
	if devMounted {
		for _, l := range rootfs.DefaultLinks() {
			p.add(OpSymlinkIn, "/dev", filepath.Base(l[1]), l[0])
		}
	}
	return nil
}

// system adds the writes to /proc made before pivot_root, through the
// host's procfs (which no mount of the container can cover): sysctls in the
// container's namespaces, and the oom score.
func (p *Plan) system(in Input) {
	s := in.Spec
	for k, v := range s.Linux.Sysctl {
		p.add(OpWriteProc, "sys/"+spec.SysctlPath(k), v)
	}
	if s.Process.OOMScoreAdj != nil {
		p.add(OpWriteProc, "self/oom_score_adj", strconv.Itoa(*s.Process.OOMScoreAdj))
	}
}

// namespaced adds hostname, domainname, lo, the keyring, the cwd and the
// masked and read-only paths, after pivot_root.
func (p *Plan) namespaced(in Input) {
	s := in.Spec
	if s.Hostname != "" {
		p.add(OpHostname, s.Hostname)
	}
	if s.Domainname != "" {
		p.add(OpDomainname, s.Domainname)
	}
	if in.NewNetNS {
		p.add(OpLoUp)
	}
	if !in.NoNewKeyring {
		p.add(OpKeyring, "_ses."+in.ID)
	}
	p.add(OpMkdirAll, s.Process.Cwd)
	for _, r := range s.Linux.ReadonlyPaths {
		p.add(OpReadonly, r).A = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	}
	for _, m := range s.Linux.MaskedPaths {
		p.add(OpMask, m)
	}
	if s.Root.Readonly {
		p.add(OpRemount, "/").A = unix.MS_RDONLY
	}
}

// process adds the program's set-up: HOME, the lookup, rlimits, fds, cwd,
// the sync with rt and start, then credentials and execve.
func (p *Plan) process(in Input) error {
	proc := in.Spec.Process
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	home := false
	for _, e := range proc.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
		home = home || strings.HasPrefix(e, "HOME=")
	}
	if !home {
		p.add(OpSetHome).A = uint64(proc.User.UID)
	}
	p.add(OpLookPath, proc.Args[0], path)
	limits, err := process.PrepareRlimits(proc)
	if err != nil {
		return unsupported("%v", err)
	}
	for _, rl := range limits {
		op := p.add(OpRlimit)
		op.A, op.B, op.C = uint64(rl.Resource()), rl.Soft(), rl.Hard()
	}
	p.add(OpCloseFds).A = uint64(initproto.FdPreserved + in.PreserveFDs)
	p.add(OpChdir, proc.Cwd)
	p.add(OpReady)
	p.add(OpWaitStart)
	p.add(OpPreserve).A = uint64(in.PreserveFDs)
	caps, ambient, err := capSets(proc.Capabilities)
	if err != nil {
		return err
	}
	op := p.add(OpCaps)
	op.A, op.B, op.C, op.D = caps[0], caps[1], caps[2], caps[3]
	u := proc.User
	groups := make([]byte, 0, 4*len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = binary.NativeEndian.AppendUint32(groups, g)
	}
	umask := uint64(0o022)
	if u.Umask != nil {
		umask = uint64(*u.Umask)
	}
	nnp := uint64(0)
	if proc.NoNewPrivileges {
		nnp = 1
	}
	op = p.add(OpUser, string(groups))
	op.A, op.B, op.C, op.D = uint64(u.UID), uint64(u.GID), umask, nnp|uint64(len(u.AdditionalGids))<<32
	p.add(OpCreds).A = ambient
	op = p.add(OpExec, append(append([]string{}, proc.Args...), proc.Env...)...)
	op.A = uint64(len(proc.Args))
	return nil
}

// capSets are the bounding, effective, permitted and inheritable sets and
// the ambient one as bit masks, leaving out what the kernel does not know
// (as process.Credentials does).
func capSets(c *specs.LinuxCapabilities) ([4]uint64, uint64, error) {
	var sets [4]uint64
	var ambient uint64
	if c == nil {
		return sets, 0, nil
	}
	last, lastErr := capability.LastCap()
	mask := func(names []string) (uint64, error) {
		var m uint64
		for _, n := range names {
			v, ok := spec.Capability(n)
			if !ok {
				return 0, unsupported("capability %s", n)
			}
			if (lastErr == nil && v > last) || v > 63 {
				continue
			}
			m |= 1 << uint(v)
		}
		return m, nil
	}
	var err error
	for i, names := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable} {
		if sets[i], err = mask(names); err != nil {
			return sets, 0, err
		}
	}
	ambient, err = mask(c.Ambient)
	return sets, ambient, err
}
