package resources_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/test/harness"
)

// logRecord is one line of --log-format json.
type logRecord struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// warnings returns the warning records of the JSON log file path.
func warnings(t *testing.T, path string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("--log file: %v", err)
	}
	var out []logRecord
	for _, l := range lines(string(data)) {
		var rec logRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("--log line %q is not JSON: %v", l, err)
		}
		if rec.Level == "warning" {
			out = append(out, rec)
		}
	}
	return out
}

// wantKernelWarning wants exactly one warning in the JSON log file path,
// saying that the fields are deprecated and ignored and naming each of
// them (runc's says only "Kernel memory settings are ignored and will be
// removed").
func wantKernelWarning(t *testing.T, path string, fields ...string) {
	t.Helper()
	ws := warnings(t, path)
	if len(ws) != 1 {
		t.Fatalf("--log warnings %+v, want exactly one", ws)
	}
	msg := ws[0].Msg
	if !strings.Contains(msg, "ignored") {
		t.Errorf("warning %q does not say the fields are ignored", msg)
	}
	if compared != "" {
		return
	}
	if !strings.Contains(msg, "deprecated") {
		t.Errorf("warning %q does not say the fields are deprecated", msg)
	}
	words := strings.FieldsFunc(msg, func(r rune) bool { return strings.ContainsRune(" ,:;()", r) })
	for _, f := range []string{"linux.resources.memory.kernel", "linux.resources.memory.kernelTCP"} {
		if named, given := contains(words, f), contains(fields, f); named != given {
			t.Errorf("warning %q: names %s: %v, want %v", msg, f, named, given)
		}
	}
}

// wantNoKernelRecorded fails if rt's state file records a kernel memory
// limit: none was applied.
func wantNoKernelRecorded(t *testing.T, c *container) {
	t.Helper()
	if compared != "" {
		return // runc's state file has no spec
	}
	if m := savedResources(t, c.r, c.ID).Memory; m != nil && (m.Kernel != nil || m.KernelTCP != nil) {
		t.Errorf("state.json records memory.kernel %v, kernelTCP %v: neither was applied", m.Kernel, m.KernelTCP)
	}
}

// TestKernelMemoryIgnoredWithWarning: linux.resources.memory.kernel and
// kernelTCP, deprecated by the runtime spec, are ignored with one warning in
// the --log file, at create and at update (--kernel-memory,
// --kernel-memory-tcp, or a --resources file), as runc ≥ 1.0 does; the
// other limits beside them are applied, and the state records no kernel
// limit. rt once refused create and update instead ("the kernel accepts
// but ignores it").
func TestKernelMemoryIgnoredWithWarning(t *testing.T) {
	t.Parallel()
	r := runner(t)
	logs := t.TempDir()
	const (
		kernelF = "linux.resources.memory.kernel"
		tcpF    = "linux.resources.memory.kernelTCP"
	)
	b := bundle(t, []string{"sleep", "1000"}, withResources(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: mib(64), Kernel: i64(50593792), KernelTCP: i64(11534336)},
	}))
	log := filepath.Join(logs, "run.log")
	id := harness.ID("kmem")
	pathForCompare(t, b, id)
	res := r.RT("--log", log, "--log-format", "json", "run", "-d", "--bundle", b, id)
	t.Cleanup(func() {
		r.RT("delete", "--force", id)
		r.AssertNoTrace(t, id, b)
	})
	if res.Code != 0 || res.Stderr != "" {
		t.Fatalf("run -d with memory.kernel and kernelTCP: %s, want exit 0 and nothing on stderr", res)
	}
	wantKernelWarning(t, log, kernelF, tcpF)
	c := &container{r: r, ID: id, Bundle: b, Pid: state(t, r, id).InitProcessPid}
	if st := state(t, r, id); st.Status != "running" {
		t.Fatalf("status %s, want running", st.Status)
	}
	c.wantFile(t, "memory", "memory.limit_in_bytes", itoa(64<<20))
	wantNoKernelRecorded(t, c)

	dir := t.TempDir()
	resFile := filepath.Join(dir, "kernel.json")
	if err := os.WriteFile(resFile, []byte(`{"memory":{"limit":50331648,"kernel":1048576}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, u := range []struct {
		args   []string
		fields []string
		limit  int64
	}{
		{[]string{"--kernel-memory", "10m", "--kernel-memory-tcp", "5m", "--memory", "100m"}, []string{kernelF, tcpF}, 100 << 20},
		{[]string{"--kernel-memory-tcp", "5m"}, []string{tcpF}, 100 << 20},
		{[]string{"--resources", resFile}, []string{kernelF}, 48 << 20},
	} {
		log := filepath.Join(logs, "update"+itoa(int64(i))+".log")
		args := append(append([]string{"--log", log, "--log-format", "json", "update"}, u.args...), id)
		if res := r.RT(args...); res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
			t.Fatalf("update %v: %s, want exit 0 and no output", u.args, res)
		}
		wantKernelWarning(t, log, u.fields...)
		c.wantFile(t, "memory", "memory.limit_in_bytes", itoa(u.limit))
		wantNoKernelRecorded(t, c)
	}
	if res := c.exec("true"); res.Code != 0 {
		t.Errorf("exec after the updates: %s", res)
	}
}
