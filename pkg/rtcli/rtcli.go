// Package rtcli is pkg/cli with rt's host configuration (pkg/config: flags,
// RT_* variables, /etc/rt/config.yaml) and rt's version (pkg/version): what
// cmd/rt and cmd/rt-checkpoint build their programs with.
package rtcli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/rtkit/rt/pkg/cli"
	"github.com/rtkit/rt/pkg/config"
	"github.com/rtkit/rt/pkg/version"
)

// Program is p with rt's host configuration and version.
func Program(p cli.Program) cli.Program {
	p.Config = cli.HostConfig{Flags: config.RegisterFlags, Load: load}
	p.Version = version.Write
	return p
}

// load resolves rt's host configuration into the CLI's settings.
func load(fs *pflag.FlagSet) (*cli.Settings, error) {
	cfg, err := config.Load(fs, config.Options{})
	if err != nil {
		return nil, err
	}
	return &cli.Settings{
		GlobalConfig: cfg.GlobalConfig,
		Log:          cfg.Log,
		LogFormat:    cfg.LogFormat,
		Report: func(w io.Writer, format string) error {
			switch format {
			case "json":
				return cfg.WriteJSON(w)
			case "table":
				return cfg.WriteTable(w)
			}
			return fmt.Errorf("config format %q: not table or json", format)
		},
	}, nil
}
