//go:build cgo && linux

package seccomp

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// denyMkdir fails mkdir and mkdirat with errno and allows the rest.
func denyMkdir(errno uint) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno}},
	}
}

func TestCompile(t *testing.T) {
	withFlags := func(p *specs.LinuxSeccomp, flags ...specs.LinuxSeccompFlag) *specs.LinuxSeccomp {
		p.Flags = flags
		return p
	}
	for _, tt := range []struct {
		name      string
		profile   *specs.LinuxSeccomp
		wantErr   bool
		wantFlags uintptr
	}{
		{"nil", nil, false, 0},
		{"deny mkdir", denyMkdir(uint(unix.EPERM)), false, unix.SECCOMP_FILTER_FLAG_LOG},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, true, 0},
		// TSYNC is accepted and sets nothing: the filter goes on the one
		// thread that execs, the only one the program has.
		{"TSYNC", withFlags(denyMkdir(uint(unix.EPERM)), FlagTSYNC), false, 0},
		{"TSYNC, LOG and SPEC_ALLOW", withFlags(denyMkdir(uint(unix.EPERM)), FlagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow),
			false, unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	} {
		p, err := Compile(tt.profile)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Compile: %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if tt.profile != nil && !tt.wantErr && (len(p.filter) == 0 || p.flags != tt.wantFlags) {
			t.Errorf("%s: program of %d instructions, flags %#x, want flags %#x", tt.name, len(p.filter), p.flags, tt.wantFlags)
		}
	}
}

// TestProgramLoad loads a compiled program in a child (a filter cannot be
// taken off again) and checks it is in force on that thread.
func TestProgramLoad(t *testing.T) {
	if dir := os.Getenv("RT_SECCOMP_CHILD"); dir != "" {
		loadAndMkdir(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProgramLoad$")
	cmd.Env = append(os.Environ(), "RT_SECCOMP_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mkdir under the filter: %v, want the directory not made", err)
	}
}

// loadAndMkdir is the child: it exits 0 only if mkdir failed with the
// filter's errno.
func loadAndMkdir(dir string) {
	runtime.LockOSThread()
	p, err := Compile(denyMkdir(uint(unix.EXDEV)))
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		err = p.Load()
	}
	if err != nil {
		os.Stderr.WriteString("load: " + err.Error() + "\n")
		os.Exit(2)
	}
	if err := unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, "x"), 0o755); err != unix.EXDEV {
		os.Stderr.WriteString("mkdir under the filter: want EXDEV\n")
		os.Exit(3)
	}
	os.Exit(0)
}
