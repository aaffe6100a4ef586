package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/cgroups"
)

// parasiteMapping is how CRIU's parasite shows in /proc/<pid>/maps: compel
// maps its blob in the task from a memfd it names "CRIUMFD"
// (parasite_memfd_exchange in compel/src/lib/infect.c, MEMFD_FNAME in
// compel/include/infect-priv.h) and unmaps it only when it cures the task.
// The fallback for kernels without memfd_create, an anonymous shared
// mapping ("/dev/zero (deleted)"), cannot be told from the task's own.
const parasiteMapping = "/memfd:CRIUMFD"

// dumpFailed is the error of a failed dump. After the watchdog killed criu
// it also names the container's processes that still map CRIU's parasite:
// the kernel detaches ptrace when the tracer dies and the parasite returns
// to the task's code when its socket closes, but nobody unmaps it.
func (r *Runtime) dumpFailed(id string, cg cgroups.Manager, cerr *CRIUError) error {
	err := fmt.Errorf("checkpoint container %q: %w", id, cerr)
	if cerr.Stalled == 0 {
		return err
	}
	pids, perr := cg.Pids()
	var left []int
	if perr == nil {
		left, perr = parasiteMapped("/proc", pids)
	}
	if perr != nil {
		return fmt.Errorf("%w; looking for CRIU's parasite left in the container: %w", err, perr)
	}
	if len(left) == 0 {
		return err
	}
	r.log.Warn("checkpoint: criu was killed before it removed its parasite code from the container's processes",
		"container", id, "pids", left, "mapping", parasiteMapping)
	procs := "process"
	if len(left) > 1 {
		procs = "processes"
	}
	return fmt.Errorf("%w; CRIU's parasite code is still mapped in %s %s (%s in /proc/PID/maps): restart the container to be rid of it",
		err, procs, joinInts(left), parasiteMapping)
}

// parasiteMapped returns the pids whose maps under proc (/proc) show CRIU's
// parasite. A process that exited meanwhile is skipped.
func parasiteMapped(proc string, pids []int) ([]int, error) {
	var out []int
	for _, pid := range pids {
		found, err := mapsContain(filepath.Join(proc, strconv.Itoa(pid), "maps"), parasiteMapping)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, pid)
		}
	}
	return out, nil
}

// mapsContain reports whether a mapping of the maps file at path is of the
// file what (a memfd shows as "/memfd:NAME (deleted)").
func mapsContain(path, what string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path, the path may hold spaces.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		if p := strings.Join(fields[5:], " "); p == what || p == what+" (deleted)" {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return false, nil
}

// joinInts is "12, 13".
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
