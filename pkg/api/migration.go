package api

import (
	"context"
	"net"
	"time"
)

// Migrator moves running containers between hosts (rt-checkpoint's migrate
// and receive). The CLI discovers it by type assertion.
type Migrator interface {
	// Migrate moves container id to the receiving host opts.To. It
	// returns once the container runs there and is gone here; on failure
	// before the switch-over the container runs here as before.
	Migrate(ctx context.Context, id string, opts MigrateOpts) (*MigrationReport, error)
	// Receive waits for one migration to this host and restores the
	// container under its id.
	Receive(ctx context.Context, opts ReceiveOpts) (*MigrationReport, error)
}

// Migration modes.
const (
	MigrateStopCopy = "stop-copy"
	MigratePreCopy  = "pre-copy"
	MigratePostCopy = "post-copy"
)

// MigrateOpts are migrate's options.
type MigrateOpts struct {
	// To is the receiving side's host:port.
	To string
	// Mode is MigrateStopCopy (default), MigratePreCopy or MigratePostCopy.
	Mode string
	// Token is the shared secret both sides prove they know.
	Token []byte
	// WorkPath is where the images are made before they are sent (a
	// private temporary directory when empty; removed after).
	WorkPath string
	// Checkpoint carries the CRIU options that apply to the dump
	// (TCPEstablished, ExtUnixSk, ShellJob, FileLocks, ManageCgroupsMode);
	// the image, page-server and lazy-pages options are migration's own.
	Checkpoint CheckpointOpts
	// OnProgress, when set, is called at each phase's end.
	OnProgress func(MigrationProgress)
}

// ReceiveOpts are receive's options.
type ReceiveOpts struct {
	// Listen is the address:port to listen on.
	Listen string
	// BundleDir holds the bundle made for the container, BundleDir/<id>.
	BundleDir string
	// Token is the shared secret both sides prove they know.
	Token []byte
	// Listening, when set, is called with the address once it listens.
	Listening func(net.Addr)
	// OnProgress, when set, is called at each phase's end.
	OnProgress func(MigrationProgress)
}

// MigrationProgress is one phase done.
type MigrationProgress struct {
	Phase    string        `json:"phase"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"durationNs"`
}

// MigrationReport is what a migration did and how long the container was
// stopped. Times are in microseconds.
type MigrationReport struct {
	ID   string `json:"id"`
	Mode string `json:"mode"`
	Peer string `json:"peer"`
	// TotalUs is from the first connection to the end.
	TotalUs int64 `json:"totalUs"`
	// DowntimeUs is the wall time from the freeze on the source to the
	// container running on the target. FrozenUs is the part of it the
	// dump took: CRIU's own frozen time in stop-copy; in post-copy, from
	// the freeze to the lazy dump's images being ready (CRIU counts the
	// whole page serving as frozen time there).
	DowntimeUs int64 `json:"downtimeUs"`
	FrozenUs   int64 `json:"frozenUs"`
	// Phases are in order, with the bytes each sent.
	Phases []MigrationProgress `json:"phases"`
	// RootfsBytes, ImageBytes and MemoryBytes are what crossed for the
	// rootfs, the non-memory images and the memory pages; LazyBytes of
	// the memory went after the switch-over (post-copy).
	RootfsBytes int64 `json:"rootfsBytes"`
	ImageBytes  int64 `json:"imageBytes"`
	MemoryBytes int64 `json:"memoryBytes"`
	LazyBytes   int64 `json:"lazyBytes"`
	// Dump and Restore are CRIU's statistics, where it wrote them.
	Dump    *DumpStats    `json:"dumpStats,omitempty"`
	Restore *RestoreStats `json:"restoreStats,omitempty"`
}
