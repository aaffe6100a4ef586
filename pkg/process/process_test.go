package process

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// lookPathDirs makes dirs a, b and c under a temp dir with:
//
//	a/both (exec)   b/both (exec)   b/onlyb (exec)   a/noexec (0644)
//	b/noexec-then (0644)  c/noexec-then (exec)   a/dirprog/ (dir)  b/dirprog (exec)
//	a/onlydir/ (dir)  c/inc (exec)
func lookPathDirs(t *testing.T) (a, b, c string) {
	t.Helper()
	root := t.TempDir()
	a, b, c = filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	for _, d := range []string{a, b, c, filepath.Join(a, "dirprog"), filepath.Join(a, "onlydir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(a, "both"), 0o755},
		{filepath.Join(b, "both"), 0o755},
		{filepath.Join(b, "onlyb"), 0o755},
		{filepath.Join(a, "noexec"), 0o644},
		{filepath.Join(b, "noexec-then"), 0o644},
		{filepath.Join(c, "noexec-then"), 0o755},
		{filepath.Join(b, "dirprog"), 0o755},
		{filepath.Join(c, "inc"), 0o755},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, c
}

func TestLookPath(t *testing.T) {
	a, b, c := lookPathDirs(t)
	t.Chdir(c)
	tests := []struct {
		name string
		arg0 string
		env  []string
		// want is the file found (compared as a file, so a relative
		// answer is fine when it names the same file).
		want string
		// errs are substrings of the error; perm says it wraps
		// fs.ErrPermission.
		errs []string
		perm bool
	}{
		{name: "first match wins", arg0: "both", env: []string{"PATH=" + a + ":" + b}, want: filepath.Join(a, "both")},
		{name: "first match wins, other order", arg0: "both", env: []string{"PATH=" + b + ":" + a}, want: filepath.Join(b, "both")},
		{name: "later dir", arg0: "onlyb", env: []string{"PATH=" + a + ":" + b}, want: filepath.Join(b, "onlyb")},
		{name: "PATH among other variables", arg0: "onlyb", env: []string{"HOME=/root", "MYPATH=" + a, "PATH=" + b, "TERM=xterm"}, want: filepath.Join(b, "onlyb")},
		{name: "empty element is the cwd", arg0: "inc", env: []string{"PATH=" + a + "::" + b}, want: filepath.Join(c, "inc")},
		{name: "leading empty element", arg0: "inc", env: []string{"PATH=:" + a}, want: filepath.Join(c, "inc")},
		{name: "trailing empty element", arg0: "inc", env: []string{"PATH=" + a + ":"}, want: filepath.Join(c, "inc")},
		{name: "cwd not searched without an empty element", arg0: "inc", env: []string{"PATH=" + a + ":" + b},
			errs: []string{`"inc"`, "executable file not found in $PATH"}},
		{name: "absolute path used as is", arg0: filepath.Join(b, "onlyb"), env: []string{"PATH=" + a}, want: filepath.Join(b, "onlyb")},
		{name: "relative path with a slash used as is", arg0: "./inc", env: []string{"PATH=" + a}, want: filepath.Join(c, "inc")},
		{name: "path with a slash is not searched", arg0: "x/onlyb", env: []string{"PATH=" + b},
			errs: []string{"no such file or directory"}},
		{name: "not found", arg0: "nosuchprog", env: []string{"PATH=" + a + ":" + b},
			errs: []string{`"nosuchprog"`, "executable file not found in $PATH"}},
		{name: "PATH of missing dirs", arg0: "both", env: []string{"PATH=/nonexistent/x:/nonexistent/y"},
			errs: []string{"executable file not found in $PATH"}},
		{name: "not executable", arg0: "noexec", env: []string{"PATH=" + a + ":" + b},
			errs: []string{"permission denied"}, perm: true},
		{name: "not executable, then executable", arg0: "noexec-then", env: []string{"PATH=" + b + ":" + c}, want: filepath.Join(c, "noexec-then")},
		{name: "not executable absolute", arg0: filepath.Join(a, "noexec"), env: nil,
			errs: []string{"permission denied"}, perm: true},
		{name: "directory skipped", arg0: "dirprog", env: []string{"PATH=" + a + ":" + b}, want: filepath.Join(b, "dirprog")},
		{name: "directory refused", arg0: "onlydir", env: []string{"PATH=" + a + ":" + b},
			errs: []string{"permission denied"}, perm: true},
		{name: "directory refused as a path", arg0: filepath.Join(a, "onlydir"), env: nil,
			errs: []string{"permission denied"}, perm: true},
		{name: "missing absolute path", arg0: filepath.Join(a, "missing"), env: []string{"PATH=" + a},
			errs: []string{filepath.Join(a, "missing"), "no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LookPath(&specs.Process{Args: []string{tt.arg0, "arg"}, Env: tt.env})
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("LookPath(%q) = %q, want an error", tt.arg0, got)
				}
				for _, w := range tt.errs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("LookPath(%q): %q does not contain %q", tt.arg0, err, w)
					}
				}
				if errors.Is(err, fs.ErrPermission) != tt.perm {
					t.Errorf("LookPath(%q): %v: errors.Is(fs.ErrPermission) = %v, want %v", tt.arg0, err, !tt.perm, tt.perm)
				}
				return
			}
			if err != nil {
				t.Fatalf("LookPath(%q): %v", tt.arg0, err)
			}
			if !sameFile(t, got, tt.want) {
				t.Errorf("LookPath(%q) = %q, want %q", tt.arg0, got, tt.want)
			}
		})
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(sa, sb)
}

// TestNoArgs: a process without args (a Windows commandLine instead) is an
// error, not a crash of rt-init (index out of range); spec.Validate refuses
// it first, with the same words.
func TestNoArgs(t *testing.T) {
	for _, p := range []*specs.Process{{CommandLine: "sh -c true"}, {Args: []string{}}} {
		if got, err := LookPath(p); err == nil || !strings.Contains(err.Error(), "process.args must not be empty") {
			t.Errorf("LookPath(%+v) = %q, %v; want process.args must not be empty", p, got, err)
		}
		if _, err := PrepareExec("/bin/sh", p); err == nil || !strings.Contains(err.Error(), "process.args must not be empty") {
			t.Errorf("PrepareExec(%+v): %v; want process.args must not be empty", p, err)
		}
	}
}

// TestLookPathDefault checks the default PATH when the environment has
// none: sh is in one of its directories on any usable host.
func TestLookPathDefault(t *testing.T) {
	got, err := LookPath(&specs.Process{Args: []string{"sh"}, Env: []string{"TERM=xterm"}})
	if err != nil {
		t.Skipf("no sh on the default PATH: %v", err)
	}
	dir := filepath.Dir(got)
	if filepath.Base(got) != "sh" || !slices.Contains([]string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}, dir) {
		t.Errorf("LookPath(sh) = %q, not in the default PATH", got)
	}
}

func TestCheckLSM(t *testing.T) {
	_, aaErr := os.Stat("/sys/kernel/security/apparmor")
	hasAppArmor := aaErr == nil
	_, seErr := os.Stat("/sys/fs/selinux/enforce")
	hasSELinux := seErr == nil
	tests := []struct {
		name    string
		p       specs.Process
		wantErr bool
		// needsNo says which LSM the host must lack for the error to be
		// expected.
		needsNo string
		want    []string
	}{
		{name: "none", p: specs.Process{}},
		{name: "apparmor profile", p: specs.Process{ApparmorProfile: "rt-default"}, wantErr: true, needsNo: "apparmor",
			want: []string{"apparmor", `"rt-default"`}},
		{name: "selinux label", p: specs.Process{SelinuxLabel: "system_u:system_r:container_t:s0"}, wantErr: true, needsNo: "selinux",
			want: []string{"selinux", `"system_u:system_r:container_t:s0"`}},
	}
	if !hasAppArmor {
		tests = append(tests, struct {
			name    string
			p       specs.Process
			wantErr bool
			needsNo string
			want    []string
		}{"both", specs.Process{ApparmorProfile: "p", SelinuxLabel: "l"}, true, "apparmor", []string{"apparmor", `"p"`}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.needsNo == "apparmor" && hasAppArmor) || (tt.needsNo == "selinux" && hasSELinux) {
				t.Skipf("this host has %s", tt.needsNo)
			}
			err := CheckLSM(&tt.p)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckLSM: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrLSM) {
				t.Fatalf("CheckLSM: %v, want an error wrapping ErrLSM", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckLSM: %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPrepareRlimits(t *testing.T) {
	for _, tt := range []struct {
		name, typ  string
		soft, hard uint64
		want       string // "" for success
	}{
		{"bogus", "RLIMIT_BOGUS", 1, 1, "rlimit RLIMIT_BOGUS: unknown type"},
		{"lower case", "rlimit_nofile", 1, 1, "rlimit rlimit_nofile: unknown type"},
		{"without prefix", "NOFILE", 1, 1, "rlimit NOFILE: unknown type"},
		{"empty", "", 1, 1, "rlimit : unknown type"},
		{"soft above hard", "RLIMIT_NOFILE", 2, 1, "rlimit RLIMIT_NOFILE: soft 2 is above hard 1"},
		{"ok", "RLIMIT_AS", 1 << 30, 1 << 30, ""},
	} {
		_, err := PrepareRlimits(&specs.Process{Rlimits: []specs.POSIXRlimit{{Type: tt.typ, Soft: tt.soft, Hard: tt.hard}}})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
			t.Errorf("%s: PrepareRlimits: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestRlimitsRaiseApply raises and lowers this process's RLIMIT_CORE soft
// limit (harmless to the tests): Raise only lifts, Apply sets exactly.
func TestRlimitsRaiseApply(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_CORE, &orig) })
	if orig.Max == 0 {
		t.Skip("RLIMIT_CORE hard limit is 0: nothing to raise to")
	}
	low := unix.Rlimit{Cur: 0, Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &low); err != nil {
		t.Fatal(err)
	}
	get := func() unix.Rlimit {
		var cur unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_CORE, &cur); err != nil {
			t.Fatal(err)
		}
		return cur
	}
	for _, tt := range []struct {
		name       string
		soft       uint64
		wantRaised unix.Rlimit
	}{
		{"raise soft", 4096, unix.Rlimit{Cur: 4096, Max: orig.Max}},
		{"lower is left to Apply", 0, unix.Rlimit{Cur: 4096, Max: orig.Max}},
	} {
		l, err := PrepareRlimits(&specs.Process{Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: tt.soft, Hard: orig.Max}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Raise(); err != nil {
			t.Fatalf("%s: Raise: %v", tt.name, err)
		}
		if got := get(); got != tt.wantRaised {
			t.Errorf("%s: after Raise %+v, want %+v", tt.name, got, tt.wantRaised)
		}
		if err := l.Apply(); err != nil {
			t.Fatalf("%s: Apply: %v", tt.name, err)
		}
		if got, want := get(), (unix.Rlimit{Cur: tt.soft, Max: orig.Max}); got != want {
			t.Errorf("%s: after Apply %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestRlimitTypes(t *testing.T) {
	types := RlimitTypes()
	want := []string{
		"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK",
		"RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
		"RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
	}
	sorted := slices.Sorted(slices.Values(types))
	if !slices.Equal(sorted, want) {
		t.Errorf("RlimitTypes() = %q, want %q", sorted, want)
	}
	if !slices.Contains(types, "RLIMIT_NOFILE") {
		t.Errorf("RlimitTypes() lacks RLIMIT_NOFILE")
	}
}

func TestSetOOMScoreAdjUnset(t *testing.T) {
	if err := SetOOMScoreAdj(&specs.Process{}); err != nil {
		t.Errorf("SetOOMScoreAdj(nil score): %v", err)
	}
}

// TestWriteThreadSelf writes this thread's comm through the private procfs
// and the reopen LSM labels use, and reads it back.
func TestWriteThreadSelf(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := os.ReadFile("/proc/thread-self/comm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile("/proc/thread-self/comm", old, 0)
	if err := writeThreadSelf("comm", "rt-attr-test"); err != nil {
		t.Fatalf("writeThreadSelf: %v", err)
	}
	if got, _ := os.ReadFile("/proc/thread-self/comm"); string(got) != "rt-attr-test\n" {
		t.Errorf("comm = %q, want rt-attr-test", got)
	}
	if err := writeThreadSelf("attr/../../../nope", "x"); err == nil {
		t.Error("writeThreadSelf outside thread-self: no error")
	}
}
