package config

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/rowio"
)

// DriverConfig returns a go-sql-driver/mysql configuration for d: TCP to
// host:port, utf8mb4, client-side parameter interpolation (one round trip per
// statement, which matters for multi-row upserts), raw DATETIME values, and
// d.Timeouts (defaults filled): Connect as the dial timeout, Read and Write as
// the driver's readTimeout and writeTimeout. The driver does not bound the
// handshake by its dial timeout: the caller connects with a context deadline
// of Timeouts.Connect. When TLS files are set, their tls.Config is registered with
// the driver under a name derived from their contents ("shiplog-<hash>"), so
// the result also works through FormatDSN and sql.Open.
func (d Database) DriverConfig() (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = d.addr()
	cfg.User = d.User
	cfg.Passwd = d.Password
	cfg.DBName = d.Database
	cfg.InterpolateParams = true
	cfg.ParseTime = false
	to := d.Timeouts.WithDefaults()
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = to.Connect, to.Read, to.Write
	rowio.SetCharset(cfg)

	tc, digest, err := d.loadTLS()
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", d.Redacted(), err)
	}
	if tc != nil {
		name := "shiplog-" + digest
		// The same files always give the same name and an equivalent config,
		// so registering again (several loads, both ends sharing files) is
		// harmless.
		if err := mysql.RegisterTLSConfig(name, tc); err != nil {
			return nil, fmt.Errorf("database %s: register TLS config: %w", d.Redacted(), err)
		}
		cfg.TLSConfig = name
		cfg.TLS = tc.Clone()
	}
	return cfg, nil
}

// Redacted describes d for logs and errors: "user:***@tcp(host:port)/db". It
// never contains the password, whatever its value.
func (d Database) Redacted() string {
	return fmt.Sprintf("%s:***@tcp(%s)/%s", d.User, d.addr(), d.Database)
}

// TLSConfig returns the TLS client configuration for d, or nil when no TLS
// file is set. The binlog reader uses it directly; DriverConfig registers the
// same configuration with the SQL driver. Errors name the file at fault.
func (d Database) TLSConfig() (*tls.Config, error) {
	tc, _, err := d.loadTLS()
	return tc, err
}

func (d Database) addr() string {
	return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
}

// loadTLS builds the tls.Config and a digest of everything that went into it,
// used as the driver registry name.
func (d Database) loadTLS() (*tls.Config, string, error) {
	if d.TLS == (TLS{}) {
		return nil, "", nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", d.Host, d.TLS.CA, d.TLS.Cert, d.TLS.Key)
	tc, err := d.TLS.clientConfig(h)
	if err != nil {
		return nil, "", err
	}
	// ServerName is set so the server certificate is checked against the
	// host we were told to reach, as with any TLS client.
	tc.ServerName = d.Host
	return tc, hex.EncodeToString(h.Sum(nil))[:16], nil
}
