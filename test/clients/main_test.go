// Package clients_test drives the real clients — containerd 1.6 (through
// ctr and containerd-shim-runc-v2) and podman 4.3 (through conmon) — with rt
// as their OCI runtime, on an OCI image the suite builds itself from
// busybox-static. No registry and no host network: containerd runs from the
// suite's own config, socket and directories; podman from its own
// containers.conf and storage.conf, with --network none.
//
// RT_CLIENTS_RUNTIME=/usr/sbin/runc runs the same suite with Debian's runc
// as the runtime and the BUG skips not taken: every test passing with runc
// is what shows the tests test the clients' contract, not rt's behaviour.
//
// RT_CLIENTS_RUN_BUGS=1 runs the tests of known rt bugs instead of skipping
// them (each skip says what rt does wrong, where, and what the client
// expects).
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
	if dir := os.Getenv(reaperEnv); dir != "" {
		reap(dir)
		os.Exit(0)
	}
	harness.Main(m)
}

// compared is the runtime RT_CLIENTS_RUNTIME names instead of rt, or "".
var compared = os.Getenv("RT_CLIENTS_RUNTIME")

// runBugs (RT_CLIENTS_RUN_BUGS=1) runs the tests of known rt bugs instead of
// skipping them: to check a fix before removing its skip.
var runBugs = os.Getenv("RT_CLIENTS_RUN_BUGS") != ""

// bug skips the rest of a test that fails because of a bug in rt; with
// another runtime the test goes on (and fails if that runtime has it too).
// It is called before the step that fails, so that the skipped test leaves
// nothing behind that cleanup cannot remove.
func bug(t *testing.T, msg string) {
	t.Helper()
	if compared == "" && !runBugs {
		t.Skip("BUG: " + msg)
	}
}

// isRT: the runtime under test is rt (not a compared runtime).
func isRT() bool { return compared == "" }
