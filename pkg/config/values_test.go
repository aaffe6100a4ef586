package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

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
