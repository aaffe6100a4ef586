package checkpoint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrCRIU is wrapped by every error that CRIU itself reported (a failed
// dump, pre-dump or restore), so that callers can tell "CRIU refused" from
// rt's own failures with errors.Is.
var ErrCRIU = errors.New("criu failed")

// CRIUError is a failed CRIU request, reduced to one line a person can act
// on: the step, CRIU's own message, and the lines around the first "Error"
// of its log, with the log's path for the rest.
//
// Why: CRIU's RPC answer is usually just "(00.123) Error (criu/cr-dump.c:..)"
// -less text such as "operation failed"; the cause is in the log, which can
// be thousands of lines long and lives in a work directory the user may not
// know about.
type CRIUError struct {
	// Step is the request that failed: "dump", "pre-dump", "restore",
	// "page-server" or "lazy-pages".
	Step string
	// Msg is what the RPC answer or the transport said.
	Msg string
	// LogPath is CRIU's log file ("" if unknown).
	LogPath string
	// Digest is the first Error line of the log with its context, joined
	// with " | "; "" if the log has none or could not be read. After a
	// stall it is the log's last line: where CRIU stopped.
	Digest string
	// Stalled, when not 0, is how long criu had made no progress when rt's
	// watchdog killed it (ErrCRIUStalled).
	Stalled time.Duration
	// Hint, when set, is what rt knows of the host that explains such a
	// failure (a too small fs.pipe-max-size for lazy pages).
	Hint string
}

func (e *CRIUError) Error() string {
	var b strings.Builder
	switch {
	case e.Stalled > 0:
		fmt.Fprintf(&b, "criu %s made no progress for %s", e.Step, seconds(e.Stalled))
		if e.Digest != "" {
			b.WriteString(" (last log line: " + e.Digest + ")")
		}
	default:
		fmt.Fprintf(&b, "criu %s failed", e.Step)
		// CRIU's answer is often its first error line again: said once.
		if e.Msg != "" && !benign(e.Msg) && !strings.Contains(e.Digest, strings.TrimSpace(e.Msg)) {
			b.WriteString(": " + e.Msg)
		}
		if e.Digest != "" {
			b.WriteString(": " + e.Digest)
		}
	}
	if e.LogPath != "" {
		b.WriteString(" (log: " + e.LogPath + ")")
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Unwrap makes every CRIUError match ErrCRIU, and a stalled one
// ErrCRIUStalled as well.
func (e *CRIUError) Unwrap() []error {
	if e.Stalled > 0 {
		return []error{ErrCRIUStalled, ErrCRIU}
	}
	return []error{ErrCRIU}
}

// seconds says d as "120 s" (what people read in a one-line error), with
// decimals only where d has them.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// newCRIUError builds the error of a failed step from call's error: the
// digest of the log at logPath, or, if the watchdog killed criu, the log's
// last line.
func newCRIUError(step string, err error, logPath string) *CRIUError {
	var stall *stalledError
	if errors.As(err, &stall) {
		e := &CRIUError{Step: step, Stalled: stall.after, LogPath: logPath}
		line, lerr := lastLogLine(logPath)
		if lerr != nil {
			e.LogPath = ""
		}
		e.Digest = line
		return e
	}
	e := &CRIUError{Step: step, Msg: err.Error(), LogPath: logPath}
	if data, err := os.ReadFile(logPath); err == nil {
		e.Digest = digest(string(data), digestBefore, digestAfter)
	} else {
		e.LogPath = ""
	}
	return e
}

// How many log lines around the first error the digest keeps: CRIU usually
// names the object it was working on just before it fails, and the lines
// after say what it gave up on.
const (
	digestBefore = 4
	digestAfter  = 2
)

// timestamp is the "(00.012345) " prefix of each CRIU log line; the pid
// prefix some lines carry ("pie: 1: ") is kept, it says which task failed.
var timestamp = regexp.MustCompile(`^\(\s*[0-9]+\.[0-9]+\)\s*`)

// benignErrors are "Error" lines CRIU logs and then carries on from: they
// name no cause, and a digest built on them hides the real one.
var benignErrors = []string{
	// CRIU raises its own fd limit when it can; without CAP_SYS_RESOURCE
	// over the hard limit it logs this and continues.
	"Can't setup RLIMIT_NOFILE for self",
	// `ip addr restore` into a namespace whose loopback the kernel gave
	// its addresses when CRIU brought it up; CRIU goes on.
	"Address already assigned",
	"address already assigned",
}

func benign(line string) bool {
	for _, b := range benignErrors {
		if strings.Contains(line, b) {
			return true
		}
	}
	return false
}

// digest returns the first line of log containing "Error" (benignErrors
// aside) with up to before
// lines before it and after lines after it, timestamps stripped, blank lines
// dropped, joined with " | " so that the whole is one line. A log without
// an Error line gives its last non-blank lines (up to before+after+1): CRIU
// killed by a signal, or an abort, stops without one.
func digest(log string, before, after int) string {
	lines := logLines(log)
	first := firstError(lines)
	var from, to int
	if first < 0 {
		from, to = max(0, len(lines)-(before+after+1)), len(lines)
	} else {
		from, to = max(0, first-before), min(len(lines), first+after+1)
	}
	return strings.Join(lines[from:to], " | ")
}

// logLines are the non-blank lines of log, timestamps stripped.
func logLines(log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimSpace(timestamp.ReplaceAllString(l, ""))
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// firstError is the index of the first line containing "Error"
// (benignErrors aside), -1 if there is none.
func firstError(lines []string) int {
	for i, l := range lines {
		if strings.Contains(l, "Error") && !benign(l) {
			return i
		}
	}
	return -1
}

// logHasError reports whether the log at path has an Error line
// (benignErrors aside): how rt judges a CRIU daemon whose exit status it
// cannot know. An unreadable log counts as an error.
func logHasError(path string) bool {
	data, err := os.ReadFile(path)
	return err != nil || firstError(logLines(string(data))) >= 0
}

// logTail is how much of the log's end lastLogLine reads: CRIU's lines are
// short, its log at level 4 can be hundreds of megabytes.
const logTail = 4 << 10

// lastLogLine returns the last non-blank line of the log at path,
// timestamp stripped ("" if there is none); an error if the log cannot be
// read.
func lastLogLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(0, fi.Size()-logTail)
	buf := make([]byte, fi.Size()-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	lines := strings.Split(string(buf[:n]), "\n")
	if off > 0 {
		lines = lines[1:] // cut by the offset
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(timestamp.ReplaceAllString(lines[i], "")); l != "" {
			return l, nil
		}
	}
	return "", nil
}
