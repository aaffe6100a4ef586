// Package clients_test drives the real clients — containerd 1.6 (through
// ctr and containerd-shim-runc-v2) and podman 4.3 (through conmon) — with rt
// as their OCI runtime, on an OCI image the suite builds itself from
// busybox-static. No registry and no host network: containerd runs from the
// suite's own config, socket and directories; podman from its own
// containers.conf and storage.conf, with --network none.
//
// RT_CLIENTS_RUNTIME=/usr/sbin/runc runs the same suite with Debian's runc
// as the runtime: every test passing with runc is what shows the tests test
// the clients' contract, not rt's behaviour.
//
// RT_CLIENTS_ARGV_LOG=FILE wraps the runtime in a shell script that appends
// each invocation's caller, cwd, environment names and argv to FILE (see
// docs/compatibility.md, which summarises such a log).
//
// The suite shares one containerd and one podman store between its tests,
// started on first use. The last test (TestZZNothingLeftBehind) tears them
// down and checks that nothing is left: no containerd or shim or conmon
// process, no mount under the suite's directories, no cgroup directory of a
// container, no change in `ip link`. When that test is not run (-run, a
// crash, a timeout), a reaper process tears them down when the test binary
// exits.
package clients_test

import (
	"os"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) {
	harness.Reap(reaperEnv, func(dir string) { teardown(dir) })
	harness.Main(m)
}

// compared is the runtime RT_CLIENTS_RUNTIME names instead of rt, or "".
var compared = os.Getenv("RT_CLIENTS_RUNTIME")

// isRT: the runtime under test is rt (not a compared runtime).
func isRT() bool { return compared == "" }
