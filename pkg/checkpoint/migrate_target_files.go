package checkpoint

// The target's files around a restore: CRIU's logs of a failed receive,
// the stdio files the dump recorded.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// keepLogs copies CRIU's logs of a failed receive out of the staging
// directory (which goes) into a directory of their own under the system's
// temporary directory, and returns it ("" if there were none).
func (t *targetRun) keepLogs() string {
	if t.staging == "" {
		return ""
	}
	logs, _ := filepath.Glob(filepath.Join(t.staging, "images", "*.log"))
	if len(logs) == 0 {
		return ""
	}
	dir, err := os.MkdirTemp("", "rt-receive-"+t.report.ID+"-")
	if err != nil {
		return ""
	}
	for _, l := range logs {
		if data, err := os.ReadFile(l); err == nil {
			os.WriteFile(filepath.Join(dir, filepath.Base(l)), data, 0o600)
		}
	}
	return dir
}

// stdioFiles are the restored init's stdio: /dev/null, except where the
// init's fd was a regular file of the source host (a log given to `rt run
// -d`): that file is not here, and CRIU accepts only a file of the dumped
// mode and size in its place, so the bundle gets stdio-<fd>.log of that
// size (sparse), where the container's output goes on.
func (t *targetRun) stdioFiles(images string) ([3]*os.File, error) {
	var out [3]*os.File
	ext, err := readStdioRecord(images)
	if err != nil {
		return out, err
	}
	byKey := map[string]*os.File{}
	for _, e := range ext {
		if e.Fd < 0 || e.Fd > 2 || e.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		f := byKey[e.Key]
		if f == nil {
			p := filepath.Join(t.bundle, fmt.Sprintf("stdio-%d.log", e.Fd))
			if f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, os.FileMode(e.Mode&0o777)); err != nil {
				closeFiles(out[:])
				return out, fmt.Errorf("stdio: %w", err)
			}
			f.Chmod(os.FileMode(e.Mode & 0o777))
			if err := f.Truncate(e.Size); err != nil {
				f.Close()
				closeFiles(out[:])
				return out, fmt.Errorf("stdio: %w", err)
			}
			f.Seek(e.Size, io.SeekStart)
			byKey[e.Key] = f
		} else if f, err = dupFile(f, f.Name()); err != nil {
			closeFiles(out[:])
			return out, err
		}
		out[e.Fd] = f
	}
	for i := range out {
		if out[i] == nil {
			if out[i], err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				closeFiles(out[:])
				return out, err
			}
		}
	}
	return out, nil
}
