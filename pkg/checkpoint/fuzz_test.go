package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// imageFiles are the files of an image directory that inspect decodes, in
// the order of FuzzInspectImage's arguments. The core goes under the pids
// of the seeds' process trees (1 and 7 in fakeImage, 1 and 6 in the real
// dumps).
var imageFiles = [][]string{
	{"inventory.img"}, {"pstree.img"}, {"core-1.img", "core-6.img", "core-7.img"}, {"pagemap-1.img"},
	{"mountpoints-13.img"}, {statsDumpFile, statsRestoreFile}, {recordFile},
}

// FuzzInspectImage feeds bytes as the files of a checkpoint image to
// InspectImage, as `rt-checkpoint inspect` reads a directory it is given,
// and to readRestoreStats, as restore reads CRIU's statistics. An empty
// argument is a missing file. Nothing may panic, an error is one line, and
// inspect allocates in proportion to the files (maxInspectAlloc), whatever
// sizes their headers claim.
func FuzzInspectImage(f *testing.F) {
	for _, dir := range []string{fakeImage(f), filepath.Join("testdata", "criu-4.1.1"), filepath.Join("testdata", "criu-4.2.1")} {
		var s [][]byte
		for _, names := range imageFiles {
			data, err := os.ReadFile(filepath.Join(dir, names[len(names)-1]))
			if errors.Is(err, fs.ErrNotExist) && len(names) > 1 {
				data, err = os.ReadFile(filepath.Join(dir, names[0]))
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				f.Fatal(err)
			}
			s = append(s, data)
		}
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, inventory, pstree, core, pagemap, mounts, stats, record []byte) {
		for i, data := range [][]byte{inventory, pstree, core, pagemap, mounts, stats, record} {
			for _, name := range imageFiles[i] {
				writeOrRemove(t, filepath.Join(dir, name), data)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := InspectImage(dir); err != nil {
			checkOneLine(t, "InspectImage", err)
		}
		runtime.ReadMemStats(&after)
		size := len(inventory) + len(pstree) + 3*len(core) + len(pagemap) + len(mounts) + 2*len(stats) + len(record)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxInspectAlloc(size) {
			t.Fatalf("InspectImage allocated %d bytes for %d bytes of files", n, size)
		}
		if _, err := readRestoreStats(dir); err != nil {
			checkOneLine(t, "readRestoreStats", err)
		}
	})
}

// maxInspectAlloc bounds what inspecting size bytes of image files may
// allocate: what it reads and decodes, not what a header claims.
func maxInspectAlloc(size int) uint64 { return 1<<20 + 64*uint64(size) }

// writeOrRemove makes data the content of a new file p, or removes p when
// data is empty. A new file, not the old one truncated: ext4 writes back a
// file truncated and rewritten when it is closed (auto_da_alloc), which
// made each run 2.5 times as long.
func writeOrRemove(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkOneLine fails t unless err, returned by fn, reads as one line.
func checkOneLine(t *testing.T, fn string, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("%s: error of several lines: %q", fn, msg)
	}
}
