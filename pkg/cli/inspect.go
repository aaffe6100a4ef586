package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rtkit/rt/pkg/api"
)

// NewInspectCommand is rt-checkpoint's `inspect`: what a checkpoint image
// directory holds, read without CRIU, so that a user can decide whether to
// restore it. rt has no such command (it would have to link the image
// decoders; docs/checkpoint.md).
func NewInspectCommand(e *Env) *cobra.Command {
	var imagePath, format string
	cmd := &cobra.Command{
		Use:   "inspect [flags]",
		Short: "describe a checkpoint image directory or archive",
		Long: "Inspect reads a checkpoint image directory (or a checkpoint archive, as checkpoint --export writes) " +
			"without running CRIU and reports the container it was " +
			"made from, its process tree, memory, mounts and CRIU's dump statistics. --format json prints the " +
			"fields documented in docs/checkpoint.md.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError(cmd, "--format %q: must be text or json", format)
			}
			if imagePath == "" {
				return usageError(cmd, "--image-path is required")
			}
			in, err := runtimeAs[api.ImageInspector](e, "inspect")
			if err != nil {
				return err
			}
			info, err := in.Inspect(cmd.Context(), imagePath)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(e.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return writeImageText(e.Stdout, info)
		},
	}
	cmd.Flags().StringVar(&imagePath, "image-path", "", "checkpoint image directory, or checkpoint archive file, to inspect")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output format: text or json")
	return cmd
}

// writeImageText prints info for people: a header of key: value lines, then
// the process tree, mounts and statistics as aligned tables.
func writeImageText(w io.Writer, info *api.ImageInfo) error {
	tw := tabwriter.NewWriter(w, 0, 1, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	p("Image:\t%s\n", info.ImagePath)
	p("CRIU image version:\t%d\n", info.CRIUImageVersion)
	if c := info.Container; c != nil {
		p("Container:\t%s\n", c.ID)
		p("OCI version:\t%s\n", c.OCIVersion)
		p("Bundle:\t%s\n", c.Bundle)
		p("Rootfs:\t%s\n", c.Rootfs)
		p("Checkpointed:\t%s\n", c.Created.UTC().Format(time.RFC3339))
		p("Container created:\t%s\n", c.ContainerCreated.UTC().Format(time.RFC3339))
		p("rt version:\t%s\n", c.RTVersion)
	} else {
		p("Container:\tunknown (no rt-checkpoint.json: not made by rt-checkpoint)\n")
	}
	m := info.Memory
	p("Memory:\t%d pages (%s) in the image, %d mapped\n", m.Pages, humanBytes(m.Bytes), m.MappedPages)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(tw, "\nProcesses (%d):\n", len(info.Processes))
	p("  PID\tPPID\tTHREADS\tCOMMAND\n")
	depth := processDepths(info.Processes)
	for _, pr := range info.Processes {
		p("  %d\t%d\t%d\t%s%s\n", pr.Pid, pr.PPid, pr.Threads, strings.Repeat("  ", depth[pr.Pid]), pr.Command)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	external := 0
	for _, mt := range info.Mounts {
		if mt.External {
			external++
		}
	}
	fmt.Fprintf(tw, "\nMounts (%d, %d external):\n", len(info.Mounts), external)
	p("  MOUNTPOINT\tTYPE\tSOURCE\tROOT\tEXTERNAL\n")
	for _, mt := range info.Mounts {
		fstype := mt.FSType
		if fstype == "" {
			fstype = "-"
		}
		ext := "-"
		if mt.External {
			ext = "yes"
			if mt.ExternalKey != "" && mt.ExternalKey != mt.Mountpoint {
				ext = "yes (" + mt.ExternalKey + ")"
			}
		}
		p("  %s\t%s\t%s\t%s\t%s\n", mt.Mountpoint, fstype, mt.Source, mt.Root, ext)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	s := info.DumpStats
	if s == nil {
		fmt.Fprint(tw, "\nDump statistics: none (no stats-dump in the image directory)\n")
		return tw.Flush()
	}
	fmt.Fprint(tw, "\nDump statistics:\n")
	writeDumpStats(tw, "  ", s)
	return tw.Flush()
}

// writeDumpStats writes CRIU's dump statistics as "name:\tvalue" lines
// (for a tabwriter), each prefixed with indent: inspect's section, and
// checkpoint --print-stats.
func writeDumpStats(w io.Writer, indent string, s *api.DumpStats) {
	p := func(format string, a ...any) { fmt.Fprintf(w, indent+format, a...) }
	p("freezing time:\t%s\n", usec(s.FreezingTimeUs))
	p("frozen time:\t%s\n", usec(s.FrozenTimeUs))
	p("memdump time:\t%s\n", usec(s.MemdumpTimeUs))
	p("memwrite time:\t%s\n", usec(s.MemwriteTimeUs))
	p("pages scanned:\t%d\n", s.PagesScanned)
	p("pages skipped (parent):\t%d\n", s.PagesSkippedParent)
	p("pages written:\t%d\n", s.PagesWritten)
	p("pages lazy:\t%d\n", s.PagesLazy)
}

// writeRestoreStats is writeDumpStats for CRIU's restore statistics
// (restore --print-stats).
func writeRestoreStats(w io.Writer, indent string, s *api.RestoreStats) {
	p := func(format string, a ...any) { fmt.Fprintf(w, indent+format, a...) }
	p("forking time:\t%s\n", usec(s.ForkingTimeUs))
	p("restore time:\t%s\n", usec(s.RestoreTimeUs))
	p("pages compared:\t%d\n", s.PagesCompared)
	p("pages skipped (cow):\t%d\n", s.PagesSkippedCow)
	p("pages restored:\t%d\n", s.PagesRestored)
}

// processDepths is each process's depth in the tree (the root, and any
// process whose parent is not in the image, 0), to indent the commands.
func processDepths(procs []api.ImageProcess) map[int]int {
	parent := make(map[int]int, len(procs))
	for _, p := range procs {
		parent[p.Pid] = p.PPid
	}
	depth := make(map[int]int, len(procs))
	for _, p := range procs {
		d := 0
		// Bounded by the number of processes: a (corrupt) cycle
		// must not loop forever.
		for pp := p.PPid; d < len(procs); d++ {
			next, in := parent[pp]
			if pp == 0 || !in {
				break
			}
			pp = next
		}
		depth[p.Pid] = d
	}
	return depth
}

// usec shows a CRIU time (microseconds) in milliseconds.
func usec(us uint32) string {
	return fmt.Sprintf("%.3f ms", float64(us)/1000)
}

// humanBytes is n in B, KiB, MiB or GiB, one decimal.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMG"[i])
}
