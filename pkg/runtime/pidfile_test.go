package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWritePidFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string // relative to dir
		pid  int
		// old is a previous content to replace.
		old string
	}{
		{name: "new file", path: "pid", pid: 12345},
		{name: "replaces a previous file", path: "replace.pid", pid: 7, old: "99999999\n"},
		{name: "pid 1", path: "one.pid", pid: 1},
		{name: "large pid", path: "big.pid", pid: 4194304},
		{name: "nested", path: "sub/dir/x.pid", pid: 42},
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.path)
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WritePidFile(path, tt.pid); err != nil {
				t.Fatalf("writePidFile: %v", err)
			}
			checkPidFile(t, path, tt.pid)
		})
	}
	t.Run("relative path", func(t *testing.T) {
		t.Chdir(dir)
		if err := WritePidFile("rel.pid", 555); err != nil {
			t.Fatalf("writePidFile: %v", err)
		}
		checkPidFile(t, filepath.Join(dir, "rel.pid"), 555)
	})
	t.Run("missing directory", func(t *testing.T) {
		err := WritePidFile(filepath.Join(dir, "nodir", "x.pid"), 1)
		if err == nil || !strings.Contains(err.Error(), "pid file") {
			t.Errorf("writePidFile into a missing dir: %v, want a pid file error", err)
		}
	})
	t.Run("directory in the way", func(t *testing.T) {
		d := t.TempDir()
		if err := os.Mkdir(filepath.Join(d, "x.pid"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WritePidFile(filepath.Join(d, "x.pid"), 1); err == nil {
			t.Errorf("writePidFile over a directory: nil error")
		}
		if left := leftovers(t, d); len(left) > 0 {
			t.Errorf("left behind after a failed rename: %q", left)
		}
	})
}

// checkPidFile checks the file holds the decimal pid with no newline and
// that nothing but pid files is in its directory.
func checkPidFile(t *testing.T, path string, pid int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != strconv.Itoa(pid) {
		t.Errorf("%s holds %q, want %q", path, data, strconv.Itoa(pid))
	}
	if left := leftovers(t, filepath.Dir(path)); len(left) > 0 {
		t.Errorf("temp files left: %q", left)
	}
}

// leftovers lists the files of dir that are not pid files or directories.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWritePidFileAtomic reads the pid file while it is rewritten: a reader
// must always see a complete pid (of the old or new value), never an empty
// or partial file.
func TestWritePidFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	if err := WritePidFile(path, 1000000); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(path)
			if err != nil || (string(data) != "1000000" && string(data) != "2222222") {
				mu.Lock()
				bad = append(bad, string(data)+" "+errString(err))
				mu.Unlock()
			}
		}
	}()
	for i := 0; i < 500; i++ {
		pid := 1000000
		if i%2 == 0 {
			pid = 2222222
		}
		if err := WritePidFile(path, pid); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("a reader saw %d torn reads, e.g. %q", len(bad), bad[0])
	}
	if left := leftovers(t, filepath.Dir(path)); len(left) > 0 {
		t.Errorf("temp files left: %q", left)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// plantedNames makes pidTempName return names[0], names[1], … and then
// random ones, for the rest of the test.
func plantedNames(t *testing.T, names ...string) {
	t.Helper()
	real := pidTempName
	i := 0
	pidTempName = func(base string) string {
		if i < len(names) {
			i++
			return names[i-1]
		}
		return real(base)
	}
	t.Cleanup(func() { pidTempName = real })
}

// TestWritePidFilePlanted: someone who can write the pid file's directory
// plants a symlink (to a file of root's, or to a path that does not exist
// yet), a hard link or a fifo at each name rt might write through: the
// temporary names it tries, the old fixed ones (rt's ".pid.tmp", runc's
// ".pid"), and the pid file itself. rt writes through none of them: the
// victims keep their content, nothing is created where a dangling link
// points, and the pid file holds the pid; when every name rt would try is
// taken, it fails having written nothing.
func TestWritePidFilePlanted(t *testing.T) {
	tests := []struct {
		name   string
		tries  []string // what pidTempName returns first
		plants []plant
		fail   bool
	}{
		{name: "the old fixed names", plants: []plant{{".pid.tmp", "symlink"}, {".pid", "symlink"}}},
		{name: "a dangling symlink at the old name", plants: []plant{{".pid.tmp", "dangling"}}},
		{name: "a symlink at the pid file itself", plants: []plant{{"pid", "symlink"}}},
		{name: "the first temporary name", tries: []string{".pid.a"}, plants: []plant{{".pid.a", "symlink"}}},
		{name: "several temporary names, each kind", tries: []string{".pid.a", ".pid.b", ".pid.c", ".pid.d"},
			plants: []plant{{".pid.a", "symlink"}, {".pid.b", "dangling"}, {".pid.c", "hardlink"}, {".pid.d", "fifo"}, {"pid", "symlink"}}},
		{name: "every name it tries", tries: []string{".pid.0", ".pid.1", ".pid.2", ".pid.3", ".pid.4", ".pid.5", ".pid.6", ".pid.7"},
			plants: []plant{{".pid.0", "symlink"}, {".pid.1", "symlink"}, {".pid.2", "dangling"}, {".pid.3", "symlink"},
				{".pid.4", "symlink"}, {".pid.5", "hardlink"}, {".pid.6", "symlink"}, {".pid.7", "symlink"}},
			fail: true},
	}
	for _, tmpfile := range []bool{true, false} {
		t.Run(map[bool]string{true: "O_TMPFILE", false: "no O_TMPFILE"}[tmpfile], func(t *testing.T) {
			if !tmpfile {
				withoutTmpfile(t)
			}
			for _, tt := range tests {
				testPlanted(t, tt.name, tt.tries, tt.plants, tt.fail)
			}
		})
	}
}

// withoutTmpfile makes WritePidFile take its path for file systems
// without O_TMPFILE until the test ends.
func withoutTmpfile(t *testing.T) {
	old := openPidTmpfile
	openPidTmpfile = func(int) (int, error) { return -1, unix.EOPNOTSUPP }
	t.Cleanup(func() { openPidTmpfile = old })
}

type plant struct {
	name string
	kind string // "symlink", "dangling", "hardlink", "fifo"
}

func testPlanted(t *testing.T, name string, tries []string, plants []plant, fail bool) {
	t.Run(name, func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		victim := filepath.Join(elsewhere, "shadow")
		if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		dangling := filepath.Join(elsewhere, "created-through-a-link")
		for _, p := range plants {
			at := filepath.Join(dir, p.name)
			var err error
			switch p.kind {
			case "symlink":
				err = os.Symlink(victim, at)
			case "dangling":
				err = os.Symlink(dangling, at)
			case "hardlink":
				err = os.Link(victim, at)
			case "fifo":
				err = unix.Mkfifo(at, 0o666)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		plantedNames(t, tries...)
		err := WritePidFile(filepath.Join(dir, "pid"), 4242)
		if data, _ := os.ReadFile(victim); string(data) != "root:secret\n" {
			t.Errorf("the planted link's target was written: %q", data)
		}
		if _, serr := os.Lstat(dangling); serr == nil {
			t.Errorf("a file was created where a dangling link points")
		}
		if fail {
			if err == nil || !strings.Contains(err.Error(), "names taken") || !errors.Is(err, unix.EEXIST) {
				t.Errorf("writePidFile = %v, want a failure saying every name was taken", err)
			}
			if _, serr := os.Lstat(filepath.Join(dir, "pid")); serr == nil {
				t.Errorf("a pid file was written")
			}
			return
		}
		if err != nil {
			t.Fatalf("writePidFile: %v", err)
		}
		st, err := os.Lstat(filepath.Join(dir, "pid"))
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("the pid file is not a regular file: %v, %v", st, err)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "pid")); string(data) != "4242" {
			t.Errorf("pid file holds %q, want 4242", data)
		}
		// What was planted stays, and rt leaves nothing of its own.
		want := len(plants)
		for _, p := range plants {
			if p.name == "pid" {
				want--
			}
		}
		if got := len(leftovers(t, dir)); got != want {
			t.Errorf("%d hidden names in the directory (%q), want the %d planted", got, leftovers(t, dir), want)
		}
	})
}

// TestPidTempNameUnpredictable: the names are hidden, in the pid file's
// name, and never repeat.
func TestPidTempNameUnpredictable(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := pidTempName("x.pid")
		if !strings.HasPrefix(n, ".x.pid.") || len(n) < len(".x.pid.")+16 || strings.Contains(n, "/") {
			t.Fatalf("pidTempName = %q", n)
		}
		if seen[n] {
			t.Fatalf("pidTempName repeated %q", n)
		}
		seen[n] = true
	}
}
