package harness

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// pipeMaxSizeLock serialises the tests that change fs.pipe-max-size, which
// is one value for the whole machine: go test runs packages in parallel,
// and a test that lowers it (or puts it back) under another's lazy
// migration breaks that one. A flock on a file every test process opens
// holds it across packages; within a process a count lets tests nest.
var pipeMaxSizeLock struct {
	sync.Mutex
	f *os.File
	n int
}

const pipeMaxSizePath = "/proc/sys/fs/pipe-max-size"

// SetPipeMaxSize holds the machine-wide fs.pipe-max-size lock until the
// test ends, and sets the sysctl to size when change(current, size) says
// so, putting the old value back at the end.
func SetPipeMaxSize(t testing.TB, size int, change func(cur, want int) bool) {
	t.Helper()
	lockPipeMaxSize(t)
	data, err := os.ReadFile(pipeMaxSizePath)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(string(data))
	cur, _ := strconv.Atoi(old)
	if !change(cur, size) {
		return
	}
	if err := os.WriteFile(pipeMaxSizePath, []byte(strconv.Itoa(size)), 0o644); err != nil {
		t.Skipf("cannot set fs.pipe-max-size to %d: %v", size, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(pipeMaxSizePath, []byte(old), 0o644); err != nil {
			t.Errorf("fs.pipe-max-size not set back to %s: %v", old, err)
		}
	})
}

func lockPipeMaxSize(t testing.TB) {
	l := &pipeMaxSizeLock
	l.Lock()
	defer l.Unlock()
	if l.n == 0 {
		f, err := os.OpenFile("/run/rt-test-pipe-max-size.lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			t.Fatal(err)
		}
		l.f = f
	}
	l.n++
	t.Cleanup(func() {
		l.Lock()
		defer l.Unlock()
		if l.n--; l.n == 0 {
			l.f.Close()
			l.f = nil
		}
	})
}
