package api

// The checkpoint side of the contract: the options of checkpoint and
// restore, and what inspect reads from an image.

import (
	"context"
	"errors"
	"time"
)

// PageServer is the address of a CRIU page server.
type PageServer struct {
	Address string
	Port    int32
	// TLS, when set, encrypts the page transfer, to the page server or,
	// with LazyPages, to the lazy-pages daemon that fetches the pages;
	// the other end must use TLS with the same CA.
	TLS *PageServerTLS
}

// CheckpointOpts carries every option of runc's checkpoint command.
type CheckpointOpts struct {
	// ImagePath is the directory receiving the CRIU images.
	ImagePath string
	// WorkPath is the directory for CRIU's logs and work files.
	WorkPath string
	// ParentPath is the image of a previous (pre-)dump, relative to ImagePath
	// or absolute.
	ParentPath string
	// LeaveRunning keeps the container running after the dump.
	LeaveRunning bool
	// TCPEstablished checkpoints established TCP connections.
	TCPEstablished bool
	// ExtUnixSk allows external unix sockets.
	ExtUnixSk bool
	// ShellJob allows processes attached to a terminal session.
	ShellJob bool
	// FileLocks checkpoints file locks.
	FileLocks bool
	// PreDump dumps memory only and leaves the container running.
	PreDump bool
	// PageServer, when its Address is set, sends pages to a page server.
	PageServer PageServer
	// ManageCgroupsMode is "soft", "full", "strict", "ignore" or "" (default).
	ManageCgroupsMode string
	// EmptyNs are the namespace types created empty on restore.
	EmptyNs []string
	// AutoDedup deduplicates memory images against the parent.
	AutoDedup bool
	// LazyPages dumps for a lazy-pages restore (userfaultfd).
	LazyPages bool
	// StatusFd is an fd on which CRIU writes \0 when the lazy-pages server
	// is ready; -1 when unset.
	StatusFd int
	// OnDumpStats, when set, is called with CRIU's statistics of a
	// successful dump (or pre-dump), before Checkpoint returns. Checkpoint
	// only: Restore ignores it (RestoreOpts.OnRestoreStats is restore's).
	OnDumpStats func(*DumpStats)
	// Export (checkpoint only) is a checkpoint archive to write once the
	// dump succeeded: one tar file, in the layout of podman's and
	// Kubernetes' archives (config.dump, spec.dump, checkpoint/,
	// rootfs-diff.tar, stats-dump), plain, gzip or zstd by its suffix
	// (.tar, .tar.gz, .tar.zst). ImagePath may then be empty: the images
	// go to a private temporary directory, removed after.
	Export string
}

// RestoreOpts are the options of restore: those of create plus the
// checkpoint options that apply, plus restore's own.
type RestoreOpts struct {
	CreateOpts
	CheckpointOpts
	// NoSubreaper does not make the caller a child subreaper.
	NoSubreaper bool
	// LSMProfile and LSMMountContext override the labels in the image.
	LSMProfile      string
	LSMMountContext string
	// OnRestoreStats, when set, is called with CRIU's statistics of a
	// successful restore as soon as CRIU has finished: for a foreground
	// restore, before the container is waited for.
	OnRestoreStats func(*RestoreStats)
	// Import is a checkpoint archive (as Export writes) to restore from
	// instead of ImagePath, which is then empty: it is unpacked into a
	// private temporary directory, its rootfs-diff.tar applied onto the
	// bundle's rootfs, and the directory removed after.
	Import string
}

// ImageInspector reads a checkpoint image directory without restoring it,
// so that a user (or a script) can see what a restore would bring back
// before running one. It is optional: the CLI discovers it by type
// assertion, as it does CheckpointOperations.
type ImageInspector interface {
	// Inspect describes the checkpoint in imagePath. An error wrapping
	// ErrNotImage means the directory holds no checkpoint at all.
	Inspect(ctx context.Context, imagePath string) (*ImageInfo, error)
}

// ErrNotImage is wrapped by ImageInspector.Inspect when the path is not a
// checkpoint image directory (missing, not a directory, or without a CRIU
// inventory).
var ErrNotImage = errors.New("not a checkpoint image")

// ImageInfo is what `rt-checkpoint inspect --format json` prints. Its JSON
// field names are a stable interface for scripts (docs/checkpoint.md):
// fields may be added, never renamed or removed.
type ImageInfo struct {
	// ImagePath is the absolute path of the image directory.
	ImagePath string `json:"imagePath"`
	// CRIUImageVersion is the inventory's image format version.
	CRIUImageVersion uint32 `json:"criuImageVersion"`
	// Container is rt's record of the checkpointed container; nil for an
	// image rt did not make (runc's, or one made before rt recorded it).
	Container *CheckpointRecord `json:"container,omitempty"`
	// Processes is the dumped process tree, parents before children.
	Processes []ImageProcess `json:"processes"`
	// Memory sums the dumped memory.
	Memory ImageMemory `json:"memory"`
	// Mounts are the dumped mount points, sorted by path.
	Mounts []ImageMount `json:"mounts"`
	// DumpStats are CRIU's statistics of the dump; nil when the directory
	// has no stats-dump (CRIU writes it only after a successful dump).
	DumpStats *DumpStats `json:"dumpStats,omitempty"`
}

// CheckpointRecord is rt's record of the container a checkpoint was made
// from (rt-checkpoint.json beside the images). CRIU's images hold no
// container id, bundle or rootfs: without this record a restore has to be
// told them from elsewhere.
type CheckpointRecord struct {
	// ID is the checkpointed container's id.
	ID string `json:"id"`
	// OCIVersion is the runtime-spec version of its bundle.
	OCIVersion string `json:"ociVersion"`
	// Bundle and Rootfs are the absolute paths the container was created
	// with; a restore needs a bundle with the same rootfs content.
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	// Created is when the checkpoint was made (just before CRIU's dump).
	Created time.Time `json:"created"`
	// ContainerCreated is when the container itself was created.
	ContainerCreated time.Time `json:"containerCreated"`
	// RTVersion is the version of the rt-checkpoint that made the dump.
	RTVersion string `json:"rtVersion"`
}

// ImageProcess is one process of a checkpoint's process tree.
type ImageProcess struct {
	// Pid and PPid are as the container saw them (its pid namespace); the
	// tree's root has PPid 0.
	Pid  int `json:"pid"`
	PPid int `json:"ppid"`
	// Command is the process's comm (the kernel's name of it, at most 15
	// bytes), not its full command line, which CRIU keeps only in memory
	// pages.
	Command string `json:"command"`
	// Threads is the number of the process's threads.
	Threads int `json:"threads"`
}

// ImageMemory sums a checkpoint's memory.
type ImageMemory struct {
	// Pages is the number of pages stored in this directory (the pages-*.img
	// files); Bytes is their size.
	Pages uint64 `json:"pages"`
	Bytes uint64 `json:"bytes"`
	// MappedPages is the number of pages the pagemaps list: more than Pages
	// when some are in a parent image (--parent-path), on a page server, or
	// left for lazy restore.
	MappedPages uint64 `json:"mappedPages"`
}

// ImageMount is one mount point of a checkpoint.
type ImageMount struct {
	// Mountpoint is the path inside the container.
	Mountpoint string `json:"mountpoint"`
	// FSType is the filesystem type as CRIU names it ("proc", "tmpfs",
	// "cgroup2", …); empty for a type CRIU cannot dump by itself (the
	// rootfs, bind mounts of the host's disks), which it takes as the root
	// or as an external mount.
	FSType string `json:"fstype,omitempty"`
	// Source is the mount's source as the kernel reported it (a device,
	// "proc", "tmpfs"…).
	Source string `json:"source"`
	// Root is the directory of the source filesystem mounted there: for a
	// bind mount, the bound path (on the host, for an external one).
	Root string `json:"root"`
	// External is set for a mount declared external at checkpoint time (a
	// bind mount, device or masked file): restore must be given its source.
	External bool `json:"external"`
	// ExternalKey is the name the external mount was recorded under, which
	// restore maps to a source: rt uses the mount point, and /dev/null for
	// the masked files it binds /dev/null on. Empty when not external.
	ExternalKey string `json:"externalKey,omitempty"`
}

// DumpStats are CRIU's statistics of a dump (its stats-dump file). Times
// are in microseconds, as CRIU records them.
type DumpStats struct {
	// FreezingTimeUs is the time taken to freeze the process tree.
	FreezingTimeUs uint32 `json:"freezingTimeUs"`
	// FrozenTimeUs is how long the processes stayed frozen.
	FrozenTimeUs uint32 `json:"frozenTimeUs"`
	// MemdumpTimeUs is the time taken to collect the memory pages;
	// MemwriteTimeUs the time taken to write them.
	MemdumpTimeUs  uint32 `json:"memdumpTimeUs"`
	MemwriteTimeUs uint32 `json:"memwriteTimeUs"`
	// PagesScanned were looked at; PagesSkippedParent were unchanged since
	// the parent image; PagesWritten were written; PagesLazy were left for a
	// lazy restore.
	PagesScanned       uint64 `json:"pagesScanned"`
	PagesSkippedParent uint64 `json:"pagesSkippedParent"`
	PagesWritten       uint64 `json:"pagesWritten"`
	PagesLazy          uint64 `json:"pagesLazy"`
}

// RestoreStats are CRIU's statistics of a restore (its stats-restore file).
// Times are in microseconds, as CRIU records them.
type RestoreStats struct {
	// ForkingTimeUs is the time taken to fork the process tree;
	// RestoreTimeUs the time taken by the whole restore of the tasks.
	ForkingTimeUs uint32 `json:"forkingTimeUs"`
	RestoreTimeUs uint32 `json:"restoreTimeUs"`
	// PagesCompared were compared with the parent process's, to keep
	// them shared copy-on-write; PagesSkippedCow were found identical and
	// left shared; PagesRestored were restored (read from the images).
	PagesCompared   uint64 `json:"pagesCompared"`
	PagesSkippedCow uint64 `json:"pagesSkippedCow"`
	PagesRestored   uint64 `json:"pagesRestored"`
}
