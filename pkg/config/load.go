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

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/sibling"
)

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
