package initproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzRecv feeds a byte stream to one side of a conversation, chosen by
// conv's bits, as if the other side had written it: each message the
// table says is due is received through a Conv, and decoded as its reader
// does (the pid as rt checks it, the config as rt-init's Go path reads it),
// then the end is read. Nothing may panic; an error is one line, but for
// the other side's own words (MsgError, MsgFallback), which pass as they
// came and which cli.Main folds. A payload received is framed and read
// back unchanged.
func FuzzRecv(f *testing.F) {
	for _, s := range recvSeeds(f) {
		f.Add(s.conv, s.stream)
	}
	f.Fuzz(func(t *testing.T, conv byte, stream []byte) {
		kind, side, facts := convOf(conv)
		c := NewConv(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(stream), io.Discard}, kind, side, facts)
		for _, typ := range Order(kind, facts, 1-side) {
			payload, err := c.Recv(typ)
			if err != nil {
				checkRecvError(t, err)
				return
			}
			checkReframed(t, typ, payload)
			decodePayload(t, typ, payload)
		}
		if err := c.Closed(); err != nil {
			checkRecvError(t, err)
		}
	})
}

// convOf reads a conversation from the bits of conv: kind, side and facts.
func convOf(conv byte) (Kind, Side, Facts) {
	kind, side := Create, Runtime
	if conv&1 != 0 {
		kind = Exec
	}
	if conv&2 != 0 {
		side = Init
	}
	return kind, side, Facts{Plan: kind == Create && conv&4 != 0, Hooks: kind == Create && conv&8 != 0,
		Terminal: conv&16 != 0, Notify: conv&32 != 0}
}

// decodePayload decodes payload as the receiver of typ does.
func decodePayload(t *testing.T, typ byte, payload []byte) {
	t.Helper()
	switch typ {
	case MsgPid:
		// rt refuses a pid message of another size (runtime.spawn).
		if len(payload) == 4 {
			_ = int(int32(binary.NativeEndian.Uint32(payload)))
		}
	case MsgConfig:
		var cfg InitConfig
		if err := json.Unmarshal(payload, &cfg); err != nil {
			checkRecvError(t, err)
		}
	}
}

// checkReframed checks that payload, written as a typ message, reads back.
func checkReframed(t *testing.T, typ byte, payload []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, typ, payload); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&b, typ)
	if err != nil || !bytes.Equal(got, payload) || b.Len() != 0 {
		t.Fatalf("%s message of %d bytes read back as %d bytes (%v), %d left", Name(typ), len(payload), len(got), err, b.Len())
	}
}

// checkRecvError fails t if err, not the other side's, is not one line.
func checkRecvError(t *testing.T, err error) {
	t.Helper()
	var re *RemoteError
	var fe *FallbackError
	if errors.As(err, &re) || errors.As(err, &fe) {
		return
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error of several lines: %q", msg)
	}
}

type recvSeed struct {
	conv   byte
	stream []byte
}

// recvSeeds are whole conversations of every kind, side and fact, as
// TestConvWalk has, and TestReadErrors's streams.
func recvSeeds(f *testing.F) []recvSeed {
	cfg, err := json.Marshal(&InitConfig{ID: "c", Bundle: "/b", Rootfs: "/b/rootfs", PreserveFDs: 1, NewNetNS: true,
		CgroupPaths: map[string]string{"": "/sys/fs/cgroup/c"},
		Spec:        &specs.Spec{Version: "1.3.0", Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"}},
		State:       specs.State{Version: "1.3.0", ID: "c", Status: specs.StateCreating, Bundle: "/b"}})
	if err != nil {
		f.Fatal(err)
	}
	payloads := map[byte][]byte{MsgPid: {1, 0, 0, 0}, MsgGo: GoPayload(true), MsgConfig: cfg,
		MsgNamespaces: (&Namespaces{CloneFlags: 1, Join: []Join{{Type: 2, Path: "/proc/1/ns/net"}}}).Encode()}
	var seeds []recvSeed
	for conv := range byte(64) {
		kind, side, facts := convOf(conv)
		var stream []byte
		for _, typ := range Order(kind, facts, 1-side) {
			stream = append(stream, frame(typ, uint32(len(payloads[typ])), string(payloads[typ]))...)
		}
		seeds = append(seeds, recvSeed{conv, stream})
	}
	return append(seeds, recvSeed{0, frame(MsgError, 27, "mount proc on /proc: EPERM\n")},
		recvSeed{0, frame(MsgHooks, 2, "hi")}, recvSeed{0, []byte{MsgReady, 0}}, recvSeed{2, frame(MsgConfig, 10, "abc")},
		recvSeed{4, append(frame(MsgNamespaces, 0, ""), frame(MsgFallback, 3, "why")...)})
}
