package lifecycle_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtkit/rt/test/harness"
)

// victimOut is where TestSuiteReaper, run again in a test binary of its
// own (the victim), writes its root, container id and init pid.
const victimOut = "RT_TEST_REAPER_VICTIM_OUT"

// TestSuiteReaper kills a test binary while its container runs: the
// suite's reaper must delete the container and remove the binary's temp
// dirs, as no t.Cleanup ran.
func TestSuiteReaper(t *testing.T) {
	harness.RequireRoot(t)
	if out := os.Getenv(victimOut); out != "" {
		victim(t, out)
		return
	}
	out := filepath.Join(t.TempDir(), "victim")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSuiteReaper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RT_TEST_BIN="+harness.Binaries(t).Dir, victimOut+"="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var fields []string
	harness.WaitFor(t, 30*time.Second, "the victim's container", func() bool {
		data, _ := os.ReadFile(out)
		fields = strings.Fields(string(data))
		return len(fields) == 3
	})
	root, id := fields[0], fields[1]
	pid, _ := strconv.Atoi(fields[2])
	// If the reaper fails, what it left goes all the same.
	t.Cleanup(func() { harness.RemoveCgroups(harness.CgroupDirsOf(id)) })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	harness.WaitFor(t, 20*time.Second, "the killed suite's container reaped", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	harness.WaitFor(t, 10*time.Second, "the killed suite's temp dir removed", func() bool {
		_, err := os.Stat(root)
		return err != nil
	})
	(&harness.Runner{Root: root}).AssertNoTrace(t, id, "")
}

// victim runs a container and then waits to be killed.
func victim(t *testing.T, out string) {
	r := runner(t)
	id := harness.ID("victim")
	if res := r.RT("run", "-d", "--bundle", bundle(t, []string{"sleep", "1000"}, nil), id); res.Code != 0 {
		t.Fatalf("run -d: %s", res)
	}
	pid := state(t, r, id).InitProcessPid
	if err := os.WriteFile(out, []byte(r.Root+" "+id+" "+strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
}
