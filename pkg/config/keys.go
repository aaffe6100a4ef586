package config

import (
	"time"

	"github.com/spf13/pflag"
)

// Setting keys, as spelled in the config file; specs names the environment
// variable and the flag, if any, of each.
const (
	KeyRoot                = "root"
	KeyCriu                = "criu"
	KeyCriuProgressTimeout = "criu-progress-timeout"
	KeyMigrationToken      = "migration-token"
	KeyCgroupDriver        = "cgroup-driver"
	KeyCgroupParent        = "cgroup-parent"
	KeyInit                = "init"
	KeyLog                 = "log"
	KeyLogFormat           = "log-format"
	KeyDebug               = "debug"
)

// Keys lists every setting key in the order rt reports them: the complete
// set of keys a config file may contain. Callers must not modify it.
var Keys = []string{KeyRoot, KeyCriu, KeyCriuProgressTimeout, KeyMigrationToken, KeyCgroupDriver, KeyCgroupParent, KeyInit, KeyLog, KeyLogFormat, KeyDebug}

// Redacted is the Setting.Value of a set secret (migration-token).
const Redacted = "<set>"

// MinMigrationTokenLen is the fewest characters a migration-token may have.
const MinMigrationTokenLen = 16

// DefaultConfigFile is read when neither --config nor RT_CONFIG names a
// file. Unlike a named file, it may be absent.
const DefaultConfigFile = "/etc/rt/config.yaml"

// The flag and variable that name the config file.
const (
	flagConfig = "config"
	envConfig  = "RT_CONFIG"
)

// keySpec is what Load needs to know about one key.
type keySpec struct {
	// env is named rather than derived with SetEnvPrefix: one spelling for
	// checks, origin and viper, and one that grep finds.
	env string
	// flag sets the key; --systemd-cgroup, a bool, stands for one of
	// cgroup-driver's values. Host settings have none: a secret on a command
	// line shows in ps.
	flag       string
	def        any
	choices    []string          // nil: any value
	allowEmpty bool              // empty means something: stderr, none, beside rt
	allowed    string            // what would have been accepted, for errors
	duration   bool              // a Go duration, not negative
	valid      func(string) bool // if set, must accept a non-empty value
	secret     bool              // never shown, in rt config or an error
}

var specs = map[string]keySpec{
	KeyRoot:                {env: "RT_ROOT", flag: "root", def: "/run/rt", allowed: "a non-empty directory path"},
	KeyCriu:                {env: "RT_CRIU", flag: "criu", def: "criu", allowed: "a non-empty path or command name"},
	KeyCriuProgressTimeout: {env: "RT_CRIU_PROGRESS_TIMEOUT", def: 120 * time.Second, duration: true, allowed: `a duration such as "120s" or "2m", 0 to disable`},
	KeyMigrationToken:      {env: "RT_MIGRATION_TOKEN", def: "", allowEmpty: true, secret: true, allowed: "empty, or a migration-token of at least 16 characters"},
	KeyCgroupDriver:        {env: "RT_CGROUP_DRIVER", flag: "systemd-cgroup", def: "cgroupfs", choices: []string{"cgroupfs", "systemd"}},
	KeyCgroupParent:        {env: "RT_CGROUP_PARENT", def: "", allowEmpty: true, valid: validCgroupParent, allowed: `an absolute, clean cgroup path other than "/", such as "/rt-hostb", or empty for none`},
	KeyInit:                {env: "RT_INIT", flag: "init", def: "", allowEmpty: true, allowed: "a path, or empty for rt-init next to rt"},
	KeyLog:                 {env: "RT_LOG", flag: "log", def: "", allowEmpty: true, allowed: "a file path, or empty for stderr"},
	KeyLogFormat:           {env: "RT_LOG_FORMAT", flag: "log-format", def: "text", choices: []string{"text", "json"}},
	KeyDebug:               {env: "RT_DEBUG", flag: "debug", def: false},
}

// RegisterFlags defines rt's global flags on fs. Usage shows the built-in
// defaults, which the environment or the file may override. It panics, as
// pflag does, if fs already defines one of the names.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(specs[KeyRoot].flag, specs[KeyRoot].def.(string),
		"root directory for container state; keep it on tmpfs (default for a non-root user: $XDG_RUNTIME_DIR/rt; env RT_ROOT)")
	fs.String(specs[KeyCriu].flag, specs[KeyCriu].def.(string),
		"criu binary used by checkpoint and restore, a path or a name in PATH (env RT_CRIU)")
	fs.String(specs[KeyInit].flag, "",
		`rt-init binary run as the container's first process (default: rt-init next to the rt executable; env RT_INIT)`)
	fs.String(specs[KeyLog].flag, "",
		"file to write rt's own log to (default: stderr; env RT_LOG)")
	fs.String(specs[KeyLogFormat].flag, specs[KeyLogFormat].def.(string),
		"format of rt's own log: text or json (env RT_LOG_FORMAT)")
	fs.Bool(specs[KeyDebug].flag, false,
		"enable debug logging (env RT_DEBUG)")
	fs.Bool(specs[KeyCgroupDriver].flag, false,
		`manage cgroups through systemd; cgroupsPath must then look like "slice:prefix:name", e.g. "system.slice:rt:1234" (env RT_CGROUP_DRIVER=systemd|cgroupfs)`)
	fs.String(flagConfig, "",
		"host config file (default: $RT_CONFIG, else "+DefaultConfigFile+")")
}
