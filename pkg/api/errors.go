package api

import (
	"errors"
	"strconv"
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
// colon (a heading such as "yaml: unmarshal errors:"). Other control
// characters a message may carry from its input (a carriage return in a
// YAML tag) are written as Go escapes (\r), so that nothing breaks the line.
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
		writeEscaped(&b, l)
	}
	return b.String()
}

// writeEscaped writes l with its control characters (but tab) and Unicode
// line separators as Go escapes.
func writeEscaped(b *strings.Builder, l string) {
	for _, r := range l {
		if (r < 0x20 && r != '\t') || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
}
