package store

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFlockPid(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 700 fe:00:42 0 EOF
2: FLOCK  ADVISORY  WRITE 812 00:1a:42 0 EOF
2: -> FLOCK  ADVISORY  WRITE 813 fe:00:42 0 EOF
3: FLOCK  ADVISORY  WRITE 900 fe:00:42 0 EOF
4: OFDLCK ADVISORY  READ  -1 fe:00:43 0 EOF
`
	for _, tc := range []struct {
		name         string
		major, minor uint32
		ino          uint64
		want         int
	}{
		{"granted flock, not the waiter nor a POSIX lock", 0xfe, 0, 42, 900},
		{"another device", 0, 0x1a, 42, 812},
		{"not an flock", 0xfe, 0, 43, 0},
		{"no lock", 8, 1, 42, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flockPid([]byte(locks), tc.major, tc.minor, tc.ino); got != tc.want {
				t.Errorf("flockPid = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestWaitingNamesHolder: a command that must wait is told who holds the
// lock (here this process), and only then.
func TestWaitingNamesHolder(t *testing.T) {
	defer func(d time.Duration) { WaitingAfter = d }(WaitingAfter)
	WaitingAfter = 50 * time.Millisecond
	s := New(t.TempDir())
	waiting := make(chan Holder, 2)
	s.Waiting = func(id string, h Holder) { waiting <- h }
	h, err := s.Create("c")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		h2, err := s.Open("c")
		if err == nil {
			h2.Close()
		}
		done <- err
	}()
	var told Holder
	select {
	case told = <-waiting:
	case err := <-done:
		t.Fatalf("Open did not wait for the held lock (err %v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Open neither waited nor returned")
	}
	h.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if told.Pid != os.Getpid() || !strings.Contains(told.Command, os.Args[0]) {
		t.Fatalf("told %+v, want pid %d running %s", told, os.Getpid(), os.Args[0])
	}
	if want := "pid " + strconv.Itoa(os.Getpid()) + " (" + os.Args[0]; !strings.HasPrefix(told.String(), want) {
		t.Errorf("String() = %q, want it to start %q", told.String(), want)
	}
	if len(waiting) != 0 {
		t.Errorf("told %d times", 1+len(waiting))
	}
	// Uncontended: not told.
	h, err = s.Open("c")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if len(waiting) != 0 {
		t.Error("an uncontended Open told of a holder")
	}
}
