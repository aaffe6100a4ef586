package fs

// Why a cgroup file is missing or refused a value, in the words of the
// error Set returns.

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// missing is the error of a step whose file does not exist.
func missing(s *step) error {
	what := s.path()
	if s.alt != "" {
		what += " (nor " + s.alt + ")"
	}
	hint := s.hint
	if hint == "" {
		hint = missingHint(s.file)
	}
	if hint != "" {
		hint = ": " + hint
	}
	return fmt.Errorf("cgroups: %s: %s does not exist%s", s.field, what, hint)
}

// missingHint says why a cgroup file can be missing.
func missingHint(file string) string {
	switch {
	case file == "memory.memsw.limit_in_bytes", file == "memory.swap.max":
		return "swap accounting is off (the kernel needs CONFIG_MEMCG_SWAP and swapaccount=1)"
	case file == "blkio.weight", file == "blkio.weight_device":
		return "no proportional-weight I/O scheduler: CFQ is gone since Linux 5.0 and BFQ is not loaded"
	case file == "blkio.leaf_weight", file == "blkio.leaf_weight_device":
		return "leaf weights were CFQ's, which Linux 5.0 removed"
	case file == "cpu.cfs_burst_us", file == "cpu.max.burst":
		return "CPU burst needs Linux 5.14"
	case file == "cpu.idle":
		return "cpu.idle needs Linux 5.15"
	case strings.HasPrefix(file, "cpu.rt_"):
		return "the kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)"
	case strings.HasPrefix(file, "cpu.cfs_"):
		return "the kernel has no CFS bandwidth control (CONFIG_CFS_BANDWIDTH)"
	case strings.HasPrefix(file, "blkio.throttle."), file == "io.max":
		return "the kernel has no block I/O throttling (CONFIG_BLK_DEV_THROTTLING)"
	}
	return ""
}

// errnoHint explains a write error where the errno alone is cryptic.
func errnoHint(file string, err error) string {
	switch {
	case errors.Is(err, unix.EBUSY) && (file == "memory.limit_in_bytes" || file == "memory.memsw.limit_in_bytes" || file == "memory.max"):
		return "the cgroup uses more than that and the kernel could not reclaim enough"
	case errors.Is(err, unix.EINVAL) && file == "memory.use_hierarchy":
		return "this kernel no longer has non-hierarchical accounting"
	case errors.Is(err, unix.EPERM) && file == "devices.allow":
		return "a parent cgroup denies the device"
	case errors.Is(err, unix.ENODEV) || (errors.Is(err, unix.EINVAL) && strings.HasSuffix(file, "_device")):
		return "no such block device, or not a whole disk"
	case errors.Is(err, unix.EOPNOTSUPP) && strings.Contains(file, "bfq"):
		return "the device does not use the BFQ scheduler"
	}
	return ""
}
