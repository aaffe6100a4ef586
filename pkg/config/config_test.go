package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// badConfigFileCase is a config file Load refuses, and its error.
type badConfigFileCase struct {
	name string
	file string
	args []string
	// want is the exact message, or with wantPrefix only its start
	// because the rest is the YAML parser's wording.
	want       string
	wantPrefix bool
}

// badConfigFileCases are TestBadConfigFile's cases, and FuzzLoad's seeds.
func badConfigFileCases() []badConfigFileCase {
	return []badConfigFileCase{
		{name: "syntax error", file: "root: /a\n criu: b\n", want: "config file <FILE>: yaml: line 2:", wantPrefix: true},
		{name: "unclosed flow sequence", file: "root: [\n", want: "config file <FILE>: yaml: line ", wantPrefix: true},
		{name: "top level is a list", file: "- root\n", want: "config file <FILE>: yaml: unmarshal errors: line 1:", wantPrefix: true},
		{name: "unknown key", file: "roots: /run/rt\n", want: `config file <FILE>: unknown key "roots" ` + allowedKeys},
		{name: "unknown nested key", file: "runtime:\n  root: /x\n", want: `config file <FILE>: unknown key "runtime" ` + allowedKeys},
		{name: "unknown keys", file: "zz: 1\nroot: /x\naa: {b: 1}\n", want: `config file <FILE>: unknown keys "aa", "zz" ` + allowedKeys},
		{name: "cgroup-driver outside set", file: "cgroup-driver: sysd\n", want: `config file <FILE>: key "cgroup-driver": value "sysd" not allowed (allowed: cgroupfs, systemd)`},
		{name: "log-format outside set", file: "log-format: xml\n", want: `config file <FILE>: key "log-format": value "xml" not allowed (allowed: text, json)`},
		{name: "debug not a boolean", file: "debug: maybe\n", want: `config file <FILE>: key "debug": value "maybe" is not a boolean (allowed: true, false)`},
		{name: "debug quoted boolean", file: "debug: \"true\"\n", want: `config file <FILE>: key "debug": value "true" is not a boolean (allowed: true, false)`},
		{name: "debug null", file: "debug:\n", want: `config file <FILE>: key "debug": value null is not a boolean (allowed: true, false)`},
		{name: "root a list", file: "root: [1, 2]\n", want: `config file <FILE>: key "root": value [1,2] is not a string (allowed: a non-empty directory path)`},
		{name: "root a mapping", file: "root: {a: 1}\n", want: `config file <FILE>: key "root": value {"a":1} is not a string (allowed: a non-empty directory path)`},
		{name: "root an empty mapping", file: "root: {}\n", want: `config file <FILE>: key "root": value {} is not a string (allowed: a non-empty directory path)`},
		{name: "root empty", file: "root: \"\"\n", want: `config file <FILE>: key "root": value "" not allowed (allowed: a non-empty directory path)`},
		{name: "criu null", file: "criu:\n", want: `config file <FILE>: key "criu": value "" not allowed (allowed: a non-empty path or command name)`},
		{name: "log-format a number", file: "log-format: 1\n", want: `config file <FILE>: key "log-format": value 1 is not a string (allowed: text, json)`},
		{name: "criu-progress-timeout without unit", file: "criu-progress-timeout: 120\n", want: `config file <FILE>: key "criu-progress-timeout": value 120 has no unit (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "criu-progress-timeout not a duration", file: "criu-progress-timeout: soon\n", want: `config file <FILE>: key "criu-progress-timeout": value "soon" is not a duration (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "criu-progress-timeout quoted number", file: "criu-progress-timeout: \"120\"\n", want: `config file <FILE>: key "criu-progress-timeout": value "120" is not a duration (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "criu-progress-timeout negative", file: "criu-progress-timeout: -1s\n", want: `config file <FILE>: key "criu-progress-timeout": value "-1s" not allowed (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "criu-progress-timeout null", file: "criu-progress-timeout:\n", want: `config file <FILE>: key "criu-progress-timeout": value null is not a string (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "criu-progress-timeout a float", file: "criu-progress-timeout: 1.5\n", want: `config file <FILE>: key "criu-progress-timeout": value 1.5 is not a string (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{name: "cgroup-parent relative", file: "cgroup-parent: rt-hostb\n", want: `config file <FILE>: key "cgroup-parent": value "rt-hostb" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent top", file: "cgroup-parent: /\n", want: `config file <FILE>: key "cgroup-parent": value "/" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent trailing slash", file: "cgroup-parent: /rt-hostb/\n", want: `config file <FILE>: key "cgroup-parent": value "/rt-hostb/" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent dotdot", file: "cgroup-parent: /a/../b\n", want: `config file <FILE>: key "cgroup-parent": value "/a/../b" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent leading dotdot", file: "cgroup-parent: /../b\n", want: `config file <FILE>: key "cgroup-parent": value "/../b" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent double slash", file: "cgroup-parent: //b\n", want: `config file <FILE>: key "cgroup-parent": value "//b" not allowed (allowed: ` + parentAllowed + `)`},
		{name: "cgroup-parent a list", file: "cgroup-parent: [/a]\n", want: `config file <FILE>: key "cgroup-parent": value ["/a"] is not a string (allowed: ` + parentAllowed + `)`},
		{name: "migration-token short", file: "migration-token: s3cr3t\n", want: `config file <FILE>: key "migration-token": value of 6 characters not allowed (allowed: ` + tokenAllowed + `)`},
		{name: "migration-token 15 characters", file: "migration-token: 0123456789abcde\n", want: `config file <FILE>: key "migration-token": value of 15 characters not allowed (allowed: ` + tokenAllowed + `)`},
		{name: "migration-token a number", file: "migration-token: 12345678901234567\n", want: `config file <FILE>: key "migration-token": value (not shown) is not a string (allowed: ` + tokenAllowed + `)`},
		{name: "bad value hidden by flag", file: "log-format: xml\n", args: []string{"--log-format=json"}, want: `config file <FILE>: key "log-format": value "xml" not allowed (allowed: text, json)`},
	}
}

func TestBadConfigFile(t *testing.T) {
	for _, tt := range badConfigFileCases() {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := h.load(t, loadCase{file: tt.file, args: tt.args})
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want error", cfg.Settings)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			msg, want := err.Error(), h.expand(tt.want)
			if (tt.wantPrefix && !strings.HasPrefix(msg, want)) || (!tt.wantPrefix && msg != want) {
				t.Errorf("error:\n got  %s\n want %s", msg, want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}

func TestConfigFileSelection(t *testing.T) {
	tests := []struct {
		name string
		// named is written and is the file to pass by --config or
		// RT_CONFIG; missing is a path that does not exist.
		args    func(named, missing string) []string
		env     func(named, missing string) env
		wantErr bool
		// wantFile is "named", "missing" or "" for Config.File.
		wantFile string
	}{
		{
			name:     "--config names a file",
			args:     func(named, _ string) []string { return []string{"--config", named} },
			wantFile: "named",
		},
		{
			name:     "RT_CONFIG names a file",
			env:      func(named, _ string) env { return env{"RT_CONFIG": named} },
			wantFile: "named",
		},
		{
			name:     "--config beats RT_CONFIG",
			args:     func(named, _ string) []string { return []string{"--config=" + named} },
			env:      func(_, missing string) env { return env{"RT_CONFIG": missing} },
			wantFile: "named",
		},
		{
			name:     "--config missing",
			args:     func(_, missing string) []string { return []string{"--config", missing} },
			wantErr:  true,
			wantFile: "missing",
		},
		{
			name:     "RT_CONFIG missing",
			env:      func(_, missing string) env { return env{"RT_CONFIG": missing} },
			wantErr:  true,
			wantFile: "missing",
		},
		{
			name:     "empty RT_CONFIG falls back to missing default",
			env:      func(_, _ string) env { return env{"RT_CONFIG": ""} },
			wantFile: "",
		},
		{
			name:     "missing default file",
			wantFile: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			named := filepath.Join(h.dir, "named.yml")
			if err := os.WriteFile(named, []byte("criu: /named/criu\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			missing := filepath.Join(h.dir, "nope.yaml")
			var c loadCase
			if tt.args != nil {
				c.args = tt.args(named, missing)
			}
			if tt.env != nil {
				c.env = tt.env(named, missing)
			}
			// h.file, the default, is never written here.
			cfg, err := h.load(t, c)
			if tt.wantErr {
				want := "config file " + missing + ": open " + missing + ": no such file or directory"
				if err == nil || err.Error() != want {
					t.Fatalf("error = %v, want %s", err, want)
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %q does not wrap fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			switch tt.wantFile {
			case "named":
				if cfg.File != named {
					t.Errorf("File = %q, want %q", cfg.File, named)
				}
				checkSetting(t, h, cfg, KeyCriu, "/named/criu", SourceFile, named)
			case "":
				if cfg.File != "" {
					t.Errorf("File = %q, want none", cfg.File)
				}
				checkSetting(t, h, cfg, KeyCriu, "criu", SourceDefault, "built-in")
			}
		})
	}
}

func TestBadEnvAndFlagValues(t *testing.T) {
	tests := []struct {
		name string
		loadCase
		want string
	}{
		{"RT_DEBUG not a boolean", loadCase{env: env{"RT_DEBUG": "maybe"}}, `environment RT_DEBUG: value "maybe" is not a boolean (allowed: true, false, 1, 0)`},
		{"RT_DEBUG bad under --debug", loadCase{env: env{"RT_DEBUG": "maybe"}, args: []string{"--debug"}}, `environment RT_DEBUG: value "maybe" is not a boolean (allowed: true, false, 1, 0)`},
		{"RT_CRIU_PROGRESS_TIMEOUT without unit", loadCase{env: env{"RT_CRIU_PROGRESS_TIMEOUT": "120"}}, `environment RT_CRIU_PROGRESS_TIMEOUT: value "120" is not a duration (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{"RT_CRIU_PROGRESS_TIMEOUT negative", loadCase{env: env{"RT_CRIU_PROGRESS_TIMEOUT": "-3s"}}, `environment RT_CRIU_PROGRESS_TIMEOUT: value "-3s" not allowed (allowed: a duration such as "120s" or "2m", 0 to disable)`},
		{"RT_CGROUP_DRIVER outside set", loadCase{env: env{"RT_CGROUP_DRIVER": "x"}}, `environment RT_CGROUP_DRIVER: value "x" not allowed (allowed: cgroupfs, systemd)`},
		{"RT_LOG_FORMAT outside set", loadCase{env: env{"RT_LOG_FORMAT": "JSON"}}, `environment RT_LOG_FORMAT: value "JSON" not allowed (allowed: text, json)`},
		{"RT_CGROUP_PARENT relative", loadCase{env: env{"RT_CGROUP_PARENT": "rt-hostb"}}, `environment RT_CGROUP_PARENT: value "rt-hostb" not allowed (allowed: ` + parentAllowed + `)`},
		{"RT_CGROUP_PARENT top", loadCase{env: env{"RT_CGROUP_PARENT": "/"}}, `environment RT_CGROUP_PARENT: value "/" not allowed (allowed: ` + parentAllowed + `)`},
		{"RT_CGROUP_PARENT dotdot", loadCase{env: env{"RT_CGROUP_PARENT": "/rt/../x"}}, `environment RT_CGROUP_PARENT: value "/rt/../x" not allowed (allowed: ` + parentAllowed + `)`},
		{"RT_CGROUP_PARENT bad under a good file", loadCase{file: "cgroup-parent: /rt-a\n", env: env{"RT_CGROUP_PARENT": "/rt-a/."}}, `environment RT_CGROUP_PARENT: value "/rt-a/." not allowed (allowed: ` + parentAllowed + `)`},
		{"RT_MIGRATION_TOKEN short", loadCase{env: env{"RT_MIGRATION_TOKEN": "s3cr3t"}}, `environment RT_MIGRATION_TOKEN: value of 6 characters not allowed (allowed: ` + tokenAllowed + `)`},
		{"RT_MIGRATION_TOKEN 15 runes", loadCase{env: env{"RT_MIGRATION_TOKEN": "ééééééééééééééé"}}, `environment RT_MIGRATION_TOKEN: value of 15 characters not allowed (allowed: ` + tokenAllowed + `)`},
		{"--log-format outside set", loadCase{args: []string{"--log-format=xml"}}, `flag --log-format: value "xml" not allowed (allowed: text, json)`},
		{"--root empty", loadCase{args: []string{"--root="}}, `flag --root: value "" not allowed (allowed: a non-empty directory path)`},
		{"--criu empty", loadCase{args: []string{"--criu", ""}}, `flag --criu: value "" not allowed (allowed: a non-empty path or command name)`},
		{"--config empty", loadCase{args: []string{"--config="}}, `flag --config: value "" not allowed (allowed: a config file path)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.load(t, tt.loadCase)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got  %s\n want %s", err, tt.want)
			}
		})
	}
}

func TestRelativeRootAndEmptyEnv(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		loadCase
		key        string
		wantValue  string
		wantSource Source
		wantOrigin string
	}{
		{"relative root from flag", loadCase{args: []string{"--root", "state"}}, KeyRoot, filepath.Join(cwd, "state"), SourceFlag, "--root"},
		{"relative root from env", loadCase{env: env{"RT_ROOT": "./a/../state"}}, KeyRoot, filepath.Join(cwd, "state"), SourceEnv, "RT_ROOT"},
		{"relative root from file", loadCase{file: "root: state\n"}, KeyRoot, filepath.Join(cwd, "state"), SourceFile, fileMark},
		{"unclean absolute root", loadCase{args: []string{"--root=/run//rt/"}}, KeyRoot, "/run/rt", SourceFlag, "--root"},
		{"empty RT_ROOT ignored", loadCase{file: "root: /file/root\n", env: env{"RT_ROOT": ""}}, KeyRoot, "/file/root", SourceFile, fileMark},
		{"empty RT_DEBUG ignored", loadCase{env: env{"RT_DEBUG": ""}}, KeyDebug, "false", SourceDefault, "built-in"},
		{"empty RT_CRIU_PROGRESS_TIMEOUT ignored", loadCase{file: "criu-progress-timeout: 7s\n", env: env{"RT_CRIU_PROGRESS_TIMEOUT": ""}}, KeyCriuProgressTimeout, "7s", SourceFile, fileMark},
		{"empty RT_MIGRATION_TOKEN ignored", loadCase{file: "migration-token: file-secret-0123456789\n", env: env{"RT_MIGRATION_TOKEN": ""}}, KeyMigrationToken, Redacted, SourceFile, fileMark},
		{"empty RT_CGROUP_PARENT ignored", loadCase{file: "cgroup-parent: /rt-a\n", env: env{"RT_CGROUP_PARENT": ""}}, KeyCgroupParent, "/rt-a", SourceFile, fileMark},
		{"empty RT_CGROUP_DRIVER ignored", loadCase{env: env{"RT_CGROUP_DRIVER": ""}}, KeyCgroupDriver, "cgroupfs", SourceDefault, "built-in"},
		{"empty RT_INIT ignored", loadCase{file: "init: /file/rt-init\n", env: env{"RT_INIT": ""}}, KeyInit, "/file/rt-init", SourceFile, fileMark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := h.load(t, tt.loadCase)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			checkSetting(t, h, cfg, tt.key, tt.wantValue, tt.wantSource, tt.wantOrigin)
		})
	}
}

func TestInitBesideExecutable(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// executable is given the harness and returns what Load sees.
		executable func(t *testing.T, h harness) (string, error)
		want       string // expected init, or error substring with wantErr
		wantErr    bool
	}{
		{
			name:       "plain executable",
			executable: func(_ *testing.T, h harness) (string, error) { return h.exe, nil },
			want:       initMark,
		},
		{
			name: "symlinked executable resolves to its target's directory",
			executable: func(t *testing.T, h harness) (string, error) {
				link := filepath.Join(h.dir, "runc")
				if err := os.Symlink(h.exe, link); err != nil {
					t.Fatal(err)
				}
				return link, nil
			},
			want: initMark,
		},
		{
			name:       "executable unknown",
			executable: func(*testing.T, harness) (string, error) { return "", errors.New("no /proc") },
			want:       "resolve default init: locate the running executable: no /proc",
			wantErr:    true,
		},
		{
			name:       "executable gone",
			executable: func(_ *testing.T, h harness) (string, error) { return filepath.Join(h.dir, "deleted"), nil },
			want:       "resolve default init: ",
			wantErr:    true,
		},
		{
			name:       "explicit init never asks for the executable",
			args:       []string{"--init", "/usr/libexec/rt-init"},
			executable: func(t *testing.T, _ harness) (string, error) { t.Error("Executable called"); return "", nil },
			want:       "/usr/libexec/rt-init",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			opts := h.options(t, nil)
			opts.Executable = func() (string, error) { return tt.executable(t, h) }
			cfg, err := Load(parse(t, tt.args), opts)
			if tt.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("error = %v, want prefix %q", err, tt.want)
				}
				if errors.Is(err, ErrInvalid) {
					t.Errorf("error %q wraps ErrInvalid but is not a validation error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := h.expand(tt.want); cfg.Init != want {
				t.Errorf("Init = %q, want %q", cfg.Init, want)
			}
		})
	}
}

func TestLoadWithoutFlags(t *testing.T) {
	tests := []struct {
		name string
		fs   func() *pflag.FlagSet
	}{
		{"nil flag set", func() *pflag.FlagSet { return nil }},
		{"flag set without rt's flags", func() *pflag.FlagSet { return pflag.NewFlagSet("other", pflag.ContinueOnError) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := Load(tt.fs(), h.options(t, env{"RT_LOG_FORMAT": "json"}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			checkSetting(t, h, cfg, KeyLogFormat, "json", SourceEnv, "RT_LOG_FORMAT")
			checkSetting(t, h, cfg, KeyRoot, "/run/rt", SourceDefault, "built-in")
		})
	}
}

// TestShippedConfigFile keeps configs/config.yaml honest: it must load
// cleanly and restate exactly the built-in defaults.
func TestShippedConfigFile(t *testing.T) {
	const shipped = "../../configs/config.yaml"
	h := newHarness(t)
	defaults, err := Load(parse(t, nil), h.options(t, nil))
	if err != nil {
		t.Fatalf("Load defaults: %v", err)
	}
	cfg, err := Load(parse(t, []string{"--config", shipped}), h.options(t, nil))
	if err != nil {
		t.Fatalf("Load %s: %v", shipped, err)
	}
	if cfg.File != shipped {
		t.Errorf("File = %q, want %q", cfg.File, shipped)
	}
	for _, def := range defaults.Settings {
		t.Run(def.Key, func(t *testing.T) {
			if def.Source != SourceDefault {
				t.Fatalf("defaults-only Load reports %q from %q", def.Key, def.Source)
			}
			checkSetting(t, h, cfg, def.Key, def.Value, SourceFile, shipped)
		})
	}
}

func TestRegisterFlagsUsage(t *testing.T) {
	fs := pflag.NewFlagSet("rt", pflag.ContinueOnError)
	RegisterFlags(fs)
	usage := fs.FlagUsages()
	tests := []struct {
		flag string
		want string
	}{
		{"root", `(default "/run/rt")`},
		{"criu", `(default "criu")`},
		{"log-format", `(default "text")`},
		{"init", "(default: rt-init next to the rt executable; env RT_INIT)"},
		{"log", "(default: stderr; env RT_LOG)"},
		{"config", "(default: $RT_CONFIG, else /etc/rt/config.yaml)"},
		{"debug", "env RT_DEBUG"},
		{"systemd-cgroup", "env RT_CGROUP_DRIVER"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			var line string
			for l := range strings.Lines(usage) {
				if strings.Contains(l, "--"+tt.flag+" ") {
					line = l
				}
			}
			if !strings.Contains(line, tt.want) {
				t.Errorf("usage of --%s = %q, want it to contain %q", tt.flag, line, tt.want)
			}
		})
	}
}

// TestHostSettingsHaveNoFlag: criu-progress-timeout, migration-token and
// cgroup-parent are host settings (file or environment); a flag would be
// one more global flag for runc's clients to trip over, and a secret on a
// command line is visible to every user in ps.
func TestHostSettingsHaveNoFlag(t *testing.T) {
	tests := []struct{ key, value string }{
		{KeyCriuProgressTimeout, "3s"},
		{KeyMigrationToken, "0123456789abcdef"},
		{KeyCgroupParent, "/rt-a"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			fs := pflag.NewFlagSet("rt", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			RegisterFlags(fs)
			if f := fs.Lookup(tt.key); f != nil {
				t.Errorf("RegisterFlags defines --%s", f.Name)
			}
			if err := fs.Parse([]string{"--" + tt.key + "=" + tt.value}); err == nil {
				t.Errorf("--%s parsed", tt.key)
			}
		})
	}
}

func TestWriteOutput(t *testing.T) {
	h := newHarness(t)
	cfg, err := h.load(t, loadCase{
		file: "criu: /file/criu\n",
		env:  env{"RT_LOG_FORMAT": "json"},
		args: []string{"--debug"},
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	tests := []struct {
		name  string
		write func(io.Writer) error
		check func(t *testing.T, out string)
	}{
		{"json", cfg.WriteJSON, func(t *testing.T, out string) {
			if !strings.HasSuffix(out, "]\n") || !strings.Contains(out, "\n  {") {
				t.Errorf("want an indented array ending in a newline, got:\n%s", out)
			}
			var got []Setting
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out)
			}
			if !slices.Equal(got, cfg.Settings) {
				t.Errorf("round trip:\n got  %+v\n want %+v", got, cfg.Settings)
			}
			keys := make([]string, len(got))
			for i, s := range got {
				keys[i] = s.Key
			}
			if !slices.Equal(keys, Keys) {
				t.Errorf("keys = %q, want %q", keys, Keys)
			}
			if !strings.Contains(out, `"value": ""`) {
				t.Errorf("empty log should stay empty in JSON:\n%s", out)
			}
		}},
		{"table", cfg.WriteTable, func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 1+len(Keys) {
				t.Fatalf("got %d lines, want header + %d:\n%s", len(lines), len(Keys), out)
			}
			if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"KEY", "VALUE", "SOURCE", "ORIGIN"}) {
				t.Errorf("header = %q", lines[0])
			}
			col := strings.Index(lines[0], "VALUE")
			want := map[string][]string{
				KeyRoot:                {"root", "/run/rt", "default", "built-in"},
				KeyCriu:                {"criu", "/file/criu", "file", h.file},
				KeyCriuProgressTimeout: {"criu-progress-timeout", "120s", "default", "built-in"},
				KeyMigrationToken:      {"migration-token", "(none)", "default", "built-in"},
				KeyCgroupDriver:        {"cgroup-driver", "cgroupfs", "default", "built-in"},
				KeyCgroupParent:        {"cgroup-parent", "(none)", "default", "built-in"},
				KeyInit:                {"init", h.wantInit, "default", "built-in"},
				KeyLog:                 {"log", "(stderr)", "default", "built-in"},
				KeyLogFormat:           {"log-format", "json", "env", "RT_LOG_FORMAT"},
				KeyDebug:               {"debug", "true", "flag", "--debug"},
			}
			for i, key := range Keys {
				line := lines[i+1]
				if got := strings.Fields(line); !slices.Equal(got, want[key]) {
					t.Errorf("row %d = %q, want %q", i+1, got, want[key])
				}
				if !strings.HasPrefix(line[col:], want[key][1]) {
					t.Errorf("row %q: value not aligned under VALUE", line)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatalf("write: %v", err)
			}
			tt.check(t, buf.String())
		})
	}
}

func TestWriteEmptyConfig(t *testing.T) {
	tests := []struct {
		name  string
		write func(*Config, io.Writer) error
		want  string
	}{
		{"json", (*Config).WriteJSON, "[]\n"},
		{"table", (*Config).WriteTable, "KEY  VALUE  SOURCE  ORIGIN\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&Config{}, &buf); err != nil {
				t.Fatalf("write: %v", err)
			}
			if buf.String() != tt.want {
				t.Errorf("got %q, want %q", buf.String(), tt.want)
			}
		})
	}
}

// TestMigrationTokenRedacted: the token reaches Config whole, while rt
// config (both formats) shows only that it is set; a bad token's error
// never repeats it either.
func TestMigrationTokenRedacted(t *testing.T) {
	const secret = "hunter2-hunter2-hunter2"
	tests := []struct {
		name string
		loadCase
		wantErr bool
	}{
		{name: "file", loadCase: loadCase{file: "migration-token: " + secret + "\n"}},
		{name: "env", loadCase: loadCase{env: env{"RT_MIGRATION_TOKEN": secret}}},
		{name: "env over file", loadCase: loadCase{file: "migration-token: other-secret-0123456789\n", env: env{"RT_MIGRATION_TOKEN": secret}}},
		{name: "short in file", loadCase: loadCase{file: "migration-token: " + secret[:9] + "\n"}, wantErr: true},
		{name: "short in env", loadCase: loadCase{env: env{"RT_MIGRATION_TOKEN": secret[:9]}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg, err := h.load(t, tt.loadCase)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), KeyMigrationToken) || strings.Contains(err.Error(), secret[:9]) {
					t.Fatalf("error = %v, want one naming %s without the value", err, KeyMigrationToken)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.MigrationToken != secret {
				t.Errorf("MigrationToken = %q, want the secret", cfg.MigrationToken)
			}
			if got := setting(t, cfg, KeyMigrationToken).Value; got != Redacted {
				t.Errorf("Setting.Value = %q, want %q", got, Redacted)
			}
			for name, write := range map[string]func(io.Writer) error{"json": cfg.WriteJSON, "table": cfg.WriteTable} {
				var buf bytes.Buffer
				if err := write(&buf); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if out := buf.String(); strings.Contains(out, secret) || !strings.Contains(out, Redacted) {
					t.Errorf("%s output shows the token or not %q:\n%s", name, Redacted, out)
				}
			}
		})
	}
}

func TestDefaultRoot(t *testing.T) {
	for _, tt := range []struct {
		euid   int
		userns bool
		xdg    string
		user   string
		want   string
	}{
		{0, false, "", "root", "/run/rt"},
		{0, false, "/run/user/0", "root", "/run/rt"},
		{1000, false, "/run/user/1000", "alice", "/run/user/1000/rt"},
		{1000, false, "", "alice", "/run/rt"},
		// Root of podman's rootless user namespace.
		{0, true, "/run/user/1000", "alice", "/run/user/1000/rt"},
		{0, true, "/run/user/1000", "", "/run/user/1000/rt"},
		{0, true, "/run/user/0", "root", "/run/rt"},
		{0, true, "", "alice", "/run/rt"},
	} {
		if got := DefaultRoot(tt.euid, tt.userns, tt.xdg, tt.user); got != tt.want {
			t.Errorf("DefaultRoot(%d, %v, %q, %q) = %q, want %q", tt.euid, tt.userns, tt.xdg, tt.user, got, tt.want)
		}
	}
}
