package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// errNoProcess means the pid does not exist (or is a zombie, which for a
// container is just as dead).
var errNoProcess = errors.New("no such process")

// ProcStat returns the fields of /proc/<pid>/stat that follow the command
// name: [0] is field 3 (state), [3] field 6 (session), [19] field 22
// (start time). A pid that does not exist is errNoProcess.
func ProcStat(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNoProcess
		}
		return nil, err
	}
	// The command name (field 2) may hold spaces and parentheses; the fields
	// after it start after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat: no command field", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// ProcStartTime returns field 22 of /proc/<pid>/stat (start time in clock
// ticks since boot), which with the pid identifies a process for its whole
// life: a recycled pid has a different start time.
func ProcStartTime(pid int) (uint64, error) {
	fields, err := ProcStat(pid)
	if err != nil {
		return 0, err
	}
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	if fields[0][0] == 'Z' || fields[0][0] == 'X' {
		return 0, errNoProcess
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// alive reports whether pid is still the process that had startTime.
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ProcStartTime(pid)
	return err == nil && st == startTime
}
