package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
