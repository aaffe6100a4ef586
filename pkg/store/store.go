// Package store owns the on-disk state of containers: one directory per
// container under the runtime root, holding state.json and whatever the
// runtime keeps beside it (exec.fifo, …).
//
// It guarantees three things and nothing more: a container id is validated
// before any path is built from it; state.json is replaced atomically (temp
// file, rename), so a reader, or a command after rt was killed, sees the old
// or the new state and never a torn one; and commands on one container are serialised by an exclusive
// flock on its directory. It never interprets the state beyond what is needed
// for that; the lifecycle lives in pkg/runtime.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtkit/rt/pkg/api"
	"github.com/rtkit/rt/pkg/intelrdt"
	"github.com/rtkit/rt/pkg/killpoint"
	"github.com/rtkit/rt/pkg/rootfs"
)

// StateFile is the name of the state file inside a container's directory.
const StateFile = "state.json"

// State is what rt records about one container. The api.Container fields are
// derived from it; the rest is what later commands need to find and check
// the container's processes and resources.
type State struct {
	ID          string            `json:"id"`
	OCIVersion  string            `json:"ociVersion"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// InitPid is the host pid of the container's init, 0 before it exists.
	InitPid int `json:"initPid"`
	// InitStartTime is field 22 of /proc/<pid>/stat when init was started;
	// together with InitPid it identifies the process across pid reuse.
	InitStartTime uint64 `json:"initStartTime"`
	// Created is false until create has finished: a container that never
	// reached "created" is reported as stopped and can only be deleted.
	Ready bool `json:"ready"`
	// CgroupPaths maps each cgroup hierarchy (v1 controller, or "" for
	// cgroup2) to the container's directory in it.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// CgroupDriver is "systemd" for a container whose cgroup is a systemd
	// unit, "" for the cgroupfs driver; CgroupsPath is the spec's
	// linux.cgroupsPath, from which the systemd driver names the unit.
	CgroupDriver string `json:"cgroupDriver,omitempty"`
	CgroupsPath  string `json:"cgroupsPath,omitempty"`
	// HostMounts is set for a container without a mount namespace of its
	// own, before rt-init starts: where its mounts are in rt's mount
	// namespace, for delete (and the cleanup of a failed create) to remove.
	HostMounts *rootfs.HostMounts `json:"hostMounts,omitempty"`
	// IntelRdt is the container's resctrl group (linux.intelRdt), recorded
	// before it is made: exec puts processes there, delete removes what rt
	// made of it.
	IntelRdt *intelrdt.Group `json:"intelRdt,omitempty"`
	// Spec is the configuration the container was created from, kept so that
	// later commands (poststop hooks on delete, exec defaults) do not depend
	// on the bundle still being there or unchanged. It is decoded on demand
	// (see SpecRecord).
	Spec *SpecRecord `json:"spec,omitempty"`
}

// Store is the root directory of all container state.
type Store struct {
	root string
	// Waiting, if set, is told once when a command has waited
	// WaitingAfter for another's lock on a container, and who holds it.
	Waiting func(id string, holder Holder)
}

// New returns a store rooted at root. It creates nothing: the root is made by
// the first Create, so read-only commands on a fresh host need no write.
func New(root string) *Store {
	return &Store{root: root}
}

// Root is the store's root directory.
func (s *Store) Root() string { return s.root }

// Dir is the state directory of id. It validates id first, so a caller can
// never be handed a path that escapes the root.
func (s *Store) Dir(id string) (string, error) {
	if err := api.ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.root, id), nil
}

// Handle is an open, locked container directory. Close releases the lock.
type Handle struct {
	ID  string
	Dir string
	f   *os.File
}

// Create makes the state directory of a new container and returns it locked.
// An existing directory is api.ErrExist.
func (s *Store) Create(id string) (*Handle, error) {
	dir, err := s.Dir(id)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", s.root, err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, api.NewContainerError(id, api.ErrExist)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	killpoint.Hit("store.dir-made")
	h, err := s.lockDir(id, dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return h, nil
}

// Open locks the state directory of an existing container, waiting for any
// other command holding it. An unknown id is api.ErrNotExist.
func (s *Store) Open(id string) (*Handle, error) {
	dir, err := s.Dir(id)
	if err != nil {
		return nil, err
	}
	return s.lockDir(id, dir)
}

func (s *Store) lockDir(id, dir string) (*Handle, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, api.NewContainerError(id, api.ErrNotExist)
		}
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	if err := s.flock(id, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	// The holder we waited for may have been a delete: the directory we
	// locked is then unlinked, and a new container may even have taken the
	// name. Only the directory still reachable under the name counts.
	var held, cur unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &held); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat state dir: %w", err)
	}
	if err := unix.Stat(dir, &cur); err != nil || cur.Ino != held.Ino || cur.Dev != held.Dev || held.Nlink == 0 {
		f.Close()
		return nil, api.NewContainerError(id, api.ErrNotExist)
	}
	killpoint.Hit("store.locked")
	return &Handle{ID: id, Dir: dir, f: f}, nil
}

// WaitingAfter is how long a command waits for a lock before Waiting is
// told: commands on one container routinely queue for milliseconds.
var WaitingAfter = time.Second

// flock takes the exclusive lock on f, telling s.Waiting who holds it
// when it has waited WaitingAfter.
func (s *Store) flock(id string, f *os.File) error {
	fd := int(f.Fd())
	err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err != unix.EWOULDBLOCK {
		return err
	}
	if s.Waiting != nil {
		defer s.tellAfter(id, f)()
	}
	for {
		err := unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// tellAfter tells s.Waiting who holds f's lock once WaitingAfter has
// passed; the func it returns stops it, or waits until it has told.
func (s *Store) tellAfter(id string, f *os.File) func() {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	t := time.AfterFunc(WaitingAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if h := lockHolder(st); h.Pid > 0 && !stopped {
			s.Waiting(id, h)
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

// Close releases the lock.
func (h *Handle) Close() error {
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}

// Path is the path of name inside the container's directory.
func (h *Handle) Path(name string) string { return filepath.Join(h.Dir, name) }

// Load reads the container's state. A directory without a state file is a
// container whose create was interrupted before it wrote one; it is returned
// as a State with only ID set, so that delete can still clean it up.
func (h *Handle) Load() (*State, error) {
	return readState(h.ID, h.Dir)
}

// Save replaces state.json atomically: a crash of rt leaves the old or the
// new file. It does not fsync, as runc and crun do not: the root is under
// /run, a tmpfs on most hosts (where fsync does nothing), and after a power
// loss, the only crash fsync would cover, every container it describes is
// gone anyway. On an ext4 /run the fsyncs were ~4% of `rt run`'s CPU and
// more of its time (docs/performance.md).
func (h *Handle) Save(st *State) error {
	data, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(h.Dir, "."+StateFile+".*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	killpoint.Hit("store.save-written")
	if err := os.Rename(tmp.Name(), h.Path(StateFile)); err != nil {
		return fmt.Errorf("replace state: %w", err)
	}
	killpoint.Hit("store.saved")
	return nil
}

// encodeState is json.Marshal(st) without the check, compaction and HTML
// escaping json.Marshal makes of the spec, a Marshaler's output: a fifth of
// Save's CPU. The spec's JSON is rt's own (specjson's, or as read from a
// state rt wrote), already all three. Spec is State's last field, so its key
// and value go just before the closing brace.
func encodeState(st *State) ([]byte, error) {
	rest := *st
	rest.Spec = nil
	data, err := json.Marshal(&rest)
	if err != nil || st.Spec == nil {
		return data, err
	}
	spec, err := st.Spec.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type *store.SpecRecord: %w", err)
	}
	out := make([]byte, 0, len(data)+len(`,"spec":`)+len(spec))
	out = append(out, data[:len(data)-1]...)
	if len(data) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"spec":`...)
	out = append(out, spec...)
	return append(out, '}'), nil
}

// Remove deletes the container's directory and everything in it. The handle
// stays locked until Close, so a command waiting on the lock sees the
// container gone.
func (h *Handle) Remove() error {
	if err := os.RemoveAll(h.Dir); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	return nil
}

// Read returns the state of id without taking the lock. Writers replace the
// file atomically, so this is safe for state and list, which must not block
// behind a long create.
func (s *Store) Read(id string) (*State, error) {
	dir, err := s.Dir(id)
	if err != nil {
		return nil, err
	}
	return readState(id, dir)
}

// ErrCorrupt is a state file that cannot be read as a container's state:
// truncated, garbled, or naming another container.
var ErrCorrupt = errors.New("corrupt state file")

func readState(id, dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return nil, api.NewContainerError(id, api.ErrNotExist)
			}
			return &State{ID: id}, nil
		}
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("container %q: %w %s: %v", id, ErrCorrupt, filepath.Join(dir, StateFile), err)
	}
	if st.ID != id {
		return nil, fmt.Errorf("container %q: %w: %s names container %q", id, ErrCorrupt, filepath.Join(dir, StateFile), st.ID)
	}
	return &st, nil
}

// List returns the ids of every container directory under the root. Entries
// that are not valid ids (temp files, foreign files) are skipped. A missing
// root is an empty list.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", s.root, err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() || api.ValidateID(e.Name()) != nil {
			continue
		}
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// Owner is the owner of the container's directory, the `owner` of runc's
// state: the user name, or "#uid" when the uid has no name.
func (s *Store) Owner(id string) (string, error) {
	dir, err := s.Dir(id)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", dir, err)
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username, nil
	}
	return "#" + uid, nil
}
