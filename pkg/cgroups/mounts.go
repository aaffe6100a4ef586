package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
)

// hierarchy is one mounted cgroup hierarchy as this process sees it.
type hierarchy struct {
	// mountpoint is where the hierarchy is mounted (/sys/fs/cgroup/memory).
	mountpoint string
	// root is the cgroup shown at the mountpoint (field 4 of mountinfo): "/"
	// unless a subtree was bind-mounted there. It is in the same coordinates
	// as /proc/self/cgroup, which is what turning a relative path into a
	// directory needs.
	root string
	// keys name the hierarchy in Paths(): the v1 controllers and the
	// "name=…" of a named hierarchy, or the single "" of cgroup2.
	keys []string
}

// unified reports whether h is the cgroup2 hierarchy.
func (h *hierarchy) unified() bool { return len(h.keys) == 1 && h.keys[0] == "" }

var (
	discoverOnce sync.Once
	discovered   []hierarchy
	discoverErr  error
)

// Mount is one cgroup hierarchy mounted in this mount namespace: where, and
// the keys that name it in Manager.Paths (the v1 controllers and the
// "name=…" of a named hierarchy, in mount option order, or "" for cgroup2).
type Mount struct {
	Mountpoint string
	Keys       []string
}

// Mounts lists the cgroup hierarchies mounted in this process's mount
// namespace, as New sees them: one mount per hierarchy, none that a later
// mount covers. Like New it reads mountinfo once per process.
func Mounts() ([]Mount, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	out := make([]Mount, len(hs))
	for i, h := range hs {
		out[i] = Mount{Mountpoint: h.mountpoint, Keys: slices.Clone(h.keys)}
	}
	return out, nil
}

// hierarchies returns the cgroup hierarchies mounted in this process's mount
// namespace. mountinfo is read once per process: the runtime never mounts
// cgroups on the host, and a command handles one container.
func hierarchies() ([]hierarchy, error) {
	discoverOnce.Do(func() {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			discoverErr = fmt.Errorf("cgroups: %w", err)
			return
		}
		discovered, discoverErr = parseMountinfo(data)
		if discoverErr == nil && len(discovered) == 0 {
			discoverErr = errors.New("cgroups: no cgroup hierarchy is mounted (see /proc/self/mountinfo)")
		}
	})
	return discovered, discoverErr
}

// parseMountinfo picks the cgroup and cgroup2 mounts out of mountinfo,
// keeping one mount per hierarchy (the same superblock, device field 3, can
// be mounted several times; the first mount of the hierarchy's root wins,
// else the first mount). A mount that a later mount covers (a new tmpfs on
// /sys/fs/cgroup, say) is dropped: its path now shows something else.
func parseMountinfo(data []byte) ([]hierarchy, error) {
	type mount struct {
		hierarchy
		dev    string
		hidden bool
	}
	infos, err := mountinfo.GetMountsFromReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, fmt.Errorf("cgroups: parse /proc/self/mountinfo: %w", err)
	}
	var mounts []mount
	for _, info := range infos {
		mp := info.Mountpoint
		for i := range mounts {
			if !mounts[i].hidden && covers(mp, mounts[i].mountpoint) {
				mounts[i].hidden = true
			}
		}
		var keys []string
		switch info.FSType {
		case "cgroup2":
			keys = []string{""}
		case "cgroup":
			keys = v1Keys(info.VFSOptions)
			if len(keys) == 0 {
				continue // a hierarchy with neither controller nor name cannot be mounted; be safe
			}
		default:
			continue
		}
		mounts = append(mounts, mount{
			hierarchy: hierarchy{mountpoint: mp, root: info.Root, keys: keys},
			dev:       fmt.Sprintf("%d:%d", info.Major, info.Minor),
		})
	}
	var hs []hierarchy
	index := map[string]int{} // dev → position in hs
	for _, m := range mounts {
		if m.hidden {
			continue
		}
		i, seen := index[m.dev]
		switch {
		case !seen:
			index[m.dev] = len(hs)
			hs = append(hs, m.hierarchy)
		case hs[i].root != "/" && m.root == "/":
			hs[i] = m.hierarchy
		}
	}
	return hs, nil
}

// covers reports whether a mount on mp hides what is mounted on path.
func covers(mp, path string) bool {
	return mp == path || mp == "/" || strings.HasPrefix(path, mp+"/")
}

// v1Keys returns the controllers and the name of a v1 hierarchy from its
// super options ("rw,cpu,cpuacct", "rw,xattr,name=systemd"): everything but
// the flags the kernel prints beside them (cgroup1_show_options).
func v1Keys(opts string) []string {
	var keys []string
	for o := range strings.SplitSeq(opts, ",") {
		switch {
		case o == "rw", o == "ro", o == "noprefix", o == "xattr", o == "cpuset_v2_mode",
			o == "favordynmods", o == "clone_children", o == "none", o == "all",
			strings.HasPrefix(o, "release_agent="), o == "":
		default:
			keys = append(keys, o)
		}
	}
	return keys
}

// ownCgroups reads /proc/self/cgroup: the cgroup of this process in each
// hierarchy, keyed like hierarchy.keys. It is read only for a relative
// cgroupsPath (and when Apply has to give a pid back), not cached: the
// process may have been moved since.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return parseProcCgroup(data)
}

// parseProcCgroup parses /proc/<pid>/cgroup ("4:memory:/a", "0::/a").
func parseProcCgroup(data []byte) (map[string]string, error) {
	own := map[string]string{}
	for line := range bytes.Lines(data) {
		l := strings.TrimSuffix(string(line), "\n")
		if l == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(l, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cgroups: parse /proc/self/cgroup: malformed line %q", l)
		}
		if id == "0" && ctrls == "" {
			own[""] = path
			continue
		}
		for c := range strings.SplitSeq(ctrls, ",") {
			own[c] = path
		}
	}
	return own, nil
}
