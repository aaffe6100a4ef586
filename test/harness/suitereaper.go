package harness

// Every suite's safety net. A test binary that is killed (a timeout, ^C
// on make stress, a SIGKILL) runs no t.Cleanup: its containers would keep
// running, their cgroups and its temp dirs would stay. Main therefore
// points TMPDIR at a directory of its own, registers each runner's root
// there, and starts a reaper (StartReaper) that, once the test binary has
// gone, however it went, deletes what the roots still hold and removes the
// directory.

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

const suiteReaperEnv = "RT_TEST_SUITE_REAPER"

// suiteDir is the directory Main made, "" outside Main (or if it failed).
var suiteDir string

var rootsMu sync.Mutex

// startSuiteReaper makes the suite's directory, points TMPDIR at it and
// starts its reaper. The directory is the reaper's to remove, even after a
// clean run: a client suite's own reaper may still be tearing down its
// containerd in there.
func startSuiteReaper() error {
	dir, err := os.MkdirTemp("", "rt-test-suite-")
	if err != nil {
		return err
	}
	// Searchable as /tmp is: a user-namespaced container's root must reach
	// its rootfs in here.
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	if _, err := StartReaper(suiteReaperEnv, dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	suiteDir = dir
	return os.Setenv("TMPDIR", dir)
}

// registerRoot records that bin keeps containers under root, for the
// reaper.
func registerRoot(bin, root string) {
	if suiteDir == "" {
		return
	}
	rootsMu.Lock()
	defer rootsMu.Unlock()
	f, err := os.OpenFile(suiteDir+"/.roots", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(bin + "\t" + root + "\n")
}

// reapSuite deletes, with --force, every container left in a registered
// root, then removes the suite's directory once no process runs from it,
// and only if nothing is mounted under it: RemoveAll would go through a
// mount into what it shows.
func reapSuite(dir string) {
	if f, err := os.Open(dir + "/.roots"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			bin, root, ok := strings.Cut(sc.Text(), "\t")
			if ok {
				reapRoot(bin, root)
			}
		}
		f.Close()
	}
	// A foreground `rt run` whose container was just killed, or another
	// reaper's teardown, may still be working under dir.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if len(ProcessesUnder(dir, nil)) == 0 {
			break
		}
	}
	if len(MountsUnder(dir)) == 0 {
		os.RemoveAll(dir)
	}
}

func reapRoot(bin, root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		exec.Command(bin, "--root", root, "delete", "--force", e.Name()).Run()
	}
}

// IsSuiteReaper reports whether pid is this suite's reaper, a child of
// every test binary that a test counting its children must leave out.
func IsSuiteReaper(pid int) bool { return IsReaper(suiteReaperEnv)(pid) }
