package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/cgroups/fs"
)

// Lines of /proc/<pid>/maps: a task's own, and CRIU's parasite left by a
// killed criu.
const (
	ownMaps      = "55d0c0a00000-55d0c0a28000 r--p 00000000 08:01 1234 /bin/busybox\n7ffd1c9e0000-7ffd1ca01000 rw-p 00000000 00:00 0 [stack]\n"
	parasiteMaps = "7f3a5c000000-7f3a5c004000 r-xs 00000000 00:01 56789 /memfd:CRIUMFD (deleted)\n"
	// A memfd of the task's own whose name merely starts alike.
	lookAlikeMaps = "7f3a5d000000-7f3a5d001000 rw-s 00000000 00:01 5 /memfd:CRIUMFD2 (deleted)\n"
)

// fakeProc writes a /proc with a maps file per pid.
func fakeProc(t *testing.T, maps map[int]string) string {
	t.Helper()
	proc := t.TempDir()
	for pid, m := range maps {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proc
}

func TestParasiteMapped(t *testing.T) {
	tests := []struct {
		name string
		maps map[int]string
		pids []int
		want []int
	}{
		{"none", map[int]string{1: ownMaps, 7: ownMaps + lookAlikeMaps}, []int{1, 7}, nil},
		{"some", map[int]string{1: ownMaps + parasiteMaps, 7: ownMaps, 9: parasiteMaps + ownMaps}, []int{1, 7, 9}, []int{1, 9}},
		{"exited meanwhile", map[int]string{1: parasiteMaps}, []int{1, 42}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parasiteMapped(fakeProc(t, tt.maps), tt.pids)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("parasiteMapped = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	t.Run("unreadable maps", func(t *testing.T) {
		proc := fakeProc(t, nil)
		// A directory where the file should be: a read error that is
		// not "the process exited".
		if err := os.MkdirAll(filepath.Join(proc, "3", "maps"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := parasiteMapped(proc, []int{3}); err == nil {
			t.Error("no error for an unreadable maps file")
		}
	})
}

// TestParasiteMappedSelf: the check reads the real /proc, where this test
// process maps no parasite.
func TestParasiteMappedSelf(t *testing.T) {
	got, err := parasiteMapped("/proc", []int{os.Getpid()})
	if err != nil || len(got) != 0 {
		t.Errorf("parasiteMapped(self) = %v, %v; want none", got, err)
	}
}

// TestDumpFailedFindsParasite maps, in this test process, a memfd named as
// compel names the parasite's, and lists this process in a fake cgroup: a
// stalled dump's error and warning name it.
func TestDumpFailedFindsParasite(t *testing.T) {
	fd, err := unix.MemfdCreate("CRIUMFD", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, 4096); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	cg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r := &Runtime{log: slog.New(slog.NewTextHandler(&buf, nil))}
	err = r.dumpFailed("c1", fs.Load(map[string]string{"freezer": cg}), &CRIUError{Step: "dump", Stalled: 3 * time.Second})
	want := fmt.Sprintf(`checkpoint container "c1": criu dump made no progress for 3 s; CRIU's parasite code is still mapped in process %d (/memfd:CRIUMFD in /proc/PID/maps): restart the container to be rid of it`, os.Getpid())
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err, want)
	}
	if !errors.Is(err, ErrCRIUStalled) {
		t.Errorf("%q does not match ErrCRIUStalled", err)
	}
	if log := buf.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "pids=["+strconv.Itoa(os.Getpid())+"]") {
		t.Errorf("warning %q does not name the pid", log)
	}
}

func TestDumpFailedNotStalled(t *testing.T) {
	var buf bytes.Buffer
	r := &Runtime{log: slog.New(slog.NewTextHandler(&buf, nil))}
	// No cgroup: a failure that is not a stall must not look for one.
	err := r.dumpFailed("c1", fs.Load(nil), &CRIUError{Step: "dump", Msg: "boom"})
	if want := `checkpoint container "c1": criu dump failed: boom`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	stalled := r.dumpFailed("c1", fs.Load(nil), &CRIUError{Step: "dump", Stalled: time.Second})
	if !errors.Is(stalled, ErrCRIUStalled) || !strings.Contains(stalled.Error(), "looking for CRIU's parasite") {
		t.Errorf("stalled, no cgroup: %q", stalled)
	}
	if buf.Len() != 0 {
		t.Errorf("logged %q", buf.String())
	}
}
