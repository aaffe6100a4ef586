package fs

import (
	"fmt"
	"strconv"
	"strings"
)

// The planner's builders, a file per linux.resources section, turn their
// section into steps, v1 or cgroup2, validating as they go. They read only
// what exists before any write: host files, and on v1 the current value a
// write order depends on. Here are the helpers they share.

const res = "linux.resources."

// i64 and u64 read an optional number, nil being 0 (unset).
func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func u64(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// maxOr is cgroup2's spelling of a v1 limit: -1 is "max".
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

// limit checks a byte limit that is -1 (none), 0 (unset) or positive.
func (p *planner) limit(field string, v int64) {
	if v < -1 {
		p.bad(field, "%d is not a limit (bytes, or -1 for none)", v)
	}
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// readInt reads a cgroup file holding one integer.
func readInt(path string) (int64, error) {
	data, err := readFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimSpace(string(data))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %q is not a number", path, s)
	}
	return v, nil
}
