package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Placeholders in expectations for values that depend on the test's temp dir.
const (
	fileMark = "<FILE>" // the config file the case wrote
	initMark = "<INIT>" // rt-init next to the injected executable
)

// env is a case's environment. Load reads the process's, so setenv puts it
// there for the test's duration.
type env map[string]string

// envNames are the variables Load reads.
var envNames = []string{"RT_CONFIG", "RT_ROOT", "RT_CRIU", "RT_CRIU_PROGRESS_TIMEOUT", "RT_MIGRATION_TOKEN", "RT_CGROUP_DRIVER", "RT_CGROUP_PARENT", "RT_INIT", "RT_LOG", "RT_LOG_FORMAT", "RT_DEBUG"}

// setenv sets e and every other variable Load reads empty, which Load
// treats as unset, so the machine's RT_* cannot leak into a test.
func (e env) setenv(t testing.TB) {
	t.Helper()
	for _, name := range envNames {
		t.Setenv(name, "")
	}
	for name, val := range e {
		t.Setenv(name, val)
	}
}

// loadCase is what every Load test varies.
type loadCase struct {
	// file is written to a temp file used as Options.DefaultFile; "" writes
	// nothing, leaving a default file that does not exist.
	file string
	env  env
	args []string
}

// harness is one case's temp dir with an executable Load can resolve.
type harness struct {
	dir      string
	file     string // where loadCase.file is written
	exe      string
	wantInit string
}

func newHarness(t testing.TB) harness {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "rt")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	// TempDir may itself sit behind a symlink (macOS /var), and Load
	// resolves symlinks, so the expectation must too.
	realBin, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	return harness{
		dir:      dir,
		file:     filepath.Join(dir, "config.yaml"),
		exe:      exe,
		wantInit: filepath.Join(realBin, "rt-init"),
	}
}

// options sets e as the environment for t and returns the Options that
// keep Load off the machine's files.
func (h harness) options(t testing.TB, e env) Options {
	t.Helper()
	e.setenv(t)
	return Options{
		DefaultFile: h.file,
		Executable:  func() (string, error) { return h.exe, nil },
	}
}

// expand replaces the placeholders in want with this harness's paths.
func (h harness) expand(want string) string {
	return strings.NewReplacer(fileMark, h.file, initMark, h.wantInit).Replace(want)
}

// parse gives args to a fresh flag set that RegisterFlags populated, as the
// rt command would.
func parse(t *testing.T, args []string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("rt", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fs
}

func (h harness) load(t *testing.T, c loadCase) (*Config, error) {
	t.Helper()
	if c.file != "" {
		if err := os.WriteFile(h.file, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(parse(t, c.args), h.options(t, c.env))
}

func setting(t *testing.T, cfg *Config, key string) Setting {
	t.Helper()
	for _, s := range cfg.Settings {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting for key %q in %+v", key, cfg.Settings)
	return Setting{}
}

// field returns the typed Config field for key in Setting.Value form, so
// tests can check the two never disagree.
func field(cfg *Config, key string) string {
	switch key {
	case KeyRoot:
		return cfg.Root
	case KeyCriu:
		return cfg.Criu
	case KeyCriuProgressTimeout:
		return formatDuration(cfg.CriuProgressTimeout)
	case KeyMigrationToken:
		return redact(cfg.MigrationToken)
	case KeyCgroupDriver:
		return cfg.CgroupDriver
	case KeyCgroupParent:
		return cfg.CgroupParent
	case KeyInit:
		return cfg.Init
	case KeyLog:
		return cfg.Log
	case KeyLogFormat:
		return cfg.LogFormat
	case KeyDebug:
		if cfg.Debug {
			return "true"
		}
		return "false"
	}
	panic("unknown key " + key)
}

func checkSetting(t *testing.T, h harness, cfg *Config, key, wantValue string, wantSource Source, wantOrigin string) {
	t.Helper()
	got := setting(t, cfg, key)
	want := Setting{Key: key, Value: h.expand(wantValue), Source: wantSource, Origin: h.expand(wantOrigin)}
	if got != want {
		t.Errorf("setting %q:\n got  %+v\n want %+v", key, got, want)
	}
	if f := field(cfg, key); f != got.Value {
		t.Errorf("Config field for %q = %q, Setting.Value = %q", key, f, got.Value)
	}
}

// precedenceCase is a Load and the setting of key it must give.
type precedenceCase struct {
	name string
	loadCase
	key        string
	wantValue  string
	wantSource Source
	wantOrigin string
}

// precedenceCases are TestPrecedence's cases; their files are FuzzLoad's
// seeds.
func precedenceCases() []precedenceCase {
	return []precedenceCase{
		{"root/default", loadCase{}, KeyRoot, "/run/rt", SourceDefault, "built-in"},
		{"root/file", loadCase{file: "root: /file/root\n"}, KeyRoot, "/file/root", SourceFile, fileMark},
		{"root/env+file", loadCase{file: "root: /file/root\n", env: env{"RT_ROOT": "/env/root"}}, KeyRoot, "/env/root", SourceEnv, "RT_ROOT"},
		{"root/flag+env+file", loadCase{file: "root: /file/root\n", env: env{"RT_ROOT": "/env/root"}, args: []string{"--root", "/flag/root"}}, KeyRoot, "/flag/root", SourceFlag, "--root"},

		{"criu/default", loadCase{}, KeyCriu, "criu", SourceDefault, "built-in"},
		{"criu/file", loadCase{file: "criu: /file/criu\n"}, KeyCriu, "/file/criu", SourceFile, fileMark},
		{"criu/env+file", loadCase{file: "criu: /file/criu\n", env: env{"RT_CRIU": "/env/criu"}}, KeyCriu, "/env/criu", SourceEnv, "RT_CRIU"},
		{"criu/flag+env+file", loadCase{file: "criu: /file/criu\n", env: env{"RT_CRIU": "/env/criu"}, args: []string{"--criu", "/flag/criu"}}, KeyCriu, "/flag/criu", SourceFlag, "--criu"},

		{"criu-progress-timeout/default", loadCase{}, KeyCriuProgressTimeout, "120s", SourceDefault, "built-in"},
		{"criu-progress-timeout/file", loadCase{file: "criu-progress-timeout: 90s\n"}, KeyCriuProgressTimeout, "90s", SourceFile, fileMark},
		{"criu-progress-timeout/file minutes", loadCase{file: "criu-progress-timeout: 5m\n"}, KeyCriuProgressTimeout, "300s", SourceFile, fileMark},
		{"criu-progress-timeout/file 0", loadCase{file: "criu-progress-timeout: 0\n"}, KeyCriuProgressTimeout, "0s", SourceFile, fileMark},
		{"criu-progress-timeout/env+file", loadCase{file: "criu-progress-timeout: 90s\n", env: env{"RT_CRIU_PROGRESS_TIMEOUT": "1.5s"}}, KeyCriuProgressTimeout, "1.5s", SourceEnv, "RT_CRIU_PROGRESS_TIMEOUT"},
		{"criu-progress-timeout/env 0", loadCase{env: env{"RT_CRIU_PROGRESS_TIMEOUT": "0"}}, KeyCriuProgressTimeout, "0s", SourceEnv, "RT_CRIU_PROGRESS_TIMEOUT"},

		{"migration-token/default", loadCase{}, KeyMigrationToken, "", SourceDefault, "built-in"},
		{"migration-token/file", loadCase{file: "migration-token: file-secret-0123456789\n"}, KeyMigrationToken, Redacted, SourceFile, fileMark},
		{"migration-token/file empty", loadCase{file: "migration-token: \"\"\n"}, KeyMigrationToken, "", SourceFile, fileMark},
		{"migration-token/env+file", loadCase{file: "migration-token: file-secret-0123456789\n", env: env{"RT_MIGRATION_TOKEN": "env-secret-0123456789"}}, KeyMigrationToken, Redacted, SourceEnv, "RT_MIGRATION_TOKEN"},
		{"migration-token/env 16 characters", loadCase{env: env{"RT_MIGRATION_TOKEN": "0123456789abcdef"}}, KeyMigrationToken, Redacted, SourceEnv, "RT_MIGRATION_TOKEN"},
		{"migration-token/env 16 runes", loadCase{env: env{"RT_MIGRATION_TOKEN": "éééééééééééééééé"}}, KeyMigrationToken, Redacted, SourceEnv, "RT_MIGRATION_TOKEN"},

		{"cgroup-driver/default", loadCase{}, KeyCgroupDriver, "cgroupfs", SourceDefault, "built-in"},
		{"cgroup-driver/file", loadCase{file: "cgroup-driver: systemd\n"}, KeyCgroupDriver, "systemd", SourceFile, fileMark},
		{"cgroup-driver/env+file", loadCase{file: "cgroup-driver: systemd\n", env: env{"RT_CGROUP_DRIVER": "cgroupfs"}}, KeyCgroupDriver, "cgroupfs", SourceEnv, "RT_CGROUP_DRIVER"},
		{"cgroup-driver/flag true+env+file", loadCase{file: "cgroup-driver: cgroupfs\n", env: env{"RT_CGROUP_DRIVER": "cgroupfs"}, args: []string{"--systemd-cgroup"}}, KeyCgroupDriver, "systemd", SourceFlag, "--systemd-cgroup"},
		{"cgroup-driver/flag false+env+file", loadCase{file: "cgroup-driver: systemd\n", env: env{"RT_CGROUP_DRIVER": "systemd"}, args: []string{"--systemd-cgroup=false"}}, KeyCgroupDriver, "cgroupfs", SourceFlag, "--systemd-cgroup"},

		{"cgroup-parent/default", loadCase{}, KeyCgroupParent, "", SourceDefault, "built-in"},
		{"cgroup-parent/file", loadCase{file: "cgroup-parent: /rt-hosta\n"}, KeyCgroupParent, "/rt-hosta", SourceFile, fileMark},
		{"cgroup-parent/file nested", loadCase{file: "cgroup-parent: /hosts/b\n"}, KeyCgroupParent, "/hosts/b", SourceFile, fileMark},
		{"cgroup-parent/file null", loadCase{file: "cgroup-parent:\n"}, KeyCgroupParent, "", SourceFile, fileMark},
		{"cgroup-parent/env+file", loadCase{file: "cgroup-parent: /rt-hosta\n", env: env{"RT_CGROUP_PARENT": "/rt-hostb"}}, KeyCgroupParent, "/rt-hostb", SourceEnv, "RT_CGROUP_PARENT"},

		{"init/default", loadCase{}, KeyInit, initMark, SourceDefault, "built-in"},
		{"init/file", loadCase{file: "init: /file/rt-init\n"}, KeyInit, "/file/rt-init", SourceFile, fileMark},
		{"init/file empty", loadCase{file: "init: \"\"\n"}, KeyInit, initMark, SourceFile, fileMark},
		{"init/env+file", loadCase{file: "init: /file/rt-init\n", env: env{"RT_INIT": "/env/rt-init"}}, KeyInit, "/env/rt-init", SourceEnv, "RT_INIT"},
		{"init/flag+env+file", loadCase{file: "init: /file/rt-init\n", env: env{"RT_INIT": "/env/rt-init"}, args: []string{"--init", "/flag/rt-init"}}, KeyInit, "/flag/rt-init", SourceFlag, "--init"},
		{"init/flag empty+env+file", loadCase{file: "init: /file/rt-init\n", env: env{"RT_INIT": "/env/rt-init"}, args: []string{"--init="}}, KeyInit, initMark, SourceFlag, "--init"},

		{"log/default", loadCase{}, KeyLog, "", SourceDefault, "built-in"},
		{"log/file", loadCase{file: "log: /file.log\n"}, KeyLog, "/file.log", SourceFile, fileMark},
		{"log/file null", loadCase{file: "log:\n"}, KeyLog, "", SourceFile, fileMark},
		{"log/env+file", loadCase{file: "log: /file.log\n", env: env{"RT_LOG": "/env.log"}}, KeyLog, "/env.log", SourceEnv, "RT_LOG"},
		{"log/flag+env+file", loadCase{file: "log: /file.log\n", env: env{"RT_LOG": "/env.log"}, args: []string{"--log", "/flag.log"}}, KeyLog, "/flag.log", SourceFlag, "--log"},
		{"log/flag empty+env+file", loadCase{file: "log: /file.log\n", env: env{"RT_LOG": "/env.log"}, args: []string{"--log="}}, KeyLog, "", SourceFlag, "--log"},

		{"log-format/default", loadCase{}, KeyLogFormat, "text", SourceDefault, "built-in"},
		{"log-format/file", loadCase{file: "log-format: json\n"}, KeyLogFormat, "json", SourceFile, fileMark},
		{"log-format/env+file", loadCase{file: "log-format: json\n", env: env{"RT_LOG_FORMAT": "text"}}, KeyLogFormat, "text", SourceEnv, "RT_LOG_FORMAT"},
		{"log-format/flag+env+file", loadCase{file: "log-format: text\n", env: env{"RT_LOG_FORMAT": "text"}, args: []string{"--log-format", "json"}}, KeyLogFormat, "json", SourceFlag, "--log-format"},

		{"debug/default", loadCase{}, KeyDebug, "false", SourceDefault, "built-in"},
		{"debug/file", loadCase{file: "debug: true\n"}, KeyDebug, "true", SourceFile, fileMark},
		{"debug/env+file", loadCase{file: "debug: true\n", env: env{"RT_DEBUG": "0"}}, KeyDebug, "false", SourceEnv, "RT_DEBUG"},
		{"debug/env only", loadCase{env: env{"RT_DEBUG": "TRUE"}}, KeyDebug, "true", SourceEnv, "RT_DEBUG"},
		{"debug/flag+env+file", loadCase{file: "debug: false\n", env: env{"RT_DEBUG": "false"}, args: []string{"--debug"}}, KeyDebug, "true", SourceFlag, "--debug"},
		{"debug/flag false+env+file", loadCase{file: "debug: true\n", env: env{"RT_DEBUG": "1"}, args: []string{"--debug=false"}}, KeyDebug, "false", SourceFlag, "--debug"},
	}
}

func TestPrecedence(t *testing.T) {
	for _, tt := range precedenceCases() {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := h.load(t, tt.loadCase)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			checkSetting(t, h, cfg, tt.key, tt.wantValue, tt.wantSource, tt.wantOrigin)
			wantFile := ""
			if tt.file != "" {
				wantFile = h.file
			}
			if cfg.File != wantFile {
				t.Errorf("File = %q, want %q", cfg.File, wantFile)
			}
			// A source for one key must not leak into the others.
			for _, s := range cfg.Settings {
				if s.Key != tt.key && s.Source != SourceDefault {
					t.Errorf("unrelated key %q has source %q", s.Key, s.Source)
				}
			}
		})
	}
}

func TestFlagForms(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		key        string
		wantValue  string
		wantOrigin string
	}{
		{"separate value", []string{"--root", "/a"}, KeyRoot, "/a", "--root"},
		{"equals value", []string{"--root=/a"}, KeyRoot, "/a", "--root"},
		{"repeated string, last wins", []string{"--root", "/a", "--root", "/b"}, KeyRoot, "/b", "--root"},
		{"repeated mixed forms, last wins", []string{"--log-format", "json", "--log-format=text"}, KeyLogFormat, "text", "--log-format"},
		{"repeated bool", []string{"--debug", "--debug"}, KeyDebug, "true", "--debug"},
		{"bool then explicit false", []string{"--debug", "--debug=false"}, KeyDebug, "false", "--debug"},
		{"systemd-cgroup then false", []string{"--systemd-cgroup", "--systemd-cgroup=false"}, KeyCgroupDriver, "cgroupfs", "--systemd-cgroup"},
		{"equals criu", []string{"--criu=/opt/criu"}, KeyCriu, "/opt/criu", "--criu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := h.load(t, loadCase{args: tt.args})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			checkSetting(t, h, cfg, tt.key, tt.wantValue, SourceFlag, tt.wantOrigin)
		})
	}
}

// allowedKeys is how every unknown-key error lists the keys.
const allowedKeys = "(allowed: root, criu, criu-progress-timeout, migration-token, cgroup-driver, cgroup-parent, init, log, log-format, debug)"

// The allowed texts of cgroup-parent and migration-token.
const (
	parentAllowed = `an absolute, clean cgroup path other than "/", such as "/rt-hostb", or empty for none`
	tokenAllowed  = "empty, or a migration-token of at least 16 characters"
)
