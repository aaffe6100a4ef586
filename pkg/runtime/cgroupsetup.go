package runtime

// The container's cgroups: the manager for the configured driver, and the
// device allow-list every container gets.

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/cgroups/systemd"
	"github.com/rtkit/rt/pkg/store"
)

// NewCgroups returns the cgroup manager of a new container for the
// configured driver, and records the choice in st so that later commands
// (which may not be given --systemd-cgroup) use the same one. A driver the
// host cannot serve is refused, rather than quietly using cgroupfs with a
// systemd-style path. With the cgroupfs driver the path goes below the
// configured cgroup-parent (cgroups.UnderParent); the directories it gives
// are recorded in st (CgroupPaths), which is all delete and update use.
//
// It first drops from st's spec the resources rt ignores (dropIgnored):
// NewCgroups is where create first turns to the spec's cgroup side, before
// the state is first saved and before the resources are applied.
func (r *Runtime) NewCgroups(st *store.State, path string) (cgroups.Manager, error) {
	if err := r.dropIgnored(st); err != nil {
		return nil, err
	}
	switch r.cfg.CgroupDriver {
	case "", "cgroupfs":
		full, err := cgroups.UnderParent(r.cfg.CgroupParent, path, st.ID)
		if err != nil {
			return nil, err
		}
		m, err := fs.New(full, st.ID)
		if err != nil || !r.rootless() {
			return m, err
		}
		res, err := st.Spec.Resources()
		if err != nil {
			return nil, err
		}
		return r.rootlessCgroups(st.ID, res, m)
	case "systemd":
		if r.cfg.CgroupParent != "" {
			return nil, fmt.Errorf("cgroup driver systemd with cgroup-parent %s: cgroup-parent applies to the cgroupfs driver only", r.cfg.CgroupParent)
		}
		if !systemd.Running() {
			return nil, errors.New("cgroup driver systemd: systemd is not running on this host (use the cgroupfs driver)")
		}
		st.CgroupDriver, st.CgroupsPath = "systemd", path
		return systemd.New(path, st.ID)
	}
	return nil, fmt.Errorf("cgroup driver %q: unknown", r.cfg.CgroupDriver)
}

// dropIgnored removes from the spec recorded in st the resources rt does
// not apply (cgroups.DropIgnored: the deprecated kernel memory limits),
// with one warning naming them, so that the state (which update builds on)
// never shows them as applied. At create the record is the spec itself
// (store.RecordSpec), so the resources create applies lose them too; Set
// would ignore them anyway. The spec's linux.resources is replaced by a
// copy; the sections it shares are not changed.
func (r *Runtime) dropIgnored(st *store.State) error {
	res, err := st.Spec.Resources()
	if err != nil {
		return err
	}
	kept, ignored := cgroups.DropIgnored(res)
	if len(ignored) == 0 {
		return nil
	}
	r.warnIgnored(st.ID, ignored)
	return st.Spec.SetResources(kept)
}

// warnIgnored logs the one warning for the resource fields rt ignores, as
// runc warns about kernel memory ("Kernel memory settings are ignored and
// will be removed"), but naming the fields.
func (r *Runtime) warnIgnored(id string, fields []string) {
	if len(fields) == 0 {
		return
	}
	r.log.Warn("deprecated in the runtime spec and ignored: "+strings.Join(fields, ", "), "id", id)
}

// loadCgroups returns the cgroup manager of an existing container, for the
// driver that created it.
func loadCgroups(st *store.State) (cgroups.Manager, error) {
	if st.CgroupDriver == "systemd" {
		return systemd.Load(st.CgroupsPath, st.ID, st.CgroupPaths)
	}
	return fs.Load(st.CgroupPaths), nil
}

// defaultDeviceRules are the devices a container may always use, runc's
// default allow list (libcontainer/specconv's AllowedDevices): the ones
// every container gets (rootfs.DefaultDevices), its terminal (ptmx and
// /dev/pts/*, which /dev/console is bound from), tun, and mknod of anything
// (using a node still needs a rule). Not c 5:1, the host's console, which
// runc does not allow either.
var defaultDeviceRules = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},    // null
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},    // zero
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "rwm"},    // full
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},    // random
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},    // urandom
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},    // tty
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},    // ptmx
	{Allow: true, Type: "c", Major: i64(136), Minor: nil, Access: "rwm"},     // pts/*
	{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"}, // net/tun
}

func i64(v int64) *int64 { return &v }

// ContainerResources is what create applies: the spec's resources, with
// the device rules made an allow-list whether or not the spec has any (a
// container's cgroup inherits its parent's, which allows every device, and
// a config without rules would otherwise let CAP_MKNOD open the host's
// disks; runc's device emulator starts from deny-all too).
func ContainerResources(s *specs.Spec) *specs.LinuxResources {
	var res specs.LinuxResources
	if s.Linux != nil && s.Linux.Resources != nil {
		res = *s.Linux.Resources
	}
	res.Devices = deviceAllowList(res.Devices)
	return &res
}

// withDefaultDevices is update's: rules as deviceAllowList makes them, nil
// (the devices left as they are) when the update has none.
func withDefaultDevices(rules []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	if rules == nil {
		return nil
	}
	return deviceAllowList(rules)
}

// deviceAllowList is deny-all, then rules, then defaultDeviceRules, so
// that what rules do not allow is denied and no rule set, at create or
// update, takes /dev/null away.
//
// The nodes of linux.devices get no rule: the runtime spec has them
// created, not allowed (a FIFO there has no cgroup rule at all), and runc
// leaves whether they can be opened to linux.resources.devices.
func deviceAllowList(rules []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	out := make([]specs.LinuxDeviceCgroup, 0, len(rules)+len(defaultDeviceRules)+1)
	if len(rules) == 0 || !isDenyAll(rules[0]) {
		out = append(out, specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"})
	}
	out = append(out, rules...)
	return append(out, defaultDeviceRules...)
}

// isDenyAll reports whether r denies every access to every device.
func isDenyAll(r specs.LinuxDeviceCgroup) bool {
	return !r.Allow && (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil &&
		strings.ContainsRune(r.Access, 'r') && strings.ContainsRune(r.Access, 'w') && strings.ContainsRune(r.Access, 'm')
}
