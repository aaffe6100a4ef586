// Command skipcheck runs `go test -json` with the given arguments, prints
// what plain `go test` prints (package results and the output of failed
// tests; everything with -v), and then every skipped test with its reason.
// It fails when a test failed or was skipped for a reason that is not one of
// the host limits listed in the -allow file: a test skipped because a tool
// the set-up installs (criu, containerd) is missing is a failure, not a skip.
//
//	go run ./test/skipcheck -allow test/host-limits.txt -- -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	allowFile := flag.String("allow", "", "file of regular expressions, one per line (# comments), a skip must match one of")
	flag.Parse()
	allow, err := loadAllow(*allowFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	args := append([]string{"test", "-json"}, flag.Args()...)
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "skipcheck:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout, slices.Contains(flag.Args(), "-v"))
	readErr := r.read(stdout)
	waitErr := cmd.Wait()
	bad := r.summary(allow)
	switch {
	case readErr != nil:
		fmt.Fprintln(os.Stderr, "skipcheck: reading go test's output:", readErr)
		os.Exit(2)
	case waitErr != nil:
		os.Exit(1)
	case bad > 0:
		fmt.Printf("FAIL: %d test(s) skipped for a reason that is not a host limit listed in %s\n", bad, *allowFile)
		os.Exit(1)
	}
}

// loadAllow reads the allow file: one regular expression a line, matched
// against "package TestName: reason"; blank lines and # comments ignored.
func loadAllow(path string) ([]*regexp.Regexp, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res []*regexp.Regexp
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		re, err := regexp.Compile(l)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		res = append(res, re)
	}
	return res, nil
}

// event is one line of `go test -json` (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is one skipped test and the reason it printed.
type skip struct{ pkg, test, reason string }

func (s skip) String() string { return s.pkg + " " + s.test + ": " + s.reason }

// report turns the event stream into go test's usual output.
type report struct {
	w       io.Writer
	verbose bool
	out     map[[2]string][]string // output so far, by package and test
	skips   []skip
}

func newReport(w io.Writer, verbose bool) *report {
	return &report{w: w, verbose: verbose, out: map[[2]string][]string{}}
}

// read consumes the stream; lines that are not JSON (build errors printed
// by go itself) are passed through.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(r.w, sc.Text())
			continue
		}
		r.event(e)
	}
	return sc.Err()
}

func (r *report) event(e event) {
	k := [2]string{e.Package, e.Test}
	switch e.Action {
	case "output":
		r.out[k] = append(r.out[k], e.Output)
		if r.verbose {
			fmt.Fprint(r.w, e.Output)
		} else if e.Test == "" && isResultLine(e.Output) && e.Output != "PASS\n" {
			fmt.Fprint(r.w, e.Output)
		}
	case "fail":
		if !r.verbose {
			// A failed test's output, or a failed package's (a build
			// error, a panic outside a test).
			for _, l := range r.out[k] {
				if e.Test != "" || !isResultLine(l) {
					fmt.Fprint(r.w, l)
				}
			}
		}
		delete(r.out, k)
	case "skip":
		if e.Test != "" {
			r.skips = append(r.skips, skip{pkg: e.Package, test: e.Test, reason: reasonOf(r.out[k])})
		}
		delete(r.out, k)
	case "pass":
		delete(r.out, k)
	}
}

// isResultLine reports whether l is go test's line for a package's result.
func isResultLine(l string) bool {
	return strings.HasPrefix(l, "ok  \t") || strings.HasPrefix(l, "FAIL\t") ||
		strings.HasPrefix(l, "?   \t") || l == "FAIL\n" || l == "PASS\n"
}

// reasonOf is what a skipped test printed, without go test's own lines.
func reasonOf(out []string) string {
	var parts []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// summary prints every skip, marked when no allow pattern matches it, and
// returns how many are not allowed. A subtest's skip is listed by itself
// (its parent passed).
func (r *report) summary(allow []*regexp.Regexp) int {
	if len(r.skips) == 0 {
		return 0
	}
	bad := 0
	fmt.Fprintf(r.w, "\nskipped (%d):\n", len(r.skips))
	for _, s := range r.skips {
		mark := "host limit"
		if !matchesAny(allow, s.String()) {
			mark, bad = "NOT A HOST LIMIT", bad+1
		}
		fmt.Fprintf(r.w, "  [%s] %s\n", mark, strings.TrimPrefix(s.String(), "github.com/rtkit/rt/"))
	}
	return bad
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
}
