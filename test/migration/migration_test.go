// Package migration_test migrates real containers between two "hosts" on
// this machine: two network namespaces joined by a veth pair with
// link-local addresses, each with its own rt root, bundle directory and
// cgroup parent. A counter holding touched memory goes stop-copy from A to
// B and back post-copy, and keeps counting from where it was; pre-copy is
// refused cleanly where the kernel lacks soft-dirty tracking; and failures
// before the switch-over (wrong token, other versions, the target killed,
// the connection dropped) leave the container running on the source and
// nothing on the target.
//
// The binaries are built with the rt_faults tag, which lets $RT_FAULT make
// rt-checkpoint fail or die at named points.
package migration_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const token = "a-test-token-of-32-characters-xx"

// requireCRIU skips as harness.RequireCRIU does, and returns the binaries
// built with rt_faults.
func requireCRIU(t *testing.T) harness.Bins {
	t.Helper()
	harness.RequireCRIU(t)
	return harness.BuildWithTags(t, "rt_faults")
}

// migrate runs rt-checkpoint migrate on src towards dst and returns the
// result.
func migrate(t *testing.T, src, dst *host, id string, port int, tokenPath string, args ...string) harness.Result {
	t.Helper()
	full := append([]string{"migrate", "--to", dst.addr + ":" + strconv.Itoa(port), "--token-file", tokenPath, "--format", "json"}, args...)
	return src.r.Run(src.checkpointCmd(nil, append(full, id)...))
}

func report(t *testing.T, res harness.Result) *api.MigrationReport {
	t.Helper()
	var rep api.MigrationReport
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("migrate's report: %v: %s", err, res)
	}
	return &rep
}

// checkReport checks the figures: present and consistent.
func checkReport(t *testing.T, rep *api.MigrationReport, mode string) {
	t.Helper()
	t.Logf("%s: downtime %.1f ms (dump %.1f ms), total %.1f ms; rootfs %d B, images %d B, memory %d B (%d B after the switch-over)",
		mode, float64(rep.DowntimeUs)/1000, float64(rep.FrozenUs)/1000, float64(rep.TotalUs)/1000, rep.RootfsBytes, rep.ImageBytes, rep.MemoryBytes, rep.LazyBytes)
	if rep.Mode != mode || rep.TotalUs <= 0 || rep.DowntimeUs <= 0 || rep.FrozenUs <= 0 {
		t.Errorf("report lacks figures: %+v", rep)
	}
	if rep.FrozenUs > rep.DowntimeUs || rep.DowntimeUs > rep.TotalUs {
		t.Errorf("report inconsistent: frozen %d µs, downtime %d µs, total %d µs", rep.FrozenUs, rep.DowntimeUs, rep.TotalUs)
	}
	if rep.ImageBytes <= 0 || rep.RootfsBytes <= 0 {
		t.Errorf("report: no bytes sent: %+v", rep)
	}
}

func TestMigrateStopCopyThenPostCopyBack(t *testing.T) {
	bins := requireCRIU(t)
	a, b := twoHosts(t, bins)
	tok := tokenFile(t, token)
	id := harness.ID("mig")
	bundle := a.startCounter(t, id)
	srcRootfs := filepath.Join(bundle, "rootfs")
	before := waitCount(t, srcRootfs, 3)

	rv := b.receive(t, 4711, tok)
	res := migrate(t, a, b, id, 4711, tok)
	if res.Code != 0 {
		out, err := rv.wait(t)
		t.Fatalf("migrate stop-copy: %s\nreceive: %v: %s", res, err, out)
	}
	if out, err := rv.wait(t); err != nil {
		t.Fatalf("receive: %v: %s", err, out)
	}
	rep := report(t, res)
	checkReport(t, rep, api.MigrateStopCopy)
	if rep.MemoryBytes < 16<<20 {
		t.Errorf("stop-copy sent %d bytes of memory, less than the 16 MiB the counter touched", rep.MemoryBytes)
	}
	b.assertRunning(t, id)
	a.assertGone(t, id, srcRootfs)
	bRootfs := filepath.Join(b.bundles, id, "rootfs")
	// The count goes on from the dumped one: a counter started afresh
	// would be back at 1.
	after := waitCount(t, bRootfs, before)
	waitCount(t, bRootfs, after)

	raisePipeMaxSize(t)
	rv = a.receive(t, 4712, tok)
	res = migrate(t, b, a, id, 4712, tok, "--mode", "post-copy")
	if res.Code != 0 {
		out, err := rv.wait(t)
		t.Fatalf("migrate post-copy: %s\nreceive: %v: %s", res, err, out)
	}
	if out, err := rv.wait(t); err != nil {
		t.Fatalf("receive: %v: %s", err, out)
	}
	rep = report(t, res)
	checkReport(t, rep, api.MigratePostCopy)
	if rep.LazyBytes < 16<<20 {
		t.Errorf("post-copy left %d bytes of memory for after the switch-over, less than the 16 MiB the counter touched", rep.LazyBytes)
	}
	a.assertRunning(t, id)
	b.assertGone(t, id, bRootfs)
	aRootfs := filepath.Join(a.bundles, id, "rootfs")
	back := waitCount(t, aRootfs, after)
	waitCount(t, aRootfs, back)
}

func TestMigratePreCopyRefused(t *testing.T) {
	bins := requireCRIU(t)
	a, b := twoHosts(t, bins)
	id := harness.ID("mig")
	bundle := a.startCounter(t, id)
	res := migrate(t, a, b, id, 4713, tokenFile(t, token), "--mode", "pre-copy")
	if res.Code == 0 {
		t.Fatalf("pre-copy succeeded: %s", res)
	}
	if !strings.Contains(res.Stderr, "soft-dirty") && !strings.Contains(res.Stderr, "not implemented") {
		t.Errorf("pre-copy error does not say why: %s", res.Stderr)
	}
	if n := len(lines(res.Stderr)); n != 1 {
		t.Errorf("pre-copy error is %d lines, want 1: %s", n, res.Stderr)
	}
	a.assertRunning(t, id)
	rootfs := filepath.Join(bundle, "rootfs")
	waitCount(t, rootfs, count(rootfs))
}

// TestMigrateFailures: each failure before the switch-over leaves the
// container running on the source (thawed if it was frozen) and nothing on
// the target.
func TestMigrateFailures(t *testing.T) {
	bins := requireCRIU(t)
	cases := []struct {
		name string
		// receive's token, environment and extra flags
		token   string
		env     []string
		want    string // in migrate's error
		refused bool   // receive refuses the peer and keeps listening
		mode    string // default stop-copy
	}{
		{name: "wrong token", token: "another-token-of-32-characters-x", env: []string{"RT_FAULT=none"}, want: "token", refused: true},
		{name: "versions differ", env: []string{"RT_CRIU=" + fakeCRIUVersion(t)}, want: "versions differ", refused: true},
		{name: "target killed mid-transfer", env: []string{"RT_FAULT=kill:receive-images"}, want: "migrate container"},
		{name: "connection dropped while frozen", env: []string{"RT_FAULT=fail:receive-frozen"}, want: "migrate container"},
		// post-copy before the switch-over: the lazy dump serving pages
		// is killed and the container thawed.
		{name: "post-copy target killed before the switch-over", env: []string{"RT_FAULT=kill:receive-images"}, want: "migrate container", mode: api.MigratePostCopy},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := twoHosts(t, bins)
			id := harness.ID("mig")
			bundle := a.startCounter(t, id)
			rootfs := filepath.Join(bundle, "rootfs")
			srcTok := tokenFile(t, token)
			dstTok := srcTok
			if tc.token != "" {
				dstTok = tokenFile(t, tc.token)
			}
			port := 4720 + i
			rv := b.receive(t, port, dstTok, tc.env...)
			var args []string
			if tc.mode != "" {
				raisePipeMaxSize(t)
				args = []string{"--mode", tc.mode}
			}
			res := migrate(t, a, b, id, port, srcTok, args...)
			if res.Code == 0 {
				t.Fatalf("migrate succeeded: %s", res)
			}
			if !strings.Contains(res.Stderr, tc.want) || !strings.Contains(res.Stderr, "runs here as before") {
				t.Errorf("migrate's error = %q, want it to name %q and say the container runs here", res.Stderr, tc.want)
			}
			if tc.refused {
				rv.stop()
			} else if _, err := rv.wait(t); err == nil {
				t.Errorf("receive succeeded after the fault")
			}
			a.assertRunning(t, id)
			waitCount(t, rootfs, count(rootfs))
			if res := b.r.RT("state", id); res.Code == 0 {
				t.Errorf("%s exists on the target: %s", id, res.Stdout)
			}
			if strings.Contains(tc.env[0], "kill:") {
				// What a killed receive left goes with the next one.
				b.receive(t, port+10, dstTok).stop()
			}
			b.assertNoBundles(t)
		})
	}
}

// fakeCRIUVersion is a criu that says it is another version and otherwise
// is the real one.
func fakeCRIUVersion(t *testing.T) string {
	criu, err := exec.LookPath("criu")
	if err != nil {
		t.Skip("needs criu")
	}
	p := filepath.Join(t.TempDir(), "criu")
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Version: 0.0.1-other'; exit 0; fi\nexec " + criu + " \"$@\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// raisePipeMaxSize raises fs.pipe-max-size for CRIU's lazy pages (this host
// has no CAP_SYS_RESOURCE to exceed it) until the test ends; the sysctl is
// the machine's, so the harness serialises the tests that change it.
func raisePipeMaxSize(t *testing.T) {
	harness.SetPipeMaxSize(t, 4<<20, func(cur, want int) bool { return cur < want })
}
