// Package runtime is rt's Linux implementation of pkg/api: the container
// state machine over the state store, orchestrating the lower packages
// (spec, rootfs, cgroups, …) for each lifecycle command.
//
// It owns the lifecycle rules (which status allows which operation) and the
// cleanup guarantees: an operation that fails leaves nothing behind, and
// delete --force removes whatever an interrupted create left.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/spec"
	"github.com/rtkit/rt/pkg/store"
	"github.com/rtkit/rt/pkg/version"
)

// Runtime implements api.ContainerOperations, api.SpecGenerator and
// api.FeatureReporter on Linux.
type Runtime struct {
	cfg   api.GlobalConfig
	store *store.Store
	log   *slog.Logger
}

var (
	_ api.ContainerOperations = (*Runtime)(nil)
	_ api.SpecGenerator       = (*Runtime)(nil)
	_ api.FeatureReporter     = (*Runtime)(nil)
)

// New is the api.Factory of the Linux runtime.
func New(cfg api.GlobalConfig) (api.ContainerOperations, error) {
	if cfg.Root == "" {
		return nil, errors.New("runtime root is not set")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// opencontainers/cgroups logs through logrus, to stderr by default: a
	// create must write nothing to the fds the container inherits, so its
	// records go to rt's own log instead.
	logrus.SetOutput(logWriter{log})
	logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableQuote: true})
	st := store.New(cfg.Root)
	st.Waiting = func(id string, h store.Holder) {
		log.Warn(fmt.Sprintf("container %s is locked by %s: waiting for it", id, h))
	}
	return &Runtime{cfg: cfg, store: st, log: log}, nil
}

// logWriter turns logrus lines into warnings of rt's logger.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)), "from", "cgroups library")
	return len(p), nil
}

// DefaultSpec implements api.SpecGenerator.
func (r *Runtime) DefaultSpec(rootless bool) (*specs.Spec, error) {
	return spec.Default(rootless), nil
}

// Features implements api.FeatureReporter.
func (r *Runtime) Features() (*features.Features, error) {
	f := spec.Features()
	yes, no := true, false
	// The cgroupfs driver works on v1, hybrid and v2 hosts; the systemd one
	// where systemd is the host's init. There is no rootless (user
	// instance) systemd driver.
	// systemd is built in (the features spec: "supported", not "usable
	// on this host"; create says so where systemd is not init).
	f.Linux.Cgroup = &features.Cgroup{V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &no, Rdma: &yes}
	// Compiled in: labels are written where the host has the LSM, and
	// refused where it has not (process.CheckLSM).
	f.Linux.Apparmor = &features.Apparmor{Enabled: &yes}
	f.Linux.Selinux = &features.Selinux{Enabled: &yes}
	f.Annotations = map[string]string{
		"org.rtkit.rt.version":            version.Version,
		"org.rtkit.rt.commit":             version.CommitID(),
		"org.rtkit.rt.checkpoint.enabled": "true",
	}
	if version.Libseccomp != "" {
		f.Annotations["io.github.seccomp.libseccomp.version"] = version.Libseccomp
	}
	// rt gives no annotation a meaning that changes what runs.
	f.PotentiallyUnsafeConfigAnnotations = []string{}
	return f, nil
}

// Status derives a container's status from its recorded state and the live
// process: a recorded pid that is gone (or reused by another process) means
// the container has stopped, whatever the file says.
func (r *Runtime) Status(st *store.State) api.Status {
	if !st.Ready || !alive(st.InitPid, st.InitStartTime) {
		return api.StatusStopped
	}
	if frozen, err := fs.Load(st.CgroupPaths).Frozen(); err == nil && frozen {
		return api.StatusPaused
	}
	// The fifo's name says created, unless a start killed before it
	// removed the name let the init through (see releaseFifo).
	var fifo unix.Stat_t
	if err := unix.Stat(filepath.Join(r.store.Root(), st.ID, ExecFifo), &fifo); err == nil && holdsFifo(st.InitPid, &fifo) {
		return api.StatusCreated
	}
	return api.StatusRunning
}

// ExecFifo is the fifo, in the container's state directory, on which a
// created container's init waits until start opens it.
const ExecFifo = "exec.fifo"

func (r *Runtime) container(st *store.State) (*api.Container, error) {
	owner, err := r.store.Owner(st.ID)
	if err != nil {
		return nil, err
	}
	c := &api.Container{
		Version:     st.OCIVersion,
		ID:          st.ID,
		Status:      r.Status(st),
		Bundle:      st.Bundle,
		Rootfs:      st.Rootfs,
		Created:     st.Created,
		Annotations: st.Annotations,
		Owner:       owner,
	}
	if c.Status != api.StatusStopped {
		c.InitProcessPid = st.InitPid
	}
	return c, nil
}

// State implements api.ContainerOperations.
func (r *Runtime) State(_ context.Context, id string) (*api.Container, error) {
	st, err := r.store.Read(id)
	if err != nil {
		return nil, err
	}
	return r.container(st)
}

// List implements api.ContainerOperations. A container that vanishes while
// the list is made (a concurrent delete) is skipped, not an error; one
// whose state file is corrupt is skipped with a warning (as runc does),
// so that one bad file does not hide the others. delete --force removes it.
func (r *Runtime) List(_ context.Context) ([]api.Container, error) {
	ids, err := r.store.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.Container, 0, len(ids))
	for _, id := range ids {
		st, err := r.store.Read(id)
		if errors.Is(err, api.ErrNotExist) {
			continue
		}
		if errors.Is(err, store.ErrCorrupt) {
			r.log.Warn(err.Error())
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := r.container(st)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// PS implements api.ContainerOperations: the processes of the container's
// cgroup, which also holds those that left its pid namespace's init.
func (r *Runtime) PS(_ context.Context, id string) ([]int, error) {
	st, err := r.store.Read(id)
	if err != nil {
		return nil, err
	}
	pids, err := fs.Load(st.CgroupPaths).Pids()
	if errors.Is(err, cgroups.ErrNoCgroup) && len(st.CgroupPaths) == 0 && st.InitPid > 0 && r.Status(st) != api.StatusStopped {
		// A rootless container without a cgroup: its init and what it
		// started (an exec'd process, not its child, is not found).
		return processTree(st.InitPid), nil
	}
	if errors.Is(err, cgroups.ErrNoCgroup) || errors.Is(err, os.ErrNotExist) {
		return []int{}, nil
	}
	return pids, err
}
