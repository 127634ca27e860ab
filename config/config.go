// Package config loads and validates shiplog's configuration: a YAML or TOML file
// in shiplog's own layout, or a Magento Data Migration Tool config.xml, each
// overridable by SHIPLOG_<SECTION>_<KEY> environment variables.
//
// Load is the entry point. Every problem it finds is an *Error naming the file
// and the key (dotted for YAML/TOML, element/@attribute for config.xml), so a user
// can fix the file without reading code.
package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
}

// Options tune a run. Zero values mean "choose automatically" where that makes
// sense (BulkSize, Workers).
type Options struct {
	BulkSize     int
	SourcePrefix string
	DestPrefix   string
	Workers      int
	// FullRowTables lists tables without a primary or unique-not-null key that
	// the user opts into full-row matching; any other such table is an error.
	FullRowTables     []string
	MapFile           string
	SettingsMapFile   string
	DeltalogFile      string
	LogFile           string
	ProgressBarFormat string
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
	if s.Table == "" {
		s.Table = "core_config_data"
	}
	if s.IDColumn == "" {
		s.IDColumn = "config_id"
	}
	if s.KeyColumn == "" {
		s.KeyColumn = "path"
	}
	if s.ValueColumn == "" {
		s.ValueColumn = "value"
	}
	if s.ScopeColumns == nil {
		s.ScopeColumns = []string{"scope", "scope_id"}
	}
	return s
}

// Delta chooses where delta mode reads changes from.
type Delta struct {
	// Source is "binlog" (default) or "triggers" (m2_cl_* change-log tables
	// fed by triggers, for sources whose binlog cannot be read).
	Source string
}

// Delta sources.
const (
	DeltaBinlog   = "binlog"
	DeltaTriggers = "triggers"
)

// Step is a step of a Magento config.xml, kept so that commands can tell the
// user which of their steps shiplog runs.
type Step struct {
	Mode      string   // settings, data or delta
	Title     string   // the step's title attribute
	Classes   []string // stage classes, leading backslash removed
	Supported bool     // shiplog implements it (Settings or Map step)
}

// Config is a loaded, validated configuration.
type Config struct {
	Source      Database
	Destination Database
	Options     Options
	Settings    Settings
	Delta       Delta
	// Path is the file the configuration was loaded from, as given to Load.
	Path string
	// Warnings are problems that do not stop a run but that the user should
	// see: unknown Magento options, unsupported Magento steps, stray SHIPLOG_*
	// variables.
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
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
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
	switch cfg.Delta.Source {
	case "":
		cfg.Delta.Source = DeltaBinlog
	case DeltaBinlog, DeltaTriggers:
	default:
		return nil, &Error{Key: "delta.source", File: path, Msg: fmt.Sprintf("must be %q or %q, not %q", DeltaBinlog, DeltaTriggers, cfg.Delta.Source)}
	}

	// TLS files are checked now rather than at first connect, so a typo in a
	// path is reported with the key that holds it before anything runs.
	var errs []error
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
