package config

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

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
