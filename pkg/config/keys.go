package config

import (
	"time"

	"github.com/spf13/pflag"
)

// Setting keys, as spelled in the config file. The flag and environment
// variable of each are listed next to it; cgroup-driver has no flag of its
// own and is set from the command line with --systemd-cgroup;
// criu-progress-timeout, migration-token and cgroup-parent have no flag at
// all (a host's settings, not a command's).
const (
	KeyRoot                = "root"                  // --root, RT_ROOT
	KeyCriu                = "criu"                  // --criu, RT_CRIU
	KeyCriuProgressTimeout = "criu-progress-timeout" // RT_CRIU_PROGRESS_TIMEOUT
	KeyMigrationToken      = "migration-token"       // RT_MIGRATION_TOKEN
	KeyCgroupDriver        = "cgroup-driver"         // --systemd-cgroup, RT_CGROUP_DRIVER
	KeyCgroupParent        = "cgroup-parent"         // RT_CGROUP_PARENT
	KeyInit                = "init"                  // --init, RT_INIT
	KeyLog                 = "log"                   // --log, RT_LOG
	KeyLogFormat           = "log-format"            // --log-format, RT_LOG_FORMAT
	KeyDebug               = "debug"                 // --debug, RT_DEBUG
)

// Keys lists every setting key in the order rt reports them. It is the
// complete set of keys a config file may contain. Callers must not modify it.
var Keys = []string{KeyRoot, KeyCriu, KeyCriuProgressTimeout, KeyMigrationToken, KeyCgroupDriver, KeyCgroupParent, KeyInit, KeyLog, KeyLogFormat, KeyDebug}

// Redacted is the Setting.Value of a secret key (migration-token) that is
// set: rt config shows whether a secret is set, never the secret.
const Redacted = "<set>"

// MinMigrationTokenLen is the fewest characters a migration-token may have.
const MinMigrationTokenLen = 16

// DefaultConfigFile is the config file Load reads when neither --config nor
// RT_CONFIG names one. Unlike a named file, it may be absent.
const DefaultConfigFile = "/etc/rt/config.yaml"

// Names of the flags that RegisterFlags defines and that have no key of
// their own.
const (
	flagSystemdCgroup = "systemd-cgroup"
	flagConfig        = "config"
	envConfig         = "RT_CONFIG"
)

// keySpec is everything Load needs to know about one key.
type keySpec struct {
	env string
	// flag is the flag that maps one to one onto the key; cgroup-driver has
	// none because --systemd-cgroup is a bool standing for a choice of two,
	// criu-progress-timeout, migration-token and cgroup-parent none at all.
	flag string
	def  any
	// choices closes the set of accepted values; nil leaves it open.
	choices []string
	// allowEmpty is set where empty is meaningful rather than a mistake:
	// init (next to rt), log (stderr), migration-token and cgroup-parent
	// (none).
	allowEmpty bool
	// allowed tells the user what would have been accepted.
	allowed string
	// duration keys hold a time.Duration: a Go duration string ("120s"),
	// never negative; a bare 0 is the one number without a unit.
	duration bool
	// valid, if set, must accept a non-empty value.
	valid func(string) bool
	// secret keys never show their value: not in rt config (Redacted),
	// not in an error message.
	secret bool
}

var specs = map[string]keySpec{
	KeyRoot:                {env: "RT_ROOT", flag: "root", def: "/run/rt", allowed: "a non-empty directory path"},
	KeyCriu:                {env: "RT_CRIU", flag: "criu", def: "criu", allowed: "a non-empty path or command name"},
	KeyCriuProgressTimeout: {env: "RT_CRIU_PROGRESS_TIMEOUT", def: 120 * time.Second, duration: true, allowed: `a duration such as "120s" or "2m", 0 to disable`},
	KeyMigrationToken:      {env: "RT_MIGRATION_TOKEN", def: "", allowEmpty: true, secret: true, allowed: "empty, or a migration-token of at least 16 characters"},
	KeyCgroupDriver:        {env: "RT_CGROUP_DRIVER", def: "cgroupfs", choices: []string{"cgroupfs", "systemd"}},
	KeyCgroupParent:        {env: "RT_CGROUP_PARENT", def: "", allowEmpty: true, valid: validCgroupParent, allowed: `an absolute, clean cgroup path other than "/", such as "/rt-hostb", or empty for none`},
	KeyInit:                {env: "RT_INIT", flag: "init", def: "", allowEmpty: true, allowed: "a path, or empty for rt-init next to rt"},
	KeyLog:                 {env: "RT_LOG", flag: "log", def: "", allowEmpty: true, allowed: "a file path, or empty for stderr"},
	KeyLogFormat:           {env: "RT_LOG_FORMAT", flag: "log-format", def: "text", choices: []string{"text", "json"}},
	KeyDebug:               {env: "RT_DEBUG", flag: "debug", def: false},
}

// RegisterFlags defines rt's global flags on fs, meant to be a root
// command's persistent flags. Usage text shows the built-in defaults even
// though an environment variable or the config file may override them,
// because only an explicitly given flag counts as a source. It panics, as
// pflag does, if fs already defines one of the names.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(specs[KeyRoot].flag, specs[KeyRoot].def.(string),
		"root directory for container state; keep it on tmpfs (env RT_ROOT)")
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
	fs.Bool(flagSystemdCgroup, false,
		`manage cgroups through systemd; cgroupsPath must then look like "slice:prefix:name", e.g. "system.slice:rt:1234" (env RT_CGROUP_DRIVER=systemd|cgroupfs)`)
	fs.String(flagConfig, "",
		"host config file (default: $RT_CONFIG, else "+DefaultConfigFile+")")
}
