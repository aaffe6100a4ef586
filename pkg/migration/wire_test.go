package migration

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// bufConns are a one-way connection through a buffer: what one Conn sends
// over it another Conn on the same buffer receives.
func bufConns() (send, recv *Conn, buf *bytes.Buffer) {
	buf = new(bytes.Buffer)
	return NewConn(buf), NewConn(buf), buf
}

// pipeConns are the two ends of a synchronous in-memory connection.
func pipeConns(t *testing.T) (a, b *Conn) {
	t.Helper()
	pa, pb := net.Pipe()
	t.Cleanup(func() { pa.Close(); pb.Close() })
	// A test that goes wrong must fail, not hang on a pipe nobody reads.
	deadline := time.Now().Add(30 * time.Second)
	pa.SetDeadline(deadline)
	pb.SetDeadline(deadline)
	return NewConn(pa), NewConn(pb)
}

// goErr runs f in a goroutine; the returned function waits for its error.
func goErr(f func() error) func() error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return func() error { return <-ch }
}

// rawFrame is a frame as it goes over the wire.
func rawFrame(kind byte, payload []byte) []byte {
	return append(rawHeader(kind, uint32(len(payload))), payload...)
}

func rawHeader(kind byte, n uint32) []byte {
	hdr := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[1:], n)
	return hdr
}

func rawMessage(t testing.TB, e envelope) []byte {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(kindMessage, data)
}

// readWriter reads from r and discards what is written.
type readWriter struct {
	io.Reader
	io.Writer
}

func readOnly(r io.Reader) io.ReadWriter { return readWriter{r, io.Discard} }

// spyReader records the reads made of it: the largest buffer it was asked
// to fill (a frame's payload buffer is allocated at its full size before
// it is read) and the bytes it gave.
type spyReader struct {
	r       io.Reader
	maxRead int
	n       int64
}

func (s *spyReader) Read(p []byte) (int, error) {
	s.maxRead = max(s.maxRead, len(p))
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

type payload struct {
	Name  string            `json:"name"`
	N     int64             `json:"n"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Raw   []byte            `json:"raw,omitempty"`
}

func TestSendRecvRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		op   string
		in   any
		out  func() any // a fresh value to decode into
	}{
		{"struct", "p", payload{Name: "x", N: -7, Tags: []string{"a", ""}, Attrs: map[string]string{"k": "v"}, Raw: []byte{0, 1, 255}}, func() any { return new(payload) }},
		{"empty struct", "p", payload{}, func() any { return new(payload) }},
		{"hello", "hello", Hello{Role: RoleSource, Version: "1.2.3", CRIU: "4.1", MAC: bytes.Repeat([]byte{0xa5}, 32)}, func() any { return new(Hello) }},
		{"manifest", "manifest", Manifest{Entries: []Entry{{Path: "a", Type: "d", Mode: 0o755}, {Path: "a/b", Type: "f", Mode: 0o4755, UID: 1, GID: 2, Size: 3, Hash: "abc"}, {Path: "l", Type: "l", Mode: 0o777, Link: "../x"}}}, func() any { return new(Manifest) }},
		{"string", "s", "héllo \x00 \"quoted\"", func() any { return new(string) }},
		{"number", "n", int64(1) << 53, func() any { return new(int64) }},
		{"list", "l", []string{"a", "b"}, func() any { return new([]string) }},
		{"nil body", "done", nil, func() any { return new(any) }},
		{"large", "big", strings.Repeat("x", 3<<20), func() any { return new(string) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/pipe", func(t *testing.T) {
			a, b := pipeConns(t)
			wait := goErr(func() error { return a.Send(tt.op, tt.in) })
			out := tt.out()
			if err := b.Recv(tt.op, out); err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if err := wait(); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := reflect.ValueOf(out).Elem().Interface()
			if tt.in == nil {
				if got != nil {
					t.Fatalf("got %#v, want nil", got)
				}
			} else if !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("got %#v, want %#v", got, tt.in)
			}
			if a.Sent() == 0 || a.Sent() != b.Received() || a.Received() != 0 || b.Sent() != 0 {
				t.Fatalf("counts: a sent %d received %d, b sent %d received %d", a.Sent(), a.Received(), b.Sent(), b.Received())
			}
		})
		t.Run(tt.name+"/nil value", func(t *testing.T) {
			s, r, buf := bufConns()
			if err := s.Send(tt.op, tt.in); err != nil {
				t.Fatal(err)
			}
			if err := r.Recv(tt.op, nil); err != nil {
				t.Fatalf("Recv into nil: %v", err)
			}
			if buf.Len() != 0 || s.Sent() != r.Received() {
				t.Fatalf("%d bytes left, sent %d received %d", buf.Len(), s.Sent(), r.Received())
			}
		})
	}
}

// TestSendFrame pins the frame format and the counts: one kind byte, a
// big-endian length and the JSON envelope.
func TestSendFrame(t *testing.T) {
	s, r, buf := bufConns()
	if err := s.Send("op", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	want := rawFrame(kindMessage, []byte(`{"op":"op","body":{"a":1}}`))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("frame %q, want %q", buf.Bytes(), want)
	}
	if s.Sent() != int64(len(want)) {
		t.Fatalf("Sent %d, want %d", s.Sent(), len(want))
	}
	if err := r.Recv("op", nil); err != nil {
		t.Fatal(err)
	}
	if r.Received() != int64(len(want)) {
		t.Fatalf("Received %d, want %d", r.Received(), len(want))
	}
}

func TestSendUnencodable(t *testing.T) {
	s, _, buf := bufConns()
	if err := s.Send("op", func() {}); err == nil {
		t.Fatal("a func was encoded")
	}
	if buf.Len() != 0 || s.Sent() != 0 {
		t.Fatalf("%d bytes sent for a message that cannot be encoded", buf.Len())
	}
}

func TestSendWriteError(t *testing.T) {
	boom := errors.New("boom")
	c := NewConn(readWriter{strings.NewReader(""), errWriter{boom}})
	if err := c.Send("op", 1); !errors.Is(err, boom) {
		t.Fatalf("Send: %v, want %v", err, boom)
	}
	if c.Sent() != 0 {
		t.Fatalf("Sent %d after a failed write", c.Sent())
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestRecvWrongOp(t *testing.T) {
	s, r, buf := bufConns()
	if err := s.Send("manifest", Manifest{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send("next", 1); err != nil {
		t.Fatal(err)
	}
	err := r.Recv("hello", new(Hello))
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("Recv of the wrong op: %v, want ErrProtocol", err)
	}
	if !strings.Contains(err.Error(), `"manifest"`) || !strings.Contains(err.Error(), `"hello"`) {
		t.Errorf("error does not name both ops: %v", err)
	}
	// The frame was read whole: the next message is there.
	var n int
	if err := r.Recv("next", &n); err != nil || n != 1 {
		t.Fatalf("next message: %d, %v", n, err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes left", buf.Len())
	}
}

func TestRecvPeerError(t *testing.T) {
	for _, msg := range []string{"no space left on device", "", "multi\nline \"quoted\" ü"} {
		t.Run(fmt.Sprintf("%q", msg), func(t *testing.T) {
			a, b := pipeConns(t)
			wait := goErr(func() error { a.SendError(errors.New(msg)); return a.Send("after", "x") })
			var h Hello
			err := b.Recv("hello", &h)
			var pe *PeerError
			if !errors.As(err, &pe) {
				t.Fatalf("Recv: %v, want a *PeerError", err)
			}
			if pe.Msg != msg {
				t.Fatalf("peer error %q, want %q", pe.Msg, msg)
			}
			if errors.Is(err, ErrProtocol) {
				t.Fatalf("a peer error is not a protocol error: %v", err)
			}
			if !strings.Contains(err.Error(), msg) {
				t.Fatalf("error text %q lacks %q", err, msg)
			}
			if !reflect.DeepEqual(h, Hello{}) {
				t.Fatalf("value written on error: %+v", h)
			}
			var s string
			if err := b.Recv("after", &s); err != nil || s != "x" {
				t.Fatalf("message after the error: %q, %v", s, err)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if a.Sent() != b.Received() {
				t.Fatalf("sent %d, received %d", a.Sent(), b.Received())
			}
		})
	}
}

// TestSendErrorToClosed: SendError ignores a connection that is gone.
func TestSendErrorToClosed(t *testing.T) {
	pa, pb := net.Pipe()
	pb.Close()
	pa.Close()
	c := NewConn(pa)
	c.SendError(errors.New("x")) // must not panic or block
	if c.Sent() != 0 {
		t.Fatalf("Sent %d on a closed connection", c.Sent())
	}
}

// TestRecvMalformed: frames that are well formed but whose message is not.
func TestRecvMalformed(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		v    any
	}{
		{"not JSON", rawFrame(kindMessage, []byte("{op")), nil},
		{"empty message", rawFrame(kindMessage, nil), nil},
		{"JSON not an object", rawFrame(kindMessage, []byte(`"hello"`)), nil},
		{"op of the wrong type", rawFrame(kindMessage, []byte(`{"op":1}`)), nil},
		{"body of the wrong type", rawFrame(kindMessage, []byte(`{"op":"hello","body":"x"}`)), new(Hello)},
		{"no body where one is wanted", rawFrame(kindMessage, []byte(`{"op":"hello"}`)), new(Hello)},
		{"no op", rawFrame(kindMessage, []byte(`{"body":{}}`)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(readOnly(bytes.NewReader(tt.data)))
			err := c.Recv("hello", tt.v)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Recv: %v, want ErrProtocol", err)
			}
		})
	}
}

// TestRecvRefusedFrames: frames over the limits, of unknown kinds, or of
// the wrong kind are refused from their header, before their payload is
// allocated or read.
func TestRecvRefusedFrames(t *testing.T) {
	tests := []struct {
		name   string
		hdr    []byte
		stream bool // RecvStream rather than Recv
	}{
		{"message over the limit", rawHeader(kindMessage, maxMessage+1), false},
		{"message of 4 GiB", rawHeader(kindMessage, 1<<32-1), false},
		{"message over the limit in a stream", rawHeader(kindMessage, maxMessage+1), true},
		{"chunk over the limit", rawHeader(kindData, maxChunk+1), true},
		{"chunk of 4 GiB", rawHeader(kindData, 1<<32-1), true},
		{"chunk of a message's size", rawHeader(kindData, maxMessage), true},
		{"unknown kind", rawHeader('X', 10), false},
		{"unknown kind in a stream", rawHeader('X', 10), true},
		{"kind zero", rawHeader(0, 0), false},
		{"lower-case kind", rawHeader('m', 2), false},
		{"data where a message is due", rawHeader(kindData, 10), false},
		{"empty data where a message is due", rawHeader(kindData, 0), false},
		{"large data where a message is due", rawHeader(kindData, maxMessage), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The header is followed by plenty of bytes: only the
			// header may be read.
			spy := &spyReader{r: io.MultiReader(bytes.NewReader(tt.hdr), bytes.NewReader(make([]byte, 64)))}
			c := NewConn(readOnly(spy))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			if tt.stream {
				_, err = c.RecvStream(io.Discard)
			} else {
				err = c.Recv("hello", nil)
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
			if spy.n != 5 || spy.maxRead > 5 {
				t.Fatalf("read %d bytes, largest read %d: the payload was allocated or read", spy.n, spy.maxRead)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
				t.Fatalf("allocated %d bytes for a refused frame", d)
			}
			if c.Received() != 0 {
				t.Fatalf("a refused frame counted: %d", c.Received())
			}
		})
	}
}

// TestRecvAtLimits: frames exactly at the limits are accepted.
func TestRecvAtLimits(t *testing.T) {
	t.Run("message", func(t *testing.T) {
		// The frame alone: decoding 64 MiB of JSON tells nothing more.
		data := rawFrame(kindMessage, make([]byte, maxMessage))
		for _, want := range []byte{kindMessage, kindData} {
			c := NewConn(readOnly(bytes.NewReader(data)))
			kind, payload, err := c.readFrame(want)
			if err != nil || kind != kindMessage || len(payload) != maxMessage || c.Received() != int64(len(data)) {
				t.Fatalf("readFrame(%q): %q, %d bytes, %v; received %d", want, kind, len(payload), err, c.Received())
			}
		}
	})
	t.Run("chunk", func(t *testing.T) {
		chunk := bytes.Repeat([]byte{7}, maxChunk)
		data := append(rawFrame(kindData, chunk), rawFrame(kindData, nil)...)
		c := NewConn(readOnly(bytes.NewReader(data)))
		var out bytes.Buffer
		n, err := c.RecvStream(&out)
		if err != nil || n != maxChunk || !bytes.Equal(out.Bytes(), chunk) {
			t.Fatalf("RecvStream: %d, %v", n, err)
		}
	})
}

// TestRecvCutShort: a connection that ends inside a frame or a stream is
// io.ErrUnexpectedEOF, as is one that ends where a message is due.
func TestRecvCutShort(t *testing.T) {
	msg := rawMessage(t, envelope{Op: "hello", Body: json.RawMessage(`{}`)})
	chunk := rawFrame(kindData, []byte("abcdef"))
	tests := []struct {
		name   string
		data   []byte
		stream bool
	}{
		{"nothing", nil, false},
		{"part of a header", msg[:3], false},
		{"a header alone", msg[:5], false},
		{"part of a payload", msg[:len(msg)-1], false},
		{"stream: nothing", nil, true},
		{"stream: part of a header", chunk[:4], true},
		{"stream: a header alone", chunk[:5], true},
		{"stream: part of a chunk", chunk[:8], true},
		{"stream: no end", chunk, true},
		{"stream: part of the end", append(append([]byte{}, chunk...), kindData, 0, 0), true},
		{"stream: part of a peer error", append(append([]byte{}, chunk...), rawMessage(t, envelope{Op: "error", Error: "x"})[:9]...), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(readOnly(bytes.NewReader(tt.data)))
			var err error
			if tt.stream {
				_, err = c.RecvStream(io.Discard)
			} else {
				err = c.Recv("hello", nil)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("a cut-short frame is io.EOF too: %v", err)
			}
		})
	}
}

// patterned is n bytes that differ from chunk to chunk, so that a chunk
// lost, doubled or reordered shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>12)
	}
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	const sendBuf = 256 << 10 // SendStream's read size
	tests := []struct {
		name   string
		size   int
		reader func([]byte) io.Reader
	}{
		{"empty", 0, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"one byte", 1, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"small", 1000, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"one read's worth", sendBuf, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"multi-chunk", 3<<20 + 12345, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"data with EOF", 5000, func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
		{"one byte a read", 300, func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"half reads", 1 << 20, func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
		{"empty reads", 100, func(b []byte) io.Reader { return &emptyReads{r: bytes.NewReader(b)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := patterned(tt.size)
			a, b := pipeConns(t)
			var sent int64
			wait := goErr(func() error {
				var err error
				if sent, err = a.SendStream(tt.reader(data)); err != nil {
					return err
				}
				return a.Send("after", tt.size)
			})
			var out bytes.Buffer
			n, err := b.RecvStream(&out)
			if err != nil {
				t.Fatalf("RecvStream: %v", err)
			}
			var after int
			if err := b.Recv("after", &after); err != nil || after != tt.size {
				t.Fatalf("message after the stream: %d, %v", after, err)
			}
			if err := wait(); err != nil {
				t.Fatalf("SendStream: %v", err)
			}
			if n != int64(tt.size) || sent != int64(tt.size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("sent %d, received %d (%d bytes, equal %v), want %d", sent, n, out.Len(), bytes.Equal(out.Bytes(), data), tt.size)
			}
			if a.Sent() != b.Received() || a.Received() != 0 || b.Sent() != 0 {
				t.Fatalf("counts: a sent %d received %d, b sent %d received %d", a.Sent(), a.Received(), b.Sent(), b.Received())
			}
		})
	}
}

// TestStreamFrames pins how a stream is framed: chunks of at most
// SendStream's buffer, then an empty data frame.
func TestStreamFrames(t *testing.T) {
	for _, size := range []int{0, 1, 256 << 10, 256<<10 + 1, 5 << 20} {
		s, _, buf := bufConns()
		n, err := s.SendStream(bytes.NewReader(patterned(size)))
		if err != nil || n != int64(size) {
			t.Fatalf("%d: SendStream %d, %v", size, n, err)
		}
		frames := (size+256<<10-1)/(256<<10) + 1
		if want := int64(size + 5*frames); s.Sent() != want || int64(buf.Len()) != want {
			t.Fatalf("%d: sent %d (buffer %d), want %d", size, s.Sent(), buf.Len(), want)
		}
		tail := buf.Bytes()[buf.Len()-5:]
		if !bytes.Equal(tail, rawHeader(kindData, 0)) {
			t.Fatalf("%d: stream ends in %q", size, tail)
		}
		for data := buf.Bytes(); len(data) > 0; {
			if data[0] != kindData {
				t.Fatalf("%d: frame of kind %q", size, data[0])
			}
			l := binary.BigEndian.Uint32(data[1:5])
			if l > maxChunk {
				t.Fatalf("%d: chunk of %d", size, l)
			}
			data = data[5+l:]
		}
	}
}

// emptyReads returns (0, nil) every other read.
type emptyReads struct {
	r    io.Reader
	flip bool
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.flip = !e.flip; e.flip {
		return 0, nil
	}
	return e.r.Read(p)
}

// TestSendStreamReadError: a source that fails mid-stream reaches the
// receiver as the peer's error, and the connection stays in step.
func TestSendStreamReadError(t *testing.T) {
	boom := errors.New("read /rootfs/etc/passwd: input/output error")
	for _, before := range []int{0, 10, 2 << 20} {
		t.Run(fmt.Sprint(before), func(t *testing.T) {
			a, b := pipeConns(t)
			var sent int64
			var sendErr error
			wait := goErr(func() error {
				sent, sendErr = a.SendStream(io.MultiReader(bytes.NewReader(patterned(before)), iotest.ErrReader(boom)))
				return a.Send("next", "still in step")
			})
			var out bytes.Buffer
			n, err := b.RecvStream(&out)
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Msg != boom.Error() {
				t.Fatalf("RecvStream: %v, want the peer's error %q", err, boom)
			}
			if n != int64(before) || !bytes.Equal(out.Bytes(), patterned(before)) {
				t.Fatalf("received %d bytes before the error, want %d", n, before)
			}
			var s string
			if err := b.Recv("next", &s); err != nil || s != "still in step" {
				t.Fatalf("next message: %q, %v", s, err)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(sendErr, boom) || sent != int64(before) {
				t.Fatalf("SendStream: %d, %v; want %d, %v", sent, sendErr, before, boom)
			}
			if a.Sent() != b.Received() {
				t.Fatalf("sent %d, received %d", a.Sent(), b.Received())
			}
		})
	}
}

// failWriter takes ok bytes, then fails.
type failWriter struct {
	ok     int
	got    bytes.Buffer
	err    error
	writes int
}

func (w *failWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.got.Len()+len(p) > w.ok {
		n := w.ok - w.got.Len()
		w.got.Write(p[:n])
		return n, w.err
	}
	return w.got.Write(p)
}

// TestRecvStreamWriteError: a failing destination does not leave the rest
// of the stream on the connection: it is read to its end and the write
// error returned.
func TestRecvStreamWriteError(t *testing.T) {
	full := errors.New("no space left on device")
	data := patterned(3 << 20)
	for _, ok := range []int{0, 1000, 256 << 10, 2 << 20} {
		t.Run(fmt.Sprint(ok), func(t *testing.T) {
			a, b := pipeConns(t)
			wait := goErr(func() error {
				if _, err := a.SendStream(bytes.NewReader(data)); err != nil {
					return err
				}
				return a.Send("next", 42)
			})
			w := &failWriter{ok: ok, err: full}
			_, err := b.RecvStream(w)
			if !errors.Is(err, full) {
				t.Fatalf("RecvStream: %v, want %v", err, full)
			}
			if !bytes.Equal(w.got.Bytes(), data[:ok]) {
				t.Fatalf("wrote %d bytes, want the first %d", w.got.Len(), ok)
			}
			// Nothing is written after the first failure.
			if want := ok/(256<<10) + 1; w.writes != want {
				t.Fatalf("%d writes, want %d", w.writes, want)
			}
			var n int
			if err := b.Recv("next", &n); err != nil || n != 42 {
				t.Fatalf("next message: %d, %v", n, err)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if a.Sent() != b.Received() {
				t.Fatalf("sent %d, received %d", a.Sent(), b.Received())
			}
		})
	}
}

// TestRecvStreamMessage: a message in a stream is the sender's error, or
// a protocol error; never the stream's end.
func TestRecvStreamMessage(t *testing.T) {
	chunk := rawFrame(kindData, []byte("abc"))
	tests := []struct {
		name string
		msg  []byte
		peer string // the peer error expected; "" for ErrProtocol
	}{
		{"peer error", rawMessage(t, envelope{Op: "error", Error: "disk on fire"}), "disk on fire"},
		{"another op", rawMessage(t, envelope{Op: "hello", Body: json.RawMessage(`{}`)}), ""},
		{"op data", rawMessage(t, envelope{Op: "data"}), ""},
		{"empty op", rawFrame(kindMessage, []byte(`{}`)), ""},
		{"not JSON", rawFrame(kindMessage, []byte(`}`)), ""},
	}
	for _, tt := range tests {
		for _, first := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/first %v", tt.name, first), func(t *testing.T) {
				var data []byte
				if !first {
					data = append(data, chunk...)
				}
				data = append(data, tt.msg...)
				data = append(data, rawFrame(kindData, nil)...) // must not be read
				c := NewConn(readOnly(bytes.NewReader(data)))
				_, err := c.RecvStream(io.Discard)
				if tt.peer != "" {
					var pe *PeerError
					if !errors.As(err, &pe) || pe.Msg != tt.peer {
						t.Fatalf("RecvStream: %v, want the peer's error %q", err, tt.peer)
					}
					return
				}
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("RecvStream: %v, want ErrProtocol", err)
				}
			})
		}
	}
}

// TestRecvStreamWriteErrorThenPeerError: the sender's error after a write
// error is still an error (which of the two is reported is not pinned).
func TestRecvStreamWriteErrorThenPeerError(t *testing.T) {
	full := errors.New("full")
	data := append(rawFrame(kindData, []byte("abc")), rawMessage(t, envelope{Op: "error", Error: "gone"})...)
	c := NewConn(readOnly(bytes.NewReader(data)))
	if _, err := c.RecvStream(&failWriter{err: full}); err == nil {
		t.Fatal("RecvStream succeeded")
	}
}

// TestCountsBothWays: a whole conversation in both directions; each
// side's Sent is the other's Received.
func TestCountsBothWays(t *testing.T) {
	a, b := pipeConns(t)
	wait := goErr(func() error {
		if err := a.Send("hello", Hello{Role: RoleSource}); err != nil {
			return err
		}
		if err := a.Recv("hello", nil); err != nil {
			return err
		}
		if _, err := a.SendStream(bytes.NewReader(patterned(1<<20 + 3))); err != nil {
			return err
		}
		if _, err := a.RecvStream(io.Discard); err != nil {
			return err
		}
		a.SendError(errors.New("bye"))
		return nil
	})
	if err := b.Recv("hello", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Send("hello", Hello{Role: RoleTarget}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RecvStream(io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendStream(bytes.NewReader(patterned(100))); err != nil {
		t.Fatal(err)
	}
	var pe *PeerError
	if err := b.Recv("x", nil); !errors.As(err, &pe) {
		t.Fatalf("last message: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if a.Sent() != b.Received() || b.Sent() != a.Received() {
		t.Fatalf("a sent %d, b received %d; b sent %d, a received %d", a.Sent(), b.Received(), b.Sent(), a.Received())
	}
	if a.Sent() < 1<<20 || b.Sent() < 100 {
		t.Fatalf("counts too small: %d, %d", a.Sent(), b.Sent())
	}
}

// FuzzRecv feeds arbitrary bytes to Recv and RecvStream, as an
// unauthenticated peer may: no panic, no buffer over the limits, and every
// error a protocol error, the peer's error or a cut-short connection.
func FuzzRecv(f *testing.F) {
	hello, _ := json.Marshal(envelope{Op: "hello", Body: json.RawMessage(`{"role":"source","version":"1","criu":"4","mac":"AAEC"}`)})
	peerErr, _ := json.Marshal(envelope{Op: "error", Error: "x"})
	f.Add(rawFrame(kindMessage, hello))
	f.Add(append(rawFrame(kindMessage, hello), rawFrame(kindMessage, peerErr)...))
	f.Add(append(append(rawFrame(kindData, []byte("abc")), rawFrame(kindData, []byte("de"))...), rawFrame(kindData, nil)...))
	f.Add(append(rawFrame(kindData, []byte("abc")), rawFrame(kindMessage, peerErr)...))
	f.Add(append(rawFrame(kindData, nil), rawFrame(kindMessage, []byte(`{"op":"data"}`))...))
	f.Add(rawHeader(kindMessage, maxMessage+1))
	f.Add(rawHeader(kindData, maxChunk))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		checkErr := func(what string, err error) {
			var pe *PeerError
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &pe) {
				t.Fatalf("%s: unexpected error %v", what, err)
			}
		}

		// Messages: each Recv reads at least a header, so this ends.
		r := bytes.NewReader(data)
		spy := &spyReader{r: r}
		c := NewConn(readOnly(spy))
		for r.Len() > 0 {
			start := len(data) - r.Len()
			received := c.Received()
			var h Hello
			err := c.Recv("hello", &h)
			end := len(data) - r.Len()
			if err != nil {
				checkErr("Recv", err)
				continue
			}
			if data[start] != kindMessage || end-start != 5+int(binary.BigEndian.Uint32(data[start+1:])) || c.Received()-received != int64(end-start) {
				t.Fatalf("Recv succeeded on bytes %d to %d (%q), counted %d", start, end, data[start:end], c.Received()-received)
			}
		}
		if spy.maxRead > maxMessage {
			t.Fatalf("Recv read into a buffer of %d bytes", spy.maxRead)
		}
		if c.Received() > int64(len(data)) {
			t.Fatalf("Received %d of %d bytes", c.Received(), len(data))
		}

		// Streams, one after the other.
		r = bytes.NewReader(data)
		spy = &spyReader{r: r}
		c = NewConn(readOnly(spy))
		for r.Len() > 0 {
			start := len(data) - r.Len()
			var out bytes.Buffer
			n, err := c.RecvStream(&out)
			end := len(data) - r.Len()
			if n != int64(out.Len()) {
				t.Fatalf("RecvStream counted %d, wrote %d", n, out.Len())
			}
			if err != nil {
				checkErr("RecvStream", err)
				continue
			}
			// A stream ends only with an empty data frame.
			if end-start < 5 || !bytes.Equal(data[end-5:end], rawHeader(kindData, 0)) {
				t.Fatalf("RecvStream succeeded on bytes %d to %d (%q)", start, end, data[start:end])
			}
		}
		if spy.maxRead > maxMessage {
			t.Fatalf("RecvStream read into a buffer of %d bytes", spy.maxRead)
		}
		if c.Received() > int64(len(data)) {
			t.Fatalf("Received %d of %d bytes", c.Received(), len(data))
		}

		// All that was allocated: what the input holds (decoded, copied
		// a few times) and, at most once on each connection, the
		// buffer of a frame that the input then cut short.
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 2*maxMessage+uint64(64*len(data))+4<<20 {
			t.Fatalf("allocated %d bytes for %d bytes of input", d, len(data))
		}
	})
}
