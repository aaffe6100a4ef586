package rootfs

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountLabel is linux.mountLabel, "" without one.
func mountLabel(s *specs.Spec) string {
	if s == nil || s.Linux == nil {
		return ""
	}
	return s.Linux.MountLabel
}

// withMountLabel adds the SELinux context of linux.mountLabel to the data
// of a mount of type typ, as runc does (its label.FormatMountLabel): every
// mount rt-init makes but binds, proc and sysfs, which take no context.
// The runtime refuses a label on a host without SELinux before create.
func withMountLabel(data, typ, label string) string {
	if label == "" || typ == "proc" || typ == "sysfs" {
		return data
	}
	ctx := "context=" + strconv.Quote(label)
	if data == "" {
		return ctx
	}
	return data + "," + ctx
}

// mountLabelled mounts with data; an mqueue that refuses the context is
// mounted again without it (plain, the data without the label), as runc
// does: some kernels' mqueue takes no context.
func mountLabelled(source, target, typ string, flags uintptr, data, plain string) error {
	err := unix.Mount(source, target, typ, flags, data)
	if err != nil && typ == "mqueue" && data != plain {
		err = unix.Mount(source, target, typ, flags, plain)
	}
	return err
}
