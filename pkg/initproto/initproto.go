// Package initproto is the conversation between rt and rt-init over the
// socketpair rt passes as the fd named by EnvInitFD: framed messages
// ([type:1][len:4, host order][payload]), the namespace message the C stage
// in pkg/nsexec reads, and the configuration rt-init receives.
//
// The order of each conversation (create, exec) is the table in order.go;
// both sides talk through a Conv, which refuses a message out of that
// order (ErrProtocol). rt-init's C stages (pkg/nsexec) read the messages
// of their part in the same order and check each one's type.
//
// Any side may send MsgError instead of its next message: the text names the
// step that failed. Nothing else crosses: rt-init gets no configuration from
// argv or the environment.
package initproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/console"
	"github.com/rtkit/rt/pkg/rootfs"
)

// EnvInitFD names the environment variable holding the socket's fd number in
// rt-init. It carries no configuration; rt-init removes it before exec.
const EnvInitFD = "_RT_INITFD"

// Message types.
const (
	MsgNamespaces byte = 'N'
	MsgPid        byte = 'P'
	MsgGo         byte = 'G'
	MsgConfig     byte = 'C'
	MsgJoined     byte = 'J'
	MsgHooks      byte = 'H'
	MsgHooksDone  byte = 'h'
	MsgPty        byte = 'T'
	// MsgSeccomp precedes the listener of a filter with SCMP_ACT_NOTIFY
	// rules (SCM_RIGHTS), which rt hands to the agent.
	MsgSeccomp byte = 'S'
	MsgReady   byte = 'R'
	MsgError   byte = 'E'
	// MsgPlan replaces MsgConfig on the fast path: the plan of
	// pkg/initplan, run by rt-init's C stage. Until it reports ready, the
	// fast path may answer MsgFallback instead: rt then starts the
	// container again on the Go path.
	MsgPlan     byte = 'X'
	MsgFallback byte = 'F'
)

// maxPayload bounds a message so a corrupt header cannot make a reader
// allocate without limit. A config.json is far smaller.
const maxPayload = 16 << 20

// readAtOnce is the largest payload read into a buffer of its size at
// once; a larger one grows as it arrives, so that a corrupt header costs
// what was sent, not the size it claims.
const readAtOnce = 64 << 10

// Write sends one message.
func Write(w io.Writer, typ byte, payload []byte) error {
	buf := make([]byte, 5+len(payload))
	buf[0] = typ
	binary.NativeEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// RemoteError is a failure reported by the other side with MsgError.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// FallbackError is the fast path's MsgFallback: it could not set the
// container up (Reason says where); the Go path must.
type FallbackError struct{ Reason string }

func (e *FallbackError) Error() string { return "fast init path: " + e.Reason }

// ErrClosed means the other side closed the socket without a message: it
// died before it could report why.
var ErrClosed = errors.New("closed without a message")

// Read receives one message and checks its type. A MsgError is returned as
// a *RemoteError.
func Read(r io.Reader, want byte) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrClosed
		}
		return nil, err
	}
	n := binary.NativeEndian.Uint32(hdr[1:5])
	if n > maxPayload {
		return nil, fmt.Errorf("message of %d bytes: %w", n, ErrProtocol)
	}
	payload, err := readPayload(r, n)
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if hdr[0] == MsgError {
		return nil, &RemoteError{Msg: string(payload)}
	}
	if hdr[0] == MsgFallback {
		return nil, &FallbackError{Reason: string(payload)}
	}
	if hdr[0] != want {
		return nil, fmt.Errorf("got message %s, want %s: %w", Name(hdr[0]), Name(want), ErrProtocol)
	}
	return payload, nil
}

// readPayload reads the n bytes of a payload.
func readPayload(r io.Reader, n uint32) ([]byte, error) {
	if n <= readAtOnce {
		payload := make([]byte, n)
		_, err := io.ReadFull(r, payload)
		return payload, err
	}
	payload, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err == nil && len(payload) < int(n) {
		err = io.ErrUnexpectedEOF
	}
	return payload, err
}

// Join is one namespace to join: its CLONE_NEW* flag and path.
type Join struct {
	Type uint32
	Path string
}

// Namespaces is the message for the C stage; its encoding matches struct
// rt_nsmsg in pkg/nsexec/nsexec.c.
type Namespaces struct {
	CloneFlags uint32
	NewTime    bool
	// Offsets of a new time namespace.
	MonoSec, MonoNsec, BootSec, BootNsec int64
	// CgroupFD and NumCgroup: fds CgroupFD…CgroupFD+NumCgroup-1 of stage 0
	// are v1 tasks files it writes "0" to, first thing, and closes: the
	// process moves itself into the container's cgroups (cgroups.Entry).
	// CgroupFD is also the first fd that is not the protocol's (socket,
	// fifo, preserved fds): stage 0 closes it and every one above, so that
	// no fd rt inherited from its caller reaches the container.
	CgroupFD, NumCgroup uint32
	Join                []Join
}

const nsMagic = 0x5254534e

// Encode lays the message out as the C stage reads it.
func (n *Namespaces) Encode() []byte {
	b := binary.NativeEndian.AppendUint32(nil, nsMagic)
	b = binary.NativeEndian.AppendUint32(b, n.CloneFlags)
	var newTime uint32
	if n.NewTime {
		newTime = 1
	}
	b = binary.NativeEndian.AppendUint32(b, newTime)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(n.Join)))
	for _, v := range []int64{n.MonoSec, n.MonoNsec, n.BootSec, n.BootNsec} {
		b = binary.NativeEndian.AppendUint64(b, uint64(v))
	}
	b = binary.NativeEndian.AppendUint32(b, n.CgroupFD)
	b = binary.NativeEndian.AppendUint32(b, n.NumCgroup)
	for _, j := range n.Join {
		b = binary.NativeEndian.AppendUint32(b, j.Type)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(j.Path)))
		b = append(b, j.Path...)
	}
	return b
}

// RuntimeHooks reports whether s has hooks rt runs while the init waits
// (prestart, createRuntime): only then do the two sides exchange MsgHooks
// and MsgHooksDone, a round trip most containers do not need.
func RuntimeHooks(s *specs.Spec) bool {
	return s != nil && s.Hooks != nil && (len(s.Hooks.Prestart) > 0 || len(s.Hooks.CreateRuntime) > 0)
}

// GoPayload is the MsgGo payload: setid tells init to become uid and gid 0
// of its new user namespace.
func GoPayload(setid bool) []byte {
	var v uint32
	if setid {
		v = 1
	}
	return binary.NativeEndian.AppendUint32(nil, v)
}

// Fds are the fd numbers rt-init inherits besides 0-2.
const (
	// FdInit is the socket.
	FdInit = 3
	// FdFifo is an O_PATH fd of <state dir>/exec.fifo, reopened for
	// writing through /proc/self/fd after pivot_root hides the host path.
	FdFifo = 4
	// FdPreserved is where --preserve-fds start in rt-init; they are moved
	// to 3… before exec.
	FdPreserved = 5
)

// InitConfig is what rt-init needs to set up the container after the C
// stage: the spec and the host facts rt resolved.
type InitConfig struct {
	ID string `json:"id"`
	// Spec is the container's configuration.
	Spec *specs.Spec `json:"spec"`
	// Bundle and Rootfs are absolute host paths.
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	// NoPivot uses MS_MOVE + chroot instead of pivot_root.
	NoPivot bool `json:"noPivot,omitempty"`
	// HostMounts is set when the container has no mount namespace of its
	// own: the init mounts in rt's and chroots into the rootfs bind, and an
	// exec'd process chroots into it too (there is no mount namespace to
	// join that would set its root).
	HostMounts *rootfs.HostMounts `json:"hostMounts,omitempty"`
	// NoNewKeyring keeps rt's session keyring.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// PreserveFDs is the number of fds passed from FdPreserved on.
	PreserveFDs int `json:"preserveFds,omitempty"`
	// NewNetNS: the container has a network namespace of its own, so rt-init
	// brings up lo.
	NewNetNS bool `json:"newNetNS,omitempty"`
	// NewUserNS: the container has a new user namespace; devices cannot be
	// made with mknod and are bound from the host instead.
	NewUserNS bool `json:"newUserNS,omitempty"`
	// CgroupNS: the container has a new cgroup namespace.
	CgroupNS bool `json:"cgroupNS,omitempty"`
	// MountTrees is the number of idmapped mounts rt sends after this
	// config (WriteTrees), one for each idmapped bind of Spec.Mounts.
	MountTrees int `json:"mountTrees,omitempty"`
	// CgroupPaths are the container's cgroup dirs on the host, by
	// hierarchy ("" is cgroup2), for cgroup mounts without a cgroup ns.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Exec: the process is an additional one (rt exec) in the namespaces
	// and cgroups of a running container: no rootfs set-up, no fifo, no
	// hooks; Spec carries the process and the container's linux section.
	Exec bool `json:"exec,omitempty"`
	// State is the OCI state given to hooks rt-init runs itself
	// (createContainer, startContainer); its pid is filled by rt.
	State specs.State `json:"state"`
}

// WriteTrees sends the idmapped mounts rt made (rootfs.OpenIDMapped), keyed
// by their index in the spec's mounts, right after MsgConfig: one message
// each, the index as its data and the mount as SCM_RIGHTS. The receiver
// gets its own reference; the caller still closes its own.
func WriteTrees(sock *os.File, trees map[int]*os.File) error {
	for _, i := range slices.Sorted(maps.Keys(trees)) {
		if err := console.SendFd(sock, strconv.Itoa(i), trees[i]); err != nil {
			return fmt.Errorf("send the idmapped mount of mounts[%d]: %w", i, err)
		}
	}
	return nil
}

// ReadTrees receives the n idmapped mounts WriteTrees sent, by index. On
// error it closes what it received.
func ReadTrees(sock *os.File, n int) (map[int]*os.File, error) {
	if n == 0 {
		return nil, nil
	}
	trees := make(map[int]*os.File, n)
	fail := func(err error) (map[int]*os.File, error) {
		for _, t := range trees {
			t.Close()
		}
		return nil, fmt.Errorf("receive the idmapped mounts: %w", err)
	}
	for len(trees) < n {
		f, err := console.RecvFd(sock)
		if err != nil {
			return fail(err)
		}
		i, err := strconv.Atoi(f.Name())
		if _, dup := trees[i]; err != nil || dup || i < 0 {
			f.Close()
			return fail(fmt.Errorf("bad index %q: %w", f.Name(), ErrProtocol))
		}
		trees[i] = f
	}
	return trees, nil
}
