package checkpoint

import (
	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/migration"
)

// The messages of a migration, in order (docs/migration.md):
//
//	source                                target
//	hello (token proof, versions)  ──▶
//	                               ◀──    hello
//	offer (id, mode, spec)         ──▶
//	                               ◀──    accepted (its rootfs manifest, the source's CRIU TLS half)
//	rootfs (removals) + stream     ──▶    (while the container runs, then again frozen: final)
//	                               ◀──    rootfs-applied
//	dump (mode, lazy page server)  ──▶
//	                               ◀──    page-server (stop-copy: the port CRIU dumps to)
//	images + stream                ──▶
//	                               ◀──    running (the switch-over)
//	done                           ──▶
const (
	opOffer         = "offer"
	opAccepted      = "accepted"
	opRootfs        = "rootfs"
	opRootfsApplied = "rootfs-applied"
	opDump          = "dump"
	opPageServer    = "page-server"
	opImages        = "images"
	opRunning       = "running"
	opDone          = "done"
)

type offerMsg struct {
	ID   string `json:"id"`
	Mode string `json:"mode"`
	// Spec is the container's config as the source recorded it.
	Spec []byte `json:"spec"`
}

type acceptedMsg struct {
	Manifest *migration.Manifest `json:"manifest"`
	// TLS is the source's half of CRIU's page-server credentials.
	TLS *migration.Certs `json:"tls"`
}

type rootfsMsg struct {
	Remove []string `json:"remove"`
	Final  bool     `json:"final"`
}

type dumpMsg struct {
	Mode string `json:"mode"`
	// The CRIU options the restore must repeat.
	TCPEstablished    bool   `json:"tcpEstablished,omitempty"`
	ExtUnixSk         bool   `json:"extUnixSk,omitempty"`
	ShellJob          bool   `json:"shellJob,omitempty"`
	FileLocks         bool   `json:"fileLocks,omitempty"`
	ManageCgroupsMode string `json:"manageCgroupsMode,omitempty"`
	// Port is the source's lazy page server (post-copy), on the source's
	// end of the control connection.
	Port int `json:"port,omitempty"`
}

type pageServerMsg struct {
	Port int `json:"port"`
}

type runningMsg struct {
	Pid     int               `json:"pid"`
	Restore *api.RestoreStats `json:"restoreStats,omitempty"`
}
