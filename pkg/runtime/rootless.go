package runtime

// Rootless containers: what rt does without the privileges of root, above
// all without a cgroup it may write to.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/store"
)

// rootless reports whether --rootless is in effect: true, or auto (the
// default) when rt is not root or runs in a user namespace, as runc.
func (r *Runtime) rootless() bool {
	switch r.cfg.Rootless {
	case "true":
		return true
	case "false":
		return false
	}
	return os.Geteuid() != 0 || userns.RunningInUserNS()
}

// rootlessCgroups is m when rt may write every directory m would make (a
// cgroup delegated to the user), else no cgroups at all, with a warning;
// a limit in res then fails create, naming the field, since nothing could
// enforce it.
func (r *Runtime) rootlessCgroups(id string, res *specs.LinuxResources, m cgroups.Manager) (cgroups.Manager, error) {
	dir := unwritable(m.Paths())
	if dir == "" {
		return delegated{m}, nil
	}
	if field := firstLimit(res); field != "" {
		return nil, fmt.Errorf("%s: rootless: no cgroup is delegated to uid %d (%s is not writable): delegate one (docs/rootless.md) or remove the limit",
			field, os.Geteuid(), dir)
	}
	r.log.Warn("rootless: no cgroup is delegated to this user; the container runs without cgroups", "id", id, "unwritable", dir)
	return noCgroups{fs.Load(nil)}, nil
}

// unwritable is the first directory (or, for one that does not exist yet,
// its nearest ancestor) of paths that rt may not write, "" if none.
func unwritable(paths map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(paths)) {
		dir := paths[k]
		for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
			err := unix.Faccessat(unix.AT_FDCWD, d, unix.W_OK, unix.AT_EACCESS)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil {
				return d
			}
			break
		}
	}
	return ""
}

// firstLimit names the first section of res that sets a limit; device
// rules do not count (without a cgroup the user namespace already keeps
// the container from devices it has no right to).
func firstLimit(res *specs.LinuxResources) string {
	if res == nil {
		return ""
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"memory", res.Memory != nil}, {"cpu", res.CPU != nil}, {"pids", res.Pids != nil},
		{"blockIO", res.BlockIO != nil}, {"hugepageLimits", len(res.HugepageLimits) > 0},
		{"network", res.Network != nil}, {"rdma", len(res.Rdma) > 0}, {"unified", len(res.Unified) > 0},
	} {
		if f.set {
			return "linux.resources." + f.name
		}
	}
	return ""
}

// delegated is a rootless container's manager in a cgroup delegated to
// its user: device rules are left out, since writing them needs
// CAP_SYS_ADMIN on the host (runc leaves them out too).
type delegated struct{ cgroups.Manager }

func (d delegated) Set(r *specs.LinuxResources) error { return d.Manager.Set(withoutDevices(r)) }

// withoutDevices is r without its device rules (nil stays nil).
func withoutDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	c := *r
	c.Devices = nil
	return &c
}

// needCgroup refuses what only a cgroup can do (pause, resume, update) on
// a container that has none: a rootless one without a delegated cgroup.
func needCgroup(st *store.State) error {
	if len(st.CgroupPaths) == 0 && st.CgroupDriver != "systemd" {
		return fmt.Errorf("%w (a rootless container runs without one unless a cgroup is delegated to its user)", cgroups.ErrNoCgroup)
	}
	return nil
}

// noCgroups is a rootless container's cgroup manager when no cgroup is
// delegated: nothing to make, join or remove, and no paths recorded, so
// that later commands see a container without a cgroup (ErrNoCgroup).
type noCgroups struct{ *fs.Manager }

func (noCgroups) Apply(int) error                  { return nil }
func (noCgroups) Prepare() (*cgroups.Entry, error) { return nil, errors.ErrUnsupported }
func (noCgroups) Destroy() error                   { return nil }

// Set accepts the device rules every container gets (see firstLimit) and
// nothing else.
func (noCgroups) Set(r *specs.LinuxResources) error {
	if firstLimit(r) != "" {
		return errors.New("rootless: the container has no cgroup to set limits on")
	}
	return nil
}

// processTree is root and its descendants, from /proc's parent pids.
func processTree(root int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, err := ProcStat(pid); err == nil && len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], pid)
			}
		}
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	slices.Sort(tree)
	return tree
}
