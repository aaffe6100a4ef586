package process

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestWriteAttrNotThroughProc: the LSM attr write (writeAttr, through
// writeThreadSelf) never goes through the path /proc, whatever is mounted
// there (the CVE-2025-52881 class, whose race test test/security can only
// run on a host with an LSM: TestRaceLSMAttr). In a mount namespace of its
// own, this thread covers /proc with a tmpfs holding decoys at
// thread-self/comm and thread-self/attr/exec. A write by the path lands in
// the decoy (the control: the cover works); writeThreadSelf("comm") changes
// the thread's real name and writeAttr("exec") reaches the kernel's attr
// file (EINVAL on a host without an LSM), and neither touches a decoy.
func TestWriteAttrNotThroughProc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a mount namespace with /proc covered")
	}
	const decoy = "decoy\n"
	// Raising needs no privilege; the same value changes nothing.
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	score, err := strconv.Atoi(strings.TrimSpace(string(cur)))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in a mount namespace of its own,
		// ends with the goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
				return err
			}
			if err := unix.Mount("tmpfs", "/proc", "tmpfs", 0, "size=64k"); err != nil {
				return err
			}
			for _, f := range []string{"/proc/thread-self/comm", "/proc/thread-self/attr/exec", "/proc/self/oom_score_adj", "/proc/thread-self/oom_score_adj"} {
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(f, []byte(decoy), 0o644); err != nil {
					return err
				}
			}
			// The control: what a write by the path reaches.
			if err := os.WriteFile("/proc/thread-self/attr/exec", []byte("by path"), 0); err != nil {
				return err
			}
			if got, _ := os.ReadFile("/proc/thread-self/attr/exec"); string(got) != "by path" {
				return errors.New("control: a write by the path did not reach the decoy over /proc")
			}
			os.WriteFile("/proc/thread-self/attr/exec", []byte(decoy), 0)

			if err := writeThreadSelf("comm", "rt-attr-decoy"); err != nil {
				return errors.New("writeThreadSelf comm: " + err.Error())
			}
			name := make([]byte, 16)
			if err := unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
				return err
			}
			if got := string(bytes.TrimRight(name, "\x00")); got != "rt-attr-decoy" {
				return errors.New("writeThreadSelf comm: the thread's name is " + got)
			}
			err := writeAttr("exec", "rt-test-label")
			t.Logf("writeAttr(exec) with /proc covered: %v", err)
			if err == nil && !lsmEnabled() {
				return errors.New("writeAttr(exec) succeeded on a host without an LSM: it wrote somewhere else")
			}
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EACCES) {
				return errors.New("writeAttr(exec) did not reach the kernel's attr file: " + err.Error())
			}
			if err := SetOOMScoreAdj(&specs.Process{OOMScoreAdj: &score}); err != nil {
				return errors.New("SetOOMScoreAdj: " + err.Error())
			}
			for _, f := range []string{"/proc/thread-self/comm", "/proc/thread-self/attr/exec", "/proc/self/oom_score_adj", "/proc/thread-self/oom_score_adj"} {
				if got, _ := os.ReadFile(f); string(got) != decoy {
					return errors.New("written through the path " + f + ": " + string(got))
				}
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func lsmEnabled() bool {
	for _, p := range []string{"/sys/kernel/security/apparmor", "/sys/fs/selinux/enforce"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
