package lifecycle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestConfigHostnameDomainname checks hostname and domainname in the
// container's UTS namespace, and that the host's stay as they were.
func TestConfigHostnameDomainname(t *testing.T) {
	r := runner(t)
	hostName, _ := os.Hostname()
	hostDomain, _ := os.ReadFile("/proc/sys/kernel/domainname")
	for _, tc := range []struct {
		name, hostname, domainname string
		wantHost, wantDomain       string
	}{
		{"both", "cfg-host", "cfg.example.org", "cfg-host", "cfg.example.org"},
		{"hostname only", "cfg-other", "", "cfg-other", strings.TrimSpace(string(hostDomain))},
		// Unset: the new UTS namespace starts as a copy of the host's.
		{"neither", "", "", hostName, strings.TrimSpace(string(hostDomain))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := cfgRunScript(t, r, "uts", `echo "host: $(hostname)"; echo "domain: $(cat /proc/sys/kernel/domainname)"`, func(s *specs.Spec) {
				s.Hostname, s.Domainname = tc.hostname, tc.domainname
			})
			cfgWant(t, cfgValues(out, ":"), map[string]string{"host": tc.wantHost, "domain": tc.wantDomain})
			if h, _ := os.Hostname(); h != hostName {
				t.Errorf("host's hostname changed to %q", h)
			}
		})
	}
}

// TestConfigHostnameWithoutUTSNamespace: a hostname (or domainname) needs a
// UTS namespace of the container's own; without one rt must refuse at
// create rather than set it on the host. The names asked for are the host's
// own, so that rt, if it does set them, changes nothing.
func TestConfigHostnameWithoutUTSNamespace(t *testing.T) {
	r := runner(t)
	hostName, _ := os.Hostname()
	hostDomain := strings.TrimSpace(readFile(t, "/proc/sys/kernel/domainname"))
	for _, tc := range []struct{ hostname, domainname, want string }{
		{hostName, "", "hostname"},
		{"", hostDomain, "domainname"},
	} {
		b := bundle(t, []string{"true"}, func(s *specs.Spec) {
			s.Hostname, s.Domainname = tc.hostname, tc.domainname
			s.Linux.Namespaces = without(s.Linux.Namespaces, specs.UTSNamespace)
		})
		cfgRefused(t, r, "nouts", b, tc.want)
	}
}

// TestConfigSysctl checks namespaced linux.sysctl values, read back inside,
// and that the host keeps its own. (/proc/sys is not read-only here: see
// TestConfigSysctlReadonlyProcSys.)
func TestConfigSysctl(t *testing.T) {
	r := runner(t)
	keys := map[string]string{
		"net.ipv4.ip_default_ttl":   "42",
		"net.ipv4.ping_group_range": "0 0",
		"kernel.shmmax":             "12345678",
		"kernel.shm_rmid_forced":    "1",
		// Written as its path, as runc accepts it.
		"net/ipv4/tcp_keepalive_probes": "3",
	}
	host := map[string]string{}
	for k := range keys {
		host[k] = readFile(t, cfgSysctlPath(k))
		if strings.Join(strings.Fields(host[k]), " ") == keys[k] {
			t.Fatalf("the host already has %s = %q: the test would show nothing", k, keys[k])
		}
	}
	out := cfgRunScript(t, r, "sysctl", cfgSysctlScript(keys), func(s *specs.Spec) {
		s.Linux.Sysctl = keys
		s.Linux.ReadonlyPaths = without2(s.Linux.ReadonlyPaths, "/proc/sys")
	})
	cfgWant(t, cfgSysctlValues(out), keys)
	for k, v := range host {
		if now := readFile(t, cfgSysctlPath(k)); now != v {
			t.Errorf("host's %s changed from %q to %q", k, v, now)
		}
	}
}

// TestConfigSysctlReadonlyProcSys: sysctls with the default spec, whose
// readonlyPaths include /proc/sys.
func TestConfigSysctlReadonlyProcSys(t *testing.T) {
	r := runner(t)
	keys := map[string]string{"net.ipv4.ip_default_ttl": "42", "kernel.shmmax": "12345678"}
	out := cfgRunScript(t, r, "sysctl", cfgSysctlScript(keys), func(s *specs.Spec) { s.Linux.Sysctl = keys })
	cfgWant(t, cfgSysctlValues(out), keys)
}

func cfgSysctlPath(key string) string {
	if strings.Contains(key, "/") {
		return filepath.Clean("/proc/sys/" + key)
	}
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}

func cfgSysctlScript(keys map[string]string) string {
	var b strings.Builder
	for k := range keys {
		fmt.Fprintf(&b, "echo \"%s: $(cat %s)\"\n", k, cfgSysctlPath(k))
	}
	return b.String()
}

// cfgSysctlValues parses "key: value" lines, the value's words joined by
// one space (ping_group_range prints a tab).
func cfgSysctlValues(out string) map[string]string {
	m := cfgValues(out, ": ")
	for k, v := range m {
		m[k] = strings.Join(strings.Fields(v), " ")
	}
	return m
}

func without2(paths []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return p == drop })
}

// TestConfigSysctlRefused: a host-wide sysctl, or a net.* one without a
// network namespace, is refused at create and the host keeps its value.
func TestConfigSysctlRefused(t *testing.T) {
	r := runner(t)
	// hostNS joins the test's own namespace of type t, which is the host's.
	hostNS := func(t specs.LinuxNamespaceType, name string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Namespaces = append(without(s.Linux.Namespaces, t),
				specs.LinuxNamespace{Type: t, Path: fmt.Sprintf("/proc/%d/ns/%s", os.Getpid(), name)})
		}
	}
	for _, tc := range []struct {
		key, value string
		edit       func(*specs.Spec)
		words      []string
	}{
		{"vm.swappiness", "7", nil, nil},
		{"kernel.panic", "7", nil, nil},
		{"net.ipv4.ip_default_ttl", "42", func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces, specs.NetworkNamespace)
		}, nil},
		// Joined by path, the host's own namespaces: runc refuses net.*,
		// rt every namespaced sysctl (it used to write the host's).
		{"net.ipv4.ip_default_ttl", "43", hostNS(specs.NetworkNamespace, "net"), []string{"host's network namespace"}},
		{"net/ipv4/ip_default_ttl", "44", hostNS(specs.NetworkNamespace, "net"), []string{"host's network namespace"}},
		{"kernel.shm_rmid_forced", "1", hostNS(specs.IPCNamespace, "ipc"), []string{"host's ipc namespace"}},
		{"kernel/../kernel/panic", "7", nil, []string{"not a sysctl name"}},
	} {
		t.Run(strings.ReplaceAll(tc.key, "/", "_"), func(t *testing.T) {
			before := readFile(t, cfgSysctlPath(tc.key))
			b := bundle(t, []string{"true"}, func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{tc.key: tc.value}
				if tc.edit != nil {
					tc.edit(s)
				}
			})
			cfgRefused(t, r, "sysctl", b, append([]string{tc.key}, tc.words...)...)
			if after := readFile(t, cfgSysctlPath(tc.key)); after != before {
				t.Errorf("host's %s changed from %q to %q", tc.key, before, after)
			}
		})
	}
}
