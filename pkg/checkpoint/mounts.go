package checkpoint

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/rootfs"
)

// extMount is one mount CRIU must treat as external: Key is its name in the
// image, Val what it is at this end (dump: the name to record; restore: the
// host path to bind there).
type extMount struct {
	Key, Val string
}

// hierarchy is one cgroup mount of the host under /sys/fs/cgroup: where it
// is mounted and the key of pkg/cgroups' Paths for it ("" for cgroup2).
type hierarchy struct {
	Mountpoint string
	Key        string
}

// mountSource says how the container's mounts look to CRIU. Spec is the
// container's spec; CgroupPaths its cgroup directories (Paths of its
// manager); Hierarchies the host's cgroup mounts; MaskedFile reports
// whether a masked path is a file in the running container (runc only
// declares those: a masked directory is a tmpfs, which CRIU dumps).
type mountSource struct {
	Spec        *specs.Spec
	CgroupPaths map[string]string
	Hierarchies []hierarchy
	MaskedFile  func(p string) bool
}

// dumpMounts lists the external mounts of a dump, as runc declares them:
// every bind mount and every device node (bound from the host in a user
// namespace; harmless otherwise) keyed by its destination; with no cgroup
// namespace, each cgroup hierarchy bound from the host; each masked file,
// which is a bind of /dev/null, as "/dev/null". The image then records names,
// not host paths, so that restore can bind whatever the new bundle says.
func dumpMounts(src mountSource) []extMount {
	var out []extMount
	for _, b := range externalBinds(src) {
		out = append(out, extMount{Key: b.Key, Val: b.Key})
	}
	for _, p := range src.Spec.Linux.MaskedPaths {
		if src.MaskedFile != nil && src.MaskedFile(p) {
			out = append(out, extMount{Key: cleanDest(p), Val: "/dev/null"})
		}
	}
	return dedup(out)
}

// restoreMounts lists the external mounts of a restore: each name that
// dumpMounts recorded with the host path it now stands for.
func restoreMounts(src mountSource) []extMount {
	out := externalBinds(src)
	if len(src.Spec.Linux.MaskedPaths) > 0 {
		out = append(out, extMount{Key: "/dev/null", Val: "/dev/null"})
	}
	return dedup(out)
}

// externalBinds are the binds from the host: Key is the destination in the
// container, Val the host source.
func externalBinds(src mountSource) []extMount {
	s := src.Spec
	var out []extMount
	hasCgroupNS := false
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			hasCgroupNS = true
		}
	}
	for _, m := range s.Mounts {
		switch {
		case isBind(m):
			out = append(out, extMount{Key: cleanDest(m.Destination), Val: m.Source})
		case m.Type == "cgroup" && !hasCgroupNS:
			// rt-init binds the container's own directory of each
			// hierarchy from the host (pkg/rootfs mountCgroup).
			for _, h := range src.Hierarchies {
				dest := m.Destination
				if !(len(src.Hierarchies) == 1 && h.Mountpoint == "/sys/fs/cgroup") {
					dest = path.Join(m.Destination, strings.TrimPrefix(h.Mountpoint, "/sys/fs/cgroup/"))
				}
				source, ok := src.CgroupPaths[h.Key]
				if !ok {
					source = h.Mountpoint
				}
				out = append(out, extMount{Key: cleanDest(dest), Val: source})
			}
		}
	}
	devices := append([]specs.LinuxDevice{}, s.Linux.Devices...)
	devices = append(devices, rootfs.DefaultDevices...)
	for _, d := range devices {
		// A device is bound from the host only in a user namespace
		// (or where mknod is refused); declaring a mknod'ed one is
		// harmless, CRIU ignores keys that match no mount.
		out = append(out, extMount{Key: cleanDest(d.Path), Val: d.Path})
	}
	return out
}

// isBind reports whether m is a bind mount, by type or by option, as
// pkg/rootfs decides.
func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// cleanDest is a mount destination as CRIU sees it inside the container:
// absolute and clean (no "..", no trailing slash).
func cleanDest(p string) string { return path.Clean("/" + p) }

// dedup keeps the first of each key, in order: CRIU refuses a key given
// twice.
func dedup(in []extMount) []extMount {
	seen := map[string]bool{}
	out := in[:0]
	for _, m := range in {
		if !seen[m.Key] {
			seen[m.Key] = true
			out = append(out, m)
		}
	}
	return out
}

// readHierarchies lists the cgroup hierarchies mounted under /sys/fs/cgroup
// in this process's mount namespace (where rt-init binds them from),
// keyed as Paths keys them: by the first of the hierarchy's keys. pkg/cgroups
// parses mountinfo for it. None on error: then no cgroup bind is declared.
func readHierarchies() []hierarchy {
	ms, err := cgroups.Mounts()
	if err != nil {
		return nil
	}
	var out []hierarchy
	for _, m := range ms {
		if strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup") {
			out = append(out, hierarchy{Mountpoint: m.Mountpoint, Key: m.Keys[0]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mountpoint < out[j].Mountpoint })
	return out
}

// maskedFileIn returns a MaskedFile for the container whose init is pid:
// whether the masked path is a non-directory seen from the init's root.
func maskedFileIn(pid int) func(string) bool {
	return func(p string) bool {
		fi, err := os.Stat(filepath.Join("/proc", itoa(pid), "root", p))
		return err == nil && !fi.IsDir()
	}
}
