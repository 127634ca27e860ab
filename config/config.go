// Package config loads and validates shiplog's configuration: a YAML or TOML file
// in shiplog's own layout, or a Magento Data Migration Tool config.xml, each
// overridable by SHIPLOG_<SECTION>_<KEY> environment variables.
//
// Load is the entry point. Every problem it finds is an *Error naming the file
// and the key (dotted for YAML/TOML, element/@attribute for config.xml), so a user
// can fix the file without reading code.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TLS names the PEM files used to reach a database over TLS. Paths written in a
// configuration file are resolved relative to that file's folder.
type TLS struct{ CA, Cert, Key string }

// Database is one end of the replication.
type Database struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	TLS      TLS
	// ServerID is the replica server id the binlog reader announces (source
	// only); 0 means the reader picks one.
	ServerID uint32
	// InitStatements run after connecting, in order. They come from Magento's
	// init_statements_source/init_statements_destination (';'-separated).
	InitStatements []string
	// RetryFor (destination only, destination.retry_for) bounds how long
	// writes are retried through a connection-level outage of the
	// destination before the command stops; 0 = DefaultRetryFor.
	RetryFor time.Duration
	// Timeouts bound every network call to this server; Load copies the
	// timeouts section here. Zero fields take the defaults.
	Timeouts Timeouts
}

// Timeouts are the network deadlines (the timeouts section), the same for
// every server shiplog talks to. Zero fields mean the defaults below.
type Timeouts struct {
	// Connect bounds reaching a server and logging in: TCP connect, the
	// server's handshake, authentication and the session setup.
	Connect time.Duration
	// Read bounds waiting for any byte of a server's reply to a statement.
	// It must exceed the longest a legitimate statement runs before its
	// first row or its OK (a destination batch waiting on locks, a sorted
	// snapshot chunk); statements with a context deadline of their own end
	// at that deadline whichever is shorter.
	Read time.Duration
	// Write bounds sending a statement (or LOAD DATA's data) to a server.
	Write time.Duration
	// BinlogStall is how long the binlog stream may deliver nothing, not
	// even the heartbeat the source sends every second when idle, before
	// shiplog counts the connection as stalled and reconnects. At least
	// three heartbeat periods.
	BinlogStall time.Duration
}

// Timeout defaults.
const (
	DefaultConnectTimeout     = 10 * time.Second
	DefaultReadTimeout        = 10 * time.Minute
	DefaultWriteTimeout       = time.Minute
	DefaultBinlogStallTimeout = 10 * time.Second
)

// WithDefaults fills zero fields with the defaults.
func (t Timeouts) WithDefaults() Timeouts {
	t.Connect = cmp.Or(t.Connect, DefaultConnectTimeout)
	t.Read = cmp.Or(t.Read, DefaultReadTimeout)
	t.Write = cmp.Or(t.Write, DefaultWriteTimeout)
	t.BinlogStall = cmp.Or(t.BinlogStall, DefaultBinlogStallTimeout)
	return t
}

// DefaultRetryFor is destination.retry_for when unset.
const DefaultRetryFor = 5 * time.Minute

// Options tune a run. Zero values mean "choose automatically" where that makes
// sense (BulkSize, Workers).
type Options struct {
	BulkSize     int
	SourcePrefix string
	DestPrefix   string
	Workers      int
	// ApplyWorkers is the number of partitions the stream applies in
	// parallel (0 = 4; 1 = whole source transactions per destination
	// transaction).
	ApplyWorkers int
	// DeferIndexRows is the fewest rows (estimated) of a table copied into
	// an emptied destination table whose plain secondary indexes are
	// built after the load (0 = 100,000).
	DeferIndexRows int
	// FullRowTables lists tables without a primary or unique-not-null key that
	// the user opts into full-row matching; any other such table is an error.
	FullRowTables     []string
	MapFile           string
	SettingsMapFile   string
	DeltalogFile      string
	LogFile           string
	ProgressBarFormat string
	// Magento are the options handlers see by name (HandlerEnv.Options):
	// every <options> child of a config.xml as written, or YAML/TOML's
	// magento.options, and SHIPLOG_MAGENTO_OPTIONS_<NAME> variables. It
	// holds secrets (crypt_key, m2_crypt_key): never print it.
	Magento map[string]string
	// ClassMapFile is option class_map (Magento's class-map.xml), resolved
	// like the map files; "" when unset.
	ClassMapFile string
	// M2EnvPHP is option m2_env_php (Magento 2's app/etc/env.php, whose
	// crypt/key is the Magento 2 key), resolved like the map files.
	M2EnvPHP string
}

// Settings locate the key/value settings table settings mode works on
// (Magento's core_config_data); empty fields take those defaults.
type Settings struct {
	Table        string   // core_config_data
	IDColumn     string   // config_id (auto-increment, not copied)
	KeyColumn    string   // path
	ValueColumn  string   // value
	ScopeColumns []string // scope, scope_id
}

// WithDefaults fills empty fields with Magento's names.
func (s Settings) WithDefaults() Settings {
	s.Table = cmp.Or(s.Table, "core_config_data")
	s.IDColumn = cmp.Or(s.IDColumn, "config_id")
	s.KeyColumn = cmp.Or(s.KeyColumn, "path")
	s.ValueColumn = cmp.Or(s.ValueColumn, "value")
	if s.ScopeColumns == nil {
		s.ScopeColumns = []string{"scope", "scope_id"}
	}
	return s
}

// Kafka configures the Kafka sink, `apply --from-kafka` and `replay`.
type Kafka struct {
	Brokers     []string
	TopicPrefix string // "shiplog": topics are <prefix>.<database>.<table>
	TLS         TLS
	SASL        SASL
	// Acks is "all" (default), "one" or "none".
	Acks string
	// Compression is "none" (default), "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// Partitions and ReplicationFactor for topics shiplog creates (default 1).
	Partitions        int
	ReplicationFactor int
	// AutoCreateTopics creates missing topics (default true when unset in
	// the file; set false to require them to exist).
	AutoCreateTopics bool
	// Tombstones publishes a null-valued message after each delete.
	Tombstones bool
	// GroupID is the consumer group of `apply --from-kafka` ("shiplog-apply").
	GroupID string
}

// SASL is Kafka SASL authentication.
type SASL struct {
	Mechanism string // "plain", "scram-sha-256", "scram-sha-512"
	Username  string
	Password  string
}

// Delta chooses where delta mode reads changes from.
type Delta struct {
	// Source is "binlog" (default) or "triggers" (m2_cl_* change-log tables
	// fed by triggers, for sources whose binlog cannot be read).
	Source string
	// MaxTransactionBytes bounds the changes of one source transaction the
	// binlog stream holds in memory (value bytes, an estimate; also at most
	// 20,000 changes): a larger one is read and applied in parts of about
	// this size, into one destination
	// transaction committed with its checkpoint at the transaction's end. 0
	// is the default, 8 MiB.
	MaxTransactionBytes int
}

// Delta sources.
const (
	DeltaBinlog   = "binlog"
	DeltaTriggers = "triggers"
)

// HTTP configures the status and control server of `run` and `migrate delta`.
type HTTP struct {
	// Listen is host:port; empty turns the server off. A bare port or ":port"
	// listens on 127.0.0.1 only: other interfaces must be written out.
	Listen string
	// Token is the bearer token every state-changing request (POST /pause,
	// /resume, /throttle) must carry, and every request but /healthz when
	// Listen is beyond loopback. Required there; without it the control
	// endpoints refuse all changes. A secret: never printed.
	Token string
}

// MinHTTPTokenLen is the shortest http.token accepted: a token is the only
// thing between a network and the pause switch, so it must not be guessable.
const MinHTTPTokenLen = 16

// Loopback reports whether Listen (normalized) accepts connections from
// this machine only: a loopback IP or the name localhost.
func (h HTTP) Loopback() bool {
	host, _, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return false
	}
	return IsLoopbackHost(host)
}

// IsLoopbackHost reports whether host is localhost or a loopback IP
// (127.0.0.0/8, ::1). Other names are not resolved: a name can point
// anywhere tomorrow.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Throttle holds the starting values of the settings the HTTP server can
// change while delta runs, and the destination replicas whose lag holds the
// writer back (gh-ost's --throttle-control-replicas and --max-lag-millis).
type Throttle struct {
	// MaxBatchChanges bounds the changes per destination transaction
	// (0: the default, 20000). Whole source transactions are never split.
	MaxBatchChanges int
	// Replicas are replicas of the destination database; while one of them
	// lags more than MaxReplicaLag (or does not replicate), the delta writer
	// waits before its next batch.
	Replicas []Replica
	// MaxReplicaLag is the lag a replica may have (default 1s).
	MaxReplicaLag time.Duration
	// ReplicaCheckInterval is how often each replica is measured (default
	// 500ms).
	ReplicaCheckInterval time.Duration

	// replicaDSNs are the entries of throttle.replicas as written (they may
	// carry passwords: never print them); Load parses them into Replicas.
	replicaDSNs []string
}

// Throttle defaults.
const (
	DefaultMaxReplicaLag        = time.Second
	DefaultReplicaCheckInterval = 500 * time.Millisecond
)

// Replica is one entry of throttle.replicas: a go-sql-driver DSN
// ("user:password@tcp(host:port)/", the database naming the schema that holds
// the replicated state tables) or a bare "host:port", which connects with the
// destination's user and password.
type Replica struct {
	// Addr is host:port (a socket path for unix DSNs): the replica's name in
	// logs, metrics and status.
	Addr string
	// Schema is where the replica holds shiplog's state tables: the DSN's
	// database, or destination.database when the DSN names none.
	Schema string
	cfg    *mysql.Config
}

// replicaDialTimeout bounds connecting to a replica unless the DSN sets its
// own timeout: an unreachable replica counts as lagging, so it should be
// noticed quickly.
const replicaDialTimeout = 5 * time.Second

// replicaIOTimeout bounds each read and write on a replica connection unless
// the DSN sets readTimeout/writeTimeout.
const replicaIOTimeout = 30 * time.Second

// DriverConfig returns the driver configuration to reach r. DATETIME values
// come back as text (parseTime off), whatever the DSN says.
func (r Replica) DriverConfig() *mysql.Config {
	c := r.cfg.Clone()
	c.ParseTime = false
	c.Timeout = cmp.Or(c.Timeout, replicaDialTimeout)
	// A replica's statements are small; a stalled one counts as lagging.
	c.ReadTimeout = cmp.Or(c.ReadTimeout, replicaIOTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, replicaIOTimeout)
	return c
}

// Password is the replica's password, so callers can scrub it from texts
// that did not come from shiplog (server and driver errors).
func (r Replica) Password() string { return r.cfg.Passwd }

// Redacted describes r for logs and errors: "user:***@tcp(host:port)/schema".
// It never contains the password.
func (r Replica) Redacted() string {
	return fmt.Sprintf("%s:***@%s(%s)/%s", r.cfg.User, r.cfg.Net, r.Addr, r.Schema)
}

// parseReplica reads one throttle.replicas entry. Errors never quote the
// entry, which may hold a password.
func parseReplica(entry string, dest Database) (Replica, error) {
	entry = strings.TrimSpace(entry)
	if !strings.Contains(entry, "/") && !strings.Contains(entry, "@") {
		host, port, err := net.SplitHostPort(entry)
		if err != nil || host == "" {
			return Replica{}, errors.New("want host:port or a DSN user:password@tcp(host:port)/")
		}
		// Not quoted: a mistyped "user:password" lands here.
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Replica{}, errors.New("want host:port with a port between 1 and 65535, or a DSN user:password@tcp(host:port)/")
		}
		c := mysql.NewConfig()
		c.Net, c.Addr, c.User, c.Passwd = "tcp", net.JoinHostPort(host, port), dest.User, dest.Password
		return Replica{Addr: c.Addr, Schema: dest.Database, cfg: c}, nil
	}
	c, err := ParseDSN(entry)
	if err != nil {
		// go-sql-driver's DSN errors quote parameter values, never the user
		// and password part.
		return Replica{}, fmt.Errorf("not a DSN user:password@tcp(host:port)/ (%w)", err)
	}
	switch c.Net {
	case "tcp", "tcp6", "tcp4", "unix":
	default:
		return Replica{}, fmt.Errorf("network %q: want tcp(host:port) or unix(socket)", c.Net)
	}
	if c.User == "" && c.Passwd == "" {
		c.User, c.Passwd = dest.User, dest.Password
	}
	schema := c.DBName
	schema = cmp.Or(schema, dest.Database)
	c.DBName = ""
	return Replica{Addr: c.Addr, Schema: schema, cfg: c}, nil
}

// ParseDSN is mysql.ParseDSN, which panics on a few parameters it no
// longer supports (strict=): that is a bad DSN too, not a crash.
func ParseDSN(dsn string) (c *mysql.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("%v", p)
		}
	}()
	return mysql.ParseDSN(dsn)
}

// throttleDefaults parses the replicas and fills the throttle defaults.
func (cfg *Config) throttleDefaults(path string) error {
	th := &cfg.Throttle
	var errs []error
	seen := map[string]bool{}
	for i, entry := range th.replicaDSNs {
		r, err := parseReplica(entry, cfg.Destination)
		if err != nil {
			errs = append(errs, &Error{Key: "throttle.replicas", File: path, Msg: fmt.Sprintf("entry %d: %v", i+1, err), Err: err})
			continue
		}
		if seen[r.Addr] {
			errs = append(errs, &Error{Key: "throttle.replicas", File: path, Msg: fmt.Sprintf("entry %d: %s is listed twice", i+1, r.Addr)})
			continue
		}
		seen[r.Addr] = true
		th.Replicas = append(th.Replicas, r)
	}
	th.MaxReplicaLag = cmp.Or(th.MaxReplicaLag, DefaultMaxReplicaLag)
	th.ReplicaCheckInterval = cmp.Or(th.ReplicaCheckInterval, DefaultReplicaCheckInterval)
	return errors.Join(errs...)
}

// Step is a step of a Magento config.xml: a mode runs the steps listed for
// it, in file order, that shiplog has (see package step).
type Step struct {
	Mode    string   // settings, data or delta
	Title   string   // the step's title attribute
	Classes []string // stage classes, leading backslash removed
}

// Config is a loaded, validated configuration.
type Config struct {
	Source      Database
	Destination Database
	Options     Options
	Settings    Settings
	Delta       Delta
	// Sink is where changes go: "mysql" (default), "kafka", or "both".
	Sink  string
	Kafka Kafka
	// HTTP is the status and control server (off when Listen is empty).
	HTTP HTTP
	// Throttle holds live settings' starting values.
	Throttle Throttle
	// Timeouts are the network deadlines; Load fills the defaults and copies
	// them to Source and Destination.
	Timeouts Timeouts
	// Path is the file the configuration was loaded from, as given to Load.
	Path string
	// Warnings are problems that do not stop a run but that the user should
	// see: unknown Magento options, stray SHIPLOG_* variables.
	Warnings []string
	// Steps are the steps of a Magento config.xml, in file order; empty for
	// YAML and TOML.
	Steps []Step
}

// Error is a configuration problem in one key of one file.
type Error struct {
	// Key names the setting: "source.port" for YAML/TOML, or the XML element
	// and attribute ("source/database/@name"). Empty for file-level problems
	// such as malformed XML.
	Key  string
	File string
	Msg  string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("config %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("config %s: key %s: %s", e.File, e.Key, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads the configuration file at path, chosen by extension (.yaml, .yml,
// .toml, or .xml for a Magento config.xml), applies SHIPLOG_* environment
// overrides and validates the result. All key errors found are returned
// together (errors.Join of *Error), sorted by key, so one run shows them all.
func Load(path string) (*Config, error) {
	cfg := &Config{Path: path}
	var (
		raw    map[string]any
		format = yamlFormat
		err    error
	)
	// The reference ships config.xml.dist (and maps as .xml.dist): the
	// format is that of the name without .dist.
	switch ext := strings.ToLower(filepath.Ext(trimDist(path))); ext {
	case ".yaml", ".yml", ".toml":
		raw, err = readViperFile(path)
	case ".xml":
		// readMagento also fills what only config.xml carries (steps, init
		// statements, log file, ...), which have no SHIPLOG_* override.
		raw, err = readMagento(path, cfg)
		format = magentoFormat
	default:
		return nil, &Error{File: path, Msg: fmt.Sprintf("unsupported file extension %q (want .yaml, .yml, .toml or .xml)", ext)}
	}
	if err != nil {
		return nil, err
	}

	d := decoder{file: path, dir: filepath.Dir(path), format: format}
	if err := d.decode(cfg, raw); err != nil {
		return nil, err
	}
	cfg.Warnings = append(cfg.Warnings, strayEnvWarnings()...)
	if err := cfg.kafkaDefaults(path, raw); err != nil {
		return nil, err
	}
	switch cfg.Delta.Source {
	case "":
		cfg.Delta.Source = DeltaBinlog
	case DeltaBinlog:
	case DeltaTriggers:
		if cfg.Sink != "mysql" {
			return nil, &Error{Key: "delta.source", File: path, Msg: fmt.Sprintf("triggers cannot feed sink %q yet: change logs are applied to the destination database only (use delta.source: binlog for Kafka)", cfg.Sink)}
		}
	default:
		return nil, &Error{Key: "delta.source", File: path, Msg: fmt.Sprintf("must be %q or %q, not %q", DeltaBinlog, DeltaTriggers, cfg.Delta.Source)}
	}

	cfg.Timeouts = cfg.Timeouts.WithDefaults()
	cfg.Source.Timeouts, cfg.Destination.Timeouts = cfg.Timeouts, cfg.Timeouts
	if err := cfg.throttleDefaults(path); err != nil {
		return nil, err
	}

	var errs []error
	errs = append(errs, cfg.checkHTTP(path, format)...)

	// TLS files are checked now rather than at first connect, so a typo in a
	// path is reported with the key that holds it before anything runs.
	for _, side := range []struct {
		name string
		db   Database
	}{{"source", cfg.Source}, {"destination", cfg.Destination}} {
		if _, err := side.db.TLSConfig(); err != nil {
			errs = append(errs, &Error{Key: format.label(side.name + ".tls"), File: path, Msg: err.Error(), Err: err})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// kafkaDefaults fills the Kafka defaults and checks the enumerations.
func (cfg *Config) kafkaDefaults(path string, raw map[string]any) error {
	k := &cfg.Kafka
	k.TopicPrefix = cmp.Or(k.TopicPrefix, "shiplog")
	k.Partitions = cmp.Or(k.Partitions, 1)
	k.ReplicationFactor = cmp.Or(k.ReplicationFactor, 1)
	k.GroupID = cmp.Or(k.GroupID, "shiplog-apply")
	k.Acks = cmp.Or(k.Acks, "all")
	k.Compression = cmp.Or(k.Compression, "none")
	if kraw, ok := raw["kafka"].(map[string]any); !ok || kraw["auto_create_topics"] == nil {
		if os.Getenv("SHIPLOG_KAFKA_AUTO_CREATE_TOPICS") == "" {
			k.AutoCreateTopics = true
		}
	}
	check := func(key, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return &Error{Key: key, File: path, Msg: fmt.Sprintf("must be one of %s, not %q", strings.Join(allowed, ", "), v)}
	}
	cfg.Sink = cmp.Or(cfg.Sink, "mysql")
	return errors.Join(
		check("sink", cfg.Sink, "mysql", "kafka", "both"),
		check("kafka.acks", k.Acks, "all", "one", "none"),
		check("kafka.compression", k.Compression, "none", "gzip", "snappy", "lz4", "zstd"),
		check("kafka.sasl.mechanism", k.SASL.Mechanism, "", "plain", "scram-sha-256", "scram-sha-512"),
	)
}

// checkHTTP normalizes http.listen and checks http.token, returning every
// problem. The token's value is never part of a message.
func (cfg *Config) checkHTTP(path string, format format) []error {
	var errs []error
	h := &cfg.HTTP
	if t := h.Token; t != "" {
		switch {
		case len(t) < MinHTTPTokenLen:
			errs = append(errs, &Error{Key: format.label("http.token"), File: path,
				Msg: fmt.Sprintf("too short (%d characters): use at least %d random characters, such as the output of `openssl rand -hex 32`", len(t), MinHTTPTokenLen)})
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			errs = append(errs, &Error{Key: format.label("http.token"), File: path,
				Msg: "contains whitespace or control characters, which an HTTP Authorization header cannot carry: use printable characters only, such as the output of `openssl rand -hex 32`"})
		}
	}
	if h.Listen == "" {
		return errs
	}
	addr, err := normalizeListen(h.Listen)
	if err != nil {
		return append(errs, &Error{Key: format.label("http.listen"), File: path, Msg: err.Error(), Err: err})
	}
	h.Listen = addr
	if !h.Loopback() && h.Token == "" {
		errs = append(errs, &Error{Key: format.label("http.listen"), File: path,
			Msg: fmt.Sprintf("%s is reachable beyond this machine, and the control API (pause, resume, throttle) would be open to it: set %s (or %s) to a secret of at least %d characters, or listen on 127.0.0.1",
				addr, format.label("http.token"), envName("http.token"), MinHTTPTokenLen)})
	}
	return errs
}

// normalizeListen checks a listen address and makes an implicit host
// explicit: "8080" and ":8080" become "127.0.0.1:8080", so the server is
// reachable from other machines only when the user names such a host.
func normalizeListen(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.Atoi(s); err == nil {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("must be host:port (such as 127.0.0.1:9090), got %q", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port must be an integer between 0 and 65535, got %q", port)
	}
	host = cmp.Or(host, "127.0.0.1")
	return net.JoinHostPort(host, port), nil
}
