// Package cri_test runs pods on rt the way Kubernetes does: through
// containerd 1.6's CRI plugin, whose runtime handler "rt" is the runc v2
// shim with BinaryName set to the rt under test, driven by crictl
// (cri-tools, `make deps` installs it) as kubelet would drive it. The suite
// starts its own containerd (config, root, state, socket and CNI config in
// its own directory), networks pods with Debian's CNI plugins (bridge and
// host-local on a link-local range, loopback), and runs images it builds
// itself: busybox-static, and a pause image from testdata/pause.c.
//
// RT_CRI_RUNTIME=/usr/sbin/runc points the handler at another runtime: the
// suite passing with runc shows that a failure with rt is rt's.
//
// The last test (TestZZNothingLeftBehind) stops containerd and checks that
// the host has no process, mount, network namespace, veth, cgroup or
// runtime state left from the suite. When it does not run (-run, a crash),
// a reaper process tears the suite down when the test binary exits.
package cri_test

import (
	"os"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) {
	harness.Reap(reaperEnv, func(dir string) { teardown(dir) })
	harness.Main(m)
}

// compared is the runtime RT_CRI_RUNTIME names instead of rt, or "".
var compared = os.Getenv("RT_CRI_RUNTIME")

// isRT: the runtime under test is rt (not a compared runtime).
func isRT() bool { return compared == "" }
