// Package rootfs builds a container's root filesystem: the spec's mounts,
// /dev, masked and read-only paths, and the switch into the new root.
//
// Every destination is resolved inside the rootfs; rootfs must never follow a
// symlink or ".." out of the root.
package rootfs

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MountOption says what one `mounts[].options` word does. Words not in
// Options are passed to mount(2) as filesystem data.
type MountOption struct {
	// Flag is the MS_* bit the word sets (or clears, with Clear).
	Flag uintptr
	// Clear means the word removes Flag ("rw" removes MS_RDONLY).
	Clear bool
	// Propagation marks MS_SHARED/MS_PRIVATE/MS_SLAVE/MS_UNBINDABLE words,
	// which need a mount(2) call of their own after the mount.
	Propagation bool
	// CopyUp marks tmpcopyup.
	CopyUp bool
	// Recursive marks the "r"-prefixed words, applied with mount_setattr(2)
	// to the whole mount tree; Attr is their MOUNT_ATTR_* value (0 for
	// rrelatime: relatime is the atime field's zero).
	Recursive bool
	Attr      uint64
	// AttrClear means the recursive word clears Attr.
	AttrClear bool
	// IDMap marks idmap and ridmap (runtime-spec 1.2): the bind is
	// idmapped (MOUNT_ATTR_IDMAP, see MountIDMap), never given to mount(2);
	// IDMapRecursive (ridmap) maps every mount of an rbind's tree, not only
	// its top.
	IDMap, IDMapRecursive bool
}

// Options is the table of mount option words rt understands. The mount code
// and `rt features` both read it, so the features document cannot claim a
// word the code does not handle.
var Options = map[string]MountOption{
	"async":         {Flag: unix.MS_SYNCHRONOUS, Clear: true},
	"atime":         {Flag: unix.MS_NOATIME, Clear: true},
	"bind":          {Flag: unix.MS_BIND},
	"defaults":      {},
	"dev":           {Flag: unix.MS_NODEV, Clear: true},
	"diratime":      {Flag: unix.MS_NODIRATIME, Clear: true},
	"dirsync":       {Flag: unix.MS_DIRSYNC},
	"exec":          {Flag: unix.MS_NOEXEC, Clear: true},
	"iversion":      {Flag: unix.MS_I_VERSION},
	"lazytime":      {Flag: unix.MS_LAZYTIME},
	"loud":          {Flag: unix.MS_SILENT, Clear: true},
	"mand":          {Flag: unix.MS_MANDLOCK},
	"noatime":       {Flag: unix.MS_NOATIME},
	"nodev":         {Flag: unix.MS_NODEV},
	"nodiratime":    {Flag: unix.MS_NODIRATIME},
	"noexec":        {Flag: unix.MS_NOEXEC},
	"noiversion":    {Flag: unix.MS_I_VERSION, Clear: true},
	"nolazytime":    {Flag: unix.MS_LAZYTIME, Clear: true},
	"nomand":        {Flag: unix.MS_MANDLOCK, Clear: true},
	"norelatime":    {Flag: unix.MS_RELATIME, Clear: true},
	"nostrictatime": {Flag: unix.MS_STRICTATIME, Clear: true},
	"nosuid":        {Flag: unix.MS_NOSUID},
	"nosymfollow":   {Flag: unix.MS_NOSYMFOLLOW},
	"rbind":         {Flag: unix.MS_BIND | unix.MS_REC},
	"relatime":      {Flag: unix.MS_RELATIME},
	"remount":       {Flag: unix.MS_REMOUNT},
	"ro":            {Flag: unix.MS_RDONLY},
	"rw":            {Flag: unix.MS_RDONLY, Clear: true},
	"silent":        {Flag: unix.MS_SILENT},
	"strictatime":   {Flag: unix.MS_STRICTATIME},
	"suid":          {Flag: unix.MS_NOSUID, Clear: true},
	"symfollow":     {Flag: unix.MS_NOSYMFOLLOW, Clear: true},
	"sync":          {Flag: unix.MS_SYNCHRONOUS},

	// tmpcopyup (podman's, also runc's): a tmpfs starts with a copy of
	// what the directory it covers held.
	"tmpcopyup": {CopyUp: true},

	"idmap":  {IDMap: true},
	"ridmap": {IDMap: true, IDMapRecursive: true},

	"private":     {Flag: unix.MS_PRIVATE, Propagation: true},
	"rprivate":    {Flag: unix.MS_PRIVATE | unix.MS_REC, Propagation: true},
	"shared":      {Flag: unix.MS_SHARED, Propagation: true},
	"rshared":     {Flag: unix.MS_SHARED | unix.MS_REC, Propagation: true},
	"slave":       {Flag: unix.MS_SLAVE, Propagation: true},
	"rslave":      {Flag: unix.MS_SLAVE | unix.MS_REC, Propagation: true},
	"unbindable":  {Flag: unix.MS_UNBINDABLE, Propagation: true},
	"runbindable": {Flag: unix.MS_UNBINDABLE | unix.MS_REC, Propagation: true},

	"rro":            {Recursive: true, Attr: unix.MOUNT_ATTR_RDONLY},
	"rrw":            {Recursive: true, Attr: unix.MOUNT_ATTR_RDONLY, AttrClear: true},
	"rnosuid":        {Recursive: true, Attr: unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {Recursive: true, Attr: unix.MOUNT_ATTR_NOSUID, AttrClear: true},
	"rnodev":         {Recursive: true, Attr: unix.MOUNT_ATTR_NODEV},
	"rdev":           {Recursive: true, Attr: unix.MOUNT_ATTR_NODEV, AttrClear: true},
	"rnoexec":        {Recursive: true, Attr: unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {Recursive: true, Attr: unix.MOUNT_ATTR_NOEXEC, AttrClear: true},
	"rnodiratime":    {Recursive: true, Attr: unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {Recursive: true, Attr: unix.MOUNT_ATTR_NODIRATIME, AttrClear: true},
	"rrelatime":      {Recursive: true, Attr: unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {Recursive: true, Attr: unix.MOUNT_ATTR_RELATIME, AttrClear: true},
	"rnoatime":       {Recursive: true, Attr: unix.MOUNT_ATTR_NOATIME},
	"ratime":         {Recursive: true, Attr: unix.MOUNT_ATTR_NOATIME, AttrClear: true},
	"rstrictatime":   {Recursive: true, Attr: unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {Recursive: true, Attr: unix.MOUNT_ATTR_STRICTATIME, AttrClear: true},
	"rnosymfollow":   {Recursive: true, Attr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {Recursive: true, Attr: unix.MOUNT_ATTR_NOSYMFOLLOW, AttrClear: true},
}

// OptionNames lists the words of Options, sorted.
func OptionNames() []string {
	names := make([]string, 0, len(Options))
	for n := range Options {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BindData returns the words of m's options that would be filesystem data
// (words not in Options) when m is a bind mount (type "bind", or a bind or
// rbind word), in order; nil otherwise. A bind mount takes no filesystem
// data: the kernel ignores it, and it could not be applied to one mount
// point anyway (it belongs to the superblock, which the bind shares), so
// spec.Validate refuses it, as runc does.
func BindData(m specs.Mount) []string {
	if !IsBind(m) {
		return nil
	}
	return parseOptions(m.Options).data
}

// IsBind reports whether m is a bind mount: of type "bind", or with a bind
// or rbind option (whatever its type, which a bind ignores).
func IsBind(m specs.Mount) bool {
	return m.Type == "bind" || parseOptions(m.Options).flags&unix.MS_BIND != 0
}
