// Package config owns rt's host defaults: the settings that apply to every rt
// invocation on a machine (state root, criu binary, cgroup driver, init
// binary, logging) as opposed to one container's OCI config.json.
//
// Load resolves each setting from, in falling precedence, a command-line
// flag, an RT_* environment variable, a YAML config file and a built-in
// default. It validates every value any source supplies and records which
// source won, so that rt can explain where a surprising value came from.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/sibling"
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

// Source says which kind of source supplied a setting's effective value.
type Source string

// The sources, highest precedence first.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
	SourceDefault Source = "default"
)

// originDefault is the Setting.Origin of a built-in default.
const originDefault = "built-in"

// Setting is one key's effective value and where it came from.
type Setting struct {
	Key string `json:"key"`
	// Value is the effective value in string form: root is absolute, init
	// is the resolved path when it was left empty, debug is "true" or
	// "false", and criu-progress-timeout is whole seconds ("120s") where it
	// can be, else Go's form ("1.5s"). An empty log means stderr, an empty
	// cgroup-parent none. A set migration-token is Redacted.
	Value  string `json:"value"`
	Source Source `json:"source"`
	// Origin names the precise origin: "--root", "RT_ROOT", the file path, or "built-in".
	Origin string `json:"origin"`
}

// Config is rt's resolved host configuration.
type Config struct {
	// Root is the absolute directory holding container state.
	Root string
	// Criu is the criu binary, either a path or a name to look up in PATH.
	Criu string
	// CriuProgressTimeout is how long a CRIU run may go without progress
	// (a new log line, a message) before rt kills it; 0 never.
	CriuProgressTimeout time.Duration
	// MigrationToken is the shared secret of live migration's control
	// connection; "" for none. Settings shows it as Redacted.
	MigrationToken string
	// CgroupDriver is "cgroupfs" or "systemd".
	CgroupDriver string
	// CgroupParent is the absolute cgroup path below which the cgroupfs
	// driver puts every new container's cgroups; "" for none.
	CgroupParent string
	// Init is the rt-init binary. When no source set it, it is rt-init in
	// the directory of the running executable after resolving symlinks.
	Init string
	// Log is the file rt logs to; empty means stderr.
	Log string
	// LogFormat is "text" or "json".
	LogFormat string
	// Debug enables debug logging.
	Debug bool
	// File is the config file that was read, "" if none.
	File string
	// Settings lists every key in the order of Keys, with value and source.
	Settings []Setting
}

// Options adjusts how Load looks at the host. The zero value looks at the
// real process environment, DefaultConfigFile and os.Executable; tests
// replace them so they never depend on the machine they run on.
type Options struct {
	// LookupEnv reads an environment variable; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// DefaultFile is read when neither --config nor RT_CONFIG names a file;
	// "" means DefaultConfigFile. There is no way to disable it, so tests
	// point it at a path that does not exist.
	DefaultFile string
	// Executable returns the path of the running rt binary, used to find
	// rt-init when init is empty; nil means os.Executable. It is only
	// called when init is empty.
	Executable func() (string, error)
}

// ErrInvalid is wrapped by every error Load returns because of content rt
// will not accept: an unparsable config file, an unknown key, or a bad value
// from any source. It is not wrapped by I/O failures such as a named config
// file that does not exist; those wrap the underlying *fs.PathError.
var ErrInvalid = errors.New("invalid configuration")

// invalidError lets a validation error read as a single precise sentence
// while still matching ErrInvalid, and the parser's error when there is one,
// under errors.Is and errors.As.
type invalidError struct {
	msg   string
	cause error
}

func (e *invalidError) Error() string { return e.msg }

func (e *invalidError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.cause}
}

func invalidf(cause error, format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...), cause: cause}
}

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

func (s keySpec) allowedText() string {
	if s.choices != nil {
		return strings.Join(s.choices, ", ")
	}
	return s.allowed
}

// checkString rejects a string value that no source may give key; where
// names the source for the message.
func (s keySpec) checkString(where, val string) error {
	if s.secret {
		return s.checkSecret(where, val)
	}
	if (s.choices != nil && !slices.Contains(s.choices, val)) || (val == "" && !s.allowEmpty) ||
		(val != "" && s.valid != nil && !s.valid(val)) {
		return invalidf(nil, "%s: value %q not allowed (allowed: %s)", where, val, s.allowedText())
	}
	return nil
}

// checkSecret is checkString for a secret: its message gives the length,
// never the value, which would end up in logs.
func (s keySpec) checkSecret(where, val string) error {
	if n := utf8.RuneCountInString(val); n > 0 && n < MinMigrationTokenLen {
		return invalidf(nil, "%s: value of %d characters not allowed (allowed: %s)", where, n, s.allowed)
	}
	return nil
}

// validCgroupParent accepts an absolute, clean cgroup path below the top of
// the hierarchy: a clean absolute path has no "..".
func validCgroupParent(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p && p != "/"
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

// Load resolves rt's host configuration. fs is the flag set RegisterFlags
// populated, already parsed; it may be nil, and flags it lacks are treated
// as not given. A flag is a source only when it was given explicitly.
//
// Every value a source supplies is validated, even one that a
// higher-precedence source overrides, so a broken config file or
// environment variable is reported now rather than when the override goes
// away. Environment variables that are set but empty count as unset; an
// explicitly empty flag does not.
//
// Caveats: config file keys are matched case-insensitively, because viper
// folds them, so "Root" is read as "root" and, when both appear, one wins
// silently. An unknown key whose value is an empty mapping ("foo: {}") is
// not reported, because viper drops it while flattening the file. A YAML
// null (as in "log:") is read as the empty string.
func Load(fs *pflag.FlagSet, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.DefaultFile == "" {
		opts.DefaultFile = DefaultConfigFile
	}
	if opts.Executable == nil {
		opts.Executable = os.Executable
	}
	// pflag methods dereference the set, and an empty set already means
	// "no flag given" because pflag reports undefined flags as unchanged.
	if fs == nil {
		fs = pflag.NewFlagSet("rt", pflag.ContinueOnError)
	}
	lookupEnv := func(name string) (string, bool) {
		val, ok := opts.LookupEnv(name)
		return val, ok && val != ""
	}

	// A private instance, because the global one would leak state between
	// Loads and between packages that also use viper.
	v := viper.New()
	file, err := readConfigFile(v, fs, lookupEnv, opts.DefaultFile)
	if err != nil {
		return nil, err
	}
	var inFile map[string]bool
	if file != "" {
		if inFile, err = fileKeys(v, file); err != nil {
			return nil, err
		}
	}

	cfg := &Config{File: file, Settings: make([]Setting, 0, len(Keys))}
	for _, key := range Keys {
		spec := specs[key]
		winner := Setting{Key: key, Source: SourceDefault, Origin: originDefault}

		// Before SetDefault, because viper would answer a YAML null with
		// the default and hide it from the check.
		if inFile[key] {
			typed, err := checkFileValue(file, key, v.Get(key))
			if err != nil {
				return nil, err
			}
			if spec.duration {
				// The file holds text; viper keeps the value parsed.
				v.Set(key, typed)
			}
			winner.Source, winner.Origin = SourceFile, file
		}
		v.SetDefault(key, spec.def)

		envVal, envSet := lookupEnv(spec.env)
		var envTyped any = envVal
		if envSet {
			if envTyped, err = parseEnv(spec, key, envVal); err != nil {
				return nil, err
			}
		}

		flagName, flagVal, flagSet, err := flagValue(fs, spec, key)
		if err != nil {
			return nil, err
		}

		// Viper's own environment binding cannot be pointed at
		// Options.LookupEnv and --systemd-cgroup is not the key's own
		// type, so both go in through Set. Set outranks bound flags in
		// viper, hence it is only used when no flag already decides.
		switch {
		case flagSet:
			if spec.flag != "" {
				if err := v.BindPFlag(key, fs.Lookup(flagName)); err != nil {
					return nil, fmt.Errorf("bind flag --%s: %w", flagName, err)
				}
			} else {
				v.Set(key, flagVal)
			}
			winner.Source, winner.Origin = SourceFlag, "--"+flagName
		case envSet:
			v.Set(key, envTyped)
			winner.Source, winner.Origin = SourceEnv, spec.env
		}

		if winner.Value, err = cfg.assign(v, key, opts); err != nil {
			return nil, err
		}
		cfg.Settings = append(cfg.Settings, winner)
	}
	return cfg, nil
}

// assign stores key's effective value (v holds it, typed) in its Config
// field and returns it in Setting.Value form.
func (c *Config) assign(v *viper.Viper, key string, opts Options) (string, error) {
	switch key {
	case KeyDebug:
		c.Debug = v.GetBool(key)
		return strconv.FormatBool(c.Debug), nil
	case KeyCriuProgressTimeout:
		// Every source's value went in as a time.Duration: no parsing here.
		c.CriuProgressTimeout = v.GetDuration(key)
		return formatDuration(c.CriuProgressTimeout), nil
	}
	val := v.GetString(key)
	var err error
	switch key {
	case KeyRoot:
		// rt may change directory before touching state, and two
		// invocations from different directories must agree on it.
		if val, err = filepath.Abs(val); err != nil {
			return "", fmt.Errorf("make root %q absolute: %w", v.GetString(key), err)
		}
		c.Root = val
	case KeyCriu:
		c.Criu = val
	case KeyMigrationToken:
		c.MigrationToken = val
		return redact(val), nil
	case KeyCgroupDriver:
		c.CgroupDriver = val
	case KeyCgroupParent:
		c.CgroupParent = val
	case KeyInit:
		if val == "" {
			if val, err = initBesideExecutable(opts.Executable); err != nil {
				return "", err
			}
		}
		c.Init = val
	case KeyLog:
		c.Log = val
	case KeyLogFormat:
		c.LogFormat = val
	}
	return val, nil
}

// redact is a secret's Setting.Value: Redacted when set, else "".
func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return Redacted
}

// formatDuration shows d in whole seconds where it is ("120s" where Go
// says "2m0s"), so that rt config echoes what people write.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// readConfigFile picks the config file and reads it into v, returning its
// path, or "" when the default file is absent. Only one path is ever tried,
// so a named file that is missing is an error rather than a fallback.
func readConfigFile(v *viper.Viper, flags *pflag.FlagSet, lookupEnv func(string) (string, bool), defaultFile string) (string, error) {
	path, named := defaultFile, true
	if flags.Changed(flagConfig) {
		var err error
		if path, err = flags.GetString(flagConfig); err != nil {
			return "", fmt.Errorf("flag --%s: %w", flagConfig, err)
		}
		if path == "" {
			return "", invalidf(nil, "flag --%s: value \"\" not allowed (allowed: a config file path)", flagConfig)
		}
	} else if env, ok := lookupEnv(envConfig); ok {
		path = env
	} else {
		named = false
	}

	v.SetConfigFile(path)
	// The extension of a named file is the user's business; the format is not.
	v.SetConfigType("yaml")
	err := v.ReadInConfig()
	var parseErr viper.ConfigParseError
	switch {
	case err == nil:
		return path, nil
	case !named && errors.Is(err, fs.ErrNotExist):
		return "", nil
	case errors.As(err, &parseErr):
		// The YAML error carries the line number; viper's own prefix adds
		// nothing, and multi-error reports span lines.
		cause := parseErr.Unwrap()
		return "", invalidf(cause, "config file %s: %s", path, api.OneLine(cause.Error()))
	default:
		return "", fmt.Errorf("config file %s: %w", path, err)
	}
}

// fileKeys reports which known keys the file sets, and fails on any other
// top-level key so that a typo cannot silently leave a default in place.
func fileKeys(v *viper.Viper, file string) (map[string]bool, error) {
	present := make(map[string]bool)
	var unknown []string
	// AllKeys flattens nested mappings into dotted paths and omits empty
	// mappings, while InConfig misses null values; together they see every
	// top-level key except an unknown one holding an empty mapping.
	for _, k := range v.AllKeys() {
		top, _, _ := strings.Cut(k, ".")
		if _, ok := specs[top]; ok {
			present[top] = true
		} else if !slices.Contains(unknown, top) {
			unknown = append(unknown, top)
		}
	}
	for _, key := range Keys {
		if v.InConfig(key) {
			present[key] = true
		}
	}
	switch len(unknown) {
	case 0:
		return present, nil
	case 1:
		return nil, invalidf(nil, "config file %s: unknown key %q (allowed: %s)", file, unknown[0], strings.Join(Keys, ", "))
	default:
		slices.Sort(unknown)
		quoted := make([]string, len(unknown))
		for i, k := range unknown {
			quoted[i] = strconv.Quote(k)
		}
		return nil, invalidf(nil, "config file %s: unknown keys %s (allowed: %s)", file, strings.Join(quoted, ", "), strings.Join(Keys, ", "))
	}
}

// checkFileValue validates val as YAML decoded it and returns it typed.
// Types are strict: a string key wants a YAML string and debug a YAML
// boolean, because "yes" or 1 mean different things to different YAML
// versions and readers; a duration wants a string with its unit, or 0.
func checkFileValue(file, key string, val any) (any, error) {
	spec := specs[key]
	where := fmt.Sprintf("config file %s: key %q", file, key)
	if key == KeyDebug {
		if _, ok := val.(bool); !ok {
			return nil, invalidf(nil, "%s: value %s is not a boolean (allowed: true, false)", where, yamlValue(val))
		}
		return val, nil
	}
	switch s := val.(type) {
	case nil:
		if spec.duration {
			break
		}
		return "", spec.checkString(where, "")
	case string:
		if spec.duration {
			return parseDuration(spec, where, s)
		}
		return s, spec.checkString(where, s)
	case int:
		if !spec.duration {
			break
		}
		if s != 0 {
			return nil, invalidf(nil, "%s: value %d has no unit (allowed: %s)", where, s, spec.allowed)
		}
		return time.Duration(0), nil
	}
	shown := yamlValue(val)
	if spec.secret {
		shown = "(not shown)"
	}
	return nil, invalidf(nil, "%s: value %s is not a string (allowed: %s)", where, shown, spec.allowedText())
}

// parseDuration reads the value of a duration key: a Go duration, not
// negative.
func parseDuration(spec keySpec, where, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalidf(nil, "%s: value %q is not a duration (allowed: %s)", where, s, spec.allowed)
	}
	if d < 0 {
		return 0, invalidf(nil, "%s: value %q not allowed (allowed: %s)", where, s, spec.allowed)
	}
	return d, nil
}

// yamlValue renders a decoded YAML value for an error message, close to
// how the user would have written it.
func yamlValue(val any) string {
	switch val := val.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(val)
	case []any, map[string]any:
		if b, err := json.Marshal(val); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(val)
}

// parseEnv validates a non-empty environment value and converts it to the
// key's type.
func parseEnv(spec keySpec, key, val string) (any, error) {
	where := "environment " + spec.env
	if key == KeyDebug {
		b, err := strconv.ParseBool(val)
		if err != nil {
			return nil, invalidf(nil, "%s: value %q is not a boolean (allowed: true, false, 1, 0)", where, val)
		}
		return b, nil
	}
	if spec.duration {
		return parseDuration(spec, where, val)
	}
	return val, spec.checkString(where, val)
}

// flagValue returns the flag that sets key, if it was given, and the value
// it stands for.
func flagValue(flags *pflag.FlagSet, spec keySpec, key string) (name string, val any, set bool, err error) {
	if key == KeyCgroupDriver {
		if !flags.Changed(flagSystemdCgroup) {
			return "", nil, false, nil
		}
		systemd, err := flags.GetBool(flagSystemdCgroup)
		if err != nil {
			return "", nil, false, fmt.Errorf("flag --%s: %w", flagSystemdCgroup, err)
		}
		if systemd {
			return flagSystemdCgroup, "systemd", true, nil
		}
		return flagSystemdCgroup, "cgroupfs", true, nil
	}
	if spec.flag == "" || !flags.Changed(spec.flag) {
		return "", nil, false, nil
	}
	if key == KeyDebug {
		// pflag has already rejected anything that is not a boolean.
		b, err := flags.GetBool(spec.flag)
		if err != nil {
			return "", nil, false, fmt.Errorf("flag --%s: %w", spec.flag, err)
		}
		return spec.flag, b, true, nil
	}
	s, err := flags.GetString(spec.flag)
	if err != nil {
		return "", nil, false, fmt.Errorf("flag --%s: %w", spec.flag, err)
	}
	if err := spec.checkString("flag --"+spec.flag, s); err != nil {
		return "", nil, false, err
	}
	return spec.flag, s, true, nil
}

// initBesideExecutable locates rt-init next to the real rt binary, so that
// a symlink such as /usr/bin/runc -> /opt/rt/bin/rt still finds
// /opt/rt/bin/rt-init.
func initBesideExecutable(executable func() (string, error)) (string, error) {
	p, err := sibling.Path(executable, "rt-init")
	if err != nil {
		return "", fmt.Errorf("resolve default init: %w", err)
	}
	return p, nil
}

// WriteTable writes c.Settings as aligned "KEY VALUE SOURCE ORIGIN"
// columns under a header line. An empty value is shown as what it means,
// "(stderr)" for log, else "(none)", because a blank cell would read as a
// missing value; WriteJSON keeps it empty. Like WriteJSON it shows a set
// secret as Redacted (Settings never hold one).
func (c *Config) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tORIGIN")
	for _, s := range c.Settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Key, tableValue(s), s.Source, s.Origin)
	}
	// tabwriter buffers everything until Flush, which reports any write error.
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write config table: %w", err)
	}
	return nil
}

// tableValue is s.Value as WriteTable shows it.
func tableValue(s Setting) string {
	switch {
	case s.Value != "":
		return s.Value
	case s.Key == KeyLog:
		return "(stderr)"
	}
	return "(none)"
}

// WriteJSON writes c.Settings as an indented JSON array of Setting followed
// by a newline. It writes [] rather than null for a Config with no settings,
// and leaves <, > and & in paths unescaped.
func (c *Config) WriteJSON(w io.Writer) error {
	settings := c.Settings
	if settings == nil {
		settings = []Setting{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(settings); err != nil {
		return fmt.Errorf("write config JSON: %w", err)
	}
	return nil
}
