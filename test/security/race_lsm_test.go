package security_test

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestRaceLSMAttr is the LSM half of the CVE-2025-52881 class: runc wrote
// the AppArmor profile and SELinux label of the container's process to
// /proc/self/attr/..., through the container's /proc, so a racing container
// that got a mount placed over that file (as TestRaceSysctlRedirect does
// for a sysctl) redirected the write. rt writes through a private procfs
// instance and its own thread-self (pkg/process writeAttr), which pkg/process's
// TestWriteAttrNotThroughProc checks with /proc covered by decoys. The race
// itself needs a host with an LSM whose label rt would write: without one,
// rt refuses a profile or label before anything is set up, which is what
// this test checks here (one line naming the label, nothing left), and
// then skips.
func TestRaceLSMAttr(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name, word string
		edit       func(*specs.Process)
	}{
		{"apparmor", "apparmor profile", func(p *specs.Process) { p.ApparmorProfile = "rt-race-test" }},
		{"selinux", "selinux label", func(p *specs.Process) { p.SelinuxLabel = "system_u:system_r:container_t:s0" }},
	} {
		if hostHasLSM(tc.name) {
			continue
		}
		b := bundle(t, []string{"true"}, func(s *specs.Spec) { tc.edit(s.Process) })
		id := harness.ID("lsm")
		res := r.RT("run", "--bundle", b, id)
		r.AssertNoTrace(t, id, b)
		if res.Code == 0 || strings.Count(res.Stderr, "\n") != 1 || !strings.Contains(res.Stderr, tc.word) ||
			!strings.Contains(res.Stderr, "LSM not enabled on this host") {
			t.Errorf("%s on a host without it: want one line refusing it, got %s", tc.name, res)
		}
	}
	if hostHasLSM("apparmor") || hostHasLSM("selinux") {
		// Not a host limit: make test fails on this skip (test/skipcheck).
		t.Skip("this host has an LSM, and the attr race (a mount over /proc/self/attr/... through a shared directory, " +
			"as in TestRaceSysctlRedirect, while rt sets a label the host has loaded) is not written yet")
	}
	t.Skip("no LSM on this host (no /sys/kernel/security/apparmor, no /sys/fs/selinux): rt refuses labels, so the attr race cannot run; " +
		"pkg/process TestWriteAttrNotThroughProc covers the write path")
}

// hostHasLSM reports whether the host has AppArmor or SELinux enabled, as
// rt's process.CheckLSM sees it.
func hostHasLSM(name string) bool {
	p := map[string]string{"apparmor": "/sys/kernel/security/apparmor", "selinux": "/sys/fs/selinux/enforce"}[name]
	_, err := os.Stat(p)
	return err == nil
}
