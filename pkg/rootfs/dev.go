package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultDevices are the devices every container gets, as the runtime spec
// lists them.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

var defaultLinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
	{"pts/ptmx", "/dev/ptmx"},
}

// setupDev creates the default devices, linux.devices and the standard
// links. Devices are made with mknod, or bound from the host where mknod is
// not allowed (in a user namespace). Links are made only in a /dev the
// container mounted itself, so that a rootfs's own /dev stays as it is.
func setupDev(c *Config, r *root, devMounted bool) error {
	devices := Devices(c.Spec)
	// Resolving a directory inside the root is a walk of its own; most
	// devices share /dev, so each directory is resolved once.
	dirs := map[string]*os.File{}
	defer func() {
		for _, f := range dirs {
			f.Close()
		}
	}()
	dir := func(path string) (*os.File, error) {
		if f, ok := dirs[path]; ok {
			return f, nil
		}
		f, err := r.dir(path)
		if err != nil {
			return nil, err
		}
		dirs[path] = f
		return f, nil
	}
	for i, d := range devices {
		if err := makeDevice(c, r, d, i < len(c.Spec.Linux.Devices), dir); err != nil {
			return err
		}
	}
	if !devMounted {
		return nil
	}
	parent, err := dir("/dev")
	if err != nil {
		return err
	}
	for _, l := range defaultLinks {
		err := unix.Symlinkat(l[0], int(parent.Fd()), filepath.Base(l[1]))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s -> %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

// Devices lists the devices a container gets: linux.devices first, then
// the DefaultDevices none of them overrides, with mode 0666. The first
// len(s.Linux.Devices) are the spec's.
func Devices(s *specs.Spec) []specs.LinuxDevice {
	seen := map[string]bool{}
	devices := append([]specs.LinuxDevice{}, s.Linux.Devices...)
	for _, d := range devices {
		seen[filepath.Clean(d.Path)] = true
	}
	for _, d := range DefaultDevices {
		if !seen[d.Path] {
			mode := os.FileMode(0o666)
			d.FileMode = &mode
			devices = append(devices, d)
		}
	}
	return devices
}

// DeviceFileType is the file type (S_IFCHR, S_IFBLK, S_IFIFO) of a
// linux.devices type; ok is false for a type the spec does not define.
func DeviceFileType(typ string) (t uint32, ok bool) {
	switch typ {
	case "c", "u":
		return unix.S_IFCHR, true
	case "b":
		return unix.S_IFBLK, true
	case "p":
		return unix.S_IFIFO, true
	}
	return 0, false
}

// makeDevice makes the device d, fromSpec saying it is a linux.devices
// entry rather than one of DefaultDevices. What the rootfs already has at
// its path decides first: the same device (type and numbers) is kept as it
// is, as runc keeps it; an empty regular file, the mount point an earlier
// bind of the device left, is the device's place; anything else is an
// error for a linux.devices entry (the spec: the runtime MUST generate an
// error when a file at path does not match) and replaced for a default
// device, which the runtime must supply.
func makeDevice(c *Config, r *root, d specs.LinuxDevice, fromSpec bool, dir func(string) (*os.File, error)) error {
	typ, ok := DeviceFileType(d.Type)
	if !ok {
		return fmt.Errorf("device %s: type %q not supported (c, u, b or p)", d.Path, d.Type)
	}
	parent, err := dir(filepath.Dir(d.Path))
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	name := filepath.Base(d.Path)
	var st unix.Stat_t
	exists := true
	switch err := unix.Fstatat(int(parent.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
		exists = false
	case err != nil:
		return fmt.Errorf("device %s: %w", d.Path, err)
	case isDevice(&st, typ, d):
		if !c.UserNS {
			return nil
		}
	case st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0:
	case fromSpec:
		return fmt.Errorf("linux.devices: %s is %s in the rootfs, not %s", d.Path, describeFile(&st), describeDevice(d))
	}
	if c.UserNS {
		return bindDevice(c, r, d)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	if exists {
		// An empty file, or what a default device replaces.
		if err := unix.Unlinkat(int(parent.Fd()), name, 0); err != nil {
			return fmt.Errorf("device %s: replace %s: %w", d.Path, describeFile(&st), err)
		}
	}
	// O_PATH handles do not allow mknodat; reopen the parent as a dir.
	dirfd, err := unix.Openat(int(parent.Fd()), ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device %s: open parent: %w", d.Path, err)
	}
	defer unix.Close(dirfd)
	if err := unix.Mknodat(dirfd, name, typ|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		if errors.Is(err, unix.EPERM) {
			return bindDevice(c, r, d)
		}
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	// mknod applies the umask; the spec's mode is what counts.
	if err := chmodNoFollow(dirfd, name, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", d.Path, err)
		}
	}
	return nil
}

// chmodNoFollow sets the mode of dirfd's name without following a symlink
// there: a name swapped for a symlink between mknod and chmod (a shared
// /dev, racing) must not have rt chmod whatever it points at (the race
// tests saw a test-owned file made 0666 that way). fchmodat2 (Linux 6.6)
// with AT_SYMLINK_NOFOLLOW refuses a symlink (EOPNOTSUPP); where the kernel
// has no fchmodat2, the node is opened O_PATH|O_NOFOLLOW, checked, and
// chmodded through its fd, so that what is chmodded is what was checked.
func chmodNoFollow(dirfd int, name string, perm uint32) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(perm), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	switch errno {
	case 0:
		return nil
	case unix.EOPNOTSUPP:
		return fmt.Errorf("%s became a symlink: %w", name, unix.ELOOP)
	case unix.ENOSYS:
	default:
		return errno
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("%s became a symlink: %w", name, unix.ELOOP)
	}
	return unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), perm)
}

// isDevice reports whether st is the device d, of file type typ: the same
// type and, but for a FIFO, the same numbers.
func isDevice(st *unix.Stat_t, typ uint32, d specs.LinuxDevice) bool {
	if st.Mode&unix.S_IFMT != typ {
		return false
	}
	return typ == unix.S_IFIFO || (int64(unix.Major(st.Rdev)) == d.Major && int64(unix.Minor(st.Rdev)) == d.Minor)
}

// describeFile says what kind of file st is, with a device's numbers.
func describeFile(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return fmt.Sprintf("character device %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		return fmt.Sprintf("block device %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFIFO:
		return "a fifo"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return fmt.Sprintf("a file of mode %#o", st.Mode)
}

// describeDevice says what d asks for, as describeFile would say it.
func describeDevice(d specs.LinuxDevice) string {
	switch d.Type {
	case "b":
		return fmt.Sprintf("block device %d:%d", d.Major, d.Minor)
	case "p":
		return "a fifo"
	}
	return fmt.Sprintf("character device %d:%d", d.Major, d.Minor)
}

// bindDevice binds the host's device node at the same path.
func bindDevice(c *Config, r *root, d specs.LinuxDevice) error {
	dst, err := r.file(d.Path)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer dst.Close()
	if err := unix.Mount(d.Path, fdPath(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind device %s from the host: %w", d.Path, err)
	}
	if c.HostMounts == nil {
		return nil
	}
	mnt, err := r.reopen(d.Path)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer mnt.Close()
	if err := c.slaveBind(fdPath(mnt)); err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	return nil
}
