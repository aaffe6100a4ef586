package cli_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/api"
)

var (
	recDumpStats = &api.DumpStats{
		FreezingTimeUs: 1500, FrozenTimeUs: 25250, MemdumpTimeUs: 1001, MemwriteTimeUs: 7,
		PagesScanned: 4096, PagesSkippedParent: 12, PagesWritten: 311, PagesLazy: 3,
	}
	recRestoreStats = &api.RestoreStats{
		ForkingTimeUs: 2345, RestoreTimeUs: 67890, PagesCompared: 5, PagesSkippedCow: 2, PagesRestored: 311,
	}
)

// TestPrintStatsWiring checks that only --print-stats asks the runtime for
// statistics, and that without it checkpoint prints nothing, as runc's.
func TestPrintStatsWiring(t *testing.T) {
	for _, cmd := range []string{"checkpoint", "restore"} {
		t.Run(cmd+"/without", func(t *testing.T) {
			f := newRecFake()
			f.dumpStats, f.restoreStats = recDumpStats, recRestoreStats
			out := recCkpt(t, f, cmd, "c1")
			out.wantExit(t, 0)
			if out.stdout != "" || out.stderr != "" {
				t.Errorf("stdout %q, stderr %q: want nothing", out.stdout, out.stderr)
			}
			if cb := statsCallback(t, f, cmd); cb {
				t.Error("a stats callback was set without --print-stats")
			}
		})
		t.Run(cmd+"/with", func(t *testing.T) {
			f := newRecFake()
			recCkpt(t, f, cmd, "--print-stats", "c1").wantExit(t, 0)
			if cb := statsCallback(t, f, cmd); !cb {
				t.Error("--print-stats set no stats callback")
			}
		})
		t.Run(cmd+"/bad-format", func(t *testing.T) {
			f := newRecFake()
			out := recCkpt(t, f, cmd, "--print-stats", "--format", "yaml", "c1")
			out.wantExit(t, 1)
			if line := out.oneErrLine(t); !strings.HasPrefix(line, "rt-checkpoint: "+cmd+": ") ||
				!strings.Contains(line, `--format "yaml": must be text or json`) {
				t.Errorf("stderr = %q", line)
			}
			f.noCalls(t)
		})
		t.Run(cmd+"/failed", func(t *testing.T) {
			// A failed operation has no statistics: only the error.
			f := newRecFake()
			method := map[string]string{"checkpoint": "Checkpoint", "restore": "Restore"}[cmd]
			f.errs[method] = errors.New("criu failed")
			out := recCkpt(t, f, cmd, "--print-stats", "c1")
			out.wantExit(t, 1)
			if out.stdout != "" {
				t.Errorf("stdout = %q, want nothing", out.stdout)
			}
			if line := out.oneErrLine(t); !strings.Contains(line, "criu failed") {
				t.Errorf("stderr = %q", line)
			}
		})
	}
	t.Run("checkpoint/opts-unchanged", func(t *testing.T) {
		// --print-stats and --format change nothing else the runtime gets.
		f := newRecFake()
		recCkpt(t, f, "checkpoint", "--print-stats", "--format=json", "--leave-running", "--image-path", "/img", "c1").wantExit(t, 0)
		got := f.onlyCall(t, "Checkpoint").Opts.(api.CheckpointOpts)
		got.OnDumpStats = nil
		want := api.CheckpointOpts{ImagePath: "/img", LeaveRunning: true, StatusFd: -1}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("opts = %+v\nwant   %+v", got, want)
		}
	})
}

// statsCallback reports whether the one call of cmd got a stats callback.
func statsCallback(t *testing.T, f *recFake, cmd string) bool {
	t.Helper()
	if cmd == "checkpoint" {
		return f.onlyCall(t, "Checkpoint").Opts.(api.CheckpointOpts).OnDumpStats != nil
	}
	o := f.onlyCall(t, "Restore").Opts.(api.RestoreOpts)
	return o.OnRestoreStats != nil || o.OnDumpStats != nil
}

// TestPrintStatsText checks the text output: one aligned "name: value" line
// per figure, times in ms as inspect shows them; checkpoint's on stdout,
// restore's on stderr (stdout is the container's).
func TestPrintStatsText(t *testing.T) {
	t.Run("checkpoint", func(t *testing.T) {
		f := newRecFake()
		f.dumpStats = recDumpStats
		out := recCkpt(t, f, "checkpoint", "--print-stats", "c1")
		out.wantExit(t, 0)
		want := "" +
			"freezing time:          1.500 ms\n" +
			"frozen time:            25.250 ms\n" +
			"memdump time:           1.001 ms\n" +
			"memwrite time:          0.007 ms\n" +
			"pages scanned:          4096\n" +
			"pages skipped (parent): 12\n" +
			"pages written:          311\n" +
			"pages lazy:             3\n"
		if out.stdout != want {
			t.Errorf("stdout =\n%s\nwant\n%s", out.stdout, want)
		}
		if out.stderr != "" {
			t.Errorf("stderr = %q", out.stderr)
		}
	})
	t.Run("restore", func(t *testing.T) {
		f := newRecFake()
		f.restoreStats = recRestoreStats
		out := recCkpt(t, f, "restore", "--print-stats", "--format", "text", "c1")
		out.wantExit(t, 0)
		want := "" +
			"forking time:        2.345 ms\n" +
			"restore time:        67.890 ms\n" +
			"pages compared:      5\n" +
			"pages skipped (cow): 2\n" +
			"pages restored:      311\n"
		if out.stderr != want {
			t.Errorf("stderr =\n%s\nwant\n%s", out.stderr, want)
		}
		if out.stdout != "" {
			t.Errorf("stdout = %q", out.stdout)
		}
	})
}

// TestPrintStatsJSON checks the JSON output: one object on one line,
// {"dumpStats": …} or {"restoreStats": …}, with inspect's field names.
func TestPrintStatsJSON(t *testing.T) {
	t.Run("checkpoint", func(t *testing.T) {
		f := newRecFake()
		f.dumpStats = recDumpStats
		out := recCkpt(t, f, "checkpoint", "--print-stats", "--format", "json", "c1")
		out.wantExit(t, 0)
		want := `{"dumpStats":{"freezingTimeUs":1500,"frozenTimeUs":25250,"memdumpTimeUs":1001,"memwriteTimeUs":7,` +
			`"pagesScanned":4096,"pagesSkippedParent":12,"pagesWritten":311,"pagesLazy":3}}` + "\n"
		if out.stdout != want {
			t.Errorf("stdout = %s\nwant     %s", out.stdout, want)
		}
		var got struct{ DumpStats api.DumpStats }
		if err := json.Unmarshal([]byte(out.stdout), &got); err != nil || got.DumpStats != *recDumpStats {
			t.Errorf("decoded %+v (%v), want %+v", got.DumpStats, err, *recDumpStats)
		}
	})
	t.Run("restore", func(t *testing.T) {
		f := newRecFake()
		f.restoreStats = recRestoreStats
		out := recCkpt(t, f, "restore", "--print-stats", "--format=json", "-d", "c1")
		out.wantExit(t, 0)
		want := `{"restoreStats":{"forkingTimeUs":2345,"restoreTimeUs":67890,"pagesCompared":5,` +
			`"pagesSkippedCow":2,"pagesRestored":311}}` + "\n"
		if out.stderr != want {
			t.Errorf("stderr = %s\nwant     %s", out.stderr, want)
		}
		if out.stdout != "" {
			t.Errorf("stdout = %q", out.stdout)
		}
	})
}
