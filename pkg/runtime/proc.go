package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// errNoProcess means the pid does not exist (or is a zombie, which for a
// container is just as dead).
var errNoProcess = errors.New("no such process")

// ProcStartTime returns field 22 of /proc/<pid>/stat (start time in clock
// ticks since boot), which with the pid identifies a process for its whole
// life: a recycled pid has a different start time.
func ProcStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, errNoProcess
		}
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the fields
	// after it start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no command field", pid)
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	if fields[0][0] == 'Z' || fields[0][0] == 'X' {
		return 0, errNoProcess
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}

// alive reports whether pid is still the process that had startTime.
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ProcStartTime(pid)
	return err == nil && st == startTime
}
