package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// cleanPath makes a cgroupsPath safe to join to a directory the way runc's
// cgroupfs driver does: an absolute path is Cleaned, so "/../../etc" is
// "/etc"; a relative one is Cleaned as if rooted and stays relative, so
// "../../etc" is "etc". Neither can climb out of the directory it is joined
// to. "" and "." come back as "" (nothing left), "/" as "/".
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return strings.TrimPrefix(filepath.Clean("/"+p), "/")
}

// ContainerDirs computes the container's directory in every hierarchy of hs,
// keyed by each of the hierarchy's keys (see Manager.Paths). path is the
// spec's linux.cgroupsPath; "" stands for "/"+id.
//
//   - An absolute path is taken from the top of each hierarchy as mounted
//     here: <mountpoint><path>. (If only a subtree of a hierarchy is mounted,
//     as inside a container without a cgroup namespace, that subtree is the
//     top; runc does the same.)
//   - A relative path is taken from the runtime's own cgroup, as runc's
//     cgroupfs driver does: in a v1 hierarchy from the cgroup /proc/self/cgroup
//     names for it, in cgroup2 from the parent of that cgroup (runc's fs2
//     driver: the runtime's own cgroup holds processes, and cgroup2 lets no
//     cgroup with processes hand controllers to children). rt applies the
//     cgroup2 rule to the unified hierarchy of a hybrid host too, where runc's
//     fs driver uses the top of the unified mount instead; both agree when the
//     runtime runs in the root cgroup.
//
// A path that cleans to the top of a hierarchy ("/", "/..") or to the
// runtime's own cgroup (".", "..") is refused: it is not the container's to
// destroy. own is called only for a relative path.
func ContainerDirs(hs []Mount, path, id string, own func() (map[string]string, error)) (map[string]string, error) {
	if path == "" {
		if id == "" {
			return nil, errors.New("cgroups: neither a cgroups path nor a container id")
		}
		path = "/" + id
	}
	inner := cleanPath(path)
	switch inner {
	case "/":
		return nil, fmt.Errorf("cgroups: cgroups path %q is the top of the hierarchy", path)
	case "":
		return nil, fmt.Errorf("cgroups: cgroups path %q is the runtime's own cgroup", path)
	}
	var mine map[string]string
	if !filepath.IsAbs(inner) {
		var err error
		if mine, err = own(); err != nil {
			return nil, err
		}
	}
	dirs := make(map[string]string, len(hs)+4)
	for i := range hs {
		h := &hs[i]
		dir := filepath.Join(h.Mountpoint, inner)
		if mine != nil {
			base, err := ownDir(h, mine)
			if err != nil {
				return nil, err
			}
			dir = filepath.Join(base, inner)
		}
		for _, k := range h.Keys {
			dirs[k] = dir
		}
	}
	return dirs, nil
}

// ownDir is the directory a relative cgroupsPath starts from in h, given the
// runtime's own cgroups (see ContainerDirs).
func ownDir(h *Mount, mine map[string]string) (string, error) {
	cg, ok := "", false
	for _, k := range h.Keys {
		if cg, ok = mine[k]; ok {
			break
		}
	}
	if !ok {
		return "", fmt.Errorf("cgroups: hierarchy %s (%s) is not in /proc/self/cgroup", h.Mountpoint, strings.Join(h.Keys, ","))
	}
	if h.Unified() {
		cg = filepath.Dir(cg)
	}
	dir, ok := h.Dir(cg)
	if !ok {
		return "", fmt.Errorf("cgroups: own cgroup %s is outside the part of the hierarchy mounted on %s (%s)", cg, h.Mountpoint, h.Root)
	}
	return dir, nil
}

// UnderParent places a new container's cgroupsPath under parent, an
// absolute cgroup path that one rt root puts all its containers below (the
// cgroup-parent host setting), so that two roots on one machine never share
// a cgroup even for the same id and the same spec. id is the container's.
//
//   - parent "": path unchanged.
//   - path "": <parent>/<id> (the default /<id>, under parent).
//   - an absolute path P: <parent>/P, P cleaned first so that ".." cannot
//     climb out of parent.
//   - a relative path: unchanged; it stays relative to the runtime's own
//     cgroup (ContainerDirs).
//
// parent must be absolute, clean and not "/"; a path that cleans to "/"
// (parent itself, which holds the root's other containers) is refused.
func UnderParent(parent, path, id string) (string, error) {
	if parent == "" || (path != "" && !filepath.IsAbs(path)) {
		return path, nil
	}
	if err := checkParent(parent); err != nil {
		return "", err
	}
	if path == "" {
		if id == "" {
			return "", errors.New("cgroups: neither a cgroups path nor a container id")
		}
		path = "/" + id
	}
	inner := filepath.Clean(path)
	if inner == "/" {
		return "", fmt.Errorf("cgroups: cgroups path %q under cgroup-parent %s is the parent itself", path, parent)
	}
	return parent + inner, nil
}

// checkParent refuses a cgroup parent that is not an absolute, clean path
// below the top of the hierarchy.
func checkParent(parent string) error {
	if !filepath.IsAbs(parent) || filepath.Clean(parent) != parent || parent == "/" {
		return fmt.Errorf("cgroups: cgroup-parent %q: not an absolute, clean path below the top of the hierarchy", parent)
	}
	return nil
}
