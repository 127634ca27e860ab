package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
)

// TLSConfig returns the TLS client configuration for the Kafka brokers, or
// nil when no kafka.tls file is set. ServerName is left empty: each broker's
// certificate is checked against that broker's own host name (the Kafka
// client fills it in per connection). Errors name the file at fault.
func (k Kafka) TLSConfig() (*tls.Config, error) {
	if k.TLS == (TLS{}) {
		return nil, nil
	}
	return k.TLS.clientConfig(io.Discard)
}

// clientConfig loads t's CA and client certificate into a TLS client
// configuration, writing the files' contents to h (for a digest of them).
func (t TLS) clientConfig(h io.Writer) (*tls.Config, error) {
	tc := &tls.Config{}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificate found", t.CA)
		}
		tc.RootCAs = pool
		h.Write(pem)
	}

	switch {
	case t.Cert == "" && t.Key == "":
	case t.Cert == "" || t.Key == "":
		return nil, errors.New("tls cert and key must be set together")
	default:
		certPEM, err := os.ReadFile(t.Cert)
		if err != nil {
			return nil, fmt.Errorf("tls cert: %w", err)
		}
		keyPEM, err := os.ReadFile(t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls key: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls cert %s, key %s: %w", t.Cert, t.Key, err)
		}
		tc.Certificates = []tls.Certificate{pair}
		h.Write(certPEM)
		h.Write(keyPEM)
	}
	return tc, nil
}
