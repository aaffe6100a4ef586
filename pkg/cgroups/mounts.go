package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
)

// Mount is one cgroup hierarchy mounted in this mount namespace.
type Mount struct {
	// Mountpoint is where the hierarchy is mounted (/sys/fs/cgroup/memory).
	Mountpoint string
	// Root is the cgroup shown at the mountpoint (field 4 of mountinfo): "/"
	// unless a subtree was bind-mounted there. It is in the same coordinates
	// as /proc/self/cgroup, which is what turning a relative path into a
	// directory needs.
	Root string
	// Keys name the hierarchy in Manager.Paths: the v1 controllers and the
	// "name=…" of a named hierarchy, in mount option order, or the single ""
	// of cgroup2.
	Keys []string
}

// Unified reports whether m is the cgroup2 hierarchy.
func (m *Mount) Unified() bool { return len(m.Keys) == 1 && m.Keys[0] == "" }

// Dir is the directory of cgroup (as /proc/self/cgroup names it) below
// m's mountpoint; false if cgroup is outside the part of the hierarchy
// mounted there.
func (m *Mount) Dir(cgroup string) (string, bool) {
	rel, err := filepath.Rel(m.Root, cgroup)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.Join(m.Mountpoint, rel), true
}

var (
	discoverOnce sync.Once
	discovered   []Mount
	discoverErr  error
)

// Mounts lists the cgroup hierarchies mounted in this process's mount
// namespace, one mount per hierarchy, none that a later mount covers. The
// drivers place containers in all of them. mountinfo is read once per
// process: the runtime never mounts cgroups on the host, and a command
// handles one container. The list is the caller's to change.
func Mounts() ([]Mount, error) {
	hs, err := discover()
	if err != nil {
		return nil, err
	}
	out := make([]Mount, len(hs))
	for i, h := range hs {
		out[i] = h
		out[i].Keys = slices.Clone(h.Keys)
	}
	return out, nil
}

// discover reads mountinfo, once.
func discover() ([]Mount, error) {
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
func parseMountinfo(data []byte) ([]Mount, error) {
	type mount struct {
		Mount
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
			if !mounts[i].hidden && covers(mp, mounts[i].Mountpoint) {
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
			Mount: Mount{Mountpoint: mp, Root: info.Root, Keys: keys},
			dev:   fmt.Sprintf("%d:%d", info.Major, info.Minor),
		})
	}
	var hs []Mount
	index := map[string]int{} // dev → position in hs
	for _, m := range mounts {
		if m.hidden {
			continue
		}
		i, seen := index[m.dev]
		switch {
		case !seen:
			index[m.dev] = len(hs)
			hs = append(hs, m.Mount)
		case hs[i].Root != "/" && m.Root == "/":
			hs[i] = m.Mount
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

// OwnCgroups reads /proc/self/cgroup: the cgroup of this process in each
// hierarchy, keyed like Mount.Keys. Not cached: the process may have been
// moved since.
func OwnCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return ParseProcCgroup(data)
}

// ParseProcCgroup parses /proc/<pid>/cgroup ("4:memory:/a", "0::/a").
func ParseProcCgroup(data []byte) (map[string]string, error) {
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
