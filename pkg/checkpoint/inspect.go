package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	criucore "github.com/checkpoint-restore/go-criu/v7/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/inventory"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/mnt"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/pstree"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/stats"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/store"
	"github.com/rtkit/rt/pkg/version"
)

// recordFile is rt's record, beside the images, of the container a
// checkpoint was made from (api.CheckpointRecord): CRIU's images say nothing
// of container ids, bundles or rootfs paths.
const recordFile = "rt-checkpoint.json"

// statsDumpFile is CRIU's dump statistics image. CRIU writes it into its
// work directory, which is the image directory unless --work-path is given.
const statsDumpFile = "stats-dump"

var _ api.ImageInspector = (*Runtime)(nil)

// Inspect implements api.ImageInspector with InspectImage. It runs no CRIU
// and needs no container: any checkpoint directory can be inspected,
// runc's too (without rt's record).
//
// imagePath may also be a checkpoint archive (a file, as checkpoint
// --export writes): it is unpacked into a temporary directory for the
// inspection (InspectArchive).
func (r *Runtime) Inspect(_ context.Context, imagePath string) (*api.ImageInfo, error) {
	if fi, err := os.Stat(imagePath); err == nil && fi.Mode().IsRegular() {
		return InspectArchive(imagePath)
	}
	return InspectImage(imagePath)
}

// InspectImage reads the checkpoint image directory dir: the process tree
// (pstree.img and each process's core), the memory (pages-*.img sizes and
// the pagemaps), the mount points of the container's mount namespace, rt's
// record and CRIU's dump statistics when present.
//
// A directory without a CRIU inventory is not an image: the error wraps
// api.ErrNotImage and is one line. A damaged image (a missing core, a
// truncated file) is an error naming the file.
//
// Caveat: page counts assume the dump was made on a host with this host's
// page size.
func InspectImage(dir string) (*api.ImageInfo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image path %s: %w", dir, err)
	}
	inv, err := readInventory(abs)
	if err != nil {
		return nil, err
	}
	info := &api.ImageInfo{ImagePath: abs, CRIUImageVersion: inv.GetImgVersion()}
	if info.Container, err = readRecord(abs); err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	if info.Processes, err = readProcesses(abs); err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	if info.Memory, err = sumMemory(abs, uint64(os.Getpagesize())); err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	if info.Mounts, err = readMounts(abs); err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	if info.DumpStats, err = readDumpStats(abs); err != nil {
		return nil, fmt.Errorf("image path %s: %w", abs, err)
	}
	return info, nil
}

// readInventory decodes inventory.img, the file every CRIU dump starts
// with; its absence (or another file under its name) is what makes a
// directory "not an image".
func readInventory(dir string) (*inventory.InventoryEntry, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("image path %s: no such directory: %w", dir, api.ErrNotImage)
	case err != nil:
		return nil, fmt.Errorf("image path %s: %w", dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("image path %s: not a directory: %w", dir, api.ErrNotImage)
	}
	msgs, err := readImage(dir, "inventory.img", &inventory.InventoryEntry{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image path %s: no inventory.img: %w", dir, api.ErrNotImage)
	}
	if err != nil {
		return nil, fmt.Errorf("image path %s: %w: %w", dir, api.ErrNotImage, err)
	}
	inv, ok := first[*inventory.InventoryEntry](msgs)
	if !ok {
		return nil, fmt.Errorf("image path %s: inventory.img holds no inventory: %w", dir, api.ErrNotImage)
	}
	return inv, nil
}

// magicMatches reports whether an image's magic (crit's name, "PSTREE")
// fits the message type decoded from it (pstree_entry). The few whose names
// differ are listed.
func magicMatches(magic, message string) bool {
	switch message {
	case "core_entry":
		return magic == "CORE"
	case "mnt_entry":
		return magic == "MNTS"
	case "stats_entry":
		return magic == "STATS"
	case "pagemap_head":
		return magic == "PAGEMAP"
	}
	return magic == strings.ToUpper(strings.TrimSuffix(message, "_entry"))
}

// first returns the first message of msgs if it is a T.
func first[T proto.Message](msgs []proto.Message) (T, bool) {
	var zero T
	if len(msgs) == 0 {
		return zero, false
	}
	m, ok := msgs[0].(T)
	return m, ok
}

// readProcesses lists pstree.img's processes in its order (CRIU writes
// parents before children), each with the comm from its core image.
func readProcesses(dir string) ([]api.ImageProcess, error) {
	msgs, err := readImage(dir, "pstree.img", &pstree.PstreeEntry{})
	if err != nil {
		return nil, fmt.Errorf("process tree: %w", err)
	}
	procs := make([]api.ImageProcess, 0, len(msgs))
	for _, m := range msgs {
		e := m.(*pstree.PstreeEntry)
		name := "core-" + strconv.FormatUint(uint64(e.GetPid()), 10) + ".img"
		cores, err := readImage(dir, name, &criucore.CoreEntry{})
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", e.GetPid(), err)
		}
		core, ok := first[*criucore.CoreEntry](cores)
		if !ok {
			return nil, fmt.Errorf("process %d: %s is empty", e.GetPid(), name)
		}
		procs = append(procs, api.ImageProcess{
			Pid: int(e.GetPid()), PPid: int(e.GetPpid()),
			Command: core.GetTc().GetComm(), Threads: max(len(e.GetThreads()), 1),
		})
	}
	if len(procs) == 0 {
		return nil, errors.New("process tree: pstree.img lists no process")
	}
	return procs, nil
}

// readMounts lists the mount points of every dumped mount namespace
// (mountpoints-<id>.img; a container has one unless its processes made
// their own), sorted by mount point, so that parents come before children
// (CRIU writes them children first).
//
// Caveat: the inventory's root_ids name namespaces by another id than the
// image files do, so the container's own namespace cannot be told apart
// from nested ones; their mounts are listed together.
func readMounts(dir string) ([]api.ImageMount, error) {
	files, err := filepath.Glob(filepath.Join(dir, "mountpoints-*.img"))
	if err != nil {
		return nil, err
	}
	mounts := []api.ImageMount{}
	for _, f := range files {
		msgs, err := readImage(dir, filepath.Base(f), &mnt.MntEntry{})
		if err != nil {
			return nil, fmt.Errorf("mounts: %w", err)
		}
		for _, m := range msgs {
			mounts = append(mounts, imageMount(m.(*mnt.MntEntry)))
		}
	}
	slices.SortStableFunc(mounts, func(a, b api.ImageMount) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
	return mounts, nil
}

// imageMount is the api view of one CRIU mount entry.
func imageMount(e *mnt.MntEntry) api.ImageMount {
	fstype := e.GetFsname()
	if fstype == "" && e.GetFstype() != uint32(mnt.Fstype_UNSUPPORTED) {
		fstype = strings.ToLower(mnt.Fstype(e.GetFstype()).String())
	}
	return api.ImageMount{
		// CRIU 3.x recorded mount points relative to the dumped
		// root ("./proc"): show them as the container sees them.
		Mountpoint: containerPath(e.GetMountpoint()),
		FSType:     fstype,
		Source:     e.GetSource(),
		Root:       e.GetRoot(),
		// ext_key is set for mounts declared external (CRIU 3.15 and
		// later); older images only set ext_mount.
		External:    e.GetExtKey() != "" || e.GetExtMount(),
		ExternalKey: e.GetExtKey(),
	}
}

// containerPath turns CRIU's "./a/b" (or ".") into "/a/b" (or "/").
func containerPath(p string) string {
	p = strings.TrimPrefix(p, ".")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// readDumpStats decodes stats-dump; nil, nil when there is none (a failed or
// pre-dump directory, or a dump whose --work-path kept it elsewhere).
func readDumpStats(dir string) (*api.DumpStats, error) {
	msgs, err := readImage(dir, statsDumpFile, &stats.StatsEntry{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dump statistics: %w", err)
	}
	e, ok := first[*stats.StatsEntry](msgs)
	if !ok || e.GetDump() == nil {
		return nil, fmt.Errorf("dump statistics: %s holds no dump entry", statsDumpFile)
	}
	d := e.GetDump()
	return &api.DumpStats{
		FreezingTimeUs: d.GetFreezingTime(), FrozenTimeUs: d.GetFrozenTime(),
		MemdumpTimeUs: d.GetMemdumpTime(), MemwriteTimeUs: d.GetMemwriteTime(),
		PagesScanned: d.GetPagesScanned(), PagesSkippedParent: d.GetPagesSkippedParent(),
		PagesWritten: d.GetPagesWritten(), PagesLazy: d.GetPagesLazy(),
	}, nil
}

// readRecord reads rt's record; nil, nil when there is none (runc's image).
func readRecord(dir string) (*api.CheckpointRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec api.CheckpointRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", recordFile, err)
	}
	return &rec, nil
}

// writeRecord saves rt's record of the container st beside the images, at
// checkpoint time now.
func writeRecord(dir string, st *store.State, now time.Time) error {
	rec := api.CheckpointRecord{
		ID: st.ID, OCIVersion: st.OCIVersion, Bundle: st.Bundle, Rootfs: st.Rootfs,
		Created: now.UTC(), ContainerCreated: st.Created.UTC(), RTVersion: version.Version,
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, recordFile), append(data, '\n'), 0o600)
}

// keepDumpStats copies CRIU's stats-dump from the work directory into the
// image directory, so that inspect finds it with the images. Only a dump
// with a separate --work-path needs it.
func keepDumpStats(imageDir, workDir string) error {
	data, err := os.ReadFile(filepath.Join(workDir, statsDumpFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(imageDir, statsDumpFile), data, 0o600)
}
