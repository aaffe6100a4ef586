package migration

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testToken  = []byte("0123456789abcdef-the-token")
	otherToken = []byte("0123456789abcdef-another-one")
)

func sourceHello() Hello { return Hello{Role: RoleSource, Version: "1.4.0", CRIU: "4.1"} }
func targetHello() Hello { return Hello{Role: RoleTarget, Version: "1.4.0", CRIU: "4.1"} }

// tlsListener is a loopback listener with the target's TLS.
func tlsListener(t *testing.T) net.Listener {
	t.Helper()
	cfg, err := ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, cfg)
	t.Cleanup(func() { tl.Close() })
	return tl
}

type accepted struct {
	c    *Conn
	peer *Hello
	err  error
	tc   *tls.Conn
}

// serve accepts one connection on l and runs Accept on it, closing it when
// Accept fails (as the target does); wait closes it at the end of the test
// otherwise.
func serve(t *testing.T, l net.Listener, token []byte, self Hello) <-chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			ch <- accepted{err: err}
			return
		}
		tc := nc.(*tls.Conn)
		c, peer, err := Accept(tc, token, self)
		if err != nil {
			tc.Close()
		}
		ch <- accepted{c, peer, err, tc}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan accepted) accepted {
	t.Helper()
	select {
	case a := <-ch:
		if a.err == nil {
			t.Cleanup(func() { a.tc.Close() })
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("Accept did not return")
		return accepted{}
	}
}

func dial(t *testing.T, addr string, token []byte, self Hello) (*Conn, *Hello, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, tc, peer, err := Dial(ctx, addr, token, self)
	if err == nil {
		t.Cleanup(func() { tc.Close() })
	} else if c != nil || tc != nil || peer != nil {
		t.Errorf("Dial failed (%v) but returned a connection or a hello", err)
	}
	return c, peer, err
}

func TestHandshake(t *testing.T) {
	l := tlsListener(t)
	ch := serve(t, l, testToken, targetHello())
	c, peer, err := dial(t, l.Addr().String(), testToken, sourceHello())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	a := wait(t, ch)
	if a.err != nil {
		t.Fatalf("Accept: %v", a.err)
	}
	// Each side has the other's hello, proof included.
	if c == nil || peer == nil || a.c == nil || a.peer == nil {
		t.Fatalf("Dial: %v, %+v; Accept: %v, %+v", c, peer, a.c, a.peer)
	}
	for _, tt := range []struct {
		side      string
		got, want Hello
	}{
		{"source", *peer, targetHello()},
		{"target", *a.peer, sourceHello()},
	} {
		if tt.got.Role != tt.want.Role || tt.got.Version != tt.want.Version || tt.got.CRIU != tt.want.CRIU || len(tt.got.MAC) != 32 {
			t.Fatalf("the %s got the hello %+v, want %+v with a 32-byte proof", tt.side, tt.got, tt.want)
		}
	}
	// The connections work, both ways.
	done := make(chan error, 1)
	go func() {
		var s string
		if err := a.c.Recv("ping", &s); err != nil || s != "from the source" {
			done <- errors.Join(err, errors.New("ping: "+s))
			return
		}
		done <- a.c.Send("pong", "from the target")
	}()
	if err := c.Send("ping", "from the source"); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := c.Recv("pong", &s); err != nil || s != "from the target" {
		t.Fatalf("pong: %q, %v", s, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.Sent() != a.c.Received() || a.c.Sent() != c.Received() {
		t.Fatalf("counts: source sent %d received %d, target sent %d received %d", c.Sent(), c.Received(), a.c.Sent(), a.c.Received())
	}
}

// TestHandshakeBadToken: whichever side has the wrong token, the target
// refuses the source's proof and says nothing, and the source reports it.
func TestHandshakeBadToken(t *testing.T) {
	tests := []struct {
		name                     string
		sourceToken, targetToken []byte
	}{
		{"wrong token on the source", otherToken, testToken},
		{"wrong token on the target", testToken, otherToken},
		{"a prefix of the token", testToken[:MinTokenLen], testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tlsListener(t)
			ch := serve(t, l, tt.targetToken, targetHello())
			_, _, err := dial(t, l.Addr().String(), tt.sourceToken, sourceHello())
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("Dial: %v, want ErrBadToken", err)
			}
			// The target answered nothing: no error message, no hello.
			var pe *PeerError
			if errors.As(err, &pe) {
				t.Fatalf("the target answered a wrong proof: %v", err)
			}
			a := wait(t, ch)
			if !errors.Is(a.err, ErrBadToken) || a.c != nil {
				t.Fatalf("Accept: %v, want ErrBadToken and no connection", a.err)
			}
		})
	}
}

// fakeTarget accepts one connection, reads the source's hello and answers
// with the hello that answer makes.
func fakeTarget(t *testing.T, answer func(cs tls.ConnectionState, got Hello) Hello) string {
	l := tlsListener(t)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		tc := nc.(*tls.Conn)
		defer tc.Close()
		if err := tc.Handshake(); err != nil {
			return
		}
		c := NewConn(tc)
		var h Hello
		if err := c.Recv("hello", &h); err != nil {
			return
		}
		c.Send("hello", answer(tc.ConnectionState(), h))
		// Wait for the source to hang up.
		io.Copy(io.Discard, tc)
	}()
	return l.Addr().String()
}

// TestHandshakeBadTargetProof: a target that does not know the token
// cannot make a proof the source accepts.
func TestHandshakeBadTargetProof(t *testing.T) {
	mustProof := func(token []byte, role string, cs tls.ConnectionState) []byte {
		p, err := proof(token, role, cs)
		if err != nil {
			t.Error(err)
		}
		return p
	}
	tests := []struct {
		name   string
		answer func(cs tls.ConnectionState, got Hello) Hello
		ok     bool
	}{
		{"right proof (control)", func(cs tls.ConnectionState, _ Hello) Hello {
			h := targetHello()
			h.MAC = mustProof(testToken, RoleTarget, cs)
			return h
		}, true},
		{"proof with another token", func(cs tls.ConnectionState, _ Hello) Hello {
			h := targetHello()
			h.MAC = mustProof(otherToken, RoleTarget, cs)
			return h
		}, false},
		{"the source's hello reflected", func(_ tls.ConnectionState, got Hello) Hello { return got }, false},
		{"the source's proof under the target's role", func(_ tls.ConnectionState, got Hello) Hello {
			h := targetHello()
			h.MAC = got.MAC
			return h
		}, false},
		{"right proof, role source", func(cs tls.ConnectionState, _ Hello) Hello {
			h := targetHello()
			h.Role = RoleSource
			h.MAC = mustProof(testToken, RoleTarget, cs)
			return h
		}, false},
		{"no proof", func(tls.ConnectionState, Hello) Hello { return targetHello() }, false},
		{"truncated proof", func(cs tls.ConnectionState, _ Hello) Hello {
			h := targetHello()
			h.MAC = mustProof(testToken, RoleTarget, cs)[:16]
			return h
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeTarget(t, tt.answer)
			_, peer, err := dial(t, addr, testToken, sourceHello())
			if tt.ok {
				if err != nil || peer == nil || peer.Role != RoleTarget {
					t.Fatalf("Dial: %+v, %v", peer, err)
				}
				return
			}
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("Dial: %v, want ErrBadToken", err)
			}
			if !strings.Contains(err.Error(), "target") {
				t.Errorf("error does not say it is the target's proof: %v", err)
			}
		})
	}
}

// TestHandshakeVersionMismatch: the target, which checks first, tells the
// source both sides' versions and both fail.
func TestHandshakeVersionMismatch(t *testing.T) {
	tests := []struct {
		name           string
		source, target Hello
	}{
		{"rt", Hello{Role: RoleSource, Version: "1.4.0", CRIU: "4.1"}, Hello{Role: RoleTarget, Version: "1.5.0", CRIU: "4.1"}},
		{"CRIU", Hello{Role: RoleSource, Version: "1.4.0", CRIU: "4.0"}, Hello{Role: RoleTarget, Version: "1.4.0", CRIU: "4.1"}},
		{"both", Hello{Role: RoleSource, Version: "1.4.0", CRIU: "3.19"}, Hello{Role: RoleTarget, Version: "1.5.0-dev", CRIU: "4.1"}},
		{"empty on one side", Hello{Role: RoleSource, Version: "", CRIU: "4.1"}, Hello{Role: RoleTarget, Version: "1.4.0", CRIU: "4.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tlsListener(t)
			ch := serve(t, l, testToken, tt.target)
			_, _, err := dial(t, l.Addr().String(), testToken, tt.source)
			var pe *PeerError
			if !errors.As(err, &pe) {
				t.Fatalf("Dial: %v, want the target's error", err)
			}
			if errors.Is(err, ErrBadToken) {
				t.Fatalf("a version mismatch reported as a bad token: %v", err)
			}
			for _, v := range []string{tt.source.Version, tt.source.CRIU, tt.target.Version, tt.target.CRIU} {
				if v != "" && !strings.Contains(pe.Msg, v) {
					t.Errorf("the target's error %q does not mention %q", pe.Msg, v)
				}
			}
			a := wait(t, ch)
			if !errors.Is(a.err, ErrVersionMismatch) || a.c != nil {
				t.Fatalf("Accept: %v, want ErrVersionMismatch", a.err)
			}
			if a.peer == nil || a.peer.Version != tt.source.Version || a.peer.CRIU != tt.source.CRIU {
				t.Fatalf("Accept returned the hello %+v", a.peer)
			}
		})
	}
}

// TestHandshakeSourceVersionMismatch: a target that answers with other
// versions (it skipped its own check) is refused by the source too.
func TestHandshakeSourceVersionMismatch(t *testing.T) {
	addr := fakeTarget(t, func(cs tls.ConnectionState, _ Hello) Hello {
		h := targetHello()
		h.CRIU = "9.9"
		h.MAC, _ = proof(testToken, RoleTarget, cs)
		return h
	})
	_, _, err := dial(t, addr, testToken, sourceHello())
	if !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("Dial: %v, want ErrVersionMismatch", err)
	}
}

// TestHandshakeNotTLS13: the source refuses a target below TLS 1.3.
func TestHandshakeNotTLS13(t *testing.T) {
	cfg, err := ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, cfg)
	defer tl.Close()
	go func() {
		nc, err := tl.Accept()
		if err == nil {
			nc.(*tls.Conn).Handshake()
			nc.Close()
		}
	}()
	if _, _, err := dial(t, tl.Addr().String(), testToken, sourceHello()); err == nil {
		t.Fatal("Dial succeeded over TLS 1.2")
	}
}

// relay forwards between each connection to its listener and a connection
// it makes to addr. With terminate, it is a man in the middle that holds
// a TLS session with each side (its own certificate toward the source, a
// client toward the target); without, it forwards the TCP bytes as they
// are.
func relay(t *testing.T, addr string, terminate bool) string {
	var l net.Listener
	if terminate {
		l = tlsListener(t)
	} else {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	go func() {
		down, err := l.Accept()
		if err != nil {
			return
		}
		defer down.Close()
		var up net.Conn
		if terminate {
			up, err = tls.Dial("tcp", addr, clientTLS())
		} else {
			up, err = net.Dial("tcp", addr)
		}
		if err != nil {
			return
		}
		defer up.Close()
		var wg sync.WaitGroup
		wg.Add(2)
		// Either side closing ends the relay for both.
		go func() { defer wg.Done(); io.Copy(up, down); up.Close() }()
		go func() { defer wg.Done(); io.Copy(down, up); down.Close() }()
		wg.Wait()
	}()
	return l.Addr().String()
}

// TestHandshakeManInTheMiddle: a relay that knows no token but terminates
// TLS toward both sides cannot pass the source's proof on, as it is bound
// to the source's session; a relay of the TCP bytes (the same session end
// to end) can.
func TestHandshakeManInTheMiddle(t *testing.T) {
	for _, terminate := range []bool{false, true} {
		name := map[bool]string{false: "TCP relay", true: "TLS relay"}[terminate]
		t.Run(name, func(t *testing.T) {
			l := tlsListener(t)
			ch := serve(t, l, testToken, targetHello())
			c, _, err := dial(t, relay(t, l.Addr().String(), terminate), testToken, sourceHello())
			a := wait(t, ch)
			if !terminate {
				if err != nil || a.err != nil {
					t.Fatalf("through a TCP relay: Dial %v, Accept %v", err, a.err)
				}
				go a.c.Send("through", 1)
				if err := c.Recv("through", nil); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(a.err, ErrBadToken) {
				t.Fatalf("Accept: %v, want ErrBadToken", a.err)
			}
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("Dial: %v, want ErrBadToken", err)
			}
		})
	}
}

// TestProofBinding: the proof depends on the token, the role and the TLS
// session, and on nothing else.
func TestProofBinding(t *testing.T) {
	sessions := make([]tls.ConnectionState, 2)
	for i := range sessions {
		l := tlsListener(t)
		server := make(chan error, 1)
		go func() {
			nc, err := l.Accept()
			if err == nil {
				err = nc.(*tls.Conn).Handshake()
				nc.Close()
			}
			server <- err
		}()
		tc, err := tls.Dial("tcp", l.Addr().String(), clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = tc.ConnectionState()
		tc.Close()
		if err := <-server; err != nil {
			t.Fatal(err)
		}
	}
	p := func(token []byte, role string, i int) string {
		mac, err := proof(token, role, sessions[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(mac) != 32 {
			t.Fatalf("proof of %d bytes", len(mac))
		}
		return string(mac)
	}
	base := p(testToken, RoleSource, 0)
	if p(testToken, RoleSource, 0) != base {
		t.Fatal("the proof is not deterministic")
	}
	for name, other := range map[string]string{
		"token":   p(otherToken, RoleSource, 0),
		"role":    p(testToken, RoleTarget, 0),
		"session": p(testToken, RoleSource, 1),
	} {
		if other == base {
			t.Errorf("the proof does not depend on the %s", name)
		}
	}
}

func TestServerTLS(t *testing.T) {
	a, err := ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	if a.MinVersion != tls.VersionTLS13 || len(a.Certificates) != 1 {
		t.Fatalf("config: min version %x, %d certificates", a.MinVersion, len(a.Certificates))
	}
	if string(a.Certificates[0].Certificate[0]) == string(b.Certificates[0].Certificate[0]) {
		t.Fatal("two configurations share a certificate")
	}
	if c := clientTLS(); c.MinVersion != tls.VersionTLS13 {
		t.Fatalf("client min version %x", c.MinVersion)
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct {
		token string
		ok    bool
	}{
		{"", false},
		{"short", false},
		{strings.Repeat("x", MinTokenLen-1), false},
		{strings.Repeat("x", MinTokenLen), true},
		{strings.Repeat("x", 64), true},
		{string(testToken), true},
	}
	for _, tt := range tests {
		err := CheckToken([]byte(tt.token))
		if (err == nil) != tt.ok {
			t.Errorf("CheckToken(%q) = %v, want ok %v", tt.token, err, tt.ok)
		}
	}
	if err := CheckToken(nil); err == nil {
		t.Error("CheckToken(nil) accepted")
	}
}

// TestDialUnreachable: no target is a connection error, not a bad token.
func TestDialUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, _, err = dial(t, addr, testToken, sourceHello())
	if err == nil || errors.Is(err, ErrBadToken) {
		t.Fatalf("Dial to nothing: %v", err)
	}
}
