package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
)

// ErrCRIUStalled is wrapped when rt killed criu because it made no progress
// for criu-progress-timeout: on some hosts CRIU waits forever for a trap
// that never comes, and rt must not wait with it. Such an error is a
// *CRIUError (Stalled set) and matches ErrCRIU too.
var ErrCRIUStalled = errors.New("criu made no progress")

// watchdog kills criu when it makes no progress for timeout. Progress is
// CRIU's log changing size (CRIU writes it line by line) or a message on
// the RPC socket, so it is no wall-clock limit: a long dump that keeps
// logging runs on. While rt's own notification handler runs (hooks, the
// console socket) the watchdog is paused: that time is rt's, not CRIU's.
type watchdog struct {
	timeout time.Duration
	// logPath is CRIU's log, "" if there is none to watch (feature check).
	logPath string
	kill    func()
	clock   func() time.Time

	mu      sync.Mutex
	last    time.Time // of the last progress
	logSize int64
	paused  bool
	fired   bool

	stopc chan struct{}
	done  chan struct{}
}

func newWatchdog(timeout time.Duration, logPath string, kill func()) *watchdog {
	return &watchdog{timeout: timeout, logPath: logPath, kill: kill, clock: time.Now}
}

// start begins the watch, from now.
func (w *watchdog) start() {
	w.mu.Lock()
	w.last, w.logSize = w.clock(), logSize(w.logPath)
	w.mu.Unlock()
	w.stopc, w.done = make(chan struct{}), make(chan struct{})
	go w.run()
}

// run polls the log until stop, or until the timeout passes without
// progress: then it kills criu.
func (w *watchdog) run() {
	defer close(w.done)
	tick := time.NewTicker(pollInterval(w.timeout))
	defer tick.Stop()
	for {
		select {
		case <-w.stopc:
			return
		case <-tick.C:
			if w.expired(logSize(w.logPath)) {
				w.kill()
				return
			}
		}
	}
}

// stop ends the watch and reports whether the watchdog killed criu.
func (w *watchdog) stop() bool {
	close(w.stopc)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// expired takes the log's current size (a change is progress) and reports
// whether timeout has passed since the last progress, outside a pause. It
// marks the watchdog fired when it says so.
func (w *watchdog) expired(size int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock()
	if size != w.logSize {
		// Any change: CRIU truncates a log left by an earlier run.
		w.logSize, w.last = size, now
	}
	if w.paused || now.Sub(w.last) < w.timeout {
		return false
	}
	w.fired = true
	return true
}

// message records a message from criu as progress.
func (w *watchdog) message() {
	w.mu.Lock()
	w.last = w.clock()
	w.mu.Unlock()
}

// pause stops the clock while rt's notification handler runs; resume
// starts it again from now.
func (w *watchdog) pause() {
	w.mu.Lock()
	w.paused = true
	w.mu.Unlock()
}

func (w *watchdog) resume() {
	w.mu.Lock()
	w.paused, w.last = false, w.clock()
	w.mu.Unlock()
}

// pausing wraps notify so that the watchdog is paused while it runs.
func (w *watchdog) pausing(notify notifyFunc) notifyFunc {
	if notify == nil {
		return nil
	}
	return func(script string, n *rpc.CriuNotify, fds []*os.File) error {
		w.pause()
		defer w.resume()
		return notify(script, n, fds)
	}
}

// pollInterval is a tenth of the timeout, between 10 ms and a second: the
// kill comes at most that late, and a long timeout costs one stat a second.
func pollInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 10*time.Millisecond), time.Second)
}

// logSize is the size of the log at path, -1 while there is none: CRIU
// creates it only once it has read its request, and a stat that fails for
// any other reason tells as little about CRIU's progress.
func logSize(path string) int64 {
	if path == "" {
		return -1
	}
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// stalledError is call's error when the watchdog killed criu; the caller
// makes it a CRIUError with the log's last line (newCRIUError).
type stalledError struct {
	after time.Duration
}

func (e *stalledError) Error() string {
	return fmt.Sprintf("no progress for %s: criu killed", e.after)
}

func (e *stalledError) Unwrap() error { return ErrCRIUStalled }
