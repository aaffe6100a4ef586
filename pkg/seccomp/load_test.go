//go:build cgo && linux

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
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
	// A filter holds architectures of one byte order: every one of the
	// table with this host's, and one with the other.
	every := denyMkdir(uint(unix.EPERM))
	every.Architectures = nil
	var foreign specs.Arch
	for _, a := range specArchs {
		if _, ok := Archs[a]; !ok {
			continue
		}
		if bigEndian[a] == hostBigEndian {
			every.Architectures = append(every.Architectures, a)
		} else {
			foreign = a
		}
	}
	sameOrderMIPS := specs.ArchMIPSEL
	if hostBigEndian {
		sameOrderMIPS = specs.ArchMIPS
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
		{"every architecture of the table of this host's byte order", every, false, unix.SECCOMP_FILTER_FLAG_LOG},
		{"a MIPS of this host's byte order only", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{sameOrderMIPS},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}, false, 0},
		{"an architecture of the other byte order", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{foreign}}, true, 0},
	} {
		p, err := Compile(tt.profile)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Compile: %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && len(tt.profile.Architectures) == 1 && tt.profile.Architectures[0] == foreign &&
			(!strings.Contains(err.Error(), string(foreign)) || !strings.Contains(err.Error(), "byte order")) {
			t.Errorf("%s: Compile: %q, want it to name %s and its byte order", tt.name, err, foreign)
		}
		if tt.profile != nil && !tt.wantErr && (len(p.filter) == 0 || p.flags != tt.wantFlags) {
			t.Errorf("%s: program of %d instructions, flags %#x, want flags %#x", tt.name, len(p.filter), p.flags, tt.wantFlags)
		}
	}
}

// TestArchsKnownToLibseccomp: each architecture of the table is one the
// linked libseccomp knows (it resolves a syscall for it), and those left
// out are ones it does not: when libseccomp is upgraded, this says which to
// add.
func TestArchsKnownToLibseccomp(t *testing.T) {
	names := maps.Clone(Archs)
	maps.Copy(names, map[specs.Arch]string{
		specs.ArchLOONGARCH64: "loong64", specs.ArchM68K: "m68k", specs.ArchSH: "sh", specs.ArchSHEB: "sheb",
	})
	for _, a := range specArchs {
		name, ok := names[a]
		if !ok {
			t.Errorf("%s: no libseccomp name known to this test", a)
			continue
		}
		arch, err := libseccomp.GetArchFromString(name)
		if err == nil {
			_, err = libseccomp.GetSyscallFromNameByArch("read", arch)
		}
		_, inTable := Archs[a]
		if known := err == nil; known != inTable {
			t.Errorf("%s (%s): libseccomp %v knows it: %v (%v); in Archs: %v", a, name, libseccompVersion(), known, err, inTable)
		}
	}
}

// bigEndian are the spec's big-endian architectures.
var bigEndian = map[specs.Arch]bool{
	specs.ArchMIPS: true, specs.ArchMIPS64: true, specs.ArchMIPS64N32: true, specs.ArchPPC: true, specs.ArchPPC64: true,
	specs.ArchS390: true, specs.ArchS390X: true, specs.ArchPARISC: true, specs.ArchPARISC64: true, specs.ArchM68K: true,
	specs.ArchSHEB: true,
}

var hostBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

func libseccompVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
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
