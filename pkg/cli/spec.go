package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewSpecCommand is `spec`.
func NewSpecCommand(e *Env) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec [flags]",
		Short: "create a new specification file",
		Long: `Spec writes a default config.json into the bundle directory (default: the
current directory) for a root filesystem in its "rootfs" directory. It never
overwrites an existing config.json.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gen, err := runtimeAs[api.SpecGenerator](e, "spec")
			if err != nil {
				return err
			}
			s, err := gen.DefaultSpec(rootless)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			path := filepath.Join(bundle, "config.json")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("spec: %s already exists; remove it first", path)
				}
				return fmt.Errorf("spec: %w", err)
			}
			if _, err := f.Write(append(data, '\n')); err != nil {
				f.Close()
				os.Remove(path)
				return fmt.Errorf("spec: write %s: %w", path, err)
			}
			return f.Close()
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", "", "path to the root of the bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "generate a configuration for a rootless container")
	return cmd
}

// NewFeaturesCommand is `features`.
func NewFeaturesCommand(e *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "show the enabled features",
		Long:  "Features prints the OCI features document (what this build of the runtime implements) as JSON.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fr, err := runtimeAs[api.FeatureReporter](e, "features")
			if err != nil {
				return err
			}
			feat, err := fr.Features()
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(feat, "", "    ")
			if err != nil {
				return err
			}
			_, err = e.Stdout.Write(append(data, '\n'))
			return err
		},
	}
}

// NewConfigCommand is `config`: every host setting with its value and source.
func NewConfigCommand(e *Env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "config [flags]",
		Short: "show the effective host configuration and where each value comes from",
		Long: `Config prints every host setting (root, criu, criu-progress-timeout,
migration-token, cgroup-driver, cgroup-parent, init, log, log-format, debug)
with its effective value and its source: flag, env (RT_*), file (--config,
RT_CONFIG or /etc/rt/config.yaml) or default. A set migration-token is shown
as "<set>", never its value.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageError(cmd, "--format %q: must be table or json", format)
			}
			cfg, err := e.Config()
			if err != nil {
				return err
			}
			if cfg.Report == nil {
				return fmt.Errorf("config: %w", api.ErrNotImplemented)
			}
			return cfg.Report(e.Stdout, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}
