package checkpoint

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/cgroups/fs"
)

// freezerCgroup makes a v1 freezer cgroup holding a sleeping child, and
// removes both at cleanup; it skips without root or a v1 freezer.
func freezerCgroup(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a freezer cgroup")
	}
	dir := filepath.Join("/sys/fs/cgroup/freezer", fmt.Sprintf("rt-thaw-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("needs a v1 freezer hierarchy: %v", err)
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
		child.Process.Kill()
		child.Wait()
		os.Remove(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(child.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestThawAfterDump: what a dump leaves frozen is thawed. After a failure
// the state is not read first (a FREEZING cgroup would make the read wait
// for ever), which this cannot show: a task that will not freeze is not
// made to order.
func TestThawAfterDump(t *testing.T) {
	tests := []struct {
		name       string
		failed     bool
		hasFreezer bool
		want       string // freezer.state after
	}{
		{"failed", true, true, "THAWED"},
		{"succeeded", false, true, "THAWED"},
		{"failed, no freezer known", true, false, "FROZEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := freezerCgroup(t)
			state := filepath.Join(dir, "freezer.state")
			if err := os.WriteFile(state, []byte("FROZEN"), 0o644); err != nil {
				t.Fatal(err)
			}
			paths := map[string]string{}
			if tt.hasFreezer {
				paths["freezer"] = dir
			}
			if err := thawAfterDump(fs.Load(paths), tt.failed, tt.hasFreezer); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				data, _ := os.ReadFile(state)
				got := strings.TrimSpace(string(data))
				if got == tt.want {
					break
				}
				if got != "FREEZING" || time.Now().After(deadline) {
					t.Fatalf("freezer.state %q, want %q", got, tt.want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
