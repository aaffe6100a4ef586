// Package exec_test runs `rt exec` against real containers: a busybox
// bundle started with `rt run -d` whose init is `sleep 1000`, and checks
// from inside and from the host that the exec'd process is in the
// container's namespaces and cgroups, with the user, groups, capabilities,
// environment, cwd, fds and terminal asked for, and that rt exits with its
// status as runc does.
//
// With RT_TEST_COMPARE set to another runtime with runc's CLI (e.g.
// /usr/sbin/runc), the tests run that runtime instead of rt and the BUG
// skips are not taken: that is how each bug reported here was confirmed
// against runc.
package exec_test

import (
	"testing"

	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// compared is harness.Compared: the runtime run in place of rt, or "".
var compared = harness.Compared
