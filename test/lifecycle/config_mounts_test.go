package lifecycle_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/test/harness"
)

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
