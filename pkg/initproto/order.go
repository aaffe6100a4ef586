package initproto

import (
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtkit/rt/pkg/seccomp"
)

// Kind is which conversation a socket carries.
type Kind uint8

const (
	// Create sets up a container's init.
	Create Kind = iota
	// Exec starts an additional process in a running container.
	Exec
)

// Side is one end of the socket.
type Side uint8

const (
	// Runtime is rt.
	Runtime Side = iota
	// Init is rt-init: its C stage, then its fast path or its Go path.
	Init
)

// Facts decide which of a conversation's optional messages it has. Both
// sides know them: rt from the config, rt-init's Go path from MsgConfig.
type Facts struct {
	// Plan: the fast path, MsgPlan instead of MsgConfig.
	Plan bool
	// Hooks: RuntimeHooks, the MsgHooks/MsgHooksDone round trip.
	Hooks bool
	// Terminal: MsgPty, then the pty master (SCM_RIGHTS).
	Terminal bool
	// Notify: a seccomp filter with a listener, MsgSeccomp, then the
	// listener (SCM_RIGHTS).
	Notify bool
}

// FactsOf are the facts of a conversation about s: the container's spec
// for create, for exec the process to run with the container's linux
// section (what InitConfig.Spec holds); plan is the fast path.
func FactsOf(s *specs.Spec, plan bool) Facts {
	f := Facts{Plan: plan, Hooks: RuntimeHooks(s)}
	if s != nil && s.Process != nil {
		f.Terminal = s.Process.Terminal
	}
	if s != nil && s.Linux != nil {
		f.Notify = seccomp.Notifies(s.Linux.Seccomp)
	}
	return f
}

type step struct {
	typ  byte
	from Side
	when func(Facts) bool // nil: always
}

func goPath(f Facts) bool   { return !f.Plan }
func fastPath(f Facts) bool { return f.Plan }
func hooks(f Facts) bool    { return f.Hooks }
func terminal(f Facts) bool { return f.Terminal }
func notify(f Facts) bool   { return f.Notify }

// order is the protocol: every message of each conversation, in the order
// its sender sends it. Each direction is checked on its own; the two
// interleave only where a reader blocks for the other side (rt-init may
// send MsgPty before it reads MsgJoined). What crosses besides: the
// idmapped mounts right after MsgConfig (WriteTrees), the pty master right
// after MsgPty, and MsgError (or, on the fast path until MsgReady,
// MsgFallback) from either side in place of its next message.
var order = map[Kind][]step{
	Create: {
		{MsgNamespaces, Runtime, nil}, // the C stage joins, creates, forks the init
		{MsgPid, Init, nil},           // the init's host pid
		{MsgGo, Runtime, nil},         // uid/gid maps written
		{MsgConfig, Runtime, goPath},  // InitConfig as JSON, then the trees
		{MsgPlan, Runtime, fastPath},  // pkg/initplan's plan, for the C stage
		{MsgJoined, Runtime, nil},     // the init is in its cgroups
		{MsgHooks, Init, hooks},       // mounts done: run prestart, createRuntime
		{MsgHooksDone, Runtime, hooks},
		{MsgPty, Init, terminal},
		{MsgSeccomp, Init, notify}, // the filter is in force from here
		{MsgReady, Init, nil},      // set up; waiting on exec.fifo
	},
	Exec: {
		{MsgNamespaces, Runtime, nil},
		{MsgPid, Init, nil},
		{MsgGo, Runtime, nil},
		{MsgConfig, Runtime, nil},
		{MsgJoined, Runtime, nil},
		{MsgPty, Init, terminal},
		{MsgSeccomp, Init, notify},
		{MsgReady, Init, nil}, // then the socket closes at execve
	},
}

var names = map[byte]string{
	MsgNamespaces: "namespaces", MsgPid: "pid", MsgGo: "go", MsgConfig: "config", MsgPlan: "plan",
	MsgJoined: "joined", MsgHooks: "hooks", MsgHooksDone: "hooks done", MsgPty: "pty", MsgSeccomp: "seccomp", MsgReady: "ready",
	MsgError: "error", MsgFallback: "fallback",
}

// Name is a message type as errors show it: its name and its byte.
func Name(typ byte) string {
	if typ == 0 {
		return "none"
	}
	if n, ok := names[typ]; ok {
		return fmt.Sprintf("%s (%q)", n, typ)
	}
	return fmt.Sprintf("%q", typ)
}

// ErrProtocol is wrapped by every error of a message out of its order.
var ErrProtocol = errors.New("protocol error")

// Order lists the messages of a conversation that from sends, in order.
func Order(kind Kind, f Facts, from Side) []byte {
	var out []byte
	for _, s := range order[kind] {
		if s.from == from && (s.when == nil || s.when(f)) {
			out = append(out, s.typ)
		}
	}
	return out
}

// Conv is one side's end of a conversation: Send and Recv refuse a
// message that is not the next of its direction, so that a change to one
// side that the other does not follow is a clear error, not a hang or a
// misread payload.
type Conv struct {
	rw         io.ReadWriter
	send, recv []byte
}

// NewConv starts side's end of a conversation of kind on rw.
func NewConv(rw io.ReadWriter, kind Kind, side Side, f Facts) *Conv {
	return &Conv{rw: rw, send: Order(kind, f, side), recv: Order(kind, f, 1-side)}
}

// After drops the messages up to and including typ in both directions:
// rt-init's Go path starts once its C stage and its own first read are
// done.
func (c *Conv) After(kind Kind, typ byte) *Conv {
	for _, s := range order[kind] {
		c.send = dropThrough(c.send, s.typ)
		c.recv = dropThrough(c.recv, s.typ)
		if s.typ == typ {
			break
		}
	}
	return c
}

func dropThrough(seq []byte, typ byte) []byte {
	if len(seq) > 0 && seq[0] == typ {
		return seq[1:]
	}
	return seq
}

// Send sends typ if it is this side's next message. MsgError may be sent
// at any point.
func (c *Conv) Send(typ byte, payload []byte) error {
	if typ != MsgError {
		if err := next(&c.send, typ, "send"); err != nil {
			return err
		}
	}
	return Write(c.rw, typ, payload)
}

// Recv reads the other side's next message, which must be typ. A
// message of another type is an ErrProtocol error; MsgError and
// MsgFallback are returned as Read returns them.
func (c *Conv) Recv(typ byte) ([]byte, error) {
	if err := next(&c.recv, typ, "receive"); err != nil {
		return nil, err
	}
	return Read(c.rw, typ)
}

// Closed reads the end of the conversation: nil when the other side closes
// its end without another message.
func (c *Conv) Closed() error {
	if len(c.recv) > 0 {
		return fmt.Errorf("wait for the end: %s is still due: %w", Name(c.recv[0]), ErrProtocol)
	}
	_, err := Read(c.rw, 0)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func next(seq *[]byte, typ byte, verb string) error {
	if len(*seq) == 0 {
		return fmt.Errorf("%s %s: the conversation has no more: %w", verb, Name(typ), ErrProtocol)
	}
	if (*seq)[0] != typ {
		return fmt.Errorf("%s %s: %s is due first: %w", verb, Name(typ), Name((*seq)[0]), ErrProtocol)
	}
	*seq = (*seq)[1:]
	return nil
}
