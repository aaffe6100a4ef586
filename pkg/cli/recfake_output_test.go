package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/rtkit/rt/pkg/api"
)

var recCreated = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// TestStateOutput checks state's JSON.
func TestStateOutput(t *testing.T) {
	want := api.Container{
		Version:        "1.2.0",
		ID:             "c1",
		InitProcessPid: 4242,
		Status:         api.StatusPaused,
		Bundle:         "/bundles/c1",
		Rootfs:         "/bundles/c1/rootfs",
		Created:        recCreated,
		Annotations:    map[string]string{"io.example/a": "b"},
		Owner:          "root",
	}
	t.Run("fields", func(t *testing.T) {
		f := newRecFake()
		f.state = &want
		out := recRT(t, f, "state", "c1")
		out.wantExit(t, 0)
		if out.stderr != "" {
			t.Errorf("stderr = %q", out.stderr)
		}
		if call := f.onlyCall(t, "State"); call.ID != "c1" {
			t.Errorf("id = %q", call.ID)
		}
		if !strings.HasPrefix(out.stdout, "{\n  \"") || !strings.HasSuffix(out.stdout, "\n}\n") {
			t.Errorf("stdout is not two-space indented JSON: %q", out.stdout)
		}
		var got api.Container
		if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
			t.Fatalf("stdout %q: %v", out.stdout, err)
		}
		if !got.Created.Equal(want.Created) {
			t.Errorf("created = %v, want %v", got.Created, want.Created)
		}
		got.Created = want.Created
		if !reflect.DeepEqual(got, want) {
			t.Errorf("state = %+v\nwant    %+v", got, want)
		}
		m := decodeAny(t, out.stdout)
		for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"} {
			if _, ok := m[k]; !ok {
				t.Errorf("key %q missing from %s", k, out.stdout)
			}
		}
		if len(m) != 9 {
			t.Errorf("keys = %v, want exactly 9", m)
		}
		if m["pid"] != 4242.0 || m["status"] != "paused" || m["created"] != "2024-05-06T07:08:09.123456789Z" {
			t.Errorf("state = %s", out.stdout)
		}
	})
	t.Run("stopped-no-annotations", func(t *testing.T) {
		f := newRecFake()
		f.state = &api.Container{Version: "1.2.0", ID: "c1", Status: api.StatusStopped, Created: recCreated}
		out := recRT(t, f, "state", "c1")
		out.wantExit(t, 0)
		m := decodeAny(t, out.stdout)
		if m["pid"] != 0.0 || m["status"] != "stopped" {
			t.Errorf("state = %s", out.stdout)
		}
		if _, ok := m["annotations"]; ok {
			t.Errorf("annotations present although empty: %s", out.stdout)
		}
	})
}

// TestListOutput checks list's table, -q and JSON.
func TestListOutput(t *testing.T) {
	containers := []api.Container{
		{ID: "zeta", InitProcessPid: 20, Status: api.StatusRunning, Bundle: "/b/zeta", Created: recCreated, Owner: "root"},
		{ID: "alpha", InitProcessPid: 0, Status: api.StatusStopped, Bundle: "/b/alpha", Created: recCreated.Add(time.Hour), Owner: "user"},
		{ID: "mid", InitProcessPid: 10, Status: api.StatusCreated, Bundle: "/b/mid", Created: recCreated, Owner: "root"},
	}
	sorted := []string{"alpha", "mid", "zeta"}
	byID := map[string]api.Container{}
	for _, c := range containers {
		byID[c.ID] = c
	}

	for _, args := range [][]string{{"list"}, {"ls"}, {"list", "--format", "table"}} {
		t.Run("table/"+strings.Join(args, "-"), func(t *testing.T) {
			f := newRecFake()
			f.list = append([]api.Container(nil), containers...)
			out := recRT(t, f, args...)
			out.wantExit(t, 0)
			f.onlyCall(t, "List")
			lines := recLines(out.stdout)
			if len(lines) != 4 {
				t.Fatalf("stdout = %q, want a header and 3 rows", out.stdout)
			}
			if got := strings.Fields(lines[0]); !reflect.DeepEqual(got, []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
				t.Errorf("header = %q", lines[0])
			}
			for i, l := range lines[1:] {
				c := byID[sorted[i]]
				want := []string{c.ID, strconv.Itoa(c.InitProcessPid), string(c.Status), c.Bundle, c.Created.Format(time.RFC3339Nano), c.Owner}
				if got := strings.Fields(l); !reflect.DeepEqual(got, want) {
					t.Errorf("row %d = %q, want fields %q", i, l, want)
				}
			}
			// Columns are aligned: every row's STATUS starts where the header's does.
			col := strings.Index(lines[0], "STATUS")
			for _, l := range lines[1:] {
				if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
					t.Errorf("row %q not aligned with header %q", l, lines[0])
				}
			}
		})
	}
	t.Run("table/empty", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "list")
		out.wantExit(t, 0)
		lines := recLines(out.stdout)
		if len(lines) != 1 || !reflect.DeepEqual(strings.Fields(lines[0]), []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
			t.Errorf("stdout = %q, want the header only", out.stdout)
		}
	})
	for _, flag := range []string{"-q", "--quiet"} {
		t.Run("quiet/"+flag, func(t *testing.T) {
			f := newRecFake()
			f.list = append([]api.Container(nil), containers...)
			out := recRT(t, f, "list", flag)
			out.wantExit(t, 0)
			if out.stdout != "alpha\nmid\nzeta\n" {
				t.Errorf("stdout = %q, want the sorted ids", out.stdout)
			}
		})
	}
	for _, args := range [][]string{{"list", "-f", "json"}, {"list", "--format=json"}} {
		t.Run("json/"+strings.Join(args, "-"), func(t *testing.T) {
			f := newRecFake()
			f.list = append([]api.Container(nil), containers...)
			out := recRT(t, f, args...)
			out.wantExit(t, 0)
			if !strings.HasPrefix(out.stdout, "[") {
				t.Fatalf("stdout = %q, want a JSON array", out.stdout)
			}
			var got []api.Container
			if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
				t.Fatalf("stdout %q: %v", out.stdout, err)
			}
			if len(got) != 3 {
				t.Fatalf("got %d containers", len(got))
			}
			for i, c := range got {
				w := byID[sorted[i]]
				if c.ID != w.ID || c.InitProcessPid != w.InitProcessPid || c.Status != w.Status || c.Bundle != w.Bundle || c.Owner != w.Owner || !c.Created.Equal(w.Created) {
					t.Errorf("container %d = %+v, want %+v", i, c, w)
				}
			}
		})
	}
	t.Run("json/empty-slice", func(t *testing.T) {
		f := newRecFake()
		f.list = []api.Container{}
		out := recRT(t, f, "list", "-f", "json")
		out.wantExit(t, 0)
		if out.stdout != "[]\n" {
			t.Errorf("stdout = %q, want %q", out.stdout, "[]\n")
		}
	})
	t.Run("json/empty-nil", func(t *testing.T) {
		f := newRecFake()
		f.list = nil // what a runtime returns when it appends to a nil slice and finds nothing
		out := recRT(t, f, "list", "-f", "json")
		out.wantExit(t, 0)
		if out.stdout != "[]\n" {
			t.Errorf("stdout = %q, want %q", out.stdout, "[]\n")
		}
	})
	t.Run("bad-format", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "list", "--format", "yaml")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); line != `rt: list: --format "yaml": must be table or json; see 'rt list --help'` {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
}

// TestPSOutput checks ps.
func TestPSOutput(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		pids []int
		want string
	}{
		{"json", []string{"ps", "-f", "json", "c1"}, []int{3, 1, 2}, "[3,1,2]\n"},
		{"json-long", []string{"ps", "--format=json", "c1"}, []int{7}, "[7]\n"},
		{"json-empty-nil", []string{"ps", "-f", "json", "c1"}, nil, "[]\n"},
		{"json-empty", []string{"ps", "-f", "json", "c1"}, []int{}, "[]\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			f.pids = tt.pids
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 0)
			if out.stdout != tt.want || out.stderr != "" {
				t.Errorf("stdout = %q, stderr = %q, want %q and nothing", out.stdout, out.stderr, tt.want)
			}
			if call := f.onlyCall(t, "PS"); call.ID != "c1" {
				t.Errorf("id = %q", call.ID)
			}
		})
	}
	t.Run("bad-format", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "ps", "-f", "yaml", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.HasPrefix(line, `rt: ps: --format "yaml": must be table or json`) {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
	t.Run("error", func(t *testing.T) {
		f := newRecFake()
		f.errs["PS"] = api.NewContainerError("c1", api.ErrNotExist)
		out := recRT(t, f, "ps", "-f", "json", "c1")
		out.wantExit(t, 1)
		if out.stdout != "" || out.stderr != "rt: container \"c1\" does not exist\n" {
			t.Errorf("stdout = %q, stderr = %q", out.stdout, out.stderr)
		}
	})
	t.Run("table", func(t *testing.T) {
		if _, err := exec.LookPath("ps"); err != nil {
			t.Skip("no ps(1)")
		}
		f := newRecFake()
		self := os.Getpid()
		f.pids = []int{self}
		// ps options after the id go to ps(1), not to rt.
		out := recRT(t, f, "ps", "c1", "-o", "pid,comm", "-p", strconv.Itoa(self), "-p", "1")
		out.wantExit(t, 0)
		lines := recLines(out.stdout)
		if len(lines) != 2 || !strings.Contains(lines[0], "PID") {
			t.Fatalf("stdout = %q, want the header and our line", out.stdout)
		}
		if fields := strings.Fields(lines[1]); len(fields) == 0 || fields[0] != strconv.Itoa(self) {
			t.Errorf("row = %q, want pid %d", lines[1], self)
		}
	})
}

// TestFeaturesOutput checks features.
func TestFeaturesOutput(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		f := newRecFake()
		f.features = &features.Features{OCIVersionMin: "1.0.0", OCIVersionMax: "1.3.0",
			Hooks: []string{"prestart", "poststop"}, MountOptions: []string{"ro", "rbind"},
			Annotations: map[string]string{"org.example.rt.version": "0.1"}}
		out := recRT(t, f, "features")
		out.wantExit(t, 0)
		var got features.Features
		if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
			t.Fatalf("stdout %q: %v", out.stdout, err)
		}
		if !reflect.DeepEqual(&got, f.features) {
			t.Errorf("features = %+v, want %+v", got, *f.features)
		}
		f.onlyCall(t, "Features")
	})
	t.Run("not-implemented", func(t *testing.T) {
		recIsolate(t)
		f := newRecFake()
		prog := recRTProgram(func(cfg api.GlobalConfig) (api.ContainerOperations, error) {
			_, _ = f.factory(cfg)
			return onlyOps{f}, nil
		})
		out := recMain(t, prog, "", "--root", t.TempDir(), "features")
		out.wantExit(t, 1)
		if out.stderr != "rt: features: not implemented\n" {
			t.Errorf("stderr = %q", out.stderr)
		}
	})
}

// TestSpecOutput checks spec.
func TestSpecOutput(t *testing.T) {
	want := &specs.Spec{Version: specs.Version, Hostname: "fake", Root: &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"}}
	readSpec := func(t *testing.T, path string) *specs.Spec {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return &s
	}
	for _, tt := range []struct {
		name     string
		flags    []string
		rootless bool
	}{
		{"bundle-short", []string{"-b"}, false},
		{"bundle-long", []string{"--bundle"}, false},
		{"rootless", []string{"--rootless", "--bundle"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bundle := t.TempDir()
			args := append([]string{"spec"}, tt.flags...)
			args = append(args, bundle)
			f := newRecFake()
			f.spec = want
			out := recRT(t, f, args...)
			out.wantExit(t, 0)
			if out.stdout != "" || out.stderr != "" {
				t.Errorf("stdout = %q, stderr = %q, want nothing", out.stdout, out.stderr)
			}
			if call := f.onlyCall(t, "DefaultSpec"); call.Opts != tt.rootless {
				t.Errorf("DefaultSpec(rootless=%v), want %v", call.Opts, tt.rootless)
			}
			if got := readSpec(t, filepath.Join(bundle, "config.json")); !reflect.DeepEqual(got, want) {
				t.Errorf("config.json = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("default-bundle-is-cwd", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		f := newRecFake()
		f.spec = want
		recRT(t, f, "spec").wantExit(t, 0)
		if got := readSpec(t, filepath.Join(dir, "config.json")); !reflect.DeepEqual(got, want) {
			t.Errorf("config.json = %+v", got)
		}
	})
	t.Run("refuses-existing", func(t *testing.T) {
		bundle := t.TempDir()
		path := filepath.Join(bundle, "config.json")
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		f := newRecFake()
		out := recRT(t, f, "spec", "--bundle", bundle)
		out.wantExit(t, 1)
		line := out.oneErrLine(t)
		if !strings.Contains(line, "already exists") || !strings.Contains(line, path) || !strings.HasPrefix(line, "rt: spec: ") {
			t.Errorf("stderr = %q", line)
		}
		if data, _ := os.ReadFile(path); string(data) != "keep me" {
			t.Errorf("config.json overwritten: %q", data)
		}
	})
	t.Run("second-run-refused", func(t *testing.T) {
		bundle := t.TempDir()
		recRT(t, newRecFake(), "spec", "-b", bundle).wantExit(t, 0)
		before, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
		out := recRT(t, newRecFake(), "spec", "-b", bundle)
		out.wantExit(t, 1)
		if !strings.Contains(out.stderr, "already exists") {
			t.Errorf("stderr = %q", out.stderr)
		}
		if after, _ := os.ReadFile(filepath.Join(bundle, "config.json")); string(after) != string(before) {
			t.Error("config.json changed")
		}
	})
	t.Run("missing-bundle-dir", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "nope")
		out := recRT(t, newRecFake(), "spec", "-b", bundle)
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.HasPrefix(line, "rt: spec: ") {
			t.Errorf("stderr = %q", line)
		}
	})
	t.Run("not-implemented", func(t *testing.T) {
		recIsolate(t)
		f := newRecFake()
		prog := recRTProgram(func(cfg api.GlobalConfig) (api.ContainerOperations, error) {
			_, _ = f.factory(cfg)
			return onlyOps{f}, nil
		})
		out := recMain(t, prog, "", "--root", t.TempDir(), "spec", "-b", t.TempDir())
		out.wantExit(t, 1)
		if out.stderr != "rt: spec: not implemented\n" {
			t.Errorf("stderr = %q", out.stderr)
		}
	})
	t.Run("broken-host-config", func(t *testing.T) {
		// spec resolves the host config like every runtime command: a broken
		// config file is reported, naming the file and key, and nothing is
		// written.
		recIsolate(t)
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte("bogus-key: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("RT_CONFIG", bad)
		bundle := t.TempDir()
		out := recMain(t, recRTProgram(newRecFake().factory), "", "spec", "-b", bundle)
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, bad) || !strings.Contains(line, "bogus-key") {
			t.Errorf("stderr %q does not name the file and the key", line)
		}
		if _, err := os.Stat(filepath.Join(bundle, "config.json")); err == nil {
			t.Error("spec wrote config.json despite the broken host config")
		}
	})
}

// TestConfigOutput checks config in both formats and both programs.
func TestConfigOutput(t *testing.T) {
	keys := []string{"root", "criu", "criu-progress-timeout", "migration-token", "cgroup-driver", "cgroup-parent", "init", "log", "log-format", "debug"}
	type setting struct {
		Key, Value, Source, Origin string
	}
	for _, prog := range []string{"rt", "rt-checkpoint"} {
		for _, args := range [][]string{{"config", "--format", "json"}, {"config", "-f=json"}} {
			t.Run(prog+"/json/"+strings.Join(args[1:], "_"), func(t *testing.T) {
				recIsolate(t)
				root := t.TempDir()
				f := newRecFake()
				p := recRTProgram(f.factory)
				if prog == "rt-checkpoint" {
					p = recCkptProgram(f.factory)
				}
				out := recMain(t, p, "", append([]string{"--root", root, "--debug"}, args...)...)
				out.wantExit(t, 0)
				var got []setting
				if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
					t.Fatalf("stdout %q: %v", out.stdout, err)
				}
				if len(got) != len(keys) {
					t.Fatalf("%d settings, want %d: %s", len(got), len(keys), out.stdout)
				}
				for i, s := range got {
					if s.Key != keys[i] {
						t.Errorf("setting %d key = %q, want %q", i, s.Key, keys[i])
					}
				}
				if got[0] != (setting{"root", root, "flag", "--root"}) {
					t.Errorf("root = %+v", got[0])
				}
				if got[9] != (setting{"debug", "true", "flag", "--debug"}) {
					t.Errorf("debug = %+v", got[9])
				}
				if got[1] != (setting{"criu", "criu", "default", "built-in"}) {
					t.Errorf("criu = %+v", got[1])
				}
				if got[2] != (setting{"criu-progress-timeout", "120s", "default", "built-in"}) {
					t.Errorf("criu-progress-timeout = %+v", got[2])
				}
				// The runtime is not needed to show the configuration.
				f.noCalls(t)
			})
		}
		t.Run(prog+"/table", func(t *testing.T) {
			recIsolate(t)
			root := t.TempDir()
			f := newRecFake()
			p := recRTProgram(f.factory)
			if prog == "rt-checkpoint" {
				p = recCkptProgram(f.factory)
			}
			out := recMain(t, p, "", "--root", root, "config")
			out.wantExit(t, 0)
			lines := recLines(out.stdout)
			if len(lines) != 1+len(keys) {
				t.Fatalf("stdout = %q, want a header and %d rows", out.stdout, len(keys))
			}
			if got := strings.Fields(lines[0]); !reflect.DeepEqual(got, []string{"KEY", "VALUE", "SOURCE", "ORIGIN"}) {
				t.Errorf("header = %q", lines[0])
			}
			for i, l := range lines[1:] {
				if fields := strings.Fields(l); len(fields) != 4 || fields[0] != keys[i] {
					t.Errorf("row %d = %q, want 4 columns for %s", i, l, keys[i])
				}
			}
			if fields := strings.Fields(lines[1]); fields[1] != root || fields[2] != "flag" {
				t.Errorf("root row = %q", lines[1])
			}
			if fields := strings.Fields(lines[8]); fields[1] != "(stderr)" {
				t.Errorf("log row = %q", lines[8])
			}
			for _, row := range []int{4, 6} {
				if fields := strings.Fields(lines[row]); fields[1] != "(none)" {
					t.Errorf("%s row = %q, want (none)", keys[row-1], lines[row])
				}
			}
			f.noCalls(t)
		})
	}
	t.Run("file-source", func(t *testing.T) {
		file := recIsolate(t)
		if err := os.WriteFile(file, []byte("criu: /opt/criu\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := recMain(t, recRTProgram(newRecFake().factory), "", "--root", t.TempDir(), "config", "-f", "json")
		out.wantExit(t, 0)
		var got []setting
		if err := json.Unmarshal([]byte(out.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) || got[1] != (setting{"criu", "/opt/criu", "file", file}) {
			t.Errorf("settings = %+v", got)
		}
	})
	// The token reaches the runtime (TestGlobalFlags), never the output.
	for _, format := range []string{"json", "table"} {
		t.Run("migration-token-redacted/"+format, func(t *testing.T) {
			recIsolate(t)
			const secret = "do-not-print-0123456789"
			t.Setenv("RT_MIGRATION_TOKEN", secret)
			t.Setenv("RT_CGROUP_PARENT", "/rt-hostb")
			out := recMain(t, recRTProgram(newRecFake().factory), "", "--root", t.TempDir(), "config", "-f", format)
			out.wantExit(t, 0)
			if strings.Contains(out.stdout+out.stderr, secret) {
				t.Fatalf("config prints the token:\n%s", out.stdout)
			}
			want := map[string][]string{
				"migration-token": {"migration-token", "<set>", "env", "RT_MIGRATION_TOKEN"},
				"cgroup-parent":   {"cgroup-parent", "/rt-hostb", "env", "RT_CGROUP_PARENT"},
			}
			got := map[string][]string{}
			if format == "json" {
				var settings []setting
				if err := json.Unmarshal([]byte(out.stdout), &settings); err != nil {
					t.Fatal(err)
				}
				for _, s := range settings {
					got[s.Key] = []string{s.Key, s.Value, s.Source, s.Origin}
				}
			} else {
				for _, l := range recLines(out.stdout)[1:] {
					got[strings.Fields(l)[0]] = strings.Fields(l)
				}
			}
			for key, w := range want {
				if !reflect.DeepEqual(got[key], w) {
					t.Errorf("%s = %q, want %q", key, got[key], w)
				}
			}
		})
	}
	t.Run("bad-format", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "config", "--format", "yaml")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); line != `rt: config: --format "yaml": must be table or json; see 'rt config --help'` {
			t.Errorf("stderr = %q", line)
		}
	})
	t.Run("broken-config-file", func(t *testing.T) {
		file := recIsolate(t)
		if err := os.WriteFile(file, []byte("rooot: /x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := recMain(t, recRTProgram(newRecFake().factory), "", "config")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, `unknown key "rooot"`) {
			t.Errorf("stderr = %q", line)
		}
	})
}
