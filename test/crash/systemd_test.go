package crash_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestCreateKilledSystemd is TestCreateKilled with the systemd cgroup
// driver: a kill at any step must not leave the container's transient
// scope behind once delete --force (which reads the driver from the
// state, given no flag) is done.
func TestCreateKilledSystemd(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not PID 1 on this host (no /run/systemd/system): no transient scope to leak; " +
			"the sweep of the cgroupfs driver runs")
	}
	// One unit name for every case: they run one after the other, each
	// deleted before the next, and a leaked scope would fail the next
	// create as well as the check below.
	name := harness.ID("sd")
	unit := "rt-crash-" + name + ".scope"
	b := harness.Bundle(t, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.CgroupsPath = "system.slice:rt-crash:" + name
	})
	sweep(t, command{
		prepare: none,
		args:    func(f *fixture) []string { return []string{"create", "--bundle", f.bundle, f.id} },
		allowed: []string{absent, stopped, created_},
		check:   startable,
		delays:  quick(),
		env:     []string{"RT_CGROUP_DRIVER=systemd"},
		gone: func(t *testing.T, f *fixture) {
			out, _ := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", unit).CombinedOutput()
			if strings.Contains(string(out), unit) {
				t.Errorf("systemd unit %s left: %s", unit, out)
			}
		},
	}, b)
}
