package lifecycle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

// TestConfigNamespaces checks each namespace type from inside: a new one
// differs from the host's, a dropped one is the host's.
func TestConfigNamespaces(t *testing.T) {
	r := runner(t)
	hostName, _ := os.Hostname()
	hostIfs, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var hostNames []string
	for _, e := range hostIfs {
		hostNames = append(hostNames, e.Name())
	}
	nsLine := func(typ string) string { return fmt.Sprintf(`echo "ns %s=$(readlink /proc/self/ns/%s)"`, typ, typ) }
	for _, tc := range []struct {
		name   string
		drop   []specs.LinuxNamespaceType
		script string
		check  func(t *testing.T, id string, got map[string]string, out string)
	}{
		{"network new", nil, nsLine("net") + `; echo "ifs=$(ls /sys/class/net | tr '\n' ' ')"; echo "operstate=$(cat /sys/class/net/lo/operstate)"; echo "flags=$(cat /sys/class/net/lo/flags)"`,
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"ifs": "lo", "operstate": "unknown"})
				if f, err := strconv.ParseUint(got["flags"], 0, 32); err != nil || f&unix.IFF_UP == 0 {
					t.Errorf("lo flags %q: not up", got["flags"])
				}
				if got["ns net"] == cfgHostNS(t, "net") {
					t.Error("the container is in the host's network namespace")
				}
			}},
		{"network host", []specs.LinuxNamespaceType{specs.NetworkNamespace}, nsLine("net") + `; echo "ifs=$(ls /sys/class/net | tr '\n' ' ')"`,
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"ifs": strings.Join(hostNames, " "), "ns net": cfgHostNS(t, "net")})
			}},
		{"pid new", nil, nsLine("pid") + `; echo "pid=$$"`,
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"pid": "1"})
				if got["ns pid"] == cfgHostNS(t, "pid") {
					t.Error("the container is in the host's pid namespace")
				}
			}},
		{"pid host", []specs.LinuxNamespaceType{specs.PIDNamespace}, nsLine("pid") + `; echo "pid=$$"`,
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"ns pid": cfgHostNS(t, "pid")})
				if got["pid"] == "1" {
					t.Error("pid 1 in the host's pid namespace")
				}
			}},
		{"uts and ipc new", nil, nsLine("uts") + "; " + nsLine("ipc") + `; echo "hostname=$(hostname)"`,
			func(t *testing.T, id string, got map[string]string, out string) {
				if got["hostname"] == hostName || got["ns uts"] == cfgHostNS(t, "uts") || got["ns ipc"] == cfgHostNS(t, "ipc") {
					t.Errorf("hostname %q (host %q), uts %s, ipc %s: not the container's own", got["hostname"], hostName, got["ns uts"], got["ns ipc"])
				}
			}},
		{"ipc host", []specs.LinuxNamespaceType{specs.IPCNamespace}, nsLine("ipc"),
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"ns ipc": cfgHostNS(t, "ipc")})
			}},
		{"cgroup new", nil, nsLine("cgroup") + "; cat /proc/self/cgroup",
			func(t *testing.T, id string, got map[string]string, out string) {
				if got["ns cgroup"] == cfgHostNS(t, "cgroup") {
					t.Error("the container is in the host's cgroup namespace")
				}
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasPrefix(line, "ns ") && !strings.HasSuffix(line, ":/") {
						t.Errorf("/proc/self/cgroup line %q is not the namespace's root", line)
					}
				}
			}},
		{"cgroup host", []specs.LinuxNamespaceType{specs.CgroupNamespace}, nsLine("cgroup") + "; cat /proc/self/cgroup",
			func(t *testing.T, id string, got map[string]string, out string) {
				cfgWant(t, got, map[string]string{"ns cgroup": cfgHostNS(t, "cgroup")})
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.HasPrefix(line, "ns ") && !strings.HasSuffix(line, "/"+id) {
						t.Errorf("/proc/self/cgroup line %q is not the container's cgroup", line)
					}
				}
			}},
		{"mount new", nil, nsLine("mnt"),
			func(t *testing.T, id string, got map[string]string, out string) {
				if got["ns mnt"] == cfgHostNS(t, "mnt") {
					t.Error("the container is in the host's mount namespace")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, sh(tc.script), func(s *specs.Spec) {
				s.Linux.Namespaces = without(s.Linux.Namespaces, tc.drop...)
			})
			id := harness.ID("ns")
			res := r.RT("run", "--bundle", b, id)
			if res.Code != 0 {
				t.Fatalf("rt run: %s", res)
			}
			r.AssertNoTrace(t, id, b)
			tc.check(t, id, cfgValues(res.Stdout, "="), res.Stdout)
		})
	}
}

// TestConfigTimeNamespace checks linux.timeOffsets in a time namespace:
// the offsets are the namespace's, and /proc/uptime (CLOCK_BOOTTIME) is
// ahead of the host's by the boottime offset.
func TestConfigTimeNamespace(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	r := runner(t)
	const mono, boot = 86400, 2 * 86400
	uptime := func(s string) float64 {
		f, _ := strconv.ParseFloat(strings.Fields(s + " 0")[0], 64)
		return f
	}
	before := uptime(readFile(t, "/proc/uptime"))
	out := cfgRunScript(t, r, "time", `cat /proc/self/timens_offsets; echo "uptime $(cat /proc/uptime)"`, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: mono}, "boottime": {Secs: boot, Nanosecs: 5}}
	})
	after := uptime(readFile(t, "/proc/uptime"))
	// "monotonic      86400         0": the clock, then its offset.
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			got[f[0]] = strings.Join(f[1:], " ")
		}
	}
	cfgWant(t, got, map[string]string{"monotonic": strconv.Itoa(mono) + " 0", "boottime": strconv.Itoa(boot) + " 5"})
	if in := uptime(got["uptime"]); in < before+boot || in > after+boot+1 {
		t.Errorf("uptime inside %.2f, want between %.2f and %.2f (host's + %d)", in, before+boot, after+boot+1, boot)
	}
}

// cfgChownTree gives a tree to uid:gid, links included.
func cfgChownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cfgUserNSBundle is a bundle with a user namespace mapping container
// 0-65535 to host 100000-165535, its rootfs owned by the container's root.
// The network namespace stays: the default /sys (sysfs) needs one owned by
// the container's user namespace.
func cfgUserNSBundle(t *testing.T, args []string) string {
	b := bundle(t, args, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Root.Readonly = false
	})
	cfgChownTree(t, filepath.Join(b, "rootfs"), 100000, 100000)
	// t.TempDir makes 0700 dirs: the container's root must be able to
	// walk to its rootfs before pivot_root.
	for _, d := range []string{b, filepath.Dir(b)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestConfigUserNamespace checks uidMappings/gidMappings: inside, the maps
// and uid 0; on the host, the container's process runs as uid 100000.
func TestConfigUserNamespace(t *testing.T) {
	r := runner(t)
	b := cfgUserNSBundle(t, sh(`cat /proc/self/uid_map /proc/self/gid_map; echo "uid=$(id -u)"; echo "gid=$(id -g)"; if touch /tmp/x; then echo "write=ok"; else echo "write=failed"; fi`))
	out := cfgRun(t, r, "userns", b)
	var maps []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			maps = append(maps, strings.Join(f, " "))
		}
	}
	if want := []string{"0 100000 65536", "0 100000 65536"}; !slices.Equal(maps, want) {
		t.Errorf("uid_map, gid_map: %q, want %q", maps, want)
	}
	cfgWant(t, cfgValues(out, "="), map[string]string{"uid": "0", "gid": "0", "write": "ok"})
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(b, "rootfs/tmp/x"), &st); err != nil || st.Uid != 100000 || st.Gid != 100000 {
		t.Errorf("file written by the container's root: %+v %v, want owned by 100000:100000 on the host", st, err)
	}

	b = cfgUserNSBundle(t, []string{"sleep", "1000"})
	id := harness.ID("userns")
	if res := r.RT("run", "-d", "--bundle", b, id); res.Code != 0 {
		t.Fatalf("rt run -d: %s", res)
	}
	pid := state(t, r, id).InitProcessPid
	waitFor(t, func() bool { return strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/comm", pid))) == "sleep" })
	status := cfgValues(readFile(t, fmt.Sprintf("/proc/%d/status", pid)), ":")
	cfgWant(t, status, map[string]string{"Uid": "100000\t100000\t100000\t100000", "Gid": "100000\t100000\t100000\t100000"})
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid)); l == cfgHostNS(t, "user") {
		t.Error("the container is in the host's user namespace")
	}
	if res := r.RT("delete", "--force", id); res.Code != 0 {
		t.Fatalf("delete --force: %s", res)
	}
	r.AssertNoTrace(t, id, b)
}

// TestConfigJoinNamespaces checks namespaces given by path: B joins A's
// network and UTS namespaces.
func TestConfigJoinNamespaces(t *testing.T) {
	r := runner(t)
	a := bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Hostname = "cfg-a" })
	idA := harness.ID("join-a")
	if res := r.RT("run", "-d", "--bundle", a, idA); res.Code != 0 {
		t.Fatalf("rt run -d A: %s", res)
	}
	pid := state(t, r, idA).InitProcessPid
	nsA := func(typ string) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, typ))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	out := cfgRunScript(t, r, "join-b", `echo "hostname=$(hostname)"; echo "net=$(readlink /proc/self/ns/net)"; echo "uts=$(readlink /proc/self/ns/uts)"; echo "ipc=$(readlink /proc/self/ns/ipc)"; echo "ifs=$(ls /sys/class/net | tr '\n' ' ')"`, func(s *specs.Spec) {
		s.Hostname = "" // setting it would rename A
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace || ns.Type == specs.UTSNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.UTSNamespace: "uts"}[ns.Type])
			}
		}
	})
	got := cfgValues(out, "=")
	cfgWant(t, got, map[string]string{"hostname": "cfg-a", "net": nsA("net"), "uts": nsA("uts"), "ifs": "lo"})
	if got["ipc"] == nsA("ipc") || got["ipc"] == cfgHostNS(t, "ipc") {
		t.Errorf("B's ipc namespace %s is not its own", got["ipc"])
	}
	if res := r.RT("kill", idA, "KILL"); res.Code != 0 {
		t.Fatalf("kill A: %s", res)
	}
	waitFor(t, func() bool { return state(t, r, idA).Status == api.StatusStopped })
	if res := r.RT("delete", idA); res.Code != 0 {
		t.Fatalf("delete A: %s", res)
	}
	r.AssertNoTrace(t, idA, a)
}

// TestConfigPersonality checks linux.personality: LINUX32 makes uname
// report a 32-bit machine, in the init and in an exec (as runc's).
func TestConfigPersonality(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expected machine names are x86's")
	}
	r := runner(t)
	for _, tc := range []struct {
		domain specs.LinuxPersonalityDomain
		want   string
	}{
		{specs.PerLinux32, "i686"},
		{specs.PerLinux, "x86_64"},
	} {
		t.Run(string(tc.domain), func(t *testing.T) {
			out := cfgRun(t, r, "pers", bundle(t, []string{"uname", "-m"}, func(s *specs.Spec) {
				s.Linux.Personality = &specs.LinuxPersonality{Domain: tc.domain}
			}))
			if strings.TrimSpace(out) != tc.want {
				t.Errorf("uname -m: %q, want %s", out, tc.want)
			}
			id := harness.ID("pers-exec")
			if res := r.RT("run", "-d", "--bundle", bundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
				s.Linux.Personality = &specs.LinuxPersonality{Domain: tc.domain}
			}), id); res.Code != 0 {
				t.Fatalf("run -d: %s", res)
			}
			defer r.RT("delete", "--force", id)
			if res := r.RT("exec", id, "uname", "-m"); res.Code != 0 || strings.TrimSpace(res.Stdout) != tc.want {
				t.Errorf("exec uname -m: %s, want %s", res, tc.want)
			}
		})
	}
}

// TestConfigLSMUnavailable: an AppArmor profile or SELinux label on a host
// without that LSM is refused at create.
func TestConfigLSMUnavailable(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name, lsmPath, want string
		edit                func(*specs.Process)
	}{
		{"apparmor", "/sys/kernel/security/apparmor", "apparmor", func(p *specs.Process) { p.ApparmorProfile = "rt-test" }},
		{"selinux", "/sys/fs/selinux", "selinux", func(p *specs.Process) { p.SelinuxLabel = "system_u:system_r:container_t:s0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.lsmPath); err == nil {
				t.Skipf("%s is enabled on this host", tc.name)
			}
			b := bundle(t, []string{"true"}, func(s *specs.Spec) { tc.edit(s.Process) })
			cfgRefused(t, r, "lsm", b, tc.want)
		})
	}
}

// TestConfigSysctlUserNamespace: user.* sysctls are the user namespace's
// own limits, allowed with a user namespace of the container's (as runc
// does), and the host's stay as they were.
func TestConfigSysctlUserNamespace(t *testing.T) {
	r := runner(t)
	const key = "user.max_user_namespaces"
	host := readFile(t, cfgSysctlPath(key))
	b := cfgUserNSBundle(t, sh(`echo "value=$(cat /proc/sys/user/max_user_namespaces)"`))
	harness.EditConfig(t, b, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{key: "7"}
		s.Linux.ReadonlyPaths = without2(s.Linux.ReadonlyPaths, "/proc/sys")
	})
	cfgWant(t, cfgValues(cfgRun(t, r, "sysctl-user", b), "="), map[string]string{"value": "7"})
	if now := readFile(t, cfgSysctlPath(key)); now != host {
		t.Errorf("host's %s changed from %q to %q", key, host, now)
	}
	// Without a user namespace the limit would be the host's.
	b = bundle(t, []string{"true"}, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{key: "7"} })
	cfgRefused(t, r, "sysctl-user", b, key, "user namespace")
}
