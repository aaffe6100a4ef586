package main

import (
	"regexp"
	"strings"
	"testing"
)

// stream is a `go test -json` run: a pass, a failure, two skips (one a
// subtest) and a package whose build failed.
const stream = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"    a_test.go:1: chatter\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    a_test.go:9: boom\n"}
{"Action":"output","Package":"p/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p/a","Test":"TestBad"}
{"Action":"output","Package":"p/a","Test":"TestHost","Output":"    a_test.go:3: systemd is not PID 1 on this host\n"}
{"Action":"output","Package":"p/a","Test":"TestHost","Output":"--- SKIP: TestHost (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestHost"}
{"Action":"output","Package":"p/a","Test":"TestCriu/sub","Output":"    c_test.go:4: needs criu: not on PATH\n"}
{"Action":"skip","Package":"p/a","Test":"TestCriu/sub"}
{"Action":"pass","Package":"p/a","Test":"TestCriu"}
{"Action":"output","Package":"p/a","Output":"FAIL\n"}
{"Action":"output","Package":"p/a","Output":"FAIL\tp/a\t0.1s\n"}
{"Action":"fail","Package":"p/a"}
{"Action":"output","Package":"p/b","Output":"PASS\n"}
{"Action":"output","Package":"p/b","Output":"ok  \tp/b\t0.2s\n"}
{"Action":"pass","Package":"p/b"}
# p/c
c.go:1: syntax error
`

func TestReport(t *testing.T) {
	allow := []*regexp.Regexp{regexp.MustCompile(`systemd is not PID 1`)}
	for _, tc := range []struct {
		name    string
		verbose bool
		want    []string
		notWant []string
	}{
		{"quiet", false,
			[]string{"a_test.go:9: boom", "--- FAIL: TestBad", "FAIL\tp/a\t0.1s", "ok  \tp/b\t0.2s", "c.go:1: syntax error",
				"[host limit] p/a TestHost: a_test.go:3: systemd is not PID 1 on this host",
				"[NOT A HOST LIMIT] p/a TestCriu/sub: c_test.go:4: needs criu: not on PATH"},
			[]string{"chatter", "=== RUN", "PASS\n"}},
		{"verbose", true, []string{"chatter", "=== RUN   TestOK", "a_test.go:9: boom"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			r := newReport(&out, tc.verbose)
			if err := r.read(strings.NewReader(stream)); err != nil {
				t.Fatal(err)
			}
			if bad := r.summary(allow); bad != 1 {
				t.Errorf("summary: %d skips not allowed, want 1", bad)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
