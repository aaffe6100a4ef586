package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	tests := []struct {
		name          string
		log           string
		before, after int
		want          string
	}{
		{
			name:   "context around the first error, timestamps stripped",
			log:    "(00.000001) a\n(00.000002) b\n(00.000003) c\n(00.000004) Error (x.c:1): first\n(00.000005) d\n(00.000006) Error (y.c:2): second\n(00.000007) e\n",
			before: 2, after: 1,
			want: "b | c | Error (x.c:1): first | d",
		},
		{
			name:   "error on the first line",
			log:    "(00.1) Error (x.c:1): boom\n(00.2) after\n",
			before: 4, after: 2,
			want: "Error (x.c:1): boom | after",
		},
		{
			name:   "benign rlimit error skipped",
			log:    "(00.1) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.2) x\n(00.3) Error (criu/cr-dump.c:1): real\n",
			before: 1, after: 0,
			want: "x | Error (criu/cr-dump.c:1): real",
		},
		{
			name:   "no error: the tail",
			log:    "(00.1) one\n(00.2) two\n\n(00.3) three\n",
			before: 1, after: 0,
			want: "two | three",
		},
		{
			name:   "pie lines keep their prefix, blank lines dropped",
			log:    "pie: 1: __fetched msg\n\n(  12.000001)   Error (compel/x.c:9): detach\n",
			before: 3, after: 3,
			want: "pie: 1: __fetched msg | Error (compel/x.c:9): detach",
		},
		{name: "empty log", log: "", before: 2, after: 2, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := digest(tt.log, tt.before, tt.after); got != tt.want {
				t.Errorf("digest:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCRIUError(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "dump.log")
	os.WriteFile(log, []byte("(0.1) Connecting to server\n(0.2) Can't connect to server\n(0.3) Error (a.c:1): Unable to detach\n"), 0o600)
	tests := []struct {
		name    string
		msg     string
		logPath string
		want    []string
		notWant []string
	}{
		{"digest and log path", "operation failed", log, []string{"criu dump failed: operation failed: ", "Can't connect to server | Error (a.c:1): Unable to detach", "(log: " + log + ")"}, nil},
		{"message said once", "Error (a.c:1): Unable to detach", log, []string{"criu dump failed: Connecting"}, []string{"failed: Error"}},
		{"benign message dropped", "Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self", log, nil, []string{"RLIMIT"}},
		{"unreadable log", "operation failed", filepath.Join(dir, "nope.log"), []string{"criu dump failed: operation failed"}, []string{"log:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := error(newCRIUError("dump", errors.New(tt.msg), tt.logPath))
			if !errors.Is(err, ErrCRIU) {
				t.Errorf("errors.Is(%v, ErrCRIU) = false", err)
			}
			s := err.Error()
			if strings.Contains(s, "\n") {
				t.Errorf("not one line: %q", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("%q does not contain %q", s, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(s, w) {
					t.Errorf("%q contains %q", s, w)
				}
			}
		})
	}
}
