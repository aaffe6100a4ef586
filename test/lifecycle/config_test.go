package lifecycle_test

// Each config.json field, observed from inside a busybox container: the
// container prints what it sees, the test parses its stdout.

import (
	"encoding/json"
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

// cfgRun runs bundle b as a new container with `rt run`, wants exit 0 and
// nothing left on the host, and returns what the container printed.
func cfgRun(t *testing.T, r *harness.Runner, prefix, b string) string {
	t.Helper()
	id := harness.ID(prefix)
	res := r.RT("run", "--bundle", b, id)
	if res.Code != 0 {
		t.Errorf("rt run %s: %s", id, res)
	}
	r.AssertNoTrace(t, id, b)
	return res.Stdout
}

// cfgRunScript is cfgRun of a fresh bundle running script with sh.
func cfgRunScript(t *testing.T, r *harness.Runner, prefix, script string, edit func(*specs.Spec)) string {
	t.Helper()
	return cfgRun(t, r, prefix, bundle(t, sh(script), edit))
}

// cfgRefused wants `rt create` of b to fail with exit 1 and a one-line
// error naming each of want, and nothing of the container left.
func cfgRefused(t *testing.T, r *harness.Runner, prefix, b string, want ...string) {
	t.Helper()
	id := harness.ID(prefix)
	res := r.RT("create", "--bundle", b, id)
	msg := strings.TrimSuffix(res.Stderr, "\n")
	if res.Code != 1 || msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("create %s: %s, want exit 1 and a one-line error", id, res)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("create %s: error %q does not name %q", id, msg, w)
		}
	}
	if res.Code == 0 {
		r.RT("delete", "--force", id)
	}
	r.AssertNoTrace(t, id, b)
}

// cfgValues parses the lines "key<sep>value" of out (the first sep splits;
// values are trimmed). Other lines are ignored.
func cfgValues(out, sep string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, sep); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// cfgWant compares got[key] with want for each pair.
func cfgWant(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %q (present %v), want %q", k, g, ok, w)
		}
	}
}

func cfgHostNS(t *testing.T, typ string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func cfgPtr[T any](v T) *T { return &v }

// cfgHostHasCap says whether the test (and so rt) has capability c.
func cfgHostHasCap(t *testing.T, c int) bool {
	eff, err := strconv.ParseUint(cfgValues(readFile(t, "/proc/self/status"), ":")["CapEff"], 16, 64)
	return err == nil && eff&(1<<c) != 0
}

// Capability numbers (linux/capability.h).
const (
	capChown          = 0
	capKill           = 5
	capNetBindService = 10
	capSysAdmin       = 21
	capSysResource    = 24
	capAuditWrite     = 29
)

var cfgCapNames = map[int]string{
	capChown: "CAP_CHOWN", capKill: "CAP_KILL", capNetBindService: "CAP_NET_BIND_SERVICE",
	capSysAdmin: "CAP_SYS_ADMIN", capAuditWrite: "CAP_AUDIT_WRITE",
}

func cfgCapList(caps ...int) []string {
	var out []string
	for _, c := range caps {
		out = append(out, cfgCapNames[c])
	}
	return out
}

// cfgCapMask is the mask /proc/<pid>/status prints for caps.
func cfgCapMask(caps ...int) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

// TestConfigCapabilities sets the five capability sets and reads them back
// from /proc/self/status. The program is an execve() away from what rt
// sets, so the expected masks follow the kernel's exec rules for a file
// without capabilities (capabilities(7)):
//   - bounding, inheritable and ambient are kept;
//   - for root: permitted = effective = bounding|inheritable, but with
//     no_new_privs the permitted set cannot grow across exec, so it stays
//     the configured permitted set;
//   - for any other uid: permitted = effective = ambient.
func TestConfigCapabilities(t *testing.T) {
	r := runner(t)
	all := []int{capChown, capKill, capNetBindService, capSysAdmin, capAuditWrite}
	for _, tc := range []struct {
		name                    string
		uid                     uint32
		none                    bool // no process.capabilities at all
		bnd, prm, eff, inh, amb []int
		nnp                     bool
		inh2, prm2, bnd2, amb2  []int // observed; effective = permitted
	}{
		{
			name: "root with no_new_privs",
			bnd:  all, prm: []int{capChown, capKill, capNetBindService, capSysAdmin}, eff: []int{capKill},
			inh: []int{capNetBindService, capSysAdmin}, amb: []int{capNetBindService}, nnp: true,
			inh2: []int{capNetBindService, capSysAdmin}, prm2: []int{capChown, capKill, capNetBindService, capSysAdmin},
			bnd2: all, amb2: []int{capNetBindService},
		},
		{
			name: "root without no_new_privs",
			bnd:  all, prm: []int{capChown, capKill, capNetBindService, capSysAdmin}, eff: []int{capKill},
			inh: []int{capNetBindService, capSysAdmin}, amb: []int{capNetBindService},
			inh2: []int{capNetBindService, capSysAdmin}, prm2: all, bnd2: all, amb2: []int{capNetBindService},
		},
		{
			name: "uid 1000 with ambient",
			uid:  1000, bnd: []int{capChown, capKill, capNetBindService, capAuditWrite},
			prm: []int{capKill, capNetBindService, capAuditWrite}, eff: []int{capKill, capNetBindService},
			inh: []int{capNetBindService, capAuditWrite}, amb: []int{capNetBindService, capAuditWrite}, nnp: true,
			inh2: []int{capNetBindService, capAuditWrite}, prm2: []int{capNetBindService, capAuditWrite},
			bnd2: []int{capChown, capKill, capNetBindService, capAuditWrite}, amb2: []int{capNetBindService, capAuditWrite},
		},
		{
			name: "uid 1000 without ambient",
			uid:  1000, bnd: []int{capKill}, prm: []int{capKill}, eff: []int{capKill},
			bnd2: []int{capKill},
		},
		{name: "root without capabilities", none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := cfgRunScript(t, r, "caps", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status", func(s *specs.Spec) {
				s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
				s.Process.NoNewPrivileges = tc.nnp
				s.Process.Capabilities = &specs.LinuxCapabilities{
					Bounding: cfgCapList(tc.bnd...), Permitted: cfgCapList(tc.prm...), Effective: cfgCapList(tc.eff...),
					Inheritable: cfgCapList(tc.inh...), Ambient: cfgCapList(tc.amb...),
				}
				if tc.none {
					s.Process.Capabilities = nil
				}
			})
			nnp := "0"
			if tc.nnp {
				nnp = "1"
			}
			cfgWant(t, cfgValues(out, ":"), map[string]string{
				"CapInh": cfgCapMask(tc.inh2...), "CapPrm": cfgCapMask(tc.prm2...), "CapEff": cfgCapMask(tc.prm2...),
				"CapBnd": cfgCapMask(tc.bnd2...), "CapAmb": cfgCapMask(tc.amb2...), "NoNewPrivs": nnp,
			})
		})
	}
}

// TestConfigCapabilitiesSkippedWithWarning: capability names rt or the
// kernel does not know are skipped, and ambient capabilities that are not
// also permitted and inheritable are not raised, each with one warning in
// rt's log naming them, as runc does (the spec: SHOULD NOT fail, MUST
// warn). rt refused unknown names (`unknown capability "CAP_BOGUS"`) and
// dropped the ambient ones without a word.
func TestConfigCapabilitiesSkippedWithWarning(t *testing.T) {
	r := runner(t)
	b := bundle(t, sh("grep -E '^Cap' /proc/self/status"), func(s *specs.Spec) {
		s.Process.NoNewPrivileges = true
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:    append(cfgCapList(capChown, capKill), "CAP_BOGUS"),
			Permitted:   append(cfgCapList(capChown, capKill), "CAP_BOGUS", "CAP_NEWER_THAN_RT"),
			Effective:   cfgCapList(capKill),
			Inheritable: append(cfgCapList(capChown), "CAP_BOGUS"),
			// CAP_KILL is permitted but not inheritable: not raised.
			Ambient: cfgCapList(capChown, capKill),
		}
	})
	out, ws := cfgRunLogged(t, r, "capwarn", b)
	cfgWant(t, cfgValues(out, ":"), map[string]string{
		"CapInh": cfgCapMask(capChown), "CapPrm": cfgCapMask(capChown, capKill), "CapEff": cfgCapMask(capChown, capKill),
		"CapBnd": cfgCapMask(capChown, capKill), "CapAmb": cfgCapMask(capChown),
	})
	if harness.Compared != "" {
		return
	}
	var unknown, ambient []string
	for _, w := range ws {
		if strings.Contains(w, "ambient") {
			ambient = append(ambient, w)
		} else {
			unknown = append(unknown, w)
		}
	}
	cfgOneWarning(t, unknown, "ignoring unknown or unavailable capabilities", "CAP_BOGUS", "CAP_NEWER_THAN_RT")
	cfgOneWarning(t, ambient, "can't raise ambient capabilities", "CAP_KILL", "permitted and inheritable")
	if len(ambient) == 1 && strings.Contains(ambient[0], "CAP_CHOWN") {
		t.Errorf("warning %q names CAP_CHOWN, which was raised", ambient[0])
	}
}

// TestConfigUser checks process.user: ids, additional groups (and only
// those), and the umask, also through the mode of a new file.
func TestConfigUser(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name  string
		user  specs.User
		ids   string // Uid/Gid lines: the id four times
		gid   string
		group string // the Groups line
		umask string
		mode  string // of a file touched in /tmp
	}{
		{"root by default", specs.User{}, "0", "0", "", "0022", "644"},
		{"uid 1000 with groups and umask 0027", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 65534}, Umask: cfgPtr[uint32](0o027)}, "1000", "1000", "5 65534", "0027", "640"},
		{"uid 65534 gid 100 umask 0077", specs.User{UID: 65534, GID: 100, AdditionalGids: []uint32{1000}, Umask: cfgPtr[uint32](0o077)}, "65534", "100", "1000", "0077", "600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := cfgRunScript(t, r, "user", `grep -E '^(Uid|Gid|Groups):' /proc/self/status; echo "umask: $(umask)"; touch /tmp/f && echo "mode: $(stat -c %a /tmp/f)"`, func(s *specs.Spec) {
				s.Process.User = tc.user
				s.Root.Readonly = false
			})
			four := func(id string) string { return id + "\t" + id + "\t" + id + "\t" + id }
			cfgWant(t, cfgValues(out, ":"), map[string]string{
				"Uid": four(tc.ids), "Gid": four(tc.gid), "Groups": tc.group, "umask": tc.umask, "mode": tc.mode,
			})
		})
	}
}

// TestConfigCwd checks process.cwd, and that a missing cwd is created (as
// runc does), also on a read-only root.
func TestConfigCwd(t *testing.T) {
	r := runner(t)
	for _, tc := range []struct {
		name     string
		cwd      string
		readonly bool
		bug      string
	}{
		{"existing", "/tmp", true, ""},
		{"missing", "/work/dir", false, ""},
		{"missing on a read-only root", "/work/dir", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip(tc.bug)
			}
			b := bundle(t, []string{"pwd"}, func(s *specs.Spec) {
				s.Process.Cwd = tc.cwd
				s.Root.Readonly = tc.readonly
			})
			if out := cfgRun(t, r, "cwd", b); out != tc.cwd+"\n" {
				t.Errorf("pwd printed %q, want %q", out, tc.cwd)
			}
			if st, err := os.Stat(filepath.Join(b, "rootfs", tc.cwd)); err != nil || !st.IsDir() {
				t.Errorf("cwd %s in the rootfs: %v", tc.cwd, err)
			}
		})
	}
}

// TestConfigArgsEnv checks that process.args reach the program word for
// word and process.env is its environment.
func TestConfigArgsEnv(t *testing.T) {
	r := runner(t)
	b := bundle(t, []string{"sh", "-c", `printf '[%s]\n' "$0" "$@"; echo "FOO=$FOO"; echo "EMPTY=${EMPTY-unset}"; echo "UNSET=${UNSET-unset}"; echo "PATH=$PATH"`, "zero", "one two", " three "}, func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin:/sbin", "FOO=bar baz", "EMPTY="}
	})
	want := "[zero]\n[one two]\n[ three ]\nFOO=bar baz\nEMPTY=\nUNSET=unset\nPATH=/bin:/sbin\n"
	if out := cfgRun(t, r, "args", b); out != want {
		t.Errorf("container printed %q, want %q", out, want)
	}
}

// TestConfigRlimits sets RLIMIT_NOFILE below the host's and another limit,
// and reads them with ulimit and /proc/self/limits.
func TestConfigRlimits(t *testing.T) {
	r := runner(t)
	var host unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &host); err != nil || host.Max <= 456 {
		t.Skipf("host RLIMIT_NOFILE %+v is not above the test's limits (%v)", host, err)
	}
	out := cfgRunScript(t, r, "rlimit", `echo "soft: $(ulimit -n)"; echo "hard: $(ulimit -Hn)"; grep -E '^Max (open files|core file size|pending signals)' /proc/self/limits`, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
			{Type: "RLIMIT_SIGPENDING", Soft: 77, Hard: 77},
		}
	})
	got := cfgValues(out, ":")
	cfgWant(t, got, map[string]string{"soft": "123", "hard": "456"})
	limits := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, name := range []string{"Max open files", "Max core file size", "Max pending signals"} {
			if rest, ok := strings.CutPrefix(line, name); ok {
				limits[name] = strings.Join(strings.Fields(rest), " ")
			}
		}
	}
	cfgWant(t, limits, map[string]string{
		"Max open files": "123 456 files", "Max core file size": "0 4096 bytes", "Max pending signals": "77 77 signals",
	})
}

// TestConfigOOMScoreAdj checks process.oomScoreAdj, raised and lowered
// (lowering needs CAP_SYS_RESOURCE, which rt has while it sets it up).
func TestConfigOOMScoreAdj(t *testing.T) {
	r := runner(t)
	for _, adj := range []int{500, 1000, -100} {
		t.Run(strconv.Itoa(adj), func(t *testing.T) {
			if adj < 0 && !cfgHostHasCap(t, capSysResource) {
				t.Skip("lowering oom_score_adj needs CAP_SYS_RESOURCE, which this host's bounding set lacks")
			}
			out := cfgRunScript(t, r, "oom", "cat /proc/self/oom_score_adj", func(s *specs.Spec) {
				s.Process.OOMScoreAdj = cfgPtr(adj)
			})
			if strings.TrimSpace(out) != strconv.Itoa(adj) {
				t.Errorf("oom_score_adj %q, want %d", out, adj)
			}
		})
	}
}

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

// cfgMount is one line of /proc/self/mountinfo.
type cfgMount struct {
	point, fstype, source string
	opts, super           []string
}

func cfgMountinfo(text string) map[string]cfgMount {
	out := map[string]cfgMount{}
	for _, line := range strings.Split(text, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			continue
		}
		// The last mount on a point is the one seen.
		out[f[4]] = cfgMount{point: f[4], fstype: g[0], source: g[1], opts: strings.Split(f[5], ","), super: strings.Split(g[2], ",")}
	}
	return out
}

// cfgTmpfsDir makes a host temp dir with a tmpfs mounted on its "sub"
// directory, unmounted at cleanup.
func cfgTmpfsDir(t *testing.T) string {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", sub, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(sub, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", sub, err)
		}
	})
	return dir
}

// TestConfigMounts checks the default mounts in the container's mount table
// and what the options of bind and tmpfs mounts do.
func TestConfigMounts(t *testing.T) {
	r := runner(t)
	roDir, rwDir, flagDir := t.TempDir(), cfgTmpfsDir(t), t.TempDir()
	rroDir := cfgTmpfsDir(t)
	if err := os.WriteFile(filepath.Join(flagDir, "prog"), []byte("#!/bin/sh\necho ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `
w() { if touch "$1" 2>/dev/null; then echo "$1=writable"; else echo "$1=readonly"; fi; }
w /mnt/ro/x; w /mnt/rw/x; w /mnt/rw/sub/x; w /mnt/rro/x; w /mnt/rro/sub/x; w /mnt/rosub/x; w /mnt/rosub/sub/x
if /mnt/flags/prog >/dev/null 2>&1; then echo "noexec=ran"; else echo "noexec=refused"; fi
echo "tmpmode=$(stat -c %a /mnt/tmp)"
if [ -d /new/deep/dir ]; then echo "created=yes"; else echo "created=no"; fi
echo ---
cat /proc/self/mountinfo`
	b := bundle(t, sh(script), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: roDir, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/mnt/rw", Type: "bind", Source: rwDir, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/mnt/rro", Type: "bind", Source: rroDir, Options: []string{"rbind", "rro"}},
			specs.Mount{Destination: "/mnt/rosub", Type: "bind", Source: rroDir, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/mnt/flags", Type: "bind", Source: flagDir, Options: []string{"bind", "nosuid", "noexec", "nodev"}},
			specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700"}},
			specs.Mount{Destination: "/new/deep/dir", Type: "bind", Source: roDir, Options: []string{"bind"}},
		)
	})
	out := cfgRun(t, r, "mounts", b)
	probes, table, _ := strings.Cut(out, "---\n")
	cfgWant(t, cfgValues(probes, "="), map[string]string{
		"/mnt/ro/x": "readonly", "/mnt/rw/x": "writable", "/mnt/rw/sub/x": "writable",
		"/mnt/rro/x": "readonly", "/mnt/rro/sub/x": "readonly",
		// Plain ro is not recursive: the submount stays writable.
		"/mnt/rosub/x": "readonly", "/mnt/rosub/sub/x": "writable",
		"noexec": "refused", "tmpmode": "700", "created": "yes",
	})
	if _, err := os.Stat(filepath.Join(rwDir, "x")); err != nil {
		t.Errorf("write through the rw bind is not on the host: %v", err)
	}
	if _, err := os.Stat(filepath.Join(roDir, "x")); err == nil {
		t.Error("write through the ro bind reached the host")
	}

	m := cfgMountinfo(table)
	has := func(list []string, words ...string) bool {
		for _, w := range words {
			if !slices.Contains(list, w) {
				return false
			}
		}
		return true
	}
	for _, c := range []struct {
		point, fstype string
		opts, super   []string
	}{
		{"/proc", "proc", nil, nil},
		{"/dev", "tmpfs", []string{"nosuid"}, []string{"mode=755"}},
		{"/dev/pts", "devpts", []string{"nosuid", "noexec"}, []string{"gid=5", "mode=620", "ptmxmode=666"}},
		{"/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}, []string{"size=65536k"}},
		{"/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}, nil},
		{"/sys", "sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		{"/", "", []string{"ro"}, nil},
		{"/mnt/ro", "", []string{"ro"}, nil},
		{"/mnt/rw", "", []string{"rw"}, nil},
		{"/mnt/rw/sub", "tmpfs", []string{"rw"}, nil},
		{"/mnt/rro/sub", "tmpfs", []string{"ro"}, nil},
		{"/mnt/flags", "", []string{"nosuid", "nodev", "noexec"}, nil},
		{"/mnt/tmp", "tmpfs", nil, []string{"size=1024k", "mode=700"}},
		{"/new/deep/dir", "", nil, nil},
	} {
		got, ok := m[c.point]
		if !ok {
			t.Errorf("no mount on %s", c.point)
			continue
		}
		if (c.fstype != "" && got.fstype != c.fstype) || !has(got.opts, c.opts...) || !has(got.super, c.super...) {
			t.Errorf("mount on %s: %s %v %v, want %s with %v and %v", c.point, got.fstype, got.opts, got.super, c.fstype, c.opts, c.super)
		}
	}
	// cgroup: every host hierarchy under /sys/fs/cgroup, read-only.
	hostCg := 0
	for point, hm := range cfgMountinfo(readFile(t, "/proc/self/mountinfo")) {
		if !strings.HasPrefix(point, "/sys/fs/cgroup") {
			continue
		}
		hostCg++
		got, ok := m[point]
		if !ok {
			t.Errorf("no cgroup mount on %s in the container", point)
			continue
		}
		if got.fstype != hm.fstype || !has(got.opts, "ro") {
			t.Errorf("mount on %s: %s %v, want %s read-only", point, got.fstype, got.opts, hm.fstype)
		}
	}
	if hostCg == 0 {
		t.Error("the host has no cgroup mounts under /sys/fs/cgroup")
	}
}

// cfgRunLogged is cfgRun with rt's log in a JSON file; it returns what the
// container printed and the messages of the log's warnings.
func cfgRunLogged(t *testing.T, r *harness.Runner, prefix, b string) (string, []string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "rt.log")
	id := harness.ID(prefix)
	res := r.RT("--log", log, "--log-format", "json", "run", "--bundle", b, id)
	if res.Code != 0 {
		t.Errorf("rt run %s: %s", id, res)
	}
	r.AssertNoTrace(t, id, b)
	return res.Stdout, cfgWarnings(t, log)
}

// cfgWarnings returns the messages of the warning records of the JSON log
// file path (none if rt wrote no log).
func cfgWarnings(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if rec.Level == "warning" {
			out = append(out, rec.Msg)
		}
	}
	return out
}

// cfgOneWarning wants exactly one warning among ws, containing each of words.
func cfgOneWarning(t *testing.T, ws []string, words ...string) {
	t.Helper()
	if len(ws) != 1 {
		t.Errorf("warnings %q, want exactly one naming %q", ws, words)
		return
	}
	for _, w := range words {
		if !strings.Contains(ws[0], w) {
			t.Errorf("warning %q does not name %q", ws[0], w)
		}
	}
}

// TestConfigMountRelativeDestination: a relative mounts[].destination,
// deprecated since runtime-spec 1.2, is mounted relative to the container's
// root with one warning in rt's log naming it, as runc does (rt refused
// it: "destination \"mnt/rel\" must be an absolute path"). Like every
// destination it is resolved inside the rootfs: a leading ".." stays there.
func TestConfigMountRelativeDestination(t *testing.T) {
	r := runner(t)
	const up = "../../../../../../mnt/up"
	b := bundle(t, sh("grep -E ' /mnt/(rel|up) ' /proc/self/mountinfo"), func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
			specs.Mount{Destination: up, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m"}},
		)
	})
	out, ws := cfgRunLogged(t, r, "relmount", b)
	m := cfgMountinfo(out)
	for point, size := range map[string]string{"/mnt/rel": "size=1024k", "/mnt/up": "size=2048k"} {
		if got, ok := m[point]; !ok || got.fstype != "tmpfs" || !slices.Contains(got.super, size) {
			t.Errorf("mount on %s: %+v (present %v), want tmpfs with %s; container's mountinfo:\n%s", point, got, ok, size, out)
		}
	}
	if st, err := os.Stat(filepath.Join(b, "rootfs", "mnt", "up")); err != nil || !st.IsDir() {
		t.Errorf("rootfs/mnt/up: %v, want the directory made inside the rootfs", err)
	}
	if _, err := os.Stat("/mnt/up"); err == nil {
		t.Errorf("/mnt/up exists on the host")
	}
	if harness.Compared == "" {
		cfgOneWarning(t, ws, `"mnt/rel"`, `"/mnt/rel"`, `"`+up+`"`, "not absolute")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestConfigMaskedPaths checks linux.maskedPaths: a masked file reads
// empty, a masked directory is empty and cannot be written. (The default
// spec's /proc/kcore does not exist on every kernel; /proc/keys,
// /proc/timer_list and /sys/firmware are used instead.)
func TestConfigMaskedPaths(t *testing.T) {
	for _, p := range []string{"/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the host has no %s to mask", p)
		}
	}
	r := runner(t)
	script := `
echo "keys=$(wc -c </proc/keys)"
echo "timer_list=$(wc -c </proc/timer_list)"
echo "hosts=$(wc -c </etc/hosts)"
echo "home=$(ls -A /home | wc -l)"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
if touch /home/x 2>/dev/null; then echo "homewrite=ok"; else echo "homewrite=failed"; fi`
	b := bundle(t, sh(script), func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/home", "/etc/hosts", "/does/not/exist")
	})
	if err := os.WriteFile(filepath.Join(b, "rootfs/home/secret"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgWant(t, cfgValues(cfgRun(t, r, "masked", b), "="), map[string]string{
		"keys": "0", "timer_list": "0", "hosts": "0", "home": "0", "firmware": "0", "homewrite": "failed",
	})
	// The unmasked view, to show the masks were what hid them.
	b = bundle(t, sh(script), func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.MaskedPaths = nil
	})
	os.WriteFile(filepath.Join(b, "rootfs/home/secret"), []byte("secret\n"), 0o644)
	got := cfgValues(cfgRun(t, r, "unmasked", b), "=")
	cfgWant(t, got, map[string]string{"home": "1", "homewrite": "ok"})
	for _, k := range []string{"timer_list", "hosts", "firmware"} {
		if got[k] == "0" || got[k] == "" {
			t.Errorf("unmasked, %s is empty: %v", k, got)
		}
	}
}

// TestConfigReadonlyPaths checks linux.readonlyPaths: /proc/sys (in the
// default spec) cannot be written, other paths still can; without it the
// same write works.
func TestConfigReadonlyPaths(t *testing.T) {
	r := runner(t)
	// kernel/hostname is the container's own (UTS namespace); root may
	// write it when /proc/sys is not read-only.
	script := `
if echo cfg-written >/proc/sys/kernel/hostname 2>/dev/null; then echo "procsys=ok"; else echo "procsys=failed"; fi
if echo 600 >/proc/self/oom_score_adj 2>/dev/null; then echo "oom=ok"; else echo "oom=failed"; fi
if touch /tmp/x 2>/dev/null; then echo "tmp=ok"; else echo "tmp=failed"; fi
if touch /x 2>/dev/null; then echo "root=ok"; else echo "root=failed"; fi`
	for _, tc := range []struct {
		name  string
		paths []string // nil: the default spec's
		want  map[string]string
	}{
		{"default", nil, map[string]string{"procsys": "failed", "oom": "ok", "tmp": "ok", "root": "ok"}},
		{"tmp", []string{"/tmp", "/does/not/exist"}, map[string]string{"procsys": "ok", "oom": "ok", "tmp": "failed", "root": "ok"}},
		{"none", []string{}, map[string]string{"procsys": "ok", "oom": "ok", "tmp": "ok", "root": "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := cfgRunScript(t, r, "ro", script, func(s *specs.Spec) {
				s.Root.Readonly = false
				if tc.paths != nil {
					s.Linux.ReadonlyPaths = tc.paths
				}
			})
			cfgWant(t, cfgValues(out, "="), tc.want)
		})
	}
}

// TestConfigRootReadonly checks root.readonly.
func TestConfigRootReadonly(t *testing.T) {
	r := runner(t)
	for _, readonly := range []bool{true, false} {
		t.Run(strconv.FormatBool(readonly), func(t *testing.T) {
			b := bundle(t, sh(`if touch /x 2>/dev/null; then echo ok; else echo failed; fi; awk '$5 == "/" { print substr($6, 1, 2) }' /proc/self/mountinfo`), func(s *specs.Spec) {
				s.Root.Readonly = readonly
			})
			want := "ok\nrw\n"
			if readonly {
				want = "failed\nro\n"
			}
			if out := cfgRun(t, r, "rootro", b); out != want {
				t.Errorf("container printed %q (write, / mount flags), want %q", out, want)
			}
			_, err := os.Stat(filepath.Join(b, "rootfs/x"))
			if (err == nil) == readonly {
				t.Errorf("file /x on the host after the write: %v", err)
			}
		})
	}
}

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
