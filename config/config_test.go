package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// cleanEnv hides SHIPLOG_* variables of the machine running the tests, so
// only what a test sets takes effect. t.Setenv restores them afterwards.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SHIPLOG_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "shiplog test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyPath = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certPath, keyPath
}

const minimalYAML = `
source: {database: shop}
destination: {database: shop_new}
`

func TestLoadYAML(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "shiplog.yaml", `
source:
  host: db1
  port: 3307
  user: repl
  password: "s3cret"
  database: shop
  server_id: 4242
destination:
  database: shop_new
options:
  bulk_size: 500
  source_prefix: m1_
  dest_prefix: ""
  workers: 8
  defer_index_rows: 5000
  full_row_tables: [log_a, log_b]
  map: maps/map.xml
  settings_map: /etc/shiplog/settings.xml
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Source: Database{Host: "db1", Port: 3307, User: "repl", Password: "s3cret", Database: "shop", ServerID: 4242},
		// Defaults fill what the file leaves out.
		Destination: Database{Host: "127.0.0.1", Port: 3306, User: "root", Database: "shop_new"},
		Options: Options{
			BulkSize: 500, SourcePrefix: "m1_", Workers: 8, FullRowTables: []string{"log_a", "log_b"},
			// Relative to the config file's folder, not the working folder.
			MapFile:         filepath.Join(dir, "maps/map.xml"),
			SettingsMapFile: "/etc/shiplog/settings.xml",
		},
		Path: path,
	}
	assertConfig(t, cfg, want)
	if cfg.Options.DeferIndexRows != 5000 {
		t.Errorf("options.defer_index_rows: got %d, want 5000", cfg.Options.DeferIndexRows)
	}
}

func TestLoadTOML(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "shiplog.toml", `
[source]
host = "db1"
port = 3307
database = "shop"
[source.tls]
ca = ""
[destination]
database = "shop_new"
[options]
bulk_size = 10
full_row_tables = ["t1"]
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertConfig(t, cfg, Config{
		Source:      Database{Host: "db1", Port: 3307, User: "root", Database: "shop"},
		Destination: Database{Host: "127.0.0.1", Port: 3306, User: "root", Database: "shop_new"},
		Options:     Options{BulkSize: 10, FullRowTables: []string{"t1"}},
		Path:        path,
	})
}

func assertConfig(t *testing.T, got *Config, want Config) {
	t.Helper()
	if got.Source.Host != want.Source.Host || got.Source.Port != want.Source.Port ||
		got.Source.User != want.Source.User || got.Source.Password != want.Source.Password ||
		got.Source.Database != want.Source.Database || got.Source.ServerID != want.Source.ServerID ||
		got.Source.TLS != want.Source.TLS || !slices.Equal(got.Source.InitStatements, want.Source.InitStatements) {
		t.Errorf("source = %+v, want %+v", got.Source, want.Source)
	}
	if got.Destination.Host != want.Destination.Host || got.Destination.Port != want.Destination.Port ||
		got.Destination.User != want.Destination.User || got.Destination.Password != want.Destination.Password ||
		got.Destination.Database != want.Destination.Database || got.Destination.TLS != want.Destination.TLS ||
		!slices.Equal(got.Destination.InitStatements, want.Destination.InitStatements) {
		t.Errorf("destination = %+v, want %+v", got.Destination, want.Destination)
	}
	g, w := got.Options, want.Options
	if g.BulkSize != w.BulkSize || g.SourcePrefix != w.SourcePrefix || g.DestPrefix != w.DestPrefix ||
		g.Workers != w.Workers || !slices.Equal(g.FullRowTables, w.FullRowTables) ||
		g.MapFile != w.MapFile || g.SettingsMapFile != w.SettingsMapFile || g.DeltalogFile != w.DeltalogFile ||
		g.LogFile != w.LogFile || g.ProgressBarFormat != w.ProgressBarFormat {
		t.Errorf("options = %+v, want %+v", g, w)
	}
	if got.Path != want.Path {
		t.Errorf("path = %q, want %q", got.Path, want.Path)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // file name; its extension picks the format
		content string
		env     map[string]string
		wantKey string   // Key of the first *Error
		wantMsg []string // substrings of the whole error text
	}{
		{name: "unknown key in section", file: "c.yaml",
			content: minimalYAML + "\n" + `extra: 1`, wantKey: "extra", wantMsg: []string{"key extra: unknown key"}},
		{name: "misspelt password", file: "c.yaml",
			content: "source: {database: shop, passwd: x}\ndestination: {database: d}",
			wantKey: "source.passwd", wantMsg: []string{"key source.passwd: unknown key", "did you mean source.password"}},
		{name: "unknown section", file: "c.yaml",
			content: minimalYAML + "optionz: {bulk_size: 1}", wantKey: "optionz", wantMsg: []string{"key optionz: unknown key"}},
		{name: "unknown tls key", file: "c.yaml",
			content: "source: {database: shop, tls: {ca: '', crl: x}}\ndestination: {database: d}",
			wantKey: "source.tls.crl", wantMsg: []string{"key source.tls.crl: unknown key"}},
		{name: "server_id is source only", file: "c.yaml",
			content: "source: {database: shop}\ndestination: {database: d, server_id: 3}",
			wantKey: "destination.server_id", wantMsg: []string{"unknown key"}},
		{name: "http listen not host:port", file: "c.yaml",
			content: minimalYAML + "http: {listen: a}", wantKey: "http.listen", wantMsg: []string{"must be host:port"}},
		{name: "replica DSN without its slash", file: "c.yaml",
			content: minimalYAML + "throttle: {replicas: ['app:pw@tcp(127.0.0.1:3307)']}", wantKey: "throttle.replicas",
			wantMsg: []string{"entry 1", "missing the slash"}},
		{name: "replica DSN with an unterminated address", file: "c.yaml",
			content: minimalYAML + "throttle: {replicas: ['db2:3306', 'app:pw@tcp(127.0.0.1:3307/']}", wantKey: "throttle.replicas",
			wantMsg: []string{"entry 2", "not a DSN"}},
		{name: "replica without a port", file: "c.yaml",
			content: minimalYAML + "throttle: {replicas: [db2]}", wantKey: "throttle.replicas", wantMsg: []string{"want host:port"}},
		{name: "replica listed twice", file: "c.yaml",
			content: minimalYAML + "throttle: {replicas: ['db2:3306', 'u:p@tcp(db2:3306)/']}", wantKey: "throttle.replicas",
			wantMsg: []string{"db2:3306 is listed twice"}},
		{name: "replicas a bare string", file: "c.yaml",
			content: minimalYAML + "throttle: {replicas: 'db2:3306'}", wantKey: "throttle.replicas", wantMsg: []string{"must be a list of strings"}},
		{name: "negative max_replica_lag", file: "c.yaml",
			content: minimalYAML + "throttle: {max_replica_lag: -1s}", wantKey: "throttle.max_replica_lag",
			wantMsg: []string{"key throttle.max_replica_lag: must be a duration >= 0", `got "-1s"`}},
		{name: "max_replica_lag without a unit", file: "c.yaml",
			content: minimalYAML + "throttle: {max_replica_lag: 500}", wantKey: "throttle.max_replica_lag",
			wantMsg: []string{"must be a duration"}},
		{name: "replica_check_interval not a duration", file: "c.toml",
			content: "[source]\ndatabase='s'\n[destination]\ndatabase='d'\n[throttle]\nreplica_check_interval='often'",
			wantKey: "throttle.replica_check_interval", wantMsg: []string{"must be a duration", `got "often"`}},
		{name: "env max_replica_lag negative", file: "c.yaml", content: minimalYAML,
			env:     map[string]string{"SHIPLOG_THROTTLE_MAX_REPLICA_LAG": "-5ms"},
			wantKey: "throttle.max_replica_lag", wantMsg: []string{"SHIPLOG_THROTTLE_MAX_REPLICA_LAG"}},
		{name: "bad kafka acks", file: "c.yaml",
			content: minimalYAML + "kafka: {brokers: [a], acks: most}", wantKey: "kafka.acks", wantMsg: []string{"must be one of all, one, none"}},
		{name: "bad sink", file: "c.yaml",
			content: minimalYAML + "sink: s3", wantKey: "sink", wantMsg: []string{"must be one of mysql, kafka, both"}},
		{name: "kafka tombstones not a bool", file: "c.yaml",
			content: minimalYAML + "kafka: {tombstones: maybe}", wantKey: "kafka.tombstones", wantMsg: []string{"true or false"}},
		{name: "section given a scalar", file: "c.yaml",
			content: "source: shop\ndestination: {database: d}", wantKey: "source", wantMsg: []string{"must be a mapping"}},
		{name: "port not a number", file: "c.yaml",
			content: "source: {database: shop, port: abc}\ndestination: {database: d}",
			wantKey: "source.port", wantMsg: []string{"key source.port: must be an integer", `got "abc"`}},
		{name: "port out of range", file: "c.yaml",
			content: "source: {database: shop}\ndestination: {database: d, port: 70000}",
			wantKey: "destination.port", wantMsg: []string{"key destination.port: must be an integer between 1 and 65535"}},
		{name: "port is a float", file: "c.toml",
			content: "[source]\ndatabase='shop'\nport=3306.5\n[destination]\ndatabase='d'",
			wantKey: "source.port", wantMsg: []string{"key source.port: must be an integer"}},
		{name: "port given a mapping", file: "c.yaml",
			content: "source: {database: shop, port: {a: 1}}\ndestination: {database: d}",
			wantKey: "source.port", wantMsg: []string{"not a mapping"}},
		{name: "negative bulk_size", file: "c.yaml",
			content: minimalYAML + "options: {bulk_size: -1}", wantKey: "options.bulk_size", wantMsg: []string{"key options.bulk_size: must be an integer >= 0"}},
		{name: "negative workers", file: "c.toml",
			content: "[source]\ndatabase='s'\n[destination]\ndatabase='d'\n[options]\nworkers=-1",
			wantKey: "options.workers", wantMsg: []string{"key options.workers: must be an integer >= 0"}},
		{name: "full_row_tables not a list", file: "c.yaml",
			content: minimalYAML + "options: {full_row_tables: 5}", wantKey: "options.full_row_tables", wantMsg: []string{"must be a list of strings"}},
		{name: "full_row_tables a bare string", file: "c.yaml",
			content: minimalYAML + "options: {full_row_tables: log}", wantKey: "options.full_row_tables", wantMsg: []string{"must be a list of strings"}},
		{name: "server_id out of range", file: "c.yaml",
			content: "source: {database: shop, server_id: 4294967296}\ndestination: {database: d}",
			wantKey: "source.server_id", wantMsg: []string{"between 0 and 4294967295"}},
		{name: "password not a string", file: "c.yaml",
			content: "source: {database: shop, password: 1234}\ndestination: {database: d}",
			wantKey: "source.password", wantMsg: []string{"key source.password: must be a string"}},
		{name: "missing source database", file: "c.yaml",
			content: "source: {host: h}\ndestination: {database: d}",
			wantKey: "source.database", wantMsg: []string{"key source.database: required key is missing", "SHIPLOG_SOURCE_DATABASE"}},
		{name: "missing destination database", file: "c.toml",
			content: "[source]\ndatabase='s'",
			wantKey: "destination.database", wantMsg: []string{"key destination.database: required key is missing"}},
		{name: "env port not a number", file: "c.yaml", content: minimalYAML,
			env:     map[string]string{"SHIPLOG_SOURCE_PORT": "abc"},
			wantKey: "source.port", wantMsg: []string{"SHIPLOG_SOURCE_PORT", "must be an integer"}},
		{name: "env bulk_size negative", file: "c.yaml", content: minimalYAML,
			env:     map[string]string{"SHIPLOG_OPTIONS_BULK_SIZE": "-5"},
			wantKey: "options.bulk_size", wantMsg: []string{"SHIPLOG_OPTIONS_BULK_SIZE"}},
		{name: "unreadable tls ca", file: "c.yaml",
			content: "source: {database: shop, tls: {ca: missing-ca.pem}}\ndestination: {database: d}",
			wantKey: "source.tls", wantMsg: []string{"missing-ca.pem"}},
		{name: "tls cert without key", file: "c.yaml",
			content: "source: {database: shop}\ndestination: {database: d, tls: {cert: c.pem}}",
			wantKey: "destination.tls", wantMsg: []string{"cert and key must be set together"}},
		{name: "malformed yaml", file: "c.yaml", content: "source: {database: [", wantMsg: []string{"c.yaml"}},
		{name: "unsupported extension", file: "c.json", content: "{}", wantMsg: []string{`unsupported file extension ".json"`}},
		{name: "xml malformed", file: "config.xml",
			content: "<config>\n<source>\n<database host='h' name='n' user='u'>\n</source>\n</config>",
			wantMsg: []string{"config.xml: line 4: malformed XML"}},
		{name: "xml wrong root", file: "config.xml", content: "<map/>", wantMsg: []string{"not a Magento config.xml"}},
		{name: "xml missing name attribute", file: "config.xml",
			content: `<config><source><database host="h" user="u"/></source>
				<destination><database host="h" name="m2" user="u"/></destination></config>`,
			wantKey: "source/database/@name", wantMsg: []string{"key source/database/@name: required attribute is missing"}},
		{name: "xml missing destination", file: "config.xml",
			content: `<config><source><database host="h" name="m1" user="u"/></source></config>`,
			wantKey: "destination/database/@host", wantMsg: []string{"destination/database/@name", "destination/database/@user"}},
		{name: "xml bad port", file: "config.xml",
			content: `<config><source><database host="h" name="m1" user="u" port="x"/></source>
				<destination><database host="h" name="m2" user="u"/></destination></config>`,
			wantKey: "source/database/@port", wantMsg: []string{"must be an integer"}},
		{name: "xml bad bulk_size", file: "config.xml",
			content: `<config><source><database host="h" name="m1" user="u"/></source>
				<destination><database host="h" name="m2" user="u"/></destination>
				<options><bulk_size>lots</bulk_size></options></config>`,
			wantKey: "options/bulk_size", wantMsg: []string{"key options/bulk_size: must be an integer >= 0"}},
		{name: "xml two databases", file: "config.xml",
			content: `<config><source><database host="h" name="a" user="u"/><database host="h" name="b" user="u"/></source></config>`,
			wantKey: "source", wantMsg: []string{"exactly one <database>"}},
		{name: "xml env value checked", file: "config.xml",
			content: `<config><source><database host="h" name="m1" user="u"/></source>
				<destination><database host="h" name="m2" user="u"/></destination></config>`,
			env:     map[string]string{"SHIPLOG_DESTINATION_PORT": "0"},
			wantKey: "destination/database/@port", wantMsg: []string{"SHIPLOG_DESTINATION_PORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeFile(t, t.TempDir(), tt.file, tt.content)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", cfg)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if tt.wantKey != "" {
				var cerr *Error
				if !errors.As(err, &cerr) {
					t.Fatalf("error %q is not a *config.Error", msg)
				}
				if cerr.Key != tt.wantKey || cerr.File != path {
					t.Errorf("Error{Key: %q, File: %q}, want key %q in %s", cerr.Key, cerr.File, tt.wantKey, path)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	cleanEnv(t)
	for _, name := range []string{"absent.yaml", "absent.toml", "absent.xml"} {
		path := filepath.Join(t.TempDir(), name)
		_, err := Load(path)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s) = %v, want an error naming the file and wrapping fs.ErrNotExist", name, err)
		}
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	cleanEnv(t)
	path := writeFile(t, t.TempDir(), "c.yaml", "source: {port: abc, passwd: x}\noptions: {workers: -1}")
	_, err := Load(path)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, key := range []string{"source.port", "source.passwd", "source.database", "destination.database", "options.workers"} {
		if !strings.Contains(err.Error(), "key "+key+":") {
			t.Errorf("error %q does not report %s", err, key)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	certPath, keyPath := writeCert(t, dir)
	path := writeFile(t, dir, "c.yaml", `
source: {host: filehost, password: filepass, database: shop}
destination: {database: shop_new, password: destpass}
options: {bulk_size: 5, map: map.xml}
`)
	t.Setenv("SHIPLOG_SOURCE_PASSWORD", "envpass")
	t.Setenv("SHIPLOG_DESTINATION_PASSWORD", "") // empty is a value, not "unset"
	t.Setenv("SHIPLOG_DESTINATION_HOST", "envhost")
	t.Setenv("SHIPLOG_SOURCE_PORT", "3310")
	t.Setenv("SHIPLOG_SOURCE_SERVER_ID", "77")
	t.Setenv("SHIPLOG_OPTIONS_BULK_SIZE", "1000")
	t.Setenv("SHIPLOG_OPTIONS_FULL_ROW_TABLES", "a, b,,c")
	t.Setenv("SHIPLOG_OPTIONS_MAP", "rel/map.xml") // from the environment: left relative to the working folder
	t.Setenv("SHIPLOG_SOURCE_TLS_CA", certPath)
	t.Setenv("SHIPLOG_SOURCE_TLS_CERT", certPath)
	t.Setenv("SHIPLOG_SOURCE_TLS_KEY", keyPath)
	t.Setenv("SHIPLOG_SOURCE_PASWORD", "typo")

	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertConfig(t, cfg, Config{
		Source: Database{Host: "filehost", Port: 3310, User: "root", Password: "envpass", Database: "shop",
			ServerID: 77, TLS: TLS{CA: certPath, Cert: certPath, Key: keyPath}},
		Destination: Database{Host: "envhost", Port: 3306, User: "root", Password: "", Database: "shop_new"},
		Options:     Options{BulkSize: 1000, FullRowTables: []string{"a", "b", "c"}, MapFile: "rel/map.xml"},
		Path:        path,
	})
	if !slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, "SHIPLOG_SOURCE_PASWORD") }) {
		t.Errorf("warnings %q do not name the stray SHIPLOG_SOURCE_PASWORD", cfg.Warnings)
	}
}

func TestMagentoSeedExample(t *testing.T) {
	cleanEnv(t)
	// The config.xml from Magento's Data Migration Tool specification.
	path := filepath.Join("testdata", "magento-seed.xml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertConfig(t, cfg, Config{
		Source:      Database{Host: "localhost", Port: 3306, User: "root", Database: "magento1"},
		Destination: Database{Host: "localhost", Port: 3306, User: "root", Database: "magento2"},
		Options: Options{
			BulkSize:        100,
			MapFile:         filepath.Join("testdata", "map-file.xml"),
			SettingsMapFile: filepath.Join("testdata", "settings-map-file.xml"),
		},
		Path: path,
	})
	wantSteps := []Step{
		{Mode: "settings", Title: "Settings step", Classes: []string{`Migration\Step\Settings`, `Migration\Step\Settings`}},
		{Mode: "data", Title: "Map step", Classes: []string{`Migration\Step\Map\Integrity`, `Migration\Step\Map\Data`, `Migration\Step\Map\Volume`}},
		{Mode: "delta", Title: "Map step", Classes: []string{`Migration\Step\Map\Delta`, `Migration\Step\Map\Volume`}},
	}
	if !slices.EqualFunc(cfg.Steps, wantSteps, stepEqual) {
		t.Errorf("steps = %+v, want %+v", cfg.Steps, wantSteps)
	}
	if want := []string{"options/custom_option is not an option of the Data Migration Tool or of shiplog: handlers see it as it is, nothing else reads it"}; !slices.Equal(cfg.Warnings, want) {
		t.Errorf("warnings = %q, want %q", cfg.Warnings, want)
	}
}

func stepEqual(a, b Step) bool {
	return a.Mode == b.Mode && a.Title == b.Title && slices.Equal(a.Classes, b.Classes)
}

func TestMagentoFull(t *testing.T) {
	cleanEnv(t)
	// Overrides apply to config.xml as they do to YAML.
	t.Setenv("SHIPLOG_DESTINATION_PASSWORD", "from-env")
	t.Setenv("SHIPLOG_OPTIONS_WORKERS", "4")
	path := filepath.Join("testdata", "magento-full.xml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	assertConfig(t, cfg, Config{
		Source: Database{Host: "db1.internal", Port: 3307, User: "m1", Password: "s3cret", Database: "magento1",
			InitStatements: []string{"SET NAMES utf8", "SET time_zone = '+00:00'"}},
		Destination: Database{Host: "db2.internal", Port: 3306, User: "m2", Password: "from-env", Database: "magento2",
			InitStatements: []string{"SET NAMES utf8"}},
		Options: Options{
			BulkSize: 0, SourcePrefix: "m1_", Workers: 4,
			MapFile:           filepath.Join("testdata", "etc/map.xml"),
			SettingsMapFile:   "/abs/settings.xml",
			DeltalogFile:      filepath.Join("testdata", "etc/deltalog.xml"),
			LogFile:           "migration.log",
			ProgressBarFormat: "%percent%% [%bar%] Remaining Time: %remaining%",
		},
		Path: path,
	})
	// Every step is kept, in file order; which ones shiplog has is the
	// step registry's business (package step).
	var steps []string
	for _, s := range cfg.Steps {
		steps = append(steps, s.Mode+"/"+s.Title)
	}
	if want := []string{"settings/Settings Step", "settings/Stores Step", "data/EAV Step", "data/Map Step", "data/My renamed map", "delta/Map Step"}; !slices.Equal(steps, want) {
		t.Errorf("steps = %q, want %q", steps, want)
	}
	wantWarnings := []string{
		"options/shiny_new_option is not an option of the Data Migration Tool or of shiplog: handlers see it as it is, nothing else reads it",
	}
	if !slices.Equal(cfg.Warnings, wantWarnings) {
		t.Errorf("warnings = %q, want %q", cfg.Warnings, wantWarnings)
	}
}

func TestRedactedHidesPassword(t *testing.T) {
	for _, pw := range []string{"s3cret", "p@ss:word/)", "***x", " spaced ", "ünï©ødé"} {
		d := Database{Host: "db", Port: 3306, User: "app", Password: pw, Database: "shop"}
		got := d.Redacted()
		if strings.Contains(got, pw) {
			t.Errorf("Redacted() = %q contains the password %q", got, pw)
		}
		if want := "app:***@tcp(db:3306)/shop"; got != want {
			t.Errorf("Redacted() = %q, want %q", got, want)
		}
		if _, err := (Database{Host: "db", Port: 3306, Password: pw, TLS: TLS{CA: "/nonexistent/ca.pem"}}).DriverConfig(); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("DriverConfig error %v: want an error without the password", err)
		}
	}
}

func TestDriverConfig(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writeCert(t, dir)
	tests := []struct {
		name    string
		db      Database
		want    []string
		wantTLS bool
		wantErr string
	}{
		{name: "plain", db: Database{Host: "db", Port: 3307, User: "u", Password: "pw", Database: "shop"},
			want: []string{"u:pw@tcp(db:3307)/shop?", "charset=utf8mb4", "interpolateParams=true", "timeout=10s"}},
		{name: "ipv6", db: Database{Host: "::1", Port: 3306, User: "u", Database: "shop"},
			want: []string{"tcp([::1]:3306)"}},
		{name: "tls", db: Database{Host: "db", Port: 3306, User: "u", Database: "shop", TLS: TLS{CA: certPath, Cert: certPath, Key: keyPath}},
			want: []string{"tls=shiplog-"}, wantTLS: true},
		{name: "tls ca only", db: Database{Host: "db", Port: 3306, User: "u", Database: "shop", TLS: TLS{CA: certPath}},
			want: []string{"tls=shiplog-"}, wantTLS: true},
		{name: "unreadable ca", db: Database{Host: "db", Port: 3306, TLS: TLS{CA: filepath.Join(dir, "nope.pem")}},
			wantErr: "nope.pem"},
		{name: "ca not pem", db: Database{Host: "db", Port: 3306, TLS: TLS{CA: keyPath}},
			wantErr: "key.pem: no PEM certificate"},
		{name: "unreadable key", db: Database{Host: "db", Port: 3306, TLS: TLS{Cert: certPath, Key: filepath.Join(dir, "gone.key")}},
			wantErr: "gone.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.db.DriverConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, os.ErrNotExist) && strings.Contains(tt.wantErr, "nope") {
					t.Errorf("err = %v does not wrap os.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ParseTime || !cfg.InterpolateParams || cfg.Timeout != 10*time.Second {
				t.Errorf("ParseTime=%v InterpolateParams=%v Timeout=%v", cfg.ParseTime, cfg.InterpolateParams, cfg.Timeout)
			}
			dsn := cfg.FormatDSN()
			for _, want := range tt.want {
				if !strings.Contains(dsn, want) {
					t.Errorf("DSN %q does not contain %q", dsn, want)
				}
			}
			// The DSN must open with the stock driver: the TLS name is registered.
			parsed, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", dsn, err)
			}
			if (parsed.TLS != nil) != tt.wantTLS || (cfg.TLS != nil) != tt.wantTLS {
				t.Errorf("TLS set = %v/%v, want %v", parsed.TLS != nil, cfg.TLS != nil, tt.wantTLS)
			}
			if tt.wantTLS && parsed.TLS.ServerName != tt.db.Host {
				t.Errorf("TLS ServerName = %q, want %q", parsed.TLS.ServerName, tt.db.Host)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writeCert(t, dir)
	if tc, err := (Database{Host: "db"}).TLSConfig(); tc != nil || err != nil {
		t.Errorf("no TLS files: got %v, %v; want nil, nil", tc, err)
	}
	tc, err := Database{Host: "db", TLS: TLS{CA: certPath, Cert: certPath, Key: keyPath}}.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "db" {
		t.Errorf("TLSConfig = %+v, want CA pool, one client certificate and ServerName db", tc)
	}
	// Same files, same registry name: loading twice must not grow the registry.
	a, _ := Database{Host: "db", Port: 1, TLS: TLS{CA: certPath}}.DriverConfig()
	b, _ := Database{Host: "db", Port: 1, TLS: TLS{CA: certPath}}.DriverConfig()
	if a.TLSConfig != b.TLSConfig {
		t.Errorf("registry names differ for the same files: %q, %q", a.TLSConfig, b.TLSConfig)
	}
}

func TestMagentoLabelCoversAttributes(t *testing.T) {
	for attr, key := range magentoAttrs {
		if got, want := magentoLabel("source."+key), "source/database/@"+attr; got != want {
			t.Errorf("magentoLabel(source.%s) = %q, want %q", key, got, want)
		}
	}
}

func TestLoadThrottleReplicas(t *testing.T) {
	cleanEnv(t)
	path := writeFile(t, t.TempDir(), "c.yaml", `
source: {database: shop}
destination: {host: db1, user: app, password: destpw, database: shop_new}
throttle:
  max_batch_changes: 100
  replicas:
    - "repl:r3pl-s3cret@tcp(db2:3307)/"
    - "db3:3306"
    - "other:pw4@tcp(db4:3306)/renamed?timeout=2s"
  replica_check_interval: 250ms
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	th := cfg.Throttle
	if th.MaxBatchChanges != 100 || th.MaxReplicaLag != DefaultMaxReplicaLag || th.ReplicaCheckInterval != 250*time.Millisecond {
		t.Errorf("throttle = %+v", th)
	}
	want := []struct{ addr, redacted, user, password, schema string }{
		{"db2:3307", "repl:***@tcp(db2:3307)/shop_new", "repl", "r3pl-s3cret", "shop_new"},
		// host:port: the destination's credentials.
		{"db3:3306", "app:***@tcp(db3:3306)/shop_new", "app", "destpw", "shop_new"},
		{"db4:3306", "other:***@tcp(db4:3306)/renamed", "other", "pw4", "renamed"},
	}
	if len(th.Replicas) != len(want) {
		t.Fatalf("replicas = %+v", th.Replicas)
	}
	for i, w := range want {
		r := th.Replicas[i]
		dc := r.DriverConfig()
		if r.Addr != w.addr || r.Redacted() != w.redacted || dc.User != w.user || dc.Passwd != w.password || r.Schema != w.schema ||
			dc.Addr != w.addr || dc.DBName != "" || dc.ParseTime || dc.Timeout == 0 {
			t.Errorf("replica %d = %s %s (driver %s@%s/%s)", i, r.Addr, r.Redacted(), dc.User, dc.Addr, dc.DBName)
		}
		if strings.Contains(r.Redacted(), w.password) {
			t.Errorf("Redacted() = %q shows the password", r.Redacted())
		}
	}
	if th.Replicas[2].DriverConfig().Timeout != 2*time.Second {
		t.Errorf("the DSN's timeout was not kept")
	}

	// Without replicas the defaults are still filled (the HTTP server shows them).
	path = writeFile(t, t.TempDir(), "c.yaml", minimalYAML+"throttle: {max_replica_lag: 2500ms}")
	if cfg, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if cfg.Throttle.MaxReplicaLag != 2500*time.Millisecond || cfg.Throttle.ReplicaCheckInterval != DefaultReplicaCheckInterval || len(cfg.Throttle.Replicas) != 0 {
		t.Errorf("throttle = %+v", cfg.Throttle)
	}

	// From the environment: comma-separated.
	t.Setenv("SHIPLOG_THROTTLE_REPLICAS", "db5:3306, u:pw@tcp(db6:3306)/")
	if cfg, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Throttle.Replicas) != 2 || cfg.Throttle.Replicas[1].Addr != "db6:3306" {
		t.Errorf("replicas from the environment = %+v", cfg.Throttle.Replicas)
	}
}

func TestBadReplicaDSNHidesPassword(t *testing.T) {
	cleanEnv(t)
	const pw = "Sup3r-s3cret"
	for _, entry := range []string{
		"app:" + pw + "@tcp(db2:3306)",             // no slash
		"app:" + pw + "@tcp(db2:3306/",             // address not terminated
		"app:" + pw + "@tcp(db2:3306)/?tls=bogus",  // unknown TLS config
		"app:" + pw + "@udp(db2:3306)/",            // network
		"app:" + pw,                                // no @: looks like host:port
		"app:" + pw + "@tcp(db2:3306)/?strict=nah", // bad parameter
	} {
		path := writeFile(t, t.TempDir(), "c.yaml", minimalYAML+"throttle: {replicas: ['"+entry+"']}")
		_, err := Load(path)
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Key != "throttle.replicas" {
			t.Errorf("%s: error %v, want a *config.Error for throttle.replicas", entry, err)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestLoadHTTPToken checks http.token: a listen address beyond loopback
// needs one (the error names http.listen and http.token), a weak or
// malformed one is refused, every problem is reported at once, and no
// message ever holds the token's value.
func TestLoadHTTPToken(t *testing.T) {
	const good = "0123456789abcdef0123"
	for _, c := range []struct {
		name    string
		http    string
		env     map[string]string
		wantErr []string // substrings; empty: loads
		secret  string   // must not appear in the error
	}{
		{name: "loopback without token", http: `{listen: "127.0.0.1:9090"}`},
		{name: "bare port without token", http: `{listen: "9090"}`},
		{name: "localhost without token", http: `{listen: "localhost:9090"}`},
		{name: "ipv6 loopback without token", http: `{listen: "[::1]:9090"}`},
		{name: "all interfaces with token", http: `{listen: "0.0.0.0:9090", token: "` + good + `"}`},
		{name: "all interfaces, token from env", http: `{listen: "0.0.0.0:9090"}`, env: map[string]string{"SHIPLOG_HTTP_TOKEN": good}},
		{name: "all interfaces without token", http: `{listen: "0.0.0.0:9090"}`,
			wantErr: []string{"key http.listen:", "0.0.0.0:9090", "http.token", "SHIPLOG_HTTP_TOKEN", "127.0.0.1"}},
		{name: "ipv6 any without token", http: `{listen: "[::]:9090"}`, wantErr: []string{"key http.listen:", "http.token"}},
		{name: "host name without token", http: `{listen: "db1.internal:9090"}`, wantErr: []string{"key http.listen:", "http.token"}},
		{name: "private IP, empty token from env", http: `{listen: "10.1.2.3:9090", token: "` + good + `"}`,
			env: map[string]string{"SHIPLOG_HTTP_TOKEN": ""}, wantErr: []string{"key http.listen:", "http.token"}},
		{name: "short token", http: `{listen: "9090", token: "s3cr3tpw"}`, secret: "s3cr3tpw",
			wantErr: []string{"key http.token:", "too short", "at least 16"}},
		{name: "token with a space", http: `{token: "0123456789 abcdef0123x"}`, secret: "0123456789 abcdef0123x",
			wantErr: []string{"key http.token:", "whitespace"}},
		{name: "token not a string", http: `{token: 98765432123456789}`, secret: "98765432123456789",
			wantErr: []string{"key http.token:", "must be a string"}},
		{name: "short token from env", http: `{}`,
			env: map[string]string{"SHIPLOG_HTTP_TOKEN": "hunter2"}, secret: "hunter2", wantErr: []string{"key http.token:", "too short"}},
		{name: "short token and open listen together", http: `{listen: "0.0.0.0:1", token: "pw-short"}`, secret: "pw-short",
			wantErr: []string{"key http.token:", "too short"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			path := writeFile(t, t.TempDir(), "c.yaml", minimalYAML+"http: "+c.http+"\n")
			_, err := Load(path)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded with http %s, want an error", c.http)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// TestLoadHTTPReportsEveryError: a token problem and a listen problem are
// reported together with the other bad keys.
func TestLoadHTTPReportsEveryError(t *testing.T) {
	cleanEnv(t)
	path := writeFile(t, t.TempDir(), "c.yaml", "http: {listen: nohostport, token: short}\nsource: {database: shop, tls: {ca: missing-ca.pem}}\ndestination: {database: d}\n")
	_, err := Load(path)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, key := range []string{"http.listen", "http.token", "source.tls"} {
		if !strings.Contains(err.Error(), "key "+key+":") {
			t.Errorf("error %q does not report %s", err, key)
		}
	}
}

// Secret values never appear in an error, whatever their type or origin; the
// key is still named.
func TestBadSecretValueIsNotShown(t *testing.T) {
	const secret = "98765432123"
	for _, c := range []struct {
		name, file, content, key string
		env                      map[string]string
	}{
		{name: "password a number", file: "c.yaml", key: "source.password",
			content: "source: {database: shop, password: " + secret + "}\ndestination: {database: d}"},
		{name: "password a float", file: "c.yaml", key: "destination.password",
			content: "source: {database: shop}\ndestination: {database: d, password: " + secret + ".5}"},
		{name: "password a list", file: "c.yaml", key: "source.password",
			content: "source: {database: shop, password: [" + secret + "]}\ndestination: {database: d}"},
		{name: "toml password a number", file: "c.toml", key: "source.password",
			content: "[source]\ndatabase='s'\npassword=" + secret + "\n[destination]\ndatabase='d'"},
		{name: "sasl password a number", file: "c.yaml", key: "kafka.sasl.password",
			content: minimalYAML + "kafka: {sasl: {password: " + secret + "}}"},
		{name: "replicas a bare string", file: "c.yaml", key: "throttle.replicas",
			content: minimalYAML + "throttle: {replicas: 'app:" + secret + "@tcp(db2:3306)/'}"},
		{name: "replicas a mapping", file: "c.yaml", key: "throttle.replicas",
			content: minimalYAML + "throttle: {replicas: {app: " + secret + "}}"},
		{name: "magento entity in a password", file: "config.xml", key: "",
			content: `<config><source><database host="h" name="s" user="u" password="a&` + secret + `;"/></source></config>`},
		{name: "crypt key a list", file: "c.yaml", key: "magento.options.crypt_key",
			content: minimalYAML + "magento: {options: {crypt_key: [" + secret + "]}}"},
		{name: "m2 crypt key a mapping", file: "c.yaml", key: "magento.options.m2_crypt_key",
			content: minimalYAML + "magento: {options: {m2_crypt_key: {k: " + secret + "}}}"},
		{name: "magento entity in a crypt key", file: "config.xml", key: "",
			content: "<config>\n<options>\n<crypt_key>a&" + secret + ";</crypt_key>\n</options></config>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cleanEnv(t)
			path := writeFile(t, t.TempDir(), c.file, c.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.Key != c.key {
				t.Fatalf("error %v, want a *config.Error for key %q", err, c.key)
			}
			for e := error(cerr); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("the error shows the secret: %v", e)
				}
			}
		})
	}
	if !secretKey("http.token") || !secretKey("destination.password") || !secretKey("magento.options.crypt_key") ||
		!secretKey("magento.options.m2_crypt_key") || secretKey("source.tls.key") || secretKey("source.user") {
		t.Error("secretKey: want passwords, tokens and crypt keys secret, TLS paths and users not")
	}
}

// TestKafkaTLSConfig: kafka.tls files give a client configuration without a
// ServerName (each broker is checked against its own host name), nil
// without files, and errors naming the file at fault.
func TestKafkaTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writeCert(t, dir)
	tc, err := Kafka{Brokers: []string{"b1:9093", "b2:9093"}, TLS: TLS{CA: certPath, Cert: certPath, Key: keyPath}}.TLSConfig()
	if err != nil || tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "" {
		t.Fatalf("TLSConfig = %+v, %v; want CA pool, one certificate, no ServerName", tc, err)
	}
	if tc, err := (Kafka{Brokers: []string{"b1:9093"}}).TLSConfig(); tc != nil || err != nil {
		t.Errorf("without kafka.tls: TLSConfig = %v, %v; want nil, nil", tc, err)
	}
	missing := filepath.Join(dir, "nope.pem")
	if _, err := (Kafka{TLS: TLS{CA: missing}}).TLSConfig(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("unreadable CA: error %v, want one naming %s", err, missing)
	}
	if _, err := (Kafka{TLS: TLS{Cert: certPath}}).TLSConfig(); err == nil {
		t.Error("cert without key: no error")
	}
}
