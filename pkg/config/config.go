// Package config owns rt's host defaults: the settings of every rt call on a
// machine (state root, criu, cgroups, rt-init, logging), as opposed to one
// container's config.json.
//
// Load resolves each setting with viper from, in falling precedence, a flag,
// an RT_* variable, a YAML config file and a built-in default. It validates
// every value any source gives and records which source won, so that rt can
// explain where a surprising value came from.
package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/rtkit/rt/pkg/api"
)

// Source is the kind of source a setting's effective value came from.
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
	// Value is the Config field as text: a duration in whole seconds
	// ("120s") where it can be, a set migration-token Redacted.
	Value  string `json:"value"`
	Source Source `json:"source"`
	// Origin is "--root", "RT_ROOT", the file's path, or "built-in".
	Origin string `json:"origin"`
}

// Config is rt's resolved host configuration.
type Config struct {
	// GlobalConfig is what operations get: Root (absolute), Criu (a path
	// or a name on PATH), CriuProgressTimeout, MigrationToken (Settings
	// shows it as Redacted), CgroupDriver, CgroupParent, Init (left empty:
	// rt-init beside the real rt) and Debug. Rootless and Logger are not
	// host settings: Load leaves them zero.
	api.GlobalConfig
	// Log is the file rt logs to; empty means stderr.
	Log string
	// LogFormat is "text" or "json".
	LogFormat string
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

// WriteTable writes c.Settings as aligned "KEY VALUE SOURCE ORIGIN" columns.
// An empty value shows as what it means, "(stderr)" or "(none)", since a
// blank cell would read as missing; WriteJSON keeps it empty.
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

// WriteJSON writes c.Settings as an indented JSON array, [] for none, with
// <, > and & in paths unescaped.
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
