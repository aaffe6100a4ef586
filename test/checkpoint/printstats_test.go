package checkpoint_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/api"
)

// TestPrintStats checkpoints a counter with --print-stats (JSON, leaving it
// running, with a separate --work-path; then text, stopping it) and
// restores it twice with --print-stats (JSON with a --work-path, then text
// from the image directory), all through rt's hand-over to rt-checkpoint.
// Checkpoint's statistics are on stdout and equal to what inspect reads
// from the image; restore's are on stderr, its stdout left empty. The
// figures are those of a real dump and restore: pages written, time
// frozen, time restoring.
func TestPrintStats(t *testing.T) {
	requireCRIU(t)
	c := startCounter(t, counter)
	c.waitCount(t, 2)

	// 1. JSON, --leave-running, --work-path.
	img1 := filepath.Join(t.TempDir(), "img")
	work := filepath.Join(t.TempDir(), "work")
	res := c.r.RT("checkpoint", "--print-stats", "--format", "json", "--leave-running",
		"--image-path", img1, "--work-path", work, c.id)
	if res.Code != 0 {
		t.Fatalf("checkpoint --print-stats --format json: %s", res)
	}
	if strings.Count(res.Stdout, "\n") != 1 {
		t.Errorf("checkpoint JSON is not one line: %q", res.Stdout)
	}
	var dump struct {
		DumpStats *api.DumpStats `json:"dumpStats"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &dump); err != nil || dump.DumpStats == nil {
		t.Fatalf("checkpoint stdout: %v: %q", err, res.Stdout)
	}
	d := *dump.DumpStats
	t.Logf("dump statistics: %+v", d)
	if d.PagesWritten == 0 || d.PagesScanned < d.PagesWritten || d.FrozenTimeUs == 0 || d.FrozenTimeUs < d.MemdumpTimeUs {
		t.Errorf("implausible dump statistics: %+v", d)
	}
	if d.PagesSkippedParent != 0 || d.PagesLazy != 0 {
		t.Errorf("a dump without a parent or lazy pages skipped or left pages: %+v", d)
	}
	ins := c.r.Exec(c.r.Bins.Checkpoint, "--root", c.r.Root, "inspect", "--image-path", img1, "--format", "json")
	var info api.ImageInfo
	if ins.Code != 0 || json.Unmarshal([]byte(ins.Stdout), &info) != nil || info.DumpStats == nil {
		t.Fatalf("inspect: %s", ins)
	}
	if *info.DumpStats != d {
		t.Errorf("--print-stats printed %+v, inspect reads %+v from the image", d, *info.DumpStats)
	}
	c.assertRunningThawed(t)

	// 2. Text, the container stopped and removed.
	img2 := filepath.Join(t.TempDir(), "img")
	res = c.r.RT("checkpoint", "--print-stats", "--image-path", img2, c.id)
	if res.Code != 0 {
		t.Fatalf("checkpoint --print-stats: %s", res)
	}
	text := textStats(t, res.Stdout, "freezing time", "frozen time", "memdump time", "memwrite time",
		"pages scanned", "pages skipped (parent)", "pages written", "pages lazy")
	for _, k := range []string{"freezing time", "frozen time", "memdump time", "memwrite time"} {
		if !strings.HasSuffix(text[k], " ms") {
			t.Errorf("%s: %q, want milliseconds", k, text[k])
		}
	}
	if text["pages written"] == "0" || text["frozen time"] == "0.000 ms" {
		t.Errorf("implausible dump statistics: %q", res.Stdout)
	}
	if _, ok := c.state(t); ok {
		t.Fatal("container still exists after checkpoint")
	}

	// 3. Restore, JSON, with a --work-path: on stderr.
	rwork := filepath.Join(t.TempDir(), "rwork")
	res = c.r.RT("restore", "-d", "--print-stats", "--format", "json", "--image-path", img2,
		"--work-path", rwork, "--bundle", c.bundle, c.id)
	if res.Code != 0 {
		t.Fatalf("restore --print-stats --format json: %s", res)
	}
	if res.Stdout != "" {
		t.Errorf("restore wrote to stdout: %q", res.Stdout)
	}
	var rst struct {
		RestoreStats *api.RestoreStats `json:"restoreStats"`
	}
	if err := json.Unmarshal([]byte(res.Stderr), &rst); err != nil || rst.RestoreStats == nil {
		t.Fatalf("restore stderr: %v: %q", err, res.Stderr)
	}
	r := *rst.RestoreStats
	t.Logf("restore statistics: %+v", r)
	if r.RestoreTimeUs == 0 || r.ForkingTimeUs == 0 || r.RestoreTimeUs < r.ForkingTimeUs || r.PagesRestored == 0 {
		t.Errorf("implausible restore statistics: %+v", r)
	}
	if r.PagesSkippedCow > r.PagesCompared {
		t.Errorf("more pages skipped as shared than compared: %+v", r)
	}
	after := c.waitCount(t, 0)
	c.waitCount(t, after+1)
	stopAndDelete(t, c)

	// 4. Restore again from the same images, text, no --work-path.
	res = c.r.RT("restore", "-d", "--print-stats", "--image-path", img2, "--bundle", c.bundle, c.id)
	if res.Code != 0 {
		t.Fatalf("restore --print-stats: %s", res)
	}
	if res.Stdout != "" {
		t.Errorf("restore wrote to stdout: %q", res.Stdout)
	}
	text = textStats(t, res.Stderr, "forking time", "restore time", "pages compared", "pages skipped (cow)", "pages restored")
	if text["restore time"] == "0.000 ms" || text["pages restored"] == "0" || !strings.HasSuffix(text["forking time"], " ms") {
		t.Errorf("implausible restore statistics: %q", res.Stderr)
	}
	c.waitCount(t, 0)
	stopAndDelete(t, c)

	// 5. In the foreground: the statistics are on stderr while the
	// container still runs (not once it exits), stdout stays the
	// container's (the counter writes nothing there).
	cmd := c.r.Command("restore", "--print-stats", "--format", "json", "--image-path", img2, "--bundle", c.bundle, c.id)
	stdout, stderr := tempOut(t), tempOut(t)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var errOut []byte
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(string(errOut), "\n") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("foreground restore printed no statistics on stderr: %q", errOut)
		}
		time.Sleep(20 * time.Millisecond)
		errOut, _ = os.ReadFile(stderr.Name())
	}
	select {
	case err := <-exited:
		t.Fatalf("foreground restore exited (%v) before it was stopped", err)
	default:
	}
	rst.RestoreStats = nil
	if err := json.Unmarshal(errOut, &rst); err != nil || rst.RestoreStats == nil || rst.RestoreStats.RestoreTimeUs == 0 {
		t.Errorf("foreground restore stderr: %v: %q", err, errOut)
	}
	c.waitCount(t, 0)
	if res := c.r.RT("kill", c.id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("foreground restore did not return after its container was killed")
	}
	if code := cmd.ProcessState.ExitCode(); code != 137 {
		t.Errorf("foreground restore exit %d, want 137 (KILL)", code)
	}
	if out, _ := os.ReadFile(stdout.Name()); len(out) != 0 {
		t.Errorf("foreground restore stdout: %q, want nothing", out)
	}
	if out, _ := os.ReadFile(stderr.Name()); string(out) != string(errOut) {
		t.Errorf("foreground restore stderr grew after the statistics: %q", out)
	}
}

// textStats parses --print-stats text output, which must be exactly the
// named lines, in order, as "name: value".
func textStats(t *testing.T, out string, names ...string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(names) {
		t.Fatalf("got %d lines, want %d (%v):\n%s", len(lines), len(names), names, out)
	}
	m := map[string]string{}
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k != names[i] || strings.TrimSpace(v) == "" {
			t.Fatalf("line %d %q: want %q: value", i+1, l, names[i])
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// stopAndDelete kills the container and deletes it once stopped.
func stopAndDelete(t *testing.T, c *container) {
	t.Helper()
	if res := c.r.RT("kill", c.id, "KILL"); res.Code != 0 {
		t.Fatalf("kill: %s", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _ := c.state(t); st.Status == api.StatusStopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("restored container did not stop after kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := c.r.RT("delete", c.id); res.Code != 0 {
		t.Fatalf("delete: %s", res)
	}
}
