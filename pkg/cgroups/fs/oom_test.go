package fs

import (
	"os"
	"testing"
	"time"
)

// receive waits for one event of ch: true for a value, false for the
// channel closed.
func receive(t *testing.T, ch <-chan struct{}) bool {
	t.Helper()
	select {
	case _, ok := <-ch:
		return ok
	case <-time.After(5 * time.Second):
		t.Fatal("nothing from the OOM channel")
		return false
	}
}

// quiet fails if ch has anything within a short while.
func quiet(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-ch:
		t.Fatalf("unexpected event (value %v)", ok)
	case <-time.After(50 * time.Millisecond):
	}
}

// On cgroup2 each kill counted in memory.events is one value, kills before
// the call are not reported, and the channel closes when the cgroup has no
// process left (inotify works on the fake tree's tmpfs as on cgroupfs).
func TestOOMNotifyV2(t *testing.T) {
	f := newFakeV2(t)
	events := f.Path("pod/c1/memory.events")
	f.File(events, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
	stop := make(chan struct{})
	defer close(stop)
	ch, err := f.m.OOMNotify(stop)
	if err != nil {
		t.Fatal(err)
	}
	quiet(t, ch)
	if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if !receive(t, ch) {
			t.Fatalf("closed after %d of 2 kills", i)
		}
	}
	quiet(t, ch)
	// Other counters moving are no kill.
	if err := os.WriteFile(events, []byte("low 0\nhigh 5\nmax 9\noom 3\noom_kill 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet(t, ch)
	if err := os.WriteFile(f.Path("pod/c1/cgroup.events"), []byte("populated 0\nfrozen 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if receive(t, ch) {
		t.Fatal("a value instead of the close")
	}
}

func TestOOMNotifyV2Stop(t *testing.T) {
	f := newFakeV2(t)
	stop := make(chan struct{})
	ch, err := f.m.OOMNotify(stop)
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	if receive(t, ch) {
		t.Fatal("a value instead of the close")
	}
}

func TestOOMNotifyWithoutMemory(t *testing.T) {
	f := newFakeV2(t)
	os.Remove(f.Path("pod/c1/memory.events"))
	_, err := f.m.OOMNotify(nil)
	want := "cgroups: OOM notification: " + f.Path("pod/c1") + " has no memory.events: the memory controller is not enabled for it"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
}
