package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error Load returns for content rt will not
// accept: an unparsable config file, an unknown key, a bad value from any
// source. I/O failures, such as a named file that does not exist, wrap
// their *fs.PathError instead.
var ErrInvalid = errors.New("invalid configuration")

// invalidError reads as one precise sentence yet matches ErrInvalid, and
// the parser's error when there is one, under errors.Is and errors.As.
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

func (s keySpec) allowedText() string {
	if s.choices != nil {
		return strings.Join(s.choices, ", ")
	}
	return s.allowed
}

// checkString rejects a string value that no source may give the key;
// where names the source for the message.
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

// checkEnv checks a non-empty environment value. Viper would read "120" as
// 120ns and "maybe" as false without a word.
func checkEnv(key, val string) error {
	spec, where := specs[key], "environment "+specs[key].env
	switch {
	case key == KeyDebug:
		if _, err := strconv.ParseBool(val); err != nil {
			return invalidf(nil, "%s: value %q is not a boolean (allowed: true, false, 1, 0)", where, val)
		}
		return nil
	case spec.duration:
		return checkDuration(spec, where, val)
	}
	return spec.checkString(where, val)
}

// checkFile checks a value as YAML decoded it. Types are strict, where
// viper would convert: a string key wants a YAML string and debug a YAML
// boolean, because "yes" or 1 mean different things to different YAML
// readers; a duration wants a string with its unit, or 0.
func checkFile(file, key string, val any) error {
	spec := specs[key]
	where := fmt.Sprintf("config file %s: key %q", file, key)
	if key == KeyDebug {
		if _, ok := val.(bool); !ok {
			return invalidf(nil, "%s: value %s is not a boolean (allowed: true, false)", where, yamlValue(val))
		}
		return nil
	}
	switch s := val.(type) {
	case nil:
		if !spec.duration {
			return spec.checkString(where, "")
		}
	case string:
		if spec.duration {
			return checkDuration(spec, where, s)
		}
		return spec.checkString(where, s)
	case int:
		if spec.duration && s == 0 {
			return nil
		}
		if spec.duration {
			return invalidf(nil, "%s: value %d has no unit (allowed: %s)", where, s, spec.allowed)
		}
	}
	shown := yamlValue(val)
	if spec.secret {
		shown = "(not shown)"
	}
	return invalidf(nil, "%s: value %s is not a string (allowed: %s)", where, shown, spec.allowedText())
}

// checkDuration accepts a Go duration that is not negative.
func checkDuration(spec keySpec, where, s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return invalidf(nil, "%s: value %q is not a duration (allowed: %s)", where, s, spec.allowed)
	}
	if d < 0 {
		return invalidf(nil, "%s: value %q not allowed (allowed: %s)", where, s, spec.allowed)
	}
	return nil
}

// yamlValue renders a decoded YAML value for an error message, close to
// how the user wrote it.
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
