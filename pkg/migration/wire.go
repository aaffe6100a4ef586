// Package migration is the wire side of rt's live migration: the control
// connection between `rt-checkpoint migrate` (the source) and
// `rt-checkpoint receive` (the target), its authentication, the messages
// that go over it, and the rootfs comparison that decides which files are
// sent. It knows nothing of CRIU or containers: pkg/checkpoint drives the
// migration over it (docs/migration.md).
package migration

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Frame kinds. A frame is one kind byte, a big-endian uint32 length and the
// payload: a JSON message, or one chunk of a byte stream (an empty chunk
// ends the stream).
const (
	kindMessage byte = 'M'
	kindData    byte = 'D'
)

// Limits on one frame's payload: the peer is untrusted until authenticated
// and never trusted to size our allocations.
const (
	maxMessage = 64 << 20 // a rootfs manifest of a few hundred thousand files
	maxChunk   = 1 << 20
	// maxHello bounds every message until the peer is authenticated.
	maxHello = 64 << 10
)

// ErrProtocol is wrapped by every error about a malformed or unexpected
// frame or message from the peer.
var ErrProtocol = errors.New("migration protocol error")

// Conn is one control connection: framed JSON messages and byte streams,
// sent and received in a fixed order by both sides (no multiplexing). It
// counts the bytes each way for the progress report.
type Conn struct {
	rw io.ReadWriter
	// trusted lifts the small pre-authentication message limit.
	trusted  bool
	sent     atomic.Int64
	received atomic.Int64
}

// NewConn frames messages over rw (a TLS connection, or a pipe in tests).
func NewConn(rw io.ReadWriter) *Conn { return &Conn{rw: rw, trusted: true} }

// newUntrustedConn is a Conn for the handshake: messages over maxHello are
// refused until trust() (an unauthenticated peer must not make us
// allocate 64 MiB with a 5-byte header).
func newUntrustedConn(rw io.ReadWriter) *Conn { return &Conn{rw: rw} }

func (c *Conn) trust() { c.trusted = true }

// Sent and Received are the byte counts so far, frames included.
func (c *Conn) Sent() int64     { return c.sent.Load() }
func (c *Conn) Received() int64 { return c.received.Load() }

func (c *Conn) writeFrame(kind byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := c.rw.Write(append(hdr[:], payload...)); err != nil {
		return err
	}
	c.sent.Add(int64(len(payload) + len(hdr)))
	return nil
}

// readFrame reads one frame, refusing a payload over the limit before
// allocating it. A message frame where data was due is returned as it is
// (it may be the peer's error); a data frame where a message was due is a
// protocol error.
func (c *Conn) readFrame(want byte) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.rw, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	limit := uint32(maxMessage)
	if !c.trusted {
		limit = maxHello
	}
	if hdr[0] == kindData {
		limit = maxChunk
	}
	switch {
	case hdr[0] != kindMessage && hdr[0] != kindData:
		return 0, nil, fmt.Errorf("frame kind %q: %w", hdr[0], ErrProtocol)
	case hdr[0] == kindData && want == kindMessage:
		return 0, nil, fmt.Errorf("got data where a message was due: %w", ErrProtocol)
	case n > limit:
		return 0, nil, fmt.Errorf("frame of %d bytes over the limit of %d: %w", n, limit, ErrProtocol)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.rw, buf); err != nil {
		return 0, nil, fmt.Errorf("frame cut short: %w", noEOF(err))
	}
	c.received.Add(int64(n) + 5)
	return hdr[0], buf, nil
}

// noEOF turns a clean EOF in the middle of something into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// envelope is every message: its op, and either an error from the peer or
// the op's body.
type envelope struct {
	Op    string          `json:"op"`
	Error string          `json:"error,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
}

// PeerError is the error the peer reported instead of the message due.
type PeerError struct{ Msg string }

func (e *PeerError) Error() string { return "the peer reports: " + e.Msg }

// Send sends message op with body v (JSON).
func (c *Conn) Send(op string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	data, err := json.Marshal(envelope{Op: op, Body: body})
	if err != nil {
		return err
	}
	if err := c.writeFrame(kindMessage, data); err != nil {
		return fmt.Errorf("send %s: %w", op, err)
	}
	return nil
}

// SendError tells the peer why this side gives up; errors sending it are
// ignored (the connection may be what failed).
func (c *Conn) SendError(err error) {
	data, _ := json.Marshal(envelope{Op: "error", Error: err.Error()})
	c.writeFrame(kindMessage, data)
}

// Recv reads the next message, which must be op, into v (nil: the body is
// not wanted). An error message from the peer is returned as *PeerError.
func (c *Conn) Recv(op string, v any) error {
	_, data, err := c.readFrame(kindMessage)
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", op, noEOF(err))
	}
	return decodeMessage(data, op, v)
}

func decodeMessage(data []byte, op string, v any) error {
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("waiting for %s: %w: %w", op, err, ErrProtocol)
	}
	if e.Op == "error" {
		return &PeerError{Msg: e.Error}
	}
	if e.Op != op {
		return fmt.Errorf("got %q where %q was due: %w", e.Op, op, ErrProtocol)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(e.Body, v); err != nil {
		return fmt.Errorf("%s: %w: %w", op, err, ErrProtocol)
	}
	return nil
}

// SendStream copies r to the peer as data frames and ends the stream. It
// returns the payload bytes sent. If reading r fails, the peer is sent the
// error instead of the stream's end.
func (c *Conn) SendStream(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := c.writeFrame(kindData, buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return total, c.writeFrame(kindData, nil)
		}
		if err != nil {
			c.SendError(err)
			return total, err
		}
	}
}

// RecvStream copies the peer's next stream to w. A write error to w stops
// the copy, but the rest of the stream is still read (and dropped) so that
// the connection stays in step; the first error is returned.
func (c *Conn) RecvStream(w io.Writer) (int64, error) {
	var total int64
	var werr error
	for {
		kind, chunk, err := c.readFrame(kindData)
		if err != nil {
			return total, fmt.Errorf("receiving a stream: %w", noEOF(err))
		}
		if kind == kindMessage {
			// The sender gave up mid-stream and says why; any other
			// message is out of step, never the stream's end.
			if err := decodeMessage(chunk, "data", nil); err != nil {
				return total, err
			}
			return total, fmt.Errorf("got a message where stream data was due: %w", ErrProtocol)
		}
		if len(chunk) == 0 {
			return total, werr
		}
		total += int64(len(chunk))
		if werr == nil {
			_, werr = w.Write(chunk)
		}
	}
}
