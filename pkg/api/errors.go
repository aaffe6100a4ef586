package api

import (
	"errors"
	"strings"
)

// Sentinel errors. Implementations wrap them with context
// (fmt.Errorf("container %q: %w", id, ErrNotExist)); the CLI matches them with
// errors.Is to choose exit codes and messages.
var (
	// ErrNotImplemented: the runtime does not implement this operation.
	ErrNotImplemented = errors.New("not implemented")
	// ErrEmptyID: a container id is required.
	ErrEmptyID = errors.New("container id cannot be empty")
	// ErrInvalidID: the id has characters or a length that are not allowed.
	ErrInvalidID = errors.New("invalid container id")
	// ErrNotExist: no container with that id.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist: a container with that id already exists.
	ErrExist = errors.New("container already exists")
	// ErrNotRunning: the operation needs a running (or created) container:
	// runc's libcontainer.ErrNotRunning. Its words are runc's: containerd's
	// shim matches "container not running" to tell a kill that raced the
	// exit from a failure.
	ErrNotRunning = errors.New("container not running")
	// ErrRunning: the operation is refused on a running container.
	ErrRunning = errors.New("container is running")
	// ErrPaused: the operation is refused on a paused container.
	ErrPaused = errors.New("container is paused")
	// ErrNotPaused: the operation needs a paused container.
	ErrNotPaused = errors.New("container is not paused")
	// ErrStopped: the operation is refused on a container that has
	// stopped.
	ErrStopped = errors.New("container has stopped")
	// ErrUsage: the command line itself is wrong (arguments, flag values).
	ErrUsage = errors.New("usage")
)

// OneLine folds a multi-line message (a YAML error, CRIU log lines, a
// hook's stderr) into the single line a CLI prints: lines trimmed, empty
// ones dropped, joined by "; ", or by a space after a line that ends in a
// colon (a heading such as "yaml: unmarshal errors:").
func OneLine(msg string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(msg, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteByte(' ')
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
