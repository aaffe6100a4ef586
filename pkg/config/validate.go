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
