package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/proto"
)

// TestWatchdogExpired plays events against a fake clock: what counts as
// progress, and that a pause is rt's time.
func TestWatchdogExpired(t *testing.T) {
	const timeout = 10 * time.Second
	type step struct {
		at   time.Duration // since the start
		do   string        // "poll" (with size), "message", "pause", "resume"
		size int64         // the log's size at a poll
		want bool          // what a poll says
	}
	tests := []struct {
		name    string
		logSize int64 // at the start; -1: no log yet
		steps   []step
	}{
		{"silence", -1, []step{{9 * time.Second, "poll", -1, false}, {10 * time.Second, "poll", -1, true}}},
		{"log growth is progress", 0, []step{
			{8 * time.Second, "poll", 10, false}, {17 * time.Second, "poll", 10, false}, {18 * time.Second, "poll", 10, true},
		}},
		{"the log appearing is progress", -1, []step{{5 * time.Second, "poll", 0, false}, {14 * time.Second, "poll", 0, false}, {15 * time.Second, "poll", 0, true}}},
		{"a truncated log is progress", 500, []step{{9 * time.Second, "poll", 0, false}, {18 * time.Second, "poll", 0, false}, {19 * time.Second, "poll", 0, true}}},
		{"a message is progress", 0, []step{
			{9 * time.Second, "message", 0, false}, {18 * time.Second, "poll", 0, false}, {19 * time.Second, "poll", 0, true},
		}},
		{"paused while rt's handler runs", 0, []step{
			{time.Second, "pause", 0, false}, {60 * time.Second, "poll", 0, false},
			{60 * time.Second, "resume", 0, false}, {69 * time.Second, "poll", 0, false}, {70 * time.Second, "poll", 0, true},
		}},
		{"no wall clock: a dump that keeps logging", 0, []step{
			{9 * time.Second, "poll", 1, false}, {18 * time.Second, "poll", 2, false}, {27 * time.Second, "poll", 3, false},
			{36 * time.Second, "poll", 4, false}, {45 * time.Second, "poll", 4, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			now := start
			w := &watchdog{timeout: timeout, clock: func() time.Time { return now }, last: start, logSize: tt.logSize}
			for _, s := range tt.steps {
				now = start.Add(s.at)
				switch s.do {
				case "poll":
					if got := w.expired(s.size); got != s.want {
						t.Fatalf("at %v, log %d bytes: expired = %v, want %v", s.at, s.size, got, s.want)
					}
				case "message":
					w.message()
				case "pause":
					w.pause()
				case "resume":
					w.resume()
				}
			}
		})
	}
}

func TestPollInterval(t *testing.T) {
	for _, tt := range []struct{ timeout, want time.Duration }{
		{120 * time.Second, time.Second},
		{3 * time.Second, 300 * time.Millisecond},
		{50 * time.Millisecond, 10 * time.Millisecond},
	} {
		if got := pollInterval(tt.timeout); got != tt.want {
			t.Errorf("pollInterval(%v) = %v, want %v", tt.timeout, got, tt.want)
		}
	}
}

// TestWatchdogFakeCRIU runs a shell script as `criu swrk 3`: one that
// logs a line and then waits for ever (as CRIU waiting for a trap that
// never comes) is killed, one that keeps logging for longer than the
// timeout is not.
func TestWatchdogFakeCRIU(t *testing.T) {
	tests := []struct {
		name     string
		script   string // LOG stands for the log's path
		timeout  time.Duration
		stalled  bool
		min, max time.Duration // how long call takes
	}{
		{
			name:    "silent criu killed",
			script:  "echo '(00.000001) waiting for the trap' >> LOG\nexec sleep 600\n",
			timeout: 300 * time.Millisecond, stalled: true,
			min: 300 * time.Millisecond, max: 5 * time.Second,
		},
		{
			// Only the shutdown of rt's end ends the read: killing the
			// script leaves its child with criu's end.
			name:    "killed criu's child holds the socket",
			script:  "echo '(00.000001) waiting for the trap' >> LOG\nsleep 3 &\nwait\n",
			timeout: 300 * time.Millisecond, stalled: true,
			min: 300 * time.Millisecond, max: 2500 * time.Millisecond,
		},
		{
			name:    "logging criu spared",
			script:  "i=0\nwhile [ $i -lt 15 ]; do echo \"(00.1) step $i\" >> LOG; sleep 0.1; i=$((i+1)); done\n",
			timeout: 400 * time.Millisecond,
			min:     1400 * time.Millisecond, max: 30 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "dump.log")
			criu := filepath.Join(dir, "criu")
			script := "#!/bin/sh\n" + strings.ReplaceAll(tt.script, "LOG", log)
			if err := os.WriteFile(criu, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			sw, err := startSwrk(criu, [3]*os.File{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			sw.watch(tt.timeout, log)
			typ := rpc.CriuReqType_DUMP
			began := time.Now()
			_, err = sw.call(&rpc.CriuReq{Type: &typ}, nil)
			took := time.Since(began)
			sw.close()
			if err == nil {
				t.Fatal("call succeeded against a criu that never answers")
			}
			if took < tt.min || took > tt.max {
				t.Errorf("call took %v, want %v to %v", took, tt.min, tt.max)
			}
			cerr := newCRIUError("dump", err, log)
			if got := errors.Is(cerr, ErrCRIUStalled); got != tt.stalled {
				t.Fatalf("errors.Is(%q, ErrCRIUStalled) = %v, want %v", cerr, got, tt.stalled)
			}
			if !errors.Is(cerr, ErrCRIU) {
				t.Errorf("%q does not match ErrCRIU", cerr)
			}
			if !tt.stalled {
				return
			}
			want := "criu dump made no progress for 0.3 s (last log line: waiting for the trap) (log: " + log + ")"
			if cerr.Error() != want {
				t.Errorf("error:\n got %q\nwant %q", cerr, want)
			}
			ws, _ := sw.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Errorf("criu ended with %v, want SIGKILL", sw.cmd.ProcessState)
			}
		})
	}
}

// TestWatchdogPausedInHandler: rt's notification handler may take longer
// than the timeout (a slow hook); criu is not killed for it.
func TestWatchdogPausedInHandler(t *testing.T) {
	typ := rpc.CriuReqType_RESTORE
	final := &rpc.CriuResp{Type: &typ, Success: proto.Bool(true)}
	sw, done := fakeCRIU(t, []*rpc.CriuResp{notifyResp("setup-namespaces"), final}, nil)
	var killed atomic.Bool
	sw.wd = newWatchdog(100*time.Millisecond, "", func() { killed.Store(true) })
	resp, err := sw.call(&rpc.CriuReq{Type: &typ}, func(string, *rpc.CriuNotify, []*os.File) error {
		time.Sleep(500 * time.Millisecond)
		return nil
	})
	if err != nil || resp.GetType() != rpc.CriuReqType_RESTORE || killed.Load() {
		t.Fatalf("call: %v, %v; killed %v", resp, err, killed.Load())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCRIUErrorStalled(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "dump.log")
	long := strings.Repeat("(00.000100) filler line\n", 1000)
	tests := []struct {
		name, log string // "" log: none written
		want      string
	}{
		{"last line, timestamp stripped", "(00.000001) a\n(00.000002) pie: 7: waiting\n\n", "criu dump made no progress for 120 s (last log line: pie: 7: waiting) (log: LOG)"},
		{"a long log's tail", long + "(12.345678) the end\n", "criu dump made no progress for 120 s (last log line: the end) (log: LOG)"},
		{"empty log", "\n", "criu dump made no progress for 120 s (log: LOG)"},
		{"no log", "", "criu dump made no progress for 120 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(log)
			if tt.log != "" {
				if err := os.WriteFile(log, []byte(tt.log), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := newCRIUError("dump", &stalledError{after: 120 * time.Second}, log)
			if want := strings.ReplaceAll(tt.want, "LOG", log); err.Error() != want {
				t.Errorf("error:\n got %q\nwant %q", err, want)
			}
			if !errors.Is(err, ErrCRIUStalled) || !errors.Is(err, ErrCRIU) {
				t.Errorf("%q does not match both ErrCRIUStalled and ErrCRIU", err)
			}
		})
	}
}
