package migration

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"syscall"
	"time"
)

// The control connection is TLS 1.3 with a certificate the target makes for
// the one migration, which nobody verifies: both sides prove that they know
// the shared token by an HMAC over the TLS session's exported keying
// material, so a man in the middle, who has two different sessions, cannot
// forward a proof. The source proves first; the target answers a peer with a
// wrong proof with nothing at all.

// Roles in the hello.
const (
	RoleSource = "source"
	RoleTarget = "target"
)

// MinTokenLen is the shortest token accepted.
const MinTokenLen = 16

var (
	// ErrBadToken: the peer's proof of the token is wrong.
	ErrBadToken = errors.New("the peer does not know the migration token")
	// ErrVersionMismatch: the two sides run different rt or CRIU versions.
	ErrVersionMismatch = errors.New("rt or CRIU versions differ")
)

// Hello is what each side says first: who it is and what it runs.
type Hello struct {
	Role    string `json:"role"`
	Version string `json:"version"`
	CRIU    string `json:"criu"`
	MAC     []byte `json:"mac"`
}

// CheckToken refuses a token too short to be a secret.
func CheckToken(token []byte) error {
	if len(token) == 0 {
		return errors.New("no migration token: set the migration-token setting (RT_MIGRATION_TOKEN) or give --token-file")
	}
	if len(token) < MinTokenLen {
		return fmt.Errorf("the migration token has %d characters, fewer than %d", len(token), MinTokenLen)
	}
	return nil
}

func proof(token []byte, role string, cs tls.ConnectionState) ([]byte, error) {
	ekm, err := cs.ExportKeyingMaterial("rt-migration-v1", nil, 32)
	if err != nil {
		return nil, fmt.Errorf("TLS keying material: %w", err)
	}
	m := hmac.New(sha256.New, token)
	m.Write([]byte(role))
	m.Write(ekm)
	return m.Sum(nil), nil
}

// ServerTLS is the target's TLS configuration, with a fresh self-signed
// certificate.
func ServerTLS() (*tls.Config, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rt-migration"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, nil
}

// clientTLS skips certificate verification on purpose: the token proof,
// bound to the session, authenticates the target.
func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13} //nolint:gosec // see above
}

// Dial connects the source to the target at addr and authenticates both
// ways. It returns the connection, the underlying TLS connection (to close)
// and the target's hello.
func Dial(ctx context.Context, addr string, token []byte, self Hello) (*Conn, *tls.Conn, *Hello, error) {
	d := tls.Dialer{Config: clientTLS(), NetDialer: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 5 * time.Second}}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect to the target %s: %w", addr, err)
	}
	tc := nc.(*tls.Conn)
	peer, c, err := handshake(tc, token, self, RoleTarget, true)
	if err != nil {
		tc.Close()
		return nil, nil, nil, err
	}
	return c, tc, peer, nil
}

// Accept authenticates a source that connected to the target (tc, from a
// listener with ServerTLS). A source with a wrong proof gets no answer and
// ErrBadToken is returned; one with other versions gets the mismatch as its
// error and ErrVersionMismatch is returned.
func Accept(tc *tls.Conn, token []byte, self Hello) (*Conn, *Hello, error) {
	peer, c, err := handshake(tc, token, self, RoleSource, false)
	return c, peer, err
}

// handshake runs the hello exchange on tc; the dialling side (the source)
// speaks first.
func handshake(tc *tls.Conn, token []byte, self Hello, peerRole string, first bool) (*Hello, *Conn, error) {
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	defer tc.SetDeadline(time.Time{})
	if err := tc.Handshake(); err != nil {
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	cs := tc.ConnectionState()
	c := newUntrustedConn(tc)
	var err error
	if self.MAC, err = proof(token, self.Role, cs); err != nil {
		return nil, nil, err
	}
	want, err := proof(token, peerRole, cs)
	if err != nil {
		return nil, nil, err
	}
	if first {
		if err := c.Send("hello", self); err != nil {
			return nil, nil, err
		}
	}
	var peer Hello
	if err := c.Recv("hello", &peer); err != nil {
		if first && closedByPeer(err) {
			return nil, nil, fmt.Errorf("the target closed the connection without a hello: it refused this side's token proof (is the token the same on both hosts?): %w", ErrBadToken)
		}
		return nil, nil, fmt.Errorf("hello: %w", err)
	}
	if peer.Role != peerRole || !hmac.Equal(peer.MAC, want) {
		return &peer, nil, fmt.Errorf("the %s's proof of the token is wrong: %w", peerRole, ErrBadToken)
	}
	if peer.Version != self.Version || peer.CRIU != self.CRIU {
		err := fmt.Errorf("this %s runs rt %s with CRIU %s, the %s rt %s with CRIU %s: %w",
			self.Role, self.Version, self.CRIU, peerRole, peer.Version, peer.CRIU, ErrVersionMismatch)
		c.SendError(err)
		return &peer, nil, err
	}
	if !first {
		if err := c.Send("hello", self); err != nil {
			return nil, nil, err
		}
	}
	c.trust()
	return &peer, c, nil
}

// closedByPeer reports whether err is the peer closing the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
