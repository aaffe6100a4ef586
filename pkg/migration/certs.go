package migration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Certs are one side's credentials for CRIU's TLS page-server connection,
// in PEM: the migration's own CA, and a certificate it signed with its key.
// The target makes a set for each migration and sends the source its half
// over the (encrypted, authenticated) control connection, so CRIU's page
// traffic is encrypted and only the two sides of this migration can connect.
type Certs struct {
	CACert []byte `json:"caCert"`
	Cert   []byte `json:"cert"`
	Key    []byte `json:"key"`
}

// CertFiles are Certs written out for CRIU (--tls-cacert, --tls-cert,
// --tls-key).
type CertFiles struct{ CACert, Cert, Key string }

// NewCerts makes a CA valid for a day and a certificate each for the target
// and the source. ECDSA P-256: what every GnuTLS that CRIU links reads.
func NewCerts() (target, source *Certs, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rt-migration-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("migration CA: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	leaf := func(serial int64, cn string) (*Certs, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return &Certs{
			CACert: caPEM,
			Cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			Key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		}, nil
	}
	if target, err = leaf(2, "rt-migration-target"); err != nil {
		return nil, nil, fmt.Errorf("migration certificate: %w", err)
	}
	if source, err = leaf(3, "rt-migration-source"); err != nil {
		return nil, nil, fmt.Errorf("migration certificate: %w", err)
	}
	return target, source, nil
}

// Write writes the three PEM files into dir (created 0700), readable by
// root only.
func (c *Certs) Write(dir string) (CertFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return CertFiles{}, err
	}
	f := CertFiles{CACert: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for p, data := range map[string][]byte{f.CACert: c.CACert, f.Cert: c.Cert, f.Key: c.Key} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return CertFiles{}, fmt.Errorf("TLS credentials: %w", err)
		}
	}
	return f, nil
}
