// Package cli_test drives the built rt, rt-checkpoint and rt-init binaries
// through the command-line contract of the foundation issue: version, spec,
// features, config, the state store's read side, ids, logs and the hand-over
// of checkpoint to rt-checkpoint.
package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
	"github.com/rtkit/rt/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// isolatedEnv keeps the machine's /etc/rt/config.yaml and RT_* variables out
// of a test: RT_CONFIG points at an empty config file.
func isolatedEnv(t *testing.T) []string {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, nil, 0o644)
	env := []string{"PATH=" + os.Getenv("PATH"), "RT_CONFIG=" + cfg}
	return env
}

func newRunner(t *testing.T) *harness.Runner {
	r := harness.NewRunner(t)
	r.Env = isolatedEnv(t)
	return r
}

func TestVersionOnEveryBinary(t *testing.T) {
	r := newRunner(t)
	for _, bin := range []string{r.Bins.RT, r.Bins.Checkpoint, r.Bins.Init} {
		res := r.Exec(bin, "--version")
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		// runc's fifth line, libseccomp, when the build recorded it.
		if res.Code != 0 || len(lines) < 4 || len(lines) > 5 || (len(lines) == 5 && !strings.HasPrefix(lines[4], "libseccomp: ")) {
			t.Fatalf("%s --version: %s", bin, res)
		}
		name := filepath.Base(bin)
		for i, prefix := range []string{name + " version ", "commit: ", "spec: " + specs.Version, "go: go1."} {
			if !strings.HasPrefix(lines[i], prefix) {
				t.Errorf("%s --version line %d = %q, want prefix %q", name, i+1, lines[i], prefix)
			}
		}
	}
}

// TestCompletion: both CLIs give shell completion scripts, and the scripts'
// back end (__complete) answers from the binary's own commands.
func TestCompletion(t *testing.T) {
	r := newRunner(t)
	for _, bin := range []string{r.Bins.RT, r.Bins.Checkpoint} {
		name := filepath.Base(bin)
		for _, shell := range []string{"bash", "zsh", "fish"} {
			res := r.Exec(bin, "completion", shell)
			if res.Code != 0 || !strings.Contains(res.Stdout, name) {
				t.Errorf("%s completion %s: %s", name, shell, res)
			}
		}
	}
	res := r.Exec(r.Bins.RT, "__complete", "cre")
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, "create\t") {
		t.Errorf("rt __complete cre: %s", res)
	}
}

func TestSpecOutputIsARuntimeSpec(t *testing.T) {
	r := newRunner(t)
	for _, rootless := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"spec", "--bundle", dir}
		if rootless {
			args = append(args, "--rootless")
		}
		if res := r.RT(args...); res.Code != 0 || res.Stdout != "" {
			t.Fatalf("rt %v: %s", args, res)
		}
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("config.json is not a runtime-spec Spec: %v", err)
		}
		if err := spec.Validate(&s); err != nil {
			t.Fatalf("rt spec output does not validate: %v", err)
		}
		if s.Version != specs.Version || s.Root.Path != "rootfs" || s.Process.Args[0] != "sh" {
			t.Errorf("unexpected spec: version %s root %s args %v", s.Version, s.Root.Path, s.Process.Args)
		}
		hasUserNS := slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		if hasUserNS != rootless || (rootless && len(s.Linux.UIDMappings) != 1) {
			t.Errorf("rootless=%v: user namespace %v, uid mappings %v", rootless, hasUserNS, s.Linux.UIDMappings)
		}

		// A second spec refuses and leaves the file as it was.
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("mine"), 0o644)
		res := r.RT(args...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "already exists") {
			t.Fatalf("spec over an existing config.json: %s", res)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(data) != "mine" {
			t.Fatal("spec overwrote an existing config.json")
		}
	}
}

func TestFeaturesIsAFeaturesDocument(t *testing.T) {
	r := newRunner(t)
	res := r.RT("features")
	if res.Code != 0 {
		t.Fatal(res)
	}
	var f features.Features
	if err := json.Unmarshal([]byte(res.Stdout), &f); err != nil {
		t.Fatalf("features output is not a features.Features: %v", err)
	}
	if f.OCIVersionMax != specs.Version || f.OCIVersionMin == "" {
		t.Errorf("versions %q..%q", f.OCIVersionMin, f.OCIVersionMax)
	}
	if f.Linux == nil || !slices.Contains(f.Linux.Namespaces, "pid") || !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") {
		t.Errorf("linux section: %+v", f.Linux)
	}
	if !slices.Contains(f.MountOptions, "rbind") || !slices.Contains(f.Hooks, "createRuntime") {
		t.Errorf("mount options %v, hooks %v", f.MountOptions, f.Hooks)
	}
}

func TestStateOfUnknownID(t *testing.T) {
	r := newRunner(t)
	res := r.RT("state", "nosuch")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != `rt: container "nosuch" does not exist` || res.Stdout != "" {
		t.Fatalf("state of an unknown id: %s", res)
	}
}

func TestDeleteForceOfUnknownIDSucceeds(t *testing.T) {
	r := newRunner(t)
	if res := r.RT("delete", "--force", "nosuch"); res.Code != 0 || res.Stderr != "" {
		t.Fatalf("delete --force of an unknown id: %s", res)
	}
	if res := r.RT("delete", "nosuch"); res.Code != 1 || !strings.Contains(res.Stderr, "does not exist") {
		t.Fatalf("delete of an unknown id: %s", res)
	}
}

func TestInvalidIDsRefused(t *testing.T) {
	r := newRunner(t)
	ids := []string{"../x", "a/b", "", strings.Repeat("a", 1000), ".", ".."}
	for _, id := range ids {
		for _, cmd := range [][]string{{"state", id}, {"delete", "--force", id}, {"create", "--bundle", t.TempDir(), id}, {"kill", id}, {"start", id}} {
			res := r.RT(cmd...)
			if res.Code != 1 || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 ||
				!(strings.Contains(res.Stderr, "invalid container id") || strings.Contains(res.Stderr, "container id cannot be empty")) {
				t.Errorf("rt %s %.20q: %s", cmd[0], id, res)
			}
		}
	}
	if _, err := os.Stat(r.Root); err == nil {
		entries, _ := os.ReadDir(r.Root)
		if len(entries) > 0 {
			t.Fatalf("invalid ids left %d entries in the root", len(entries))
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(r.Root), "x")); err == nil {
		t.Fatal("../x escaped the root")
	}
}

// TestListAndStateOfRecordedContainers: the read side over state written by
// the store, for a stopped container.
func TestListAndStateOfRecordedContainers(t *testing.T) {
	r := newRunner(t)
	if res := r.RT("list", "-f", "json"); res.Code != 0 || strings.TrimSpace(res.Stdout) != "[]" {
		t.Fatalf("list -f json on an empty root: %s", res)
	}
	if res := r.RT("list"); res.Code != 0 || !regexpHeader(res.Stdout) {
		t.Fatalf("list on an empty root: %s", res)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := store.New(r.Root)
	for _, id := range []string{"b-ctr", "a-ctr"} {
		h, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Save(&store.State{ID: id, OCIVersion: "1.3.0", Bundle: "/bundles/" + id, Rootfs: "/bundles/" + id + "/rootfs",
			Created: created, Ready: true, Annotations: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	res := r.RT("state", "a-ctr")
	var c api.Container
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil {
		t.Fatalf("state: %s", res)
	}
	var raw map[string]any
	json.Unmarshal([]byte(res.Stdout), &raw)
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state JSON has no %q: %s", k, res.Stdout)
		}
	}
	if c.ID != "a-ctr" || c.Status != api.StatusStopped || c.InitProcessPid != 0 || c.Bundle != "/bundles/a-ctr" || !c.Created.Equal(created) || c.Owner != "root" && os.Geteuid() == 0 {
		t.Errorf("state = %+v", c)
	}
	res = r.RT("list", "-q")
	if res.Code != 0 || res.Stdout != "a-ctr\nb-ctr\n" {
		t.Errorf("list -q: %s", res)
	}
	res = r.RT("list", "--format=json")
	var list []api.Container
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &list) != nil || len(list) != 2 || list[0].ID != "a-ctr" {
		t.Errorf("list --format=json: %s", res)
	}
	res = r.RT("list")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 3 || !regexpHeader(lines[0]) || !strings.HasPrefix(lines[1], "a-ctr ") || !strings.Contains(lines[1], "stopped") ||
		!strings.Contains(lines[1], "2026-01-02T03:04:05Z") {
		t.Errorf("list table:\n%s", res.Stdout)
	}
	for _, id := range []string{"a-ctr", "b-ctr"} {
		if res := r.RT("delete", id); res.Code != 0 {
			t.Errorf("delete of a stopped container: %s", res)
		}
	}
	if res := r.RT("list", "-q"); res.Stdout != "" {
		t.Errorf("list after delete: %s", res)
	}
}

func regexpHeader(s string) bool {
	return strings.Join(strings.Fields(strings.SplitN(s, "\n", 2)[0]), " ") == "ID PID STATUS BUNDLE CREATED OWNER"
}

// TestJSONLogLineShape: what containerd reads from --log with
// --log-format json, and what podman falls back to on stderr.
func TestJSONLogLineShape(t *testing.T) {
	r := newRunner(t)
	logFile := filepath.Join(t.TempDir(), "log.json")
	res := r.RT("--log", logFile, "--log-format=json", "state", "nosuch")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != `rt: container "nosuch" does not exist` {
		t.Fatalf("stderr: %s", res)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 {
		t.Fatalf("log has %d lines: %q", len(lines), data)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, lines[0])
	}
	if rec["level"] != "error" || rec["msg"] != `container "nosuch" does not exist` {
		t.Errorf("log record %v", rec)
	}
	ts, _ := rec["time"].(string)
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", ts, err)
	}
}

// TestGlobalFlagForms: runc's clients pass global flags as "--x v" and
// "--x=v", and sometimes twice.
func TestGlobalFlagForms(t *testing.T) {
	r := newRunner(t)
	for _, args := range [][]string{
		{"--root", "/tmp/rt-a", "config", "--format", "json"},
		{"--root=/tmp/rt-a", "config", "--format=json"},
		{"--root", "/tmp/rt-b", "--root", "/tmp/rt-a", "--debug", "--debug", "config", "-f", "json"},
		{"--systemd-cgroup", "--log-format", "text", "--rootless", "false", "--criu", "/x/criu", "--root=/tmp/rt-a", "config", "--format", "json"},
	} {
		res := r.Exec(r.Bins.RT, args...)
		var settings []struct{ Key, Value, Source string }
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &settings) != nil {
			t.Fatalf("rt %v: %s", args, res)
		}
		for _, s := range settings {
			if s.Key == "root" && (s.Value != "/tmp/rt-a" || s.Source != "flag") {
				t.Errorf("rt %v: root = %+v", args, s)
			}
		}
	}
}

// TestConfigSourcesThroughTheBinary: one pass over the sources end to end
// (the whole table is in pkg/config's unit tests).
func TestConfigSourcesThroughTheBinary(t *testing.T) {
	r := newRunner(t)
	file := filepath.Join(t.TempDir(), "rt.yaml")
	os.WriteFile(file, []byte("root: /from/file\ncriu: /file/criu\nlog-format: json\n"), 0o644)
	const token = "never-printed-0123456789"
	r.Env = []string{"PATH=" + os.Getenv("PATH"), "RT_CONFIG=" + file, "RT_CRIU=/env/criu", "RT_LOG_FORMAT=text", "RT_CRIU_PROGRESS_TIMEOUT=5s",
		"RT_MIGRATION_TOKEN=" + token, "RT_CGROUP_PARENT=/rt-env"}
	res := r.Exec(r.Bins.RT, "--log-format", "json", "config", "--format", "json")
	var settings []struct{ Key, Value, Source string }
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &settings) != nil {
		t.Fatal(res)
	}
	want := map[string][2]string{
		"root": {"/from/file", "file"}, "criu": {"/env/criu", "env"}, "log-format": {"json", "flag"},
		"cgroup-driver": {"cgroupfs", "default"}, "criu-progress-timeout": {"5s", "env"},
		"migration-token": {"<set>", "env"}, "cgroup-parent": {"/rt-env", "env"},
	}
	seen := 0
	for _, s := range settings {
		if w, ok := want[s.Key]; ok {
			seen++
			if s.Value != w[0] || s.Source != w[1] {
				t.Errorf("%s = %s from %s, want %s from %s", s.Key, s.Value, s.Source, w[0], w[1])
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d keys checked are in the output: %s", seen, len(want), res.Stdout)
	}
	for _, format := range []string{"json", "table"} {
		if res := r.Exec(r.Bins.RT, "config", "--format", format); res.Code != 0 || strings.Contains(res.Stdout+res.Stderr, token) {
			t.Errorf("config --format %s shows the migration token: %s", format, res)
		}
	}
	os.WriteFile(file, []byte("roots: /typo\n"), 0o644)
	res = r.Exec(r.Bins.RT, "list")
	if res.Code != 1 || !strings.Contains(res.Stderr, file) || !strings.Contains(res.Stderr, `"roots"`) {
		t.Errorf("unknown key: %s", res)
	}
}

// TestCheckpointHandover: `rt checkpoint --help` succeeds only when
// rt-checkpoint is there, because podman takes its exit 0 as "supported".
func TestCheckpointHandover(t *testing.T) {
	r := newRunner(t)
	for _, cmd := range []string{"checkpoint", "restore"} {
		res := r.RT(cmd, "--help")
		if res.Code != 0 || !strings.Contains(res.Stdout, "rt-checkpoint "+cmd) {
			t.Errorf("rt %s --help with rt-checkpoint present: %s", cmd, res)
		}
	}
	// The global flags reach rt-checkpoint unchanged.
	res := r.RT("--log-format=json", "checkpoint", "--leave-running", "--leave-running", "nosuch")
	if res.Code != 1 || !strings.Contains(res.Stderr, `"level":"error"`) {
		t.Errorf("handed-over checkpoint: %s", res)
	}

	alone := t.TempDir()
	data, err := os.ReadFile(r.Bins.RT)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(alone, "rt"), data, 0o755)
	r.Env = []string{"PATH=" + alone + ":/usr/bin:/bin"}
	if p, err := exec.LookPath("rt-checkpoint"); err == nil {
		t.Skipf("rt-checkpoint is installed on PATH at %s; cannot test its absence", p)
	}
	for _, cmd := range []string{"checkpoint", "restore"} {
		res := r.Exec(filepath.Join(alone, "rt"), cmd, "--help")
		if res.Code == 0 || !strings.Contains(res.Stderr, "rt-checkpoint is not installed") {
			t.Errorf("rt %s --help without rt-checkpoint: %s", cmd, res)
		}
	}
}

func TestUsageErrorsNameTheCommand(t *testing.T) {
	r := newRunner(t)
	for _, args := range [][]string{{"state"}, {"state", "a", "b"}, {"start"}, {"kill"}, {"delete"}, {"create"}, {"exec", "x"}, {"list", "x"}, {"spec", "x"}} {
		res := r.RT(args...)
		if res.Code != 1 || !strings.HasPrefix(res.Stderr, "rt: "+args[0]+": ") || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("rt %v: %s", args, res)
		}
	}
}
