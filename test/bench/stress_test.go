package main

import (
	"path/filepath"
	"testing"

	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// TestStressShort is make stress's run in small, in make test: 200
// containers of rt through create, start, exec, kill and delete, 4 at a
// time, leaving nothing behind (no cgroup directory, mount, state entry,
// process or fd of the bench). The figures are logged, not asserted.
func TestStressShort(t *testing.T) {
	harness.RequireRoot(t)
	bins := harness.Binaries(t)
	t.Chdir("../..") // makeBundle runs scripts/mkrootfs.sh
	work := t.TempDir()
	var err error
	if launcher, err = buildLauncher(work); err != nil {
		t.Fatal(err)
	}
	b := &bench{states: t.TempDir()}
	rt := runtimeBin{name: "rt", path: bins.RT, root: filepath.Join(b.states, "rt")}
	b.rts = []runtimeBin{rt}
	if b.sleeper, err = makeBundle(filepath.Join(work, "sleeper"), "sleep", "100000"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.cleanup)
	res, err := b.stressOne(rt, 200, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.leaks {
		t.Errorf("left behind: %s", l)
	}
	t.Logf("%.1f containers/s; create %s, exec %s, delete %s ms (p50/p99/max)", float64(res.n)/res.elapsed.Seconds(),
		latencies(res.lat["create"]), latencies(res.lat["exec"]), latencies(res.lat["delete"]))
}
