package rootfs

import "strings"

// What pkg/initplan needs to turn a spec into the fast path's plan: the same
// option parsing, hierarchies, devices and links as the Go set-up, so that
// both paths make the same mounts.

// MountOptions is a mounts[].options list split by what applies it.
type MountOptions struct {
	Flags            uintptr   // mount(2) flags
	Propagation      []uintptr // one mount(2) call each, after the mount
	AttrSet, AttrClr uint64    // mount_setattr, recursive
	Data             string    // filesystem data, comma-separated
	CopyUp, IDMap    bool      // tmpcopyup; idmap or ridmap
}

// ParseMountOptions parses opts as MountAll does.
func ParseMountOptions(opts []string) MountOptions {
	p := parseOptions(opts)
	return MountOptions{
		Flags: p.flags, Propagation: p.propagation, AttrSet: p.attrSet, AttrClr: p.attrClr,
		Data: strings.Join(p.data, ","), CopyUp: p.copyUp, IDMap: p.idmap,
	}
}

// DefaultLinks are the symlinks a /dev the container mounts gets: [target,
// path] pairs.
func DefaultLinks() [][2]string { return defaultLinks }

// DefencesOff reports a test/security positive-control build (the tag
// rt_nodefence), where only the Go path can run undefended: the fast path
// has no such mode.
func DefencesOff() bool { return defencesOff }
