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
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
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
