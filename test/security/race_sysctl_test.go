package security_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestRaceSysctlRedirect covers the CVE-2025-52881 class as a race: runc
// wrote linux.sysctl values (and LSM labels) through the container's /proc,
// so a container that got a mount placed over a /proc/sys file redirected
// runc's write into the mounted file. The attacker cannot touch /proc; what
// it shares with the victim is a directory, and the victim's config binds a
// dummy file (the test's) onto /shared/target in it. The attacker exchanges
// target with a symlink to ../proc/sys/kernel/domainname, continuously,
// while the victim, which sets kernel.domainname, is run again and again:
// when the swap is inside the window the bind lands on the container's
// /proc/sys/kernel/domainname, as the config's own symlink leads (inside the
// rootfs: that is allowed), and the sysctl's write must still reach the
// kernel, not the dummy. Every run either has the sysctl in place or the
// dummy on /proc/sys/kernel/domainname, and the dummy never changes. A swap
// inside the window is a run whose victim finds the dummy mounted there, or
// one the /proc guard refused (rt checks where each destination resolved:
// the first defence, which the rt_nodefence control turns off too).
// (rt writes through a procfs of its own: pkg/process Sysctl.)
func TestRaceSysctlRedirect(t *testing.T) { raceSysctl(t, runner(t), false) }

// TestRaceSysctlRedirectControl is TestRaceSysctlRedirect on rt built with
// rt_nodefence (the sysctl written through the container's /proc, as runc
// did): it must catch the value written into the dummy.
func TestRaceSysctlRedirectControl(t *testing.T) { raceSysctl(t, controlRunner(t), true) }

func raceSysctl(t *testing.T, r *harness.Runner, control bool) {
	n := iterations(t)
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "target"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dummy := newDummy(t, filepath.Join(t.TempDir(), "dummy"))
	value := fmt.Sprintf("rt-race-%d", os.Getpid())
	hostBefore, _ := os.ReadFile("/proc/sys/kernel/domainname")
	b := bundle(t, sh(`echo "value|$(cat /proc/sys/kernel/domainname)"; echo "mounts|$(grep -c ' /proc/sys/kernel/domainname ' /proc/self/mountinfo)"`), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(shared, "/shared"),
			specs.Mount{Destination: "/shared/target", Type: "bind", Source: dummy.path, Options: []string{"bind", "rw"}})
		s.Linux.Sysctl = map[string]string{"kernel.domainname": value}
	})
	a := startAttacker(t, r, shared, "target", "target.swap", "../proc/sys/kernel/domainname", n)
	c := newTally("the victim found the dummy on its /proc/sys/kernel/domainname")
	for i := 0; i < n && !c.done(control); i++ {
		id := harness.ID("sysctl")
		res := rt(t, r, "run", "--bundle", b, id)
		r.AssertNoTrace(t, id, b)
		var through []string
		if wrote, what := dummy.changed(t); wrote {
			through = append(through, "the sysctl was written into the dummy: "+what)
		}
		// The first defence: the /proc guard refuses the bind once the
		// swap makes its destination resolve into /proc.
		landed := res.Code != 0 && strings.Contains(res.Stderr, "resolves to /proc/sys/kernel/domainname") && strings.Contains(res.Stderr, "inside /proc")
		if res.Code == 0 {
			got := map[string]string{}
			for _, line := range strings.Split(res.Stdout, "\n") {
				if k, v, ok := strings.Cut(line, "|"); ok {
					got[k] = v
				}
			}
			// The read-only /proc/sys (rbind) copies a mount on the file:
			// it is there once or twice.
			switch {
			case got["mounts"] == "1" || got["mounts"] == "2":
				landed = true
			case got["mounts"] != "0":
				t.Errorf("victim's output: %s", res)
			case got["value"] != value:
				t.Errorf("run %d: kernel.domainname in the container is %q, want %q", i, got["value"], value)
			}
		}
		c.add(t, res, landed, strings.Join(through, "; "))
	}
	c.report(t, control, a.stop())
	if after, _ := os.ReadFile("/proc/sys/kernel/domainname"); string(after) != string(hostBefore) {
		t.Errorf("the host's kernel.domainname changed: %q -> %q", hostBefore, after)
	}
}
