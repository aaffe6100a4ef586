package clients_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

// variable matches what differs between two containerd log lines that say
// the same thing: ids, pids, paths of the suite's dir, times.
var variable = regexp.MustCompile(`[0-9a-f]{64}|/tmp/rt-clients-[0-9]+|\b(id|pid)=[^ ]+|time=\\"[^\\]*\\"`)

// TestZZNothingLeftBehind runs last (its file name sorts last): it tears the
// shared containerd and podman down and checks that the suite left nothing:
// no process from its directory (containerd, shims, conmons, containers), no
// mount under it, no cgroup directory of its own, no change in `ip link`.
func TestZZNothingLeftBehind(t *testing.T) {
	s := suiteStarted()
	if s == nil {
		t.Skip("no test set the suite up")
	}
	// What containerd complained about (its log goes with the dir): shown
	// with -v, to compare a run with rt and one with runc.
	if log, err := os.ReadFile(filepath.Join(s.dir, "containerd", "containerd.log")); err == nil {
		seen := map[string]bool{}
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "level=warning") || strings.Contains(line, "level=error") {
				msg := line
				if i := strings.Index(line, "level="); i >= 0 {
					msg = line[i:]
				}
				msg = variable.ReplaceAllString(msg, "…")
				if !seen[msg] {
					seen[msg] = true
					t.Logf("containerd: %s", msg)
				}
			}
		}
	}
	problems := teardown(s.dir)
	s.reaper.Close()
	// A next round (-count=2) sets a new suite up.
	suiteOnce, theSuite, suiteErr = sync.Once{}, nil, nil
	for _, p := range problems {
		t.Errorf("teardown: %s", p)
	}
	// The clients run with --network none: a veth or a CNI bridge is
	// test/cri's, which may run at the same time.
	harness.AssertNothingLeft(t, s.dir, harness.IsReaper(reaperEnv), s.ipLink, regexp.MustCompile(`^(veth|rtcri)`),
		suiteName(s.dir), suiteName(s.dir)+"-podman")
}
