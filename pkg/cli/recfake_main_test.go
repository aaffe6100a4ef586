package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtkit/rt/pkg/api"
)

// TestGlobalFlags checks both forms and repeats of the global flags through
// the GlobalConfig the factory received and the options the runtime got.
func TestGlobalFlags(t *testing.T) {
	t.Run("root-space", func(t *testing.T) {
		recIsolate(t)
		dir := t.TempDir()
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--root", dir, "state", "c1").wantExit(t, 0)
		if got := f.LastConfig(t).Root; got != dir {
			t.Errorf("Root = %q, want %q", got, dir)
		}
	})
	t.Run("root-equals", func(t *testing.T) {
		recIsolate(t)
		dir := t.TempDir()
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--root="+dir, "state", "c1").wantExit(t, 0)
		if got := f.LastConfig(t).Root; got != dir {
			t.Errorf("Root = %q, want %q", got, dir)
		}
	})
	t.Run("root-repeated-last-wins", func(t *testing.T) {
		recIsolate(t)
		a, b := t.TempDir(), t.TempDir()
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--root", a, "--root", b, "state", "c1").wantExit(t, 0)
		if got := f.LastConfig(t).Root; got != b {
			t.Errorf("Root = %q, want %q (the last --root)", got, b)
		}
	})
	t.Run("root-after-subcommand", func(t *testing.T) {
		recIsolate(t)
		dir := t.TempDir()
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "state", "--root", dir, "c1").wantExit(t, 0)
		if got := f.LastConfig(t).Root; got != dir {
			t.Errorf("Root = %q, want %q", got, dir)
		}
	})
	t.Run("root-relative-made-absolute", func(t *testing.T) {
		recIsolate(t)
		t.Chdir(t.TempDir())
		cwd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--root", "state-dir", "state", "c1").wantExit(t, 0)
		if got, want := f.LastConfig(t).Root, filepath.Join(cwd, "state-dir"); got != want {
			t.Errorf("Root = %q, want %q", got, want)
		}
	})
	t.Run("root-global-before-exec-command", func(t *testing.T) {
		// exec stops parsing at the id; global flags before it still count.
		recIsolate(t)
		dir := t.TempDir()
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--root", dir, "exec", "--debug", "c1", "sh", "--root", "/not-parsed").wantExit(t, 0)
		cfg := f.LastConfig(t)
		if cfg.Root != dir || !cfg.Debug {
			t.Errorf("GlobalConfig = %+v, want Root %q and Debug", cfg, dir)
		}
		if got := f.onlyCall(t, "Exec").Opts.(api.ExecOpts).Args; strings.Join(got, " ") != "sh --root /not-parsed" {
			t.Errorf("Args = %q", got)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		json bool
	}{
		{"log-format-json-space", []string{"--log-format", "json"}, true},
		{"log-format-json-equals", []string{"--log-format=json"}, true},
		{"log-format-text-space", []string{"--log-format", "text"}, false},
		{"log-format-text-equals", []string{"--log-format=text"}, false},
		{"log-format-default-text", nil, false},
		{"log-format-repeated-last-wins", []string{"--log-format=text", "--log-format", "json"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			f.logOnCall = func(cfg api.GlobalConfig) { cfg.Logger.Info("fake called", "k", "v") }
			out := recRT(t, f, append(tt.args, "start", "c1")...)
			out.wantExit(t, 0)
			line := out.oneErrLine(t)
			if tt.json {
				m := decodeAny(t, line)
				if m["level"] != "info" || m["msg"] != "fake called" || m["k"] != "v" {
					t.Errorf("log line = %s", line)
				}
			} else if !strings.Contains(line, "level=info") || !strings.Contains(line, `msg="fake called"`) || !strings.Contains(line, "k=v") {
				t.Errorf("log line = %q, want a text record", line)
			}
		})
	}

	for _, tt := range []struct {
		name  string
		args  []string
		debug bool
	}{
		{"debug-unset", nil, false},
		{"debug-once", []string{"--debug"}, true},
		{"debug-twice", []string{"--debug", "--debug"}, true},
		{"debug-false", []string{"--debug=false"}, false},
		{"debug-true-then-false", []string{"--debug", "--debug=false"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			recRT(t, f, append(tt.args, "state", "c1")...).wantExit(t, 0)
			cfg := f.LastConfig(t)
			if cfg.Debug != tt.debug {
				t.Errorf("Debug = %v, want %v", cfg.Debug, tt.debug)
			}
			if cfg.Logger == nil {
				t.Error("Logger is nil")
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		f := newRecFake()
		recRT(t, f, "state", "c1").wantExit(t, 0)
		cfg := f.LastConfig(t)
		if cfg.Criu != "criu" || cfg.CriuProgressTimeout != 120*time.Second || cfg.CgroupDriver != "cgroupfs" || cfg.Rootless != "auto" || cfg.Debug {
			t.Errorf("GlobalConfig = %+v, want criu, 120s, cgroupfs, auto, no debug", cfg)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		if want := filepath.Join(filepath.Dir(exe), "rt-init"); cfg.Init != want {
			t.Errorf("Init = %q, want %q", cfg.Init, want)
		}
	})
	t.Run("criu-init-systemd-rootless", func(t *testing.T) {
		f := newRecFake()
		recRT(t, f, "--criu=/opt/criu", "--init", "/opt/rt-init", "--systemd-cgroup", "--rootless", "true", "state", "c1").wantExit(t, 0)
		cfg := f.LastConfig(t)
		if cfg.Criu != "/opt/criu" || cfg.Init != "/opt/rt-init" || cfg.CgroupDriver != "systemd" || cfg.Rootless != "true" {
			t.Errorf("GlobalConfig = %+v", cfg)
		}
	})
	t.Run("systemd-cgroup-false", func(t *testing.T) {
		f := newRecFake()
		recRT(t, f, "--systemd-cgroup=false", "state", "c1").wantExit(t, 0)
		if got := f.LastConfig(t).CgroupDriver; got != "cgroupfs" {
			t.Errorf("CgroupDriver = %q", got)
		}
	})
	t.Run("rootless-bad", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "--rootless", "maybe", "state", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, `--rootless "maybe": must be true, false or auto`) {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
	t.Run("log-format-bad", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "--log-format", "xml", "state", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.Contains(line, `flag --log-format: value "xml" not allowed`) {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
	t.Run("config-file-env-and-flag-precedence", func(t *testing.T) {
		recIsolate(t)
		file := filepath.Join(t.TempDir(), "rt.yaml")
		if err := os.WriteFile(file, []byte("criu: /file/criu\ninit: /file/init\ncgroup-driver: systemd\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("RT_INIT", "/env/init")
		f := newRecFake()
		recMain(t, recRTProgram(f.factory), "", "--config", file, "--root", t.TempDir(), "--criu", "/flag/criu", "state", "c1").wantExit(t, 0)
		cfg := f.LastConfig(t)
		if cfg.Criu != "/flag/criu" || cfg.Init != "/env/init" || cfg.CgroupDriver != "systemd" {
			t.Errorf("GlobalConfig = %+v, want criu from flag, init from env, cgroup driver from file", cfg)
		}
	})
	t.Run("checkpoint-leave-running-twice", func(t *testing.T) {
		f := newRecFake()
		recCkpt(t, f, "checkpoint", "--leave-running", "--leave-running", "c1").wantExit(t, 0)
		if got := f.onlyCall(t, "Checkpoint").Opts.(api.CheckpointOpts); !got.LeaveRunning {
			t.Errorf("LeaveRunning = false")
		}
	})
	t.Run("rt-checkpoint-global-flags", func(t *testing.T) {
		recIsolate(t)
		dir := t.TempDir()
		f := newRecFake()
		recMain(t, recCkptProgram(f.factory), "", "--root="+dir, "--criu", "/x/criu", "--debug",
			"checkpoint", "--image-path", "/img", "c1").wantExit(t, 0)
		cfg := f.LastConfig(t)
		if cfg.Root != dir || cfg.Criu != "/x/criu" || !cfg.Debug {
			t.Errorf("GlobalConfig = %+v", cfg)
		}
	})
	t.Run("rt-checkpoint-progress-timeout-from-env", func(t *testing.T) {
		recIsolate(t)
		t.Setenv("RT_CRIU_PROGRESS_TIMEOUT", "3s")
		f := newRecFake()
		recMain(t, recCkptProgram(f.factory), "", "--root="+t.TempDir(), "checkpoint", "--image-path", "/img", "c1").wantExit(t, 0)
		if got := f.LastConfig(t).CriuProgressTimeout; got != 3*time.Second {
			t.Errorf("CriuProgressTimeout = %v, want 3s", got)
		}
	})
	t.Run("host-settings-from-env", func(t *testing.T) {
		recIsolate(t)
		t.Setenv("RT_CGROUP_PARENT", "/rt-hostb")
		t.Setenv("RT_MIGRATION_TOKEN", "0123456789abcdef-secret")
		rt, ckpt := newRecFake(), newRecFake()
		recMain(t, recRTProgram(rt.factory), "", "--root="+t.TempDir(), "state", "c1").wantExit(t, 0)
		recMain(t, recCkptProgram(ckpt.factory), "", "--root="+t.TempDir(), "checkpoint", "--image-path", "/img", "c1").wantExit(t, 0)
		for prog, f := range map[string]*recFake{"rt": rt, "rt-checkpoint": ckpt} {
			cfg := f.LastConfig(t)
			if cfg.CgroupParent != "/rt-hostb" || cfg.MigrationToken != "0123456789abcdef-secret" {
				t.Errorf("%s: CgroupParent = %q, MigrationToken = %q", prog, cfg.CgroupParent, cfg.MigrationToken)
			}
		}
	})
	t.Run("factory-built-once", func(t *testing.T) {
		f := newRecFake()
		recRT(t, f, "state", "c1").wantExit(t, 0)
		if n := f.FactoryCalls(); n != 1 {
			t.Errorf("factory calls = %d, want 1", n)
		}
	})
}

// TestExitCodes checks how results and errors become exit codes.
func TestExitCodes(t *testing.T) {
	notExist := fmt.Errorf("container %q: %w", "c1", api.ErrNotExist)
	tests := []struct {
		name    string
		args    []string
		setup   func(f *recFake)
		code    int
		stderr  string // exact; "-" means "don't check"
		stdout  string
		program string
	}{
		{"run-status-3", []string{"run", "c1"}, func(f *recFake) { f.results["Run"] = &api.Result{Status: 3} }, 3, "", "", "rt"},
		{"run-status-0", []string{"run", "c1"}, func(f *recFake) { f.results["Run"] = &api.Result{Status: 0} }, 0, "", "", "rt"},
		{"run-nil-result", []string{"run", "-d", "c1"}, func(f *recFake) { f.results["Run"] = nil }, 0, "", "", "rt"},
		{"run-signalled-137", []string{"run", "c1"}, func(f *recFake) { f.results["Run"] = &api.Result{Status: 137} }, 137, "", "", "rt"},
		{"run-error", []string{"run", "c1"}, func(f *recFake) { f.errs["Run"] = errors.New("run failed") }, 1, "rt: run failed\n", "", "rt"},
		{"exec-error-255", []string{"exec", "c1", "sh"}, func(f *recFake) { f.errs["Exec"] = errors.New("exec failed: no such file") }, 255, "rt: exec failed: no such file\n", "", "rt"},
		{"exec-not-exist-255", []string{"exec", "c1", "sh"}, func(f *recFake) { f.errs["Exec"] = notExist }, 255, "rt: " + notExist.Error() + "\n", "", "rt"},
		{"exec-status-137", []string{"exec", "c1", "sh"}, func(f *recFake) { f.results["Exec"] = &api.Result{Status: 137} }, 137, "", "", "rt"},
		{"exec-status-1", []string{"exec", "c1", "false"}, func(f *recFake) { f.results["Exec"] = &api.Result{Status: 1} }, 1, "", "", "rt"},
		{"exec-status-0", []string{"exec", "c1", "true"}, nil, 0, "", "", "rt"},
		{"start-not-exist", []string{"start", "c1"}, func(f *recFake) { f.errs["Start"] = notExist }, 1, "rt: container \"c1\": container does not exist\n", "", "rt"},
		{"state-container-error", []string{"state", "c1"}, func(f *recFake) { f.errs["State"] = api.NewContainerError("c1", api.ErrNotExist) }, 1, "rt: container \"c1\" does not exist\n", "", "rt"},
		{"delete-running", []string{"delete", "c1"}, func(f *recFake) { f.errs["Delete"] = api.NewContainerError("c1", api.ErrRunning) }, 1, "rt: container \"c1\" is running\n", "", "rt"},
		{"kill-not-running", []string{"kill", "c1", "9"}, func(f *recFake) { f.errs["Kill"] = api.NewContainerError("c1", api.ErrNotRunning) }, 1, "rt: container not running: \"c1\"\n", "", "rt"},
		{"pause-error", []string{"pause", "c1"}, func(f *recFake) { f.errs["Pause"] = errors.New("freeze: EBUSY") }, 1, "rt: freeze: EBUSY\n", "", "rt"},
		{"resume-ok", []string{"resume", "c1"}, nil, 0, "", "", "rt"},
		{"factory-error", []string{"state", "c1"}, func(f *recFake) { f.factoryErr = errors.New("no cgroup v2") }, 1, "rt: no cgroup v2\n", "", "rt"},
		{"restore-status-5", []string{"restore", "c1"}, func(f *recFake) { f.results["Restore"] = &api.Result{Status: 5} }, 5, "", "", "rt-checkpoint"},
		{"restore-error", []string{"restore", "c1"}, func(f *recFake) { f.errs["Restore"] = errors.New("criu failed") }, 1, "rt-checkpoint: criu failed\n", "", "rt-checkpoint"},
		{"checkpoint-error", []string{"checkpoint", "c1"}, func(f *recFake) { f.errs["Checkpoint"] = api.NewContainerError("c1", api.ErrPaused) }, 1, "rt-checkpoint: container \"c1\" is paused\n", "", "rt-checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			var out recOut
			if tt.program == "rt" {
				out = recRT(t, f, tt.args...)
			} else {
				out = recCkpt(t, f, tt.args...)
			}
			out.wantExit(t, tt.code)
			if out.stderr != tt.stderr {
				t.Errorf("stderr = %q, want %q", out.stderr, tt.stderr)
			}
			if out.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", out.stdout, tt.stdout)
			}
		})
	}
}

// recLogRecord is one JSON log record.
type recLogRecord struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Time  string `json:"time"`
}

func recDecodeRecord(t *testing.T, line string) (recLogRecord, map[string]any) {
	t.Helper()
	var r recLogRecord
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	return r, decodeAny(t, line)
}

func recCheckTime(t *testing.T, s string) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("time %q is not RFC 3339: %v", s, err)
		return
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Hour {
		t.Errorf("time %q is not now", s)
	}
}

// TestErrorLog checks the shape of the error record in every log setup.
func TestErrorLog(t *testing.T) {
	const msg = `container "c1": container does not exist`
	failing := func() *recFake {
		f := newRecFake()
		f.errs["Start"] = fmt.Errorf("container %q: %w", "c1", api.ErrNotExist)
		return f
	}

	t.Run("json-file", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "log.json")
		out := recRT(t, failing(), "--log", logFile, "--log-format", "json", "start", "c1")
		out.wantExit(t, 1)
		if out.stderr != "rt: "+msg+"\n" {
			t.Errorf("stderr = %q, want the plain message once", out.stderr)
		}
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := recLines(string(data))
		if len(lines) != 1 {
			t.Fatalf("log file = %q, want exactly one line", data)
		}
		r, m := recDecodeRecord(t, lines[0])
		if r.Level != "error" || r.Msg != msg {
			t.Errorf("record = %+v, want level error, msg %q", r, msg)
		}
		recCheckTime(t, r.Time)
		if len(m) != 3 {
			t.Errorf("record keys = %v, want level, msg, time", m)
		}
	})
	t.Run("json-file-appends", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "log.json")
		if err := os.WriteFile(logFile, []byte("{\"level\":\"info\",\"msg\":\"old\"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		recRT(t, failing(), "--log", logFile, "--log-format", "json", "start", "c1").wantExit(t, 1)
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := recLines(string(data))
		if len(lines) != 2 || !strings.Contains(lines[0], `"old"`) {
			t.Fatalf("log file = %q, want the old line and one new one", data)
		}
		if r, _ := recDecodeRecord(t, lines[1]); r.Level != "error" || r.Msg != msg {
			t.Errorf("new record = %+v", r)
		}
	})
	t.Run("text-file", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "log.txt")
		out := recRT(t, failing(), "--log="+logFile, "--log-format=text", "start", "c1")
		out.wantExit(t, 1)
		if out.stderr != "rt: "+msg+"\n" {
			t.Errorf("stderr = %q, want the plain message once", out.stderr)
		}
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := recLines(string(data))
		if len(lines) != 1 {
			t.Fatalf("log file = %q, want exactly one line", data)
		}
		if !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], "msg=") || !strings.Contains(lines[0], "time=") {
			t.Errorf("log line = %q, want time=, level=error and msg=", lines[0])
		}
		if !strings.Contains(lines[0], `does not exist`) {
			t.Errorf("log line = %q, want the message", lines[0])
		}
	})
	t.Run("json-stderr", func(t *testing.T) {
		out := recRT(t, failing(), "--log-format", "json", "start", "c1")
		out.wantExit(t, 1)
		line := out.oneErrLine(t)
		r, m := recDecodeRecord(t, line)
		if r.Level != "error" || r.Msg != msg || len(m) != 3 {
			t.Errorf("stderr record = %s", line)
		}
		recCheckTime(t, r.Time)
	})
	t.Run("text-stderr", func(t *testing.T) {
		out := recRT(t, failing(), "--log-format", "text", "start", "c1")
		out.wantExit(t, 1)
		if out.stderr != "rt: "+msg+"\n" {
			t.Errorf("stderr = %q, want exactly %q", out.stderr, "rt: "+msg+"\n")
		}
	})
	t.Run("env-log-settings", func(t *testing.T) {
		recIsolate(t)
		logFile := filepath.Join(t.TempDir(), "env.log")
		t.Setenv("RT_LOG", logFile)
		t.Setenv("RT_LOG_FORMAT", "json")
		out := recMain(t, recRTProgram(failing().factory), "", "--root", t.TempDir(), "start", "c1")
		out.wantExit(t, 1)
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		lines := recLines(string(data))
		if len(lines) != 1 {
			t.Fatalf("log file = %q", data)
		}
		if r, _ := recDecodeRecord(t, lines[0]); r.Level != "error" || r.Msg != msg {
			t.Errorf("record = %+v", r)
		}
	})
	t.Run("exec-error-json-file", func(t *testing.T) {
		// An ExitError with an error is logged like any other error.
		f := newRecFake()
		f.errs["Exec"] = errors.New("exec: permission denied")
		logFile := filepath.Join(t.TempDir(), "log.json")
		out := recRT(t, f, "--log", logFile, "--log-format", "json", "exec", "c1", "sh")
		out.wantExit(t, 255)
		if out.stderr != "rt: exec: permission denied\n" {
			t.Errorf("stderr = %q", out.stderr)
		}
		data, _ := os.ReadFile(logFile)
		lines := recLines(string(data))
		if len(lines) != 1 {
			t.Fatalf("log file = %q", data)
		}
		if r, _ := recDecodeRecord(t, lines[0]); r.Level != "error" || r.Msg != "exec: permission denied" {
			t.Errorf("record = %+v", r)
		}
	})
	t.Run("silent-exit-status-logs-nothing", func(t *testing.T) {
		f := newRecFake()
		f.results["Run"] = &api.Result{Status: 2}
		logFile := filepath.Join(t.TempDir(), "log.json")
		out := recRT(t, f, "--log", logFile, "--log-format", "json", "run", "c1")
		out.wantExit(t, 2)
		data, _ := os.ReadFile(logFile)
		if out.stderr != "" || len(data) != 0 {
			t.Errorf("stderr = %q, log = %q, want both empty", out.stderr, data)
		}
	})
	t.Run("invalid-id-json-file", func(t *testing.T) {
		f := newRecFake()
		logFile := filepath.Join(t.TempDir(), "log.json")
		out := recRT(t, f, "--log", logFile, "--log-format", "json", "state", "a/b")
		out.wantExit(t, 1)
		line := out.oneErrLine(t)
		if !strings.HasPrefix(line, "rt: state: invalid container id") {
			t.Errorf("stderr = %q", line)
		}
		data, _ := os.ReadFile(logFile)
		lines := recLines(string(data))
		if len(lines) != 1 {
			t.Fatalf("log file = %q, want the error record", data)
		}
		if r, _ := recDecodeRecord(t, lines[0]); r.Level != "error" || !strings.HasPrefix(r.Msg, "state: invalid container id") {
			t.Errorf("record = %+v", r)
		}
		f.noCalls(t)
	})
	t.Run("log-file-unopenable", func(t *testing.T) {
		f := newRecFake()
		logFile := filepath.Join(t.TempDir(), "no", "such", "dir", "log")
		out := recRT(t, f, "--log", logFile, "state", "c1")
		out.wantExit(t, 1)
		if line := out.oneErrLine(t); !strings.HasPrefix(line, "rt: open log file: ") {
			t.Errorf("stderr = %q", line)
		}
		f.noCalls(t)
	})
}

// TestLogLevels checks the level words of the logger handed to the runtime
// and that --debug enables debug records.
func TestLogLevels(t *testing.T) {
	logAll := func(cfg api.GlobalConfig) {
		cfg.Logger.Debug("d")
		cfg.Logger.Info("i")
		cfg.Logger.Warn("w")
		cfg.Logger.Error("e")
	}
	for _, tt := range []struct {
		name  string
		debug bool
		want  []string
	}{
		{"with-debug", true, []string{"debug", "info", "warning", "error"}},
		{"without-debug", false, []string{"info", "warning", "error"}},
	} {
		t.Run(tt.name+"/json", func(t *testing.T) {
			f := newRecFake()
			f.logOnCall = logAll
			logFile := filepath.Join(t.TempDir(), "log.json")
			args := []string{"--log", logFile, "--log-format", "json"}
			if tt.debug {
				args = append(args, "--debug")
			}
			recRT(t, f, append(args, "pause", "c1")...).wantExit(t, 0)
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			lines := recLines(string(data))
			if len(lines) != len(tt.want) {
				t.Fatalf("log = %q, want %d records", data, len(tt.want))
			}
			for i, l := range lines {
				r, _ := recDecodeRecord(t, l)
				if r.Level != tt.want[i] {
					t.Errorf("record %d level = %q, want %q", i, r.Level, tt.want[i])
				}
				recCheckTime(t, r.Time)
			}
		})
		t.Run(tt.name+"/text", func(t *testing.T) {
			f := newRecFake()
			f.logOnCall = logAll
			logFile := filepath.Join(t.TempDir(), "log.txt")
			args := []string{"--log", logFile}
			if tt.debug {
				args = append(args, "--debug")
			}
			recRT(t, f, append(args, "pause", "c1")...).wantExit(t, 0)
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			lines := recLines(string(data))
			if len(lines) != len(tt.want) {
				t.Fatalf("log = %q, want %d records", data, len(tt.want))
			}
			for i, l := range lines {
				if !strings.Contains(l, "level="+tt.want[i]+" ") {
					t.Errorf("record %d = %q, want level=%s", i, l, tt.want[i])
				}
			}
		})
	}
}

// TestVersion checks --version of both programs.
func TestVersion(t *testing.T) {
	for _, tt := range []struct {
		name string
		prog string
		flag string
	}{
		{"rt/--version", "rt", "--version"},
		{"rt/-v", "rt", "-v"},
		{"rt-checkpoint/--version", "rt-checkpoint", "--version"},
		{"rt-checkpoint/-v", "rt-checkpoint", "-v"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recIsolate(t)
			// A broken config file must not matter to --version.
			bad := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(bad, []byte("root: [\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("RT_CONFIG", bad)
			f := newRecFake()
			prog := recRTProgram(f.factory)
			if tt.prog == "rt-checkpoint" {
				prog = recCkptProgram(f.factory)
			}
			out := recMain(t, prog, "", tt.flag)
			out.wantExit(t, 0)
			if out.stderr != "" {
				t.Errorf("stderr = %q", out.stderr)
			}
			lines := recLines(out.stdout)
			prefixes := []string{tt.prog + " version ", "commit: ", "spec: ", "go: "}
			if len(lines) != len(prefixes) {
				t.Fatalf("stdout = %q, want %d lines", out.stdout, len(prefixes))
			}
			for i, p := range prefixes {
				if !strings.HasPrefix(lines[i], p) || len(lines[i]) == len(p) {
					t.Errorf("line %d = %q, want %q followed by a value", i, lines[i], p)
				}
			}
			f.noCalls(t)
		})
	}
	t.Run("rt/--version-extra-arg", func(t *testing.T) {
		f := newRecFake()
		out := recRT(t, f, "--version", "x")
		out.wantExit(t, 1)
		if out.stdout != "" {
			t.Errorf("stdout = %q", out.stdout)
		}
		out.oneErrLine(t)
	})
}

// TestHandoverMissing checks that the hand-over fails, rather than printing
// help, when its target is installed nowhere (podman probes
// `<runtime> checkpoint --help` and takes exit 0 as support).
func TestHandoverMissing(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"checkpoint", []string{"checkpoint", "c1"}},
		{"checkpoint-help", []string{"checkpoint", "--help"}},
		{"restore-flags", []string{"restore", "--bundle", "/b", "c1"}},
		{"no-args", []string{"checkpoint"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			f := newRecFake()
			out := recRT(t, f, tt.args...)
			out.wantExit(t, 1)
			line := out.oneErrLine(t)
			if !strings.Contains(line, "not installed") || !strings.Contains(line, "rt-checkpoint-missing-xyz") ||
				!strings.HasPrefix(line, "rt: "+tt.args[0]+": ") {
				t.Errorf("stderr = %q, want a %s line saying rt-checkpoint-missing-xyz is not installed", line, tt.args[0])
			}
			if out.stdout != "" {
				t.Errorf("stdout = %q, want no help text", out.stdout)
			}
			f.noCalls(t)
		})
	}
}
