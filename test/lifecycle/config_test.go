package lifecycle_test

// Each config.json field, observed from inside a busybox container: the
// container prints what it sees, the test parses its stdout.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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
