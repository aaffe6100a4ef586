package checkpoint_test

import (
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// TestRestoreNetworkNamespace: the container's own network namespace is not
// dumped (as runc), and the restored one is made as create makes it: the
// loopback up with its addresses (runc leaves it down) and the spec's net.*
// sysctls written again.
func TestRestoreNetworkNamespace(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	harness.EditConfig(t, c.bundle, func(s *specs.Spec) {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "100"
	})
	images := filepath.Join(t.TempDir(), "img")
	before := c.waitCount(t, 2)
	if res := c.r.RT("checkpoint", "--image-path", images, c.id); res.Code != 0 {
		t.Fatalf("checkpoint: %s", res)
	}
	if res := c.r.RT("restore", "-d", "--image-path", images, "--bundle", c.bundle, c.id); res.Code != 0 {
		t.Fatalf("restore: %s", res)
	}
	c.waitCount(t, before)
	res := c.r.RT("exec", c.id, "ip", "-o", "addr", "show", "dev", "lo")
	if res.Code != 0 || !strings.Contains(res.Stdout, "127.0.0.1") {
		t.Errorf("loopback of the restored container: %s", res)
	}
	if res := c.r.RT("exec", c.id, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); res.Code != 0 || strings.TrimSpace(res.Stdout) != "100" {
		t.Errorf("net sysctl of the restored container: %s", res)
	}
	stopAndDelete(t, c)
	c.r.AssertNoTrace(t, c.id, c.bundle)
}
