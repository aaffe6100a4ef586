package cri_test

import (
	"regexp"
	"sync"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

// TestZZNothingLeftBehind runs last (its file name sorts last): it stops
// the suite's containerd and checks that the host has nothing left of it:
// no pod, no process, no mount (network namespaces included: they are
// under the suite's state), no cgroup of a container, no link (veth or
// bridge), nothing new in the CNI cache.
func TestZZNothingLeftBehind(t *testing.T) {
	s := theSuite
	if s == nil {
		t.Skip("no test set the suite up")
	}
	problems := teardown(s.dir)
	s.reaper.Close()
	// A next round (-count=2) sets a new suite up.
	suiteOnce, theSuite, suiteErr = sync.Once{}, nil, nil
	for _, p := range problems {
		t.Errorf("teardown: %s", p)
	}
	// Its own veths are checked on the bridge before teardown removes it;
	// other veths may be another suite's running now.
	harness.AssertNothingLeft(t, s.dir, harness.IsReaper(reaperEnv), s.ipLink, regexp.MustCompile(`^veth`), s.name)
	if now := cniListing(); now != s.cniState {
		t.Errorf("/var/lib/cni changed:\nbefore:\n%s\nafter:\n%s", s.cniState, now)
	}
}
