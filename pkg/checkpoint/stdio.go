package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// stdioFile is rt's record, beside the images, of the init's stdio fds that
// are files of the host (not of the container's mount namespace), such as
// /dev/null or a log file given to `rt run -d`. CRIU cannot dump those; it
// is told they are external ("file[mnt_id:inode]") and restore hands it the
// restoring caller's own fd under the same key. Pipes need no record: runc's
// descriptors.json names them.
const stdioFile = "rt-stdio.json"

// externalFd is one stdio fd of the init that is external to the dump.
type externalFd struct {
	Fd  int    `json:"fd"`
	Key string `json:"key"`
	// Mode and Size are the file's at the dump: CRIU checks the file it
	// is given at restore against them, so a migration's target makes a
	// file that matches (stdioFiles).
	Mode uint32 `json:"mode,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// externalStdio lists the init's fds 0-2 that are files outside its mount
// namespace, with CRIU's key for each. procRoot is /proc (tests use a fake
// tree).
func externalStdio(procRoot string, pid int) ([]externalFd, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	mounts, err := mountIDs(filepath.Join(dir, "mountinfo"))
	if err != nil {
		return nil, err
	}
	var out []externalFd
	for fd := 0; fd < 3; fd++ {
		link, err := os.Readlink(filepath.Join(dir, "fd", strconv.Itoa(fd)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("stdio fd %d of the init: %w", fd, err)
		}
		if !strings.HasPrefix(link, "/") {
			continue // pipe:[…], socket:[…], anon_inode:…: CRIU's own business
		}
		mnt, err := fdMountID(filepath.Join(dir, "fdinfo", strconv.Itoa(fd)))
		if err != nil {
			return nil, err
		}
		if mounts[mnt] {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(dir, "fd", strconv.Itoa(fd)), &st); err != nil {
			return nil, fmt.Errorf("stdio fd %d of the init: %w", fd, err)
		}
		out = append(out, externalFd{Fd: fd, Key: fmt.Sprintf("file[%x:%x]", mnt, st.Ino), Mode: st.Mode, Size: st.Size})
	}
	return out, nil
}

// mountIDs is the set of mount ids of a mountinfo file.
func mountIDs(path string) (map[int]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mounts of the init: %w", err)
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return nil, fmt.Errorf("mounts of the init: %w", err)
	}
	ids := make(map[int]bool, len(mounts))
	for _, m := range mounts {
		ids[m.ID] = true
	}
	return ids, nil
}

// fdMountID reads the mnt_id line of an fdinfo file.
func fdMountID(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("fdinfo: %w", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s: no mnt_id", path)
}

// writeStdioRecord saves the external stdio fds beside the images.
func writeStdioRecord(dir string, fds []externalFd) error {
	data, err := json.Marshal(fds)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stdioFile), data, 0o600)
}

// readStdioRecord reads what writeStdioRecord saved; a missing file (an
// image of runc's) is none.
func readStdioRecord(dir string) ([]externalFd, error) {
	data, err := os.ReadFile(filepath.Join(dir, stdioFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var fds []externalFd
	if err := json.Unmarshal(data, &fds); err != nil {
		return nil, fmt.Errorf("%s: %w", stdioFile, err)
	}
	return fds, nil
}
