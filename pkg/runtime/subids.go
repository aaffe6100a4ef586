package runtime

// A rootless user's id maps beyond their own id: newuidmap and newgidmap
// (shadow's setuid helpers, Debian's uidmap) write them, within the user's
// ranges in /etc/subuid and /etc/subgid.

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// selfMapOnly reports whether maps is what an unprivileged process may
// write itself: one id, its own.
func selfMapOnly(maps []specs.LinuxIDMapping, own int) bool {
	return len(maps) == 0 || len(maps) == 1 && maps[0].Size == 1 && int64(maps[0].HostID) == int64(own)
}

// idMapHelper is one of newuidmap and newgidmap with what it maps.
type idMapHelper struct {
	field, helper, file string
	maps                []specs.LinuxIDMapping
	own                 int
	subIDs              func() ([]user.SubID, error)
}

// writeSubIDMaps writes pid's uid and gid maps through newuidmap and
// newgidmap, after checking each range against the user's own id and
// subordinate ranges, so that a mapping the helper would refuse is an
// error naming the field.
func writeSubIDMaps(pid int, l *specs.Linux) error {
	for _, h := range []idMapHelper{
		{"linux.uidMappings", "newuidmap", "/etc/subuid", l.UIDMappings, os.Geteuid(), user.CurrentUserSubUIDs},
		{"linux.gidMappings", "newgidmap", "/etc/subgid", l.GIDMappings, os.Getegid(), user.CurrentUserSubGIDs},
	} {
		if len(h.maps) == 0 {
			continue
		}
		ranges, err := h.subIDs()
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("%s: read %s: %w", h.field, h.file, err)
		}
		if err := checkSubIDs(h, ranges); err != nil {
			return err
		}
		args := []string{strconv.Itoa(pid)}
		for _, m := range h.maps {
			args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
		}
		if out, err := exec.Command(h.helper, args...).CombinedOutput(); err != nil {
			msg := strings.Join(strings.Fields(string(out)), " ")
			return fmt.Errorf("%s: %s: %w: %s (install uidmap for newuidmap and newgidmap)", h.field, h.helper, err, msg)
		}
	}
	return nil
}

// checkSubIDs refuses a range of h.maps that is neither h.own alone nor
// inside one of ranges.
func checkSubIDs(h idMapHelper, ranges []user.SubID) error {
	for i, m := range h.maps {
		lo, hi := int64(m.HostID), int64(m.HostID)+int64(m.Size)
		if m.Size == 1 && lo == int64(h.own) {
			continue
		}
		inside := false
		for _, r := range ranges {
			if lo >= r.SubID && hi <= r.SubID+r.Count {
				inside = true
				break
			}
		}
		if !inside {
			have := make([]string, 0, len(ranges))
			for _, r := range ranges {
				have = append(have, fmt.Sprintf("%d-%d", r.SubID, r.SubID+r.Count-1))
			}
			if len(have) == 0 {
				have = append(have, "none")
			}
			return fmt.Errorf("%s[%d] (container %d, host %d, size %d): host ids %d-%d are neither id %d nor in the subordinate ranges %s gives this user (%s)",
				h.field, i, m.ContainerID, m.HostID, m.Size, lo, hi-1, h.own, h.file, strings.Join(have, ", "))
		}
	}
	return nil
}
