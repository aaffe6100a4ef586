// Package checkpoint is rt's CRIU orchestration: it checkpoints running
// containers into CRIU images and restores containers from them, driving
// `criu swrk` over its RPC socket with the options runc passes, so that the
// images and the command line stay interchangeable with runc's.
//
// It is linked only into rt-checkpoint: go-criu and protobuf would slow the
// start-up of every rt command, so pkg/runtime never imports it, and rt
// hands `checkpoint`/`restore` over to rt-checkpoint instead
// (docs/checkpoint.md).
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/cgroups"
	"github.com/rtkit/rt/pkg/cgroups/fs"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/runtime"
	"github.com/rtkit/rt/pkg/store"
)

// Runtime is the Linux runtime with checkpoint and restore: every lifecycle
// operation is the embedded runtime's (so rt-checkpoint's state, kill and
// delete are rt's), and Checkpoint and Restore run CRIU.
//
// Caveat: it needs root and a working criu (3.x or later, `criu check`);
// pre-dump needs the kernel's soft-dirty page tracking, and lazy pages
// userfaultfd, which Checkpoint asks CRIU about before it starts.
type Runtime struct {
	Lifecycle
	// criu is the criu binary, a path or a name looked up in PATH.
	criu string
	// progressTimeout is the watchdog's: how long a CRIU run may make no
	// progress before rt kills it (0: never).
	progressTimeout time.Duration
	// token is the migration-token setting: migrate's and receive's when
	// they are given none.
	token []byte
	log   *slog.Logger
}

// Lifecycle is what checkpoint and restore use of pkg/runtime: the
// container operations, and the lifecycle's own store, status, cgroups,
// removal and foreground relay, so that both agree with create, state and
// delete about what a container is.
type Lifecycle interface {
	api.ContainerOperations
	Store() *store.Store
	// OpenLoaded locks container id and reads its state; the caller
	// closes the handle.
	OpenLoaded(id string) (*store.Handle, *store.State, error)
	// Status derives st's status from the live process and the freezer.
	Status(st *store.State) api.Status
	// NewCgroups is the cgroup manager of a new container, recorded in
	// st as create records it.
	NewCgroups(st *store.State, cgroupsPath string) (cgroups.Manager, error)
	// Remove does what delete --force does, under the caller's lock h.
	Remove(ctx context.Context, h *store.Handle, st *store.State) error
	// Foreground relays the terminal and signals to the init pid of
	// container id until it exits and returns its status.
	Foreground(id string, pid int, pty, in *os.File, out io.Writer) int
}

var (
	_ Lifecycle                = (*runtime.Runtime)(nil)
	_ api.ContainerOperations  = (*Runtime)(nil)
	_ api.CheckpointOperations = (*Runtime)(nil)
)

// New is the api.Factory of rt-checkpoint: runtime.New's runtime, with
// CRIU at cfg.Criu ("criu" on PATH when empty), watched with
// cfg.CriuProgressTimeout.
func New(cfg api.GlobalConfig) (api.ContainerOperations, error) {
	ops, err := runtime.New(cfg)
	if err != nil {
		return nil, err
	}
	rt, ok := ops.(Lifecycle)
	if !ok {
		return nil, fmt.Errorf("checkpoint: runtime.New returned %T, which lacks the lifecycle checkpoint needs", ops)
	}
	criu := cfg.Criu
	if criu == "" {
		criu = "criu"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{Lifecycle: rt, criu: criu, progressTimeout: cfg.CriuProgressTimeout, token: []byte(cfg.MigrationToken), log: log}, nil
}

// ErrUnsupported is wrapped when this host's kernel or CRIU lacks what the
// asked-for operation needs (pre-dump without soft-dirty tracking, lazy
// pages without userfaultfd). It is errors.ErrUnsupported, so callers can
// match either.
var ErrUnsupported = errors.ErrUnsupported

// Checkpoint implements api.CheckpointOperations: it dumps the running (or
// paused) container id into opts.ImagePath with CRIU, freezing it through
// its freezer cgroup. Unless opts.LeaveRunning or opts.PreDump, the
// container is then removed as `delete` removes a stopped one: CRIU killed
// its processes, and its cgroups and state go, as runc does. If the dump
// fails the container is left as it was: running and thawed (or paused, if
// it was paused before).
func (r *Runtime) Checkpoint(ctx context.Context, id string, opts api.CheckpointOpts) error {
	h, st, err := r.OpenLoaded(id)
	if err != nil {
		return err
	}
	defer h.Close()
	return r.checkpoint(ctx, h, st, opts, false)
}

// checkpoint is Checkpoint of the container whose lock h the caller holds
// (migration holds it from the first transfer to the end). Cancelling ctx
// kills criu. checked says that the caller has asked CRIU about the
// optional features already (migration does, before it freezes the
// container: the ~40 ms question must not be asked again while it is
// frozen).
func (r *Runtime) checkpoint(ctx context.Context, h *store.Handle, st *store.State, opts api.CheckpointOpts, checked bool) (retErr error) {
	id := st.ID
	s, err := r.checkCheckpoint(st, &opts, checked)
	if err != nil {
		return err
	}
	tmpImages := ""
	if opts.Export != "" && opts.ImagePath == "" {
		// The images are wanted only in the archive: a private
		// directory, removed unless writing the archive fails.
		if tmpImages, err = os.MkdirTemp("", "rt-checkpoint-export-"); err != nil {
			return fmt.Errorf("checkpoint container %q: %w", id, err)
		}
		opts.ImagePath = tmpImages
		defer func() {
			if tmpImages != "" {
				os.RemoveAll(tmpImages)
			}
		}()
	}
	imageDir, workDir, err := openDirs(opts.ImagePath, opts.WorkPath)
	if err != nil {
		return fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	killpoint.Hit("checkpoint.dirs-made")
	defer imageDir.Close()
	defer workDir.Close()

	// Whatever happens, a container that was not paused must not stay
	// frozen: CRIU thaws on its own paths, but not if it dies (killed by
	// the watchdog, say).
	cg := fs.Load(st.CgroupPaths)
	wasFrozen, _ := cg.Frozen()
	defer func() {
		if wasFrozen || (retErr == nil && !opts.LeaveRunning && !opts.PreDump) {
			return
		}
		if err := thawAfterDump(cg, retErr != nil, freezerDir(st.CgroupPaths) != ""); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("thaw container %q after the dump: %w", id, err))
		}
	}()
	d, err := prepareDump(st, s, &opts, imageDir, workDir)
	if err != nil {
		return err
	}
	killpoint.Hit("checkpoint.records-written")
	if err := r.dump(ctx, d, &opts); err != nil {
		if cerr := (*CRIUError)(nil); errors.As(err, &cerr) {
			return r.dumpFailed(id, cg, cerr)
		}
		return err
	}
	killpoint.Hit("checkpoint.dumped")
	return r.afterDump(ctx, h, st, &opts, imageDir, workDir, &tmpImages)
}

// checkCheckpoint refuses what cannot be checkpointed before anything is
// frozen, and returns the container's spec.
func (r *Runtime) checkCheckpoint(st *store.State, opts *api.CheckpointOpts, checked bool) (*specs.Spec, error) {
	id := st.ID
	if err := runtime.Refuse(api.OpCheckpoint, id, r.Status(st)); err != nil {
		return nil, err
	}
	s, err := st.Spec.Spec()
	if err != nil {
		return nil, err
	}
	if s == nil || s.Linux == nil {
		return nil, fmt.Errorf("checkpoint container %q: its state has no Linux spec", id)
	}
	if nsPath(s, specs.PIDNamespace) == "" && hasNS(s, specs.PIDNamespace) && outsideSession(st.InitPid) {
		// CRIU refuses this whatever the options ("A session leader
		// of N(1) is outside of its pid namespace"): say why, before
		// anything is frozen.
		return nil, fmt.Errorf("checkpoint container %q: its init (pid %d) is not a session leader, its session is outside the container's pid namespace, which CRIU cannot dump (runc's init calls setsid; an rt-init without a terminal does not): %w", id, st.InitPid, ErrUnsupported)
	}
	if (opts.PreDump || opts.LazyPages) && !checked {
		if err := r.checkFeatures(id, *opts); err != nil {
			return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
		}
	}
	if err := checkExport(opts); err != nil {
		return nil, fmt.Errorf("checkpoint container %q: %w", id, err)
	}
	if err := checkTLSFiles(opts.PageServer.TLS); err != nil {
		return nil, fmt.Errorf("checkpoint container %q: page server %w", id, err)
	}
	return s, nil
}

// dumpStatsOf reads CRIU's statistics of the dump just made from dir. The
// dump has succeeded, so statistics that cannot be read are only warned of:
// the checkpoint must not look failed for their sake.
func (r *Runtime) dumpStatsOf(id, dir string) *api.DumpStats {
	s, err := readDumpStats(dir)
	if err == nil && s == nil {
		err = fmt.Errorf("CRIU wrote no %s in %s", statsDumpFile, dir)
	}
	if err != nil {
		r.log.Warn("checkpoint: no dump statistics to print", "container", id, "error", err)
		return nil
	}
	return s
}

// thawAfterDump thaws the container CRIU may have left frozen. After a
// failure the state is not read first: a criu killed mid-freeze can leave a
// v1 cgroup FREEZING, and the read (the library's) waits for that to
// settle, which a task that cannot be frozen never lets happen; THAWED
// written to a thawed cgroup changes nothing. Without a freezer there is
// nothing to thaw.
func thawAfterDump(cg cgroups.Manager, failed, hasFreezer bool) error {
	if failed {
		if !hasFreezer {
			return nil
		}
		return cg.Thaw()
	}
	if frozen, err := cg.Frozen(); err != nil || !frozen {
		return nil
	}
	return cg.Thaw()
}

// checkFeatures asks CRIU whether it can do the optional parts of opts on
// this kernel, so that an impossible pre-dump fails with a plain answer and
// before anything is frozen (CRIU itself aborts half-way), and warns of a
// lazy-pages dump bound to fail on this host's fs.pipe-max-size.
func (r *Runtime) checkFeatures(id string, opts api.CheckpointOpts) error {
	want := &rpc.CriuFeatures{}
	if opts.PreDump {
		want.MemTrack = proto.Bool(true)
	}
	if opts.LazyPages {
		want.LazyPages = proto.Bool(true)
	}
	got, err := features(r.criu, want, r.progressTimeout)
	if err != nil {
		return err
	}
	if opts.PreDump && !got.GetMemTrack() {
		return fmt.Errorf("pre-dump: criu cannot track memory changes on this kernel (no soft-dirty page tracking, CONFIG_MEM_SOFT_DIRTY): %w", ErrUnsupported)
	}
	if opts.LazyPages && !got.GetLazyPages() {
		return fmt.Errorf("lazy-pages: criu cannot serve pages lazily on this kernel (userfaultfd missing or not allowed): %w", ErrUnsupported)
	}
	if opts.LazyPages {
		r.warnLazyDump(id)
	}
	return nil
}

// openDirs creates (0700, as runc) and opens the image directory and, if
// given, the work directory. The files' names are their absolute paths.
func openDirs(imagePath, workPath string) (image, work *os.File, err error) {
	open := func(p, what string) (*os.File, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, p, err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		f, err := os.OpenFile(abs, os.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return f, nil
	}
	if image, err = open(imagePath, "image path"); err != nil {
		return nil, nil, err
	}
	if workPath == "" {
		return image, nil, nil
	}
	if work, err = open(workPath, "work path"); err != nil {
		image.Close()
		return nil, nil, err
	}
	return image, work, nil
}

// freezerDir is the directory CRIU freezes the container through: the v1
// freezer hierarchy's, else cgroup2's (CRIU 3.14 and later), else none.
func freezerDir(paths map[string]string) string {
	if d := paths["freezer"]; d != "" {
		return d
	}
	return paths[""]
}

// nsPath is the path of the namespace of type t the container joined, ""
// if it made its own or has none.
func nsPath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// hasNS reports whether the container has a namespace of type t (its own or
// joined).
func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// writeDescriptors records the init's stdio (runc's descriptors.json).
func writeDescriptors(dir string, pid int) error {
	fds := make([]string, 3)
	for i := range fds {
		l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", strconv.Itoa(i)))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stdio of the init: %w", err)
		}
		fds[i] = l
	}
	data, err := json.Marshal(fds)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, descriptorsFile), data, 0o600)
}

// outsideSession reports whether pid's session leader is another process,
// that is outside the container (its sid, field 6 of /proc/<pid>/stat, is
// not pid itself as seen from the host).
func outsideSession(pid int) bool {
	f, err := runtime.ProcStat(pid)
	// f[0] is field 3 (state); the session is field 6.
	if err != nil || len(f) < 4 {
		return false
	}
	return f[3] != strconv.Itoa(pid)
}

func itoa(i int) string { return strconv.Itoa(i) }

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
