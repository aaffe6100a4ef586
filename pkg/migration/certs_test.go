package migration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func parsePEM(t *testing.T, data []byte, typ string) []byte {
	t.Helper()
	b, rest := pem.Decode(data)
	if b == nil || b.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM %s block: %q", typ, data)
	}
	return b.Bytes
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(parsePEM(t, data, "CERTIFICATE"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCerts(t *testing.T) (target, source *Certs) {
	t.Helper()
	target, source, err := NewCerts()
	if err != nil {
		t.Fatal(err)
	}
	return target, source
}

func TestNewCerts(t *testing.T) {
	target, source := newCerts(t)
	if !bytes.Equal(target.CACert, source.CACert) {
		t.Fatal("the two sides have different CAs")
	}
	ca := parseCert(t, target.CACert)
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("the CA is not a CA: IsCA %v, key usage %b", ca.IsCA, ca.KeyUsage)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("the CA is not self-signed: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	now := time.Now()
	for _, tt := range []struct {
		name  string
		certs *Certs
		cn    string
	}{
		{"target", target, "rt-migration-target"},
		{"source", source, "rt-migration-source"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert := parseCert(t, tt.certs.Cert)
			if cert.Subject.CommonName != tt.cn || cert.IsCA {
				t.Fatalf("leaf %q, IsCA %v", cert.Subject.CommonName, cert.IsCA)
			}
			if !now.After(cert.NotBefore) || !now.Add(12*time.Hour).Before(cert.NotAfter) || cert.NotAfter.After(now.Add(25*time.Hour)) {
				t.Fatalf("valid from %v to %v", cert.NotBefore, cert.NotAfter)
			}
			// Each side is the server of one CRIU connection and
			// possibly the client of another.
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
				if err != nil {
					t.Fatalf("verify for usage %v: %v", usage, err)
				}
				if len(chains) != 1 || len(chains[0]) != 2 || !chains[0][1].Equal(ca) {
					t.Fatalf("chains %v", chains)
				}
			}
			k, err := x509.ParsePKCS8PrivateKey(parsePEM(t, tt.certs.Key, "PRIVATE KEY"))
			if err != nil {
				t.Fatal(err)
			}
			key, ok := k.(*ecdsa.PrivateKey)
			if !ok || key.Curve != elliptic.P256() {
				t.Fatalf("key %T, want ECDSA P-256", k)
			}
			if !key.PublicKey.Equal(cert.PublicKey) {
				t.Fatal("the key is not the certificate's")
			}
			if _, err := tls.X509KeyPair(tt.certs.Cert, tt.certs.Key); err != nil {
				t.Fatal(err)
			}
		})
	}
	if parseCert(t, target.Cert).SerialNumber.Cmp(parseCert(t, source.Cert).SerialNumber) == 0 {
		t.Fatal("the two leaves share a serial number")
	}
	if bytes.Equal(target.Key, source.Key) {
		t.Fatal("the two leaves share a key")
	}

	// Another migration's CA does not vouch for this one's leaves.
	other, _ := newCerts(t)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(parseCert(t, other.CACert))
	if _, err := parseCert(t, source.Cert).Verify(x509.VerifyOptions{Roots: otherRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a leaf verifies against another migration's CA")
	}
}

func TestCertsWrite(t *testing.T) {
	target, _ := newCerts(t)
	dir := filepath.Join(t.TempDir(), "migration", "tls")
	files, err := target.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", st.Mode().Perm())
	}
	for _, tt := range []struct {
		path string
		want []byte
	}{
		{files.CACert, target.CACert},
		{files.Cert, target.Cert},
		{files.Key, target.Key},
	} {
		if filepath.Dir(tt.path) != dir {
			t.Fatalf("%s written outside %s", tt.path, dir)
		}
		st, err := os.Lstat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want a regular file 0600", tt.path, st.Mode())
		}
		got, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Fatalf("%s holds %q", tt.path, got)
		}
	}
	if files.CACert == files.Cert || files.Cert == files.Key || files.CACert == files.Key {
		t.Fatalf("files share a name: %+v", files)
	}
	if _, err := tls.LoadX509KeyPair(files.Cert, files.Key); err != nil {
		t.Fatal(err)
	}
	// Writing again (a retry) replaces the files.
	again, _ := newCerts(t)
	if _, err := again.Write(dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(files.Key); !bytes.Equal(got, again.Key) {
		t.Fatal("a second Write did not replace the key")
	}
}

func TestCertsWriteError(t *testing.T) {
	target, _ := newCerts(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := target.Write(filepath.Join(file, "tls")); err == nil {
		t.Fatal("Write under a file succeeded")
	}
}

// mtlsConfigs are the two sides of a CRIU page-server connection made from
// certs: each presents its leaf and requires the other's, signed by the CA.
// The leaves name no host (no subject alternative name), so CRIU has to be
// run with --tls-no-cn-verify, which checks the chain but not the name
// (the CA is this migration's alone): VerifyConnection does the same here.
func mtlsConfigs(t *testing.T, server, client, trusted *Certs) (srv, cli *tls.Config) {
	t.Helper()
	pool := func(c *Certs) *x509.CertPool {
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(c.CACert) {
			t.Fatal("no CA certificate")
		}
		return p
	}
	pair := func(c *Certs) tls.Certificate {
		kp, err := tls.X509KeyPair(c.Cert, c.Key)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	roots := pool(trusted)
	srv = &tls.Config{
		Certificates: []tls.Certificate{pair(server)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
	}
	cli = &tls.Config{
		Certificates:       []tls.Certificate{pair(client)},
		RootCAs:            roots,
		InsecureSkipVerify: true, // the chain is verified below, without a host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
		MinVersion: tls.VersionTLS12,
	}
	return srv, cli
}

// tlsExchange runs a handshake between srv and cli over loopback and sends
// a byte each way; it returns the server's and the client's errors.
func tlsExchange(t *testing.T, srv, cli *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		tc := tls.Server(nc, srv)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		if n := len(tc.ConnectionState().PeerCertificates); n == 0 {
			done <- errors.New("no client certificate")
			return
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(tc, b); err != nil {
			done <- err
			return
		}
		_, err = tc.Write(b)
		done <- err
	}()
	clientErr = func() error {
		nc, err := net.DialTimeout("tcp", l.Addr().String(), 30*time.Second)
		if err != nil {
			return err
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		tc := tls.Client(nc, cli)
		if err := tc.Handshake(); err != nil {
			return err
		}
		if _, err := tc.Write([]byte{'x'}); err != nil {
			return err
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(tc, b); err != nil {
			return err
		}
		if b[0] != 'x' {
			return errors.New("echo garbled")
		}
		return nil
	}()
	return <-done, clientErr
}

func TestCertsMutualTLS(t *testing.T) {
	target, source := newCerts(t)
	other, otherSource := newCerts(t)
	tests := []struct {
		name                    string
		server, client, trusted *Certs // trusted: whose CA both sides trust
		ok                      bool
	}{
		{"target serves the source", target, source, target, true},
		{"source serves the target", source, target, target, true},
		{"a client from another migration", target, otherSource, target, false},
		{"a server from another migration", other, source, target, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cli := mtlsConfigs(t, tt.server, tt.client, tt.trusted)
			serverErr, clientErr := tlsExchange(t, srv, cli)
			if tt.ok && (serverErr != nil || clientErr != nil) {
				t.Fatalf("server: %v; client: %v", serverErr, clientErr)
			}
			if !tt.ok && serverErr == nil && clientErr == nil {
				t.Fatal("the handshake succeeded")
			}
		})
	}
}
