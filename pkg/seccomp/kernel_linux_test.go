package seccomp

import (
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestKernelHas: the probe finds what this kernel has by its version
// (LOG 4.14, SPEC_ALLOW 4.17, WAIT_KILLABLE_RECV 5.19), a flag nobody
// has is refused, and the probe loads nothing.
func TestKernelHas(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	at := func(ma, mi int) bool { return major > ma || major == ma && minor >= mi }
	for _, tt := range []struct {
		flag specs.LinuxSeccompFlag
		want bool
	}{
		{specs.LinuxSeccompFlagLog, at(4, 14)},
		{specs.LinuxSeccompFlagSpecAllow, at(4, 17)},
		{specs.LinuxSeccompFlagWaitKillableRecv, at(5, 19)},
		{FlagTSYNC, true},
	} {
		if got := KernelHas(tt.flag); got != tt.want {
			t.Errorf("KernelHas(%s) = %v on %d.%d, want %v", tt.flag, got, major, minor, tt.want)
		}
	}
	kernelFlags["bogus"] = 1 << 30
	defer delete(kernelFlags, "bogus")
	if KernelHas("bogus") {
		t.Error("KernelHas of an unknown bit = true")
	}
	mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	if err != nil || mode != 0 {
		t.Errorf("after the probes the test runs under seccomp mode %d (%v)", mode, err)
	}
}
