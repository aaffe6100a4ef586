package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/userns"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/sibling"
)

// Options lets tests keep Load off the host's files. The environment is
// always the process's: viper reads no other.
type Options struct {
	// DefaultFile replaces DefaultConfigFile if not "".
	DefaultFile string
	// Executable replaces os.Executable, called only to find rt-init.
	Executable func() (string, error)
}

// Load resolves rt's host configuration: an explicitly given flag in fs
// (parsed, from RegisterFlags; may be nil), else a non-empty RT_* variable,
// else the config file, else the default. It validates every value any
// source gives, even an overridden one, so that a broken file or variable
// shows now rather than when the override goes away.
//
// Caveats, from viper: file keys are folded to lower case, so of "Root" and
// "root" one wins silently; an unknown key holding an empty mapping ("foo:
// {}") is not reported; a YAML null ("log:") reads as "".
func Load(fs *pflag.FlagSet, opts Options) (*Config, error) {
	if opts.DefaultFile == "" {
		opts.DefaultFile = DefaultConfigFile
	}
	if opts.Executable == nil {
		opts.Executable = os.Executable
	}
	// pflag methods dereference the set; an empty one reports no flag given.
	if fs == nil {
		fs = pflag.NewFlagSet("rt", pflag.ContinueOnError)
	}
	// Not the global instance, which would carry state between Loads.
	v := viper.New()
	file, err := readConfigFile(v, fs, opts.DefaultFile)
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
		s, err := bindKey(v, fs, key, file, inFile[key])
		if err != nil {
			return nil, err
		}
		if s.Value, err = cfg.assign(v, key, opts); err != nil {
			return nil, err
		}
		cfg.Settings = append(cfg.Settings, s)
	}
	return cfg, nil
}

// readConfigFile reads the one config file into v and returns its path, or
// "" when the default file is absent. A named file that is missing is an
// error, not a fallback.
func readConfigFile(v *viper.Viper, flags *pflag.FlagSet, defaultFile string) (string, error) {
	path, named := defaultFile, true
	if f := flags.Lookup(flagConfig); f != nil && f.Changed {
		if path = f.Value.String(); path == "" {
			return "", invalidf(nil, "flag --%s: value \"\" not allowed (allowed: a config file path)", flagConfig)
		}
	} else if env := os.Getenv(envConfig); env != "" {
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

// fileKeys reports which keys the file sets and fails on any other
// top-level key, which viper would ignore, so that a typo cannot silently
// leave a default in place. v must hold nothing but the file.
func fileKeys(v *viper.Viper, file string) (map[string]bool, error) {
	present := make(map[string]bool)
	var unknown []string
	// AllKeys flattens nested mappings and omits empty ones, InConfig
	// misses nulls; together they see every key but an unknown "foo: {}".
	for _, k := range v.AllKeys() {
		top, _, _ := strings.Cut(k, ".")
		if _, ok := specs[top]; ok {
			present[top] = true
		} else if !slices.Contains(unknown, top) {
			unknown = append(unknown, top)
		}
	}
	for _, key := range Keys {
		present[key] = present[key] || v.InConfig(key)
	}
	if len(unknown) == 0 {
		return present, nil
	}
	allowed := strings.Join(Keys, ", ")
	if len(unknown) == 1 {
		return nil, invalidf(nil, "config file %s: unknown key %q (allowed: %s)", file, unknown[0], allowed)
	}
	slices.Sort(unknown)
	for i, k := range unknown {
		unknown[i] = strconv.Quote(k)
	}
	return nil, invalidf(nil, "config file %s: unknown keys %s (allowed: %s)", file, strings.Join(unknown, ", "), allowed)
}

// bindKey checks what each source gives key, hands the sources to v and
// returns key's Setting but for its value. Viper does not check values or
// say which source won, hence both here.
func bindKey(v *viper.Viper, fs *pflag.FlagSet, key, file string, inFile bool) (Setting, error) {
	s := Setting{Key: key, Source: SourceDefault, Origin: originDefault}
	if inFile {
		// Before SetDefault, after which a YAML null reads as the default.
		if err := checkFile(file, key, v.Get(key)); err != nil {
			return s, err
		}
		s.Source, s.Origin = SourceFile, file
	}
	def := specs[key].def
	if key == KeyRoot {
		user, _ := os.LookupEnv("USER")
		def = DefaultRoot(os.Geteuid(), userns.RunningInUserNS(), os.Getenv("XDG_RUNTIME_DIR"), user)
	}
	v.SetDefault(key, def)
	env := specs[key].env
	_ = v.BindEnv(key, env) // fails only without a key
	// An empty variable counts as unset, as it does in viper.
	if val := os.Getenv(env); val != "" {
		if err := checkEnv(key, val); err != nil {
			return s, err
		}
		s.Source, s.Origin = SourceEnv, env
	}
	flag, err := bindFlag(v, fs, key)
	if err != nil || flag == "" {
		return s, err
	}
	s.Source, s.Origin = SourceFlag, "--"+flag
	return s, nil
}

// bindFlag binds key's flag to v and checks it; it returns the flag's name
// if it was given.
func bindFlag(v *viper.Viper, fs *pflag.FlagSet, key string) (string, error) {
	f := fs.Lookup(specs[key].flag)
	if f == nil {
		return "", nil
	}
	val := f.Value.String()
	if key == KeyCgroupDriver {
		// --systemd-cgroup is a bool standing for one of the key's strings,
		// which BindPFlag cannot map; Set outranks all, as a given flag does.
		if val = "cgroupfs"; f.Value.String() == "true" {
			val = "systemd"
		}
		if f.Changed {
			v.Set(key, val)
		}
	} else {
		_ = v.BindPFlag(key, f) // fails only for a nil flag
	}
	if !f.Changed {
		return "", nil
	}
	// pflag has checked a bool, which checkString lets pass.
	return f.Name, specs[key].checkString("flag --"+f.Name, val)
}

// assign stores key's effective value in its Config field and returns it
// in Setting.Value form.
func (c *Config) assign(v *viper.Viper, key string, opts Options) (string, error) {
	val, err := v.GetString(key), error(nil)
	switch key {
	case KeyDebug:
		c.Debug = v.GetBool(key)
		return strconv.FormatBool(c.Debug), nil
	case KeyCriuProgressTimeout:
		c.CriuProgressTimeout = v.GetDuration(key)
		return formatDuration(c.CriuProgressTimeout), nil
	case KeyMigrationToken:
		c.MigrationToken = val
		return redact(val), nil
	case KeyRoot:
		// rt may change directory before touching state, and two
		// invocations from different directories must agree on it.
		if c.Root, err = filepath.Abs(val); err != nil {
			return "", fmt.Errorf("make root %q absolute: %w", val, err)
		}
		return c.Root, nil
	case KeyInit:
		if c.Init = val; val == "" {
			c.Init, err = initBesideExecutable(opts.Executable)
		}
		return c.Init, err
	case KeyCriu:
		c.Criu = val
	case KeyCgroupDriver:
		c.CgroupDriver = val
	case KeyCgroupParent:
		c.CgroupParent = val
	case KeyLog:
		c.Log = val
	case KeyLogFormat:
		c.LogFormat = val
	}
	return val, nil
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

// DefaultRoot is the state root when no source sets one: /run/rt, or
// $XDG_RUNTIME_DIR/rt (a tmpfs of the user's own, which /run/rt is not)
// when the variable is set and rt is not root, or is root of a user
// namespace other than the "root" user's (podman's rootless namespace),
// as runc decides for $XDG_RUNTIME_DIR/runc.
func DefaultRoot(euid int, inUserNS bool, xdgRuntimeDir, user string) string {
	if xdgRuntimeDir != "" && (euid != 0 || inUserNS && user != "root") {
		return filepath.Join(xdgRuntimeDir, "rt")
	}
	return specs[KeyRoot].def.(string)
}
