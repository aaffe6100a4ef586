// Package api is the platform-agnostic contract between rt's command line and
// a container runtime implementation.
//
// The CLI in pkg/cli is built only against the interfaces and types in this
// package, so another runtime can reuse the whole command line by implementing
// ContainerOperations (and, optionally, CheckpointOperations, SpecGenerator and
// FeatureReporter) and handing a Factory to the CLI.
//
// This package must never import a Linux-specific package: it describes what a
// runtime does, not how.
package api

import (
	"context"
	"io"
	"log/slog"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Status is the lifecycle state of a container as the OCI runtime spec names
// it, plus "paused" which runc and its clients also use.
type Status string

// The statuses a container can be in.
const (
	StatusCreating Status = "creating"
	StatusCreated  Status = "created"
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusStopped  Status = "stopped"
)

// GlobalConfig carries the host-wide settings every operation needs. The CLI
// fills it from pkg/config (flags, environment, config file, defaults).
type GlobalConfig struct {
	// Root is the directory holding one state directory per container.
	Root string
	// Criu is the path (or name on PATH) of the criu binary.
	Criu string
	// CriuProgressTimeout is how long a CRIU run may make no progress
	// (no new log line, no message) before rt kills it; 0 never.
	CriuProgressTimeout time.Duration
	// MigrationToken is the shared secret of live migration's control
	// connection; "" for none. Never to be logged or printed.
	MigrationToken string
	// CgroupDriver is "cgroupfs" or "systemd".
	CgroupDriver string
	// CgroupParent is the absolute cgroup path (e.g. "/rt-hostb") below
	// which the cgroupfs driver puts every new container's cgroups; "" for
	// none. Only for the cgroupfs driver.
	CgroupParent string
	// Init is the path of the rt-init binary; empty means next to the running
	// executable.
	Init string
	// Rootless is "true", "false" or "auto", as runc's --rootless.
	Rootless string
	// Debug asks for debug-level logs.
	Debug bool
	// Logger receives the runtime's diagnostics. Never nil when the CLI calls.
	Logger *slog.Logger
}

// Factory builds a runtime for one command invocation. The value it returns
// must implement ContainerOperations; it may also implement
// CheckpointOperations, SpecGenerator and FeatureReporter, which the CLI
// discovers with type assertions.
type Factory func(cfg GlobalConfig) (ContainerOperations, error)

// ContainerOperations is the lifecycle of OCI containers, one method per
// runc command. Errors returned should wrap the sentinel errors of this
// package where one applies, so that the CLI can classify them.
type ContainerOperations interface {
	// Create sets up a container from the bundle and leaves its process
	// waiting for Start.
	Create(ctx context.Context, id string, opts CreateOpts) error
	// Start lets a created container's process run the user's program.
	Start(ctx context.Context, id string) error
	// Run creates and starts a container. Unless opts.Detach is set it waits
	// for the process and returns its exit status in the result.
	Run(ctx context.Context, id string, opts CreateOpts) (*Result, error)
	// State reports one container.
	State(ctx context.Context, id string) (*Container, error)
	// List reports every container under the root, in no particular order.
	List(ctx context.Context) ([]Container, error)
	// Kill sends a signal to the container's init (or, with opts.All, to
	// every process in the container).
	Kill(ctx context.Context, id string, sig Signal, opts KillOpts) error
	// Delete removes a stopped container (any container with opts.Force).
	// Deleting an unknown id with opts.Force succeeds.
	Delete(ctx context.Context, id string, opts DeleteOpts) error
	// Pause freezes every process of the container.
	Pause(ctx context.Context, id string) error
	// Resume thaws a paused container.
	Resume(ctx context.Context, id string) error
	// PS returns the host pids of the container's processes.
	PS(ctx context.Context, id string) ([]int, error)
	// Exec runs an additional process in a running container.
	Exec(ctx context.Context, id string, opts ExecOpts) (*Result, error)
	// Update changes the resource limits of a container.
	Update(ctx context.Context, id string, opts UpdateOpts) error
	// Events streams events (stats, OOM) of a container to opts.Sink until
	// the container exits or ctx is cancelled.
	Events(ctx context.Context, id string, opts EventsOpts) error
}

// CheckpointOperations saves and restores running containers.
type CheckpointOperations interface {
	// Checkpoint dumps a running container into opts.ImagePath.
	Checkpoint(ctx context.Context, id string, opts CheckpointOpts) error
	// Restore recreates a container from a checkpoint image.
	Restore(ctx context.Context, id string, opts RestoreOpts) (*Result, error)
}

// SpecGenerator produces the default bundle configuration of a runtime, as
// `runc spec` does.
type SpecGenerator interface {
	DefaultSpec(rootless bool) (*specs.Spec, error)
}

// FeatureReporter describes what the runtime implements, as the OCI features
// document (`runc features`).
type FeatureReporter interface {
	Features() (*features.Features, error)
}

// Signal is a signal number. It is kept platform-agnostic on purpose: the CLI
// parses names through the runtime's signal table.
type Signal int

// Stdio are the streams a foreground process is attached to.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// CreateOpts are the options of create and run.
type CreateOpts struct {
	// Bundle is the bundle directory holding config.json; empty means the
	// current directory.
	Bundle string
	// Spec, when set, is used instead of reading Bundle/config.json.
	Spec *specs.Spec
	// PidFile receives the container's init pid (decimal, no newline).
	PidFile string
	// ConsoleSocket is the AF_UNIX socket that receives the pty master.
	ConsoleSocket string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root.
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool
	// PreserveFDs passes this many fds after stdio (3…3+N-1) to the process.
	PreserveFDs int
	// Detach (run only) returns once the process runs.
	Detach bool
	// Keep (run only) does not delete the container after it exits.
	Keep bool
	// NoSubreaper (run only) does not make the caller a child subreaper.
	NoSubreaper bool
	Stdio
}

// ExecOpts are the options of exec. Either Process is a complete process
// (from --process), or the runtime starts from the container's own process
// and applies the override fields that are set.
type ExecOpts struct {
	// Process is the complete process to run, or nil.
	Process *specs.Process
	// Args is the command line (required when Process is nil).
	Args []string
	// Env entries are added to (or replace, by name) the container's env.
	Env []string
	// Cwd replaces the working directory.
	Cwd string
	// User is "uid[:gid]", replacing the container's user.
	User string
	// AdditionalGids are added supplementary groups.
	AdditionalGids []uint32
	// Caps are capabilities added to every set.
	Caps []string
	// NoNewPrivs sets no_new_privs even if the container's process does not.
	NoNewPrivs bool
	// AppArmor and ProcessLabel replace the container's LSM labels.
	AppArmor     string
	ProcessLabel string
	// Tty allocates a terminal.
	Tty bool
	// PidFile receives the new process's pid (decimal, no newline).
	PidFile string
	// ConsoleSocket is the AF_UNIX socket that receives the pty master.
	ConsoleSocket string
	// Detach returns once the process runs.
	Detach bool
	// PreserveFDs passes this many fds after stdio to the process.
	PreserveFDs int
	// Cgroup is a sub-cgroup to join, as "path" or "controller:path".
	Cgroup []string
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
	Stdio
}

// KillOpts are the options of kill.
type KillOpts struct {
	// All signals every process in the container, not only its init.
	All bool
}

// DeleteOpts are the options of delete.
type DeleteOpts struct {
	// Force kills a running container before deleting it and makes the
	// deletion of an unknown container a success.
	Force bool
}

// UpdateOpts are the options of update.
type UpdateOpts struct {
	// Resources are the new limits; nil fields are left unchanged.
	Resources *specs.LinuxResources
}

// EventsOpts are the options of events.
type EventsOpts struct {
	// Stats asks for one stats snapshot and no stream.
	Stats bool
	// Interval is the period of stats events in streaming mode.
	Interval time.Duration
	// Sink receives each event.
	Sink func(Event) error
}

// Event is one record of `events`, in runc's {type, id, data} shape.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Result is the outcome of a foreground process.
type Result struct {
	// Status is the exit status, or 128+N when signal N killed the process.
	Status int
}

// Container is one container's state, with the fields and JSON names of
// runc's `state` output.
type Container struct {
	// Version is the OCI runtime-spec version of the bundle.
	Version string `json:"ociVersion"`
	// ID is the container id.
	ID string `json:"id"`
	// InitProcessPid is the pid of the container's init in the caller's pid
	// namespace; 0 once it has stopped.
	InitProcessPid int `json:"pid"`
	// Status is the lifecycle state.
	Status Status `json:"status"`
	// Bundle is the absolute path of the bundle.
	Bundle string `json:"bundle"`
	// Rootfs is the absolute path of the root filesystem.
	Rootfs string `json:"rootfs"`
	// Created is when the container was created, in UTC.
	Created time.Time `json:"created"`
	// Annotations are the bundle's annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Owner is the user owning the state directory.
	Owner string `json:"owner"`
}
