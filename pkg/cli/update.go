package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewUpdateCommand is `update`.
func NewUpdateCommand(e *Env) *cobra.Command {
	var resources string
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "update the resource limits of a container",
		Long: `Update changes a container's resource limits. --resources reads a
runtime-spec LinuxResources JSON from a file or, with "-", from stdin; the
individual flags override what it sets.`,
		Args: exactArgs("container-id"),
	}
	f := cmd.Flags()
	f.StringVarP(&resources, "resources", "r", "", `path to a LinuxResources JSON file, or "-" for stdin`)
	f.String("memory", "", "memory limit (in bytes, or with a k/m/g suffix; -1 for unlimited)")
	f.String("memory-reservation", "", "memory soft limit (in bytes, or with a k/m/g suffix)")
	f.String("memory-swap", "", "total memory plus swap limit (in bytes, or with a k/m/g suffix; -1 for unlimited)")
	f.Uint64("cpu-share", 0, "CPU shares (relative weight vs. other containers)")
	f.Uint64("cpu-shares", 0, "alias of --cpu-share")
	f.Int64("cpu-quota", 0, "CPU CFS hard limit in usec per period (-1 for unlimited)")
	f.Uint64("cpu-period", 0, "CPU CFS period in usec")
	f.Uint64("cpu-burst", 0, "CPU CFS burst in usec")
	f.Int64("cpu-rt-runtime", 0, "CPU realtime runtime in usec")
	f.Uint64("cpu-rt-period", 0, "CPU realtime period in usec")
	f.String("cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.String("cpuset-mems", "", "memory nodes in which to allow execution (0-3, 0,1)")
	f.Int64("pids-limit", 0, "maximum number of pids allowed in the container (-1 for unlimited)")
	f.Uint16("blkio-weight", 0, "block IO weight (10 to 1000)")
	// runc 1.1 still takes these (hidden) and ignores them with a warning,
	// as the runtime spec deprecates kernel memory limits; so does rt, for
	// callers that pass them. They set memory.kernel and memory.kernelTCP,
	// which the runtime warns about and drops.
	f.String("kernel-memory", "", "deprecated and ignored: kernel memory limit")
	f.String("kernel-memory-tcp", "", "deprecated and ignored: kernel TCP buffer memory limit")
	f.MarkHidden("kernel-memory")
	f.MarkHidden("kernel-memory-tcp")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := containerID(cmd, args[0])
		if err != nil {
			return err
		}
		r := &specs.LinuxResources{}
		if resources != "" {
			if r, err = readResources(resources, e.Stdin); err != nil {
				return err
			}
		}
		if err := applyUpdateFlags(cmd, r); err != nil {
			return err
		}
		ops, err := e.Runtime()
		if err != nil {
			return err
		}
		return ops.Update(cmd.Context(), id, api.UpdateOpts{Resources: r})
	}
	return cmd
}

func readResources(path string, stdin io.Reader) (*specs.LinuxResources, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	var r specs.LinuxResources
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("--resources %s: not a LinuxResources JSON: %w", path, err)
	}
	return &r, nil
}

// applyUpdateFlags sets the fields of r for the flags given on the command
// line; flags not given leave r as it is.
func applyUpdateFlags(cmd *cobra.Command, r *specs.LinuxResources) error {
	f := cmd.Flags()
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, name := range []string{"memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp"} {
		if !f.Changed(name) {
			continue
		}
		s, _ := f.GetString(name)
		v, err := parseBytes(s)
		if err != nil {
			return usageError(cmd, "--%s %q: %v", name, s, err)
		}
		switch name {
		case "memory":
			mem().Limit = &v
		case "memory-reservation":
			mem().Reservation = &v
		case "memory-swap":
			mem().Swap = &v
		case "kernel-memory":
			mem().Kernel = &v
		case "kernel-memory-tcp":
			mem().KernelTCP = &v
		}
	}
	u64 := func(name string, dst func() **uint64) {
		if f.Changed(name) {
			v, _ := f.GetUint64(name)
			*dst() = &v
		}
	}
	i64 := func(name string, dst func() **int64) {
		if f.Changed(name) {
			v, _ := f.GetInt64(name)
			*dst() = &v
		}
	}
	u64("cpu-share", func() **uint64 { return &cpu().Shares })
	u64("cpu-shares", func() **uint64 { return &cpu().Shares })
	i64("cpu-quota", func() **int64 { return &cpu().Quota })
	u64("cpu-period", func() **uint64 { return &cpu().Period })
	u64("cpu-burst", func() **uint64 { return &cpu().Burst })
	i64("cpu-rt-runtime", func() **int64 { return &cpu().RealtimeRuntime })
	u64("cpu-rt-period", func() **uint64 { return &cpu().RealtimePeriod })
	if f.Changed("cpuset-cpus") {
		cpu().Cpus, _ = f.GetString("cpuset-cpus")
	}
	if f.Changed("cpuset-mems") {
		cpu().Mems, _ = f.GetString("cpuset-mems")
	}
	if f.Changed("pids-limit") {
		v, _ := f.GetInt64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if f.Changed("blkio-weight") {
		v, _ := f.GetUint16("blkio-weight")
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &v
	}
	return nil
}

// parseBytes reads "1024", "512k", "64m", "2g" (binary units) or "-1".
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	t := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		case 't':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a size (bytes, or a number with k, m, g or t; -1 for unlimited)")
	}
	if v > (1<<63-1)/mult {
		return 0, fmt.Errorf("size out of range")
	}
	return v * mult, nil
}
