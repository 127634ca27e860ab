package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// kind says how a raw value is checked and converted.
type kind int

const (
	kindString   kind = iota
	kindPath          // a string; relative paths from a file resolve against its folder
	kindPort          // 1..65535
	kindCount         // integer >= 0
	kindServerID      // 0..2^32-1
	kindList          // list of strings; comma-separated in the environment
	kindBool          // true/false
	kindDuration      // a Go duration string ("500ms", "1s"), >= 0
)

func (k kind) want() string {
	switch k {
	case kindPort:
		return "an integer between 1 and 65535"
	case kindCount:
		return "an integer >= 0"
	case kindServerID:
		return "an integer between 0 and 4294967295"
	case kindList:
		return "a list of strings"
	case kindBool:
		return "true or false"
	case kindDuration:
		return "a duration >= 0 such as 500ms or 1s"
	default:
		return "a string"
	}
}

// field is one leaf key of the schema and where its value goes.
type field struct {
	key  string
	kind kind
	dest func(*Config) any // *string, *int, *uint32, *bool, *time.Duration or *[]string
}

// fields is the whole schema shared by YAML, TOML, config.xml and the
// environment. It is a fixed table, never modified.
var fields = func() []field {
	db := func(side string, d func(*Config) *Database, source bool) []field {
		fs := []field{
			{side + ".host", kindString, func(c *Config) any { return &d(c).Host }},
			{side + ".port", kindPort, func(c *Config) any { return &d(c).Port }},
			{side + ".user", kindString, func(c *Config) any { return &d(c).User }},
			{side + ".password", kindString, func(c *Config) any { return &d(c).Password }},
			{side + ".database", kindString, func(c *Config) any { return &d(c).Database }},
			{side + ".tls.ca", kindPath, func(c *Config) any { return &d(c).TLS.CA }},
			{side + ".tls.cert", kindPath, func(c *Config) any { return &d(c).TLS.Cert }},
			{side + ".tls.key", kindPath, func(c *Config) any { return &d(c).TLS.Key }},
		}
		if source {
			// Only the source is read as a replica, so only it needs an id.
			fs = append(fs, field{side + ".server_id", kindServerID, func(c *Config) any { return &d(c).ServerID }})
		}
		return fs
	}
	fs := db("source", func(c *Config) *Database { return &c.Source }, true)
	fs = append(fs, db("destination", func(c *Config) *Database { return &c.Destination }, false)...)
	fs = append(fs, field{"destination.retry_for", kindDuration, func(c *Config) any { return &c.Destination.RetryFor }})
	return append(fs,
		field{"options.bulk_size", kindCount, func(c *Config) any { return &c.Options.BulkSize }},
		field{"options.source_prefix", kindString, func(c *Config) any { return &c.Options.SourcePrefix }},
		field{"options.dest_prefix", kindString, func(c *Config) any { return &c.Options.DestPrefix }},
		field{"options.workers", kindCount, func(c *Config) any { return &c.Options.Workers }},
		field{"options.apply_workers", kindCount, func(c *Config) any { return &c.Options.ApplyWorkers }},
		field{"options.defer_index_rows", kindCount, func(c *Config) any { return &c.Options.DeferIndexRows }},
		field{"options.full_row_tables", kindList, func(c *Config) any { return &c.Options.FullRowTables }},
		field{"options.map", kindPath, func(c *Config) any { return &c.Options.MapFile }},
		field{"options.settings_map", kindPath, func(c *Config) any { return &c.Options.SettingsMapFile }},
		field{"options.progress_bar_format", kindString, func(c *Config) any { return &c.Options.ProgressBarFormat }},
		// The map files may also be given at the top level.
		field{"map", kindPath, func(c *Config) any { return &c.Options.MapFile }},
		field{"settings_map", kindPath, func(c *Config) any { return &c.Options.SettingsMapFile }},
		field{"sink", kindString, func(c *Config) any { return &c.Sink }},
		field{"kafka.brokers", kindList, func(c *Config) any { return &c.Kafka.Brokers }},
		field{"kafka.topic_prefix", kindString, func(c *Config) any { return &c.Kafka.TopicPrefix }},
		field{"kafka.tls.ca", kindPath, func(c *Config) any { return &c.Kafka.TLS.CA }},
		field{"kafka.tls.cert", kindPath, func(c *Config) any { return &c.Kafka.TLS.Cert }},
		field{"kafka.tls.key", kindPath, func(c *Config) any { return &c.Kafka.TLS.Key }},
		field{"kafka.sasl.mechanism", kindString, func(c *Config) any { return &c.Kafka.SASL.Mechanism }},
		field{"kafka.sasl.username", kindString, func(c *Config) any { return &c.Kafka.SASL.Username }},
		field{"kafka.sasl.password", kindString, func(c *Config) any { return &c.Kafka.SASL.Password }},
		field{"kafka.acks", kindString, func(c *Config) any { return &c.Kafka.Acks }},
		field{"kafka.compression", kindString, func(c *Config) any { return &c.Kafka.Compression }},
		field{"kafka.partitions", kindCount, func(c *Config) any { return &c.Kafka.Partitions }},
		field{"kafka.replication_factor", kindCount, func(c *Config) any { return &c.Kafka.ReplicationFactor }},
		field{"kafka.auto_create_topics", kindBool, func(c *Config) any { return &c.Kafka.AutoCreateTopics }},
		field{"kafka.tombstones", kindBool, func(c *Config) any { return &c.Kafka.Tombstones }},
		field{"kafka.group_id", kindString, func(c *Config) any { return &c.Kafka.GroupID }},
		field{"delta.source", kindString, func(c *Config) any { return &c.Delta.Source }},
		field{"delta.max_transaction_bytes", kindCount, func(c *Config) any { return &c.Delta.MaxTransactionBytes }},
		field{"delta.deltalog", kindPath, func(c *Config) any { return &c.Options.DeltalogFile }},
		field{"settings.table", kindString, func(c *Config) any { return &c.Settings.Table }},
		field{"settings.id_column", kindString, func(c *Config) any { return &c.Settings.IDColumn }},
		field{"settings.key_column", kindString, func(c *Config) any { return &c.Settings.KeyColumn }},
		field{"settings.value_column", kindString, func(c *Config) any { return &c.Settings.ValueColumn }},
		field{"settings.scope_columns", kindList, func(c *Config) any { return &c.Settings.ScopeColumns }},
		field{"http.listen", kindString, func(c *Config) any { return &c.HTTP.Listen }},
		field{"http.token", kindString, func(c *Config) any { return &c.HTTP.Token }},
		field{"throttle.max_batch_changes", kindCount, func(c *Config) any { return &c.Throttle.MaxBatchChanges }},
		field{"throttle.replicas", kindList, func(c *Config) any { return &c.Throttle.replicaDSNs }},
		field{"throttle.max_replica_lag", kindDuration, func(c *Config) any { return &c.Throttle.MaxReplicaLag }},
		field{"throttle.replica_check_interval", kindDuration, func(c *Config) any { return &c.Throttle.ReplicaCheckInterval }},
		field{"timeouts.connect", kindDuration, func(c *Config) any { return &c.Timeouts.Connect }},
		field{"timeouts.read", kindDuration, func(c *Config) any { return &c.Timeouts.Read }},
		field{"timeouts.write", kindDuration, func(c *Config) any { return &c.Timeouts.Write }},
		field{"timeouts.binlog_stall", kindDuration, func(c *Config) any { return &c.Timeouts.BinlogStall }},
	)
}()

// sections are the keys that hold other keys.
var sections = []string{"source", "source.tls", "destination", "destination.tls", "options", "settings", "delta", "kafka", "kafka.tls", "kafka.sasl", "http", "throttle", "timeouts", "magento"}

// reserved top-level sections are planned but not implemented; they are
// rejected with a clearer message than a plain unknown key, because accepting
// and ignoring them would drop a user's settings silently.
var reserved = []string{}

func fieldByKey(key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return "SHIPLOG_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// format holds what differs between shiplog's own files and Magento's.
type format struct {
	label    func(key string) string // how the key is named in errors
	defaults map[string]any
	required []string
	missing  string // message for a missing required key
	// findFile, when set, resolves a relative path from the file in dir
	// (resolve otherwise).
	findFile func(dir, p string) (string, error)
}

var yamlFormat = format{
	label: func(key string) string { return key },
	defaults: map[string]any{
		"source.host": "127.0.0.1", "source.port": 3306, "source.user": "root",
		"destination.host": "127.0.0.1", "destination.port": 3306, "destination.user": "root",
	},
	required: []string{"source.database", "destination.database"},
	missing:  "required key is missing",
}

// readViperFile parses a YAML or TOML file into viper's nested map.
func readViperFile(path string) (map[string]any, error) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	return v.AllSettings(), nil
}

// decoder turns a raw nested map plus the environment into a Config.
type decoder struct {
	file   string
	dir    string // folder of file, base for relative paths
	format format
	errs   []*Error
	failed map[string]bool // keys already reported, so each gets one error
}

func (d *decoder) fail(key, msg string, err error) {
	if d.failed[key] {
		return
	}
	if d.failed == nil {
		d.failed = make(map[string]bool)
	}
	d.failed[key] = true
	d.errs = append(d.errs, &Error{Key: d.format.label(key), File: d.file, Msg: msg, Err: err})
}

// decode checks raw for unknown keys, layers defaults, the file and the
// SHIPLOG_* environment with viper, and stores each value in cfg.
func (d *decoder) decode(cfg *Config, raw map[string]any) error {
	d.checkUnknown("", raw)

	v := viper.New()
	for key, val := range d.format.defaults {
		v.SetDefault(key, val)
	}
	if err := v.MergeConfigMap(raw); err != nil {
		return &Error{File: d.file, Msg: err.Error(), Err: err}
	}
	// An empty variable is a deliberate value (SHIPLOG_SOURCE_PASSWORD=""),
	// not an absent one.
	v.AllowEmptyEnv(true)
	for _, f := range fields {
		if err := v.BindEnv(f.key, envName(f.key)); err != nil {
			return fmt.Errorf("config %s: bind %s: %w", d.file, envName(f.key), err)
		}
	}

	for _, f := range fields {
		_, fromEnv := os.LookupEnv(envName(f.key))
		if !v.IsSet(f.key) {
			continue
		}
		d.set(cfg, f, v.Get(f.key), fromEnv)
	}
	d.magento(cfg, raw)
	for _, key := range d.format.required {
		f, _ := fieldByKey(key)
		if s, ok := f.dest(cfg).(*string); ok && *s == "" {
			d.fail(key, fmt.Sprintf("%s (or set %s)", d.format.missing, envName(key)), nil)
		}
	}

	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Key < d.errs[j].Key })
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// checkUnknown reports keys of raw that the schema does not have, and
// sections given a scalar.
func (d *decoder) checkUnknown(prefix string, raw map[string]any) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		val := raw[k]
		if f, ok := fieldByKey(key); ok {
			if _, isMap := val.(map[string]any); isMap {
				d.fail(key, "must be "+f.kind.want()+", not a mapping", nil)
			}
			continue
		}
		if key == "magento.options" {
			// Any option name: handlers read them (see decoder.magento).
			if _, ok := val.(map[string]any); !ok && val != nil {
				d.fail(key, "must be a mapping of option names to values", nil)
			}
			continue
		}
		if slices.Contains(sections, key) {
			switch m := val.(type) {
			case map[string]any:
				d.checkUnknown(key, m)
			case nil:
			default:
				d.fail(key, "must be a mapping of keys", nil)
			}
			continue
		}
		if slices.Contains(reserved, key) {
			d.fail(key, "unknown key: section "+key+" is not supported yet", nil)
			continue
		}
		d.fail(key, "unknown key"+suggest(key), nil)
	}
}

// set converts one value and stores it; fromEnv decides the error wording and
// whether a relative path is left for the process's working folder.
func (d *decoder) set(cfg *Config, f field, val any, fromEnv bool) {
	bad := func(err error) {
		msg := "must be " + f.kind.want()
		switch {
		case secretKey(f.key):
			// Never the value, nor a cause that may quote it: only its shape.
			msg += ", got " + shape(val) + " (value not shown: the key holds a secret)"
			if fromEnv {
				msg += " (from environment variable " + envName(f.key) + ")"
			}
			err = nil
		case fromEnv:
			msg += fmt.Sprintf(" (from environment variable %s=%q)", envName(f.key), fmt.Sprint(val))
		default:
			msg += fmt.Sprintf(", got %s", describe(val))
		}
		d.fail(f.key, msg, err)
	}
	switch f.kind {
	case kindString, kindPath:
		s, ok := val.(string)
		if val == nil {
			s, ok = "", true
		}
		if !ok {
			bad(nil)
			return
		}
		if f.kind == kindPath && !fromEnv {
			if d.format.findFile != nil {
				found, err := d.format.findFile(d.dir, s)
				if err != nil {
					// Read where the config is: opening it names the file,
					// and this warning every place looked at.
					cfg.Warnings = append(cfg.Warnings, d.format.label(f.key)+": "+err.Error())
					found = resolve(d.dir, s)
				}
				s = found
			} else {
				s = resolve(d.dir, s)
			}
		}
		*f.dest(cfg).(*string) = s
	case kindPort, kindCount, kindServerID:
		n, err := toInt(val)
		if err != nil {
			bad(err)
			return
		}
		switch {
		case f.kind == kindPort && (n < 1 || n > 65535),
			f.kind == kindCount && n < 0,
			f.kind == kindServerID && (n < 0 || n > math.MaxUint32):
			bad(nil)
			return
		}
		switch p := f.dest(cfg).(type) {
		case *int:
			*p = int(n)
		case *uint32:
			*p = uint32(n)
		}
	case kindBool:
		var b bool
		switch x := val.(type) {
		case bool:
			b = x
		case string:
			v, err := strconv.ParseBool(x)
			if err != nil {
				bad(err)
				return
			}
			b = v
		default:
			bad(nil)
			return
		}
		*f.dest(cfg).(*bool) = b
	case kindDuration:
		// Only strings: a bare number has no unit, and guessing one (seconds?
		// milliseconds?) would be wrong half the time.
		str, ok := val.(string)
		if !ok {
			bad(nil)
			return
		}
		dur, err := time.ParseDuration(strings.TrimSpace(str))
		if err != nil || dur < 0 {
			bad(err)
			return
		}
		*f.dest(cfg).(*time.Duration) = dur
	case kindList:
		var out []string
		switch l := val.(type) {
		case nil:
		case string:
			if !fromEnv {
				// A bare string in a file is more likely a mistake than a
				// one-element list; say so instead of guessing.
				bad(nil)
				return
			}
			for _, s := range strings.Split(l, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		case []any:
			for _, item := range l {
				s, ok := item.(string)
				if !ok || s == "" {
					bad(nil)
					return
				}
				out = append(out, s)
			}
		case []string:
			out = l
		default:
			bad(nil)
			return
		}
		*f.dest(cfg).(*[]string) = out
	}
}

// toInt accepts the integer types YAML, TOML and viper produce, and decimal
// strings (the environment, config.xml, or a quoted YAML number).
func toInt(val any) (int64, error) {
	switch n := val.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case int32:
		return int64(n), nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, errors.New("out of range")
		}
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case string:
		return strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	default:
		return 0, fmt.Errorf("%T is not an integer", val)
	}
}

// secretKey reports whether a key's value is a secret that no error or log
// may print: passwords, tokens, Magento's crypt keys, and the replica DSNs
// (they may carry passwords). Matched by the key's last part, so a new *.password or *.token
// key is covered without being listed here.
func secretKey(key string) bool {
	if key == "throttle.replicas" {
		return true
	}
	last := key[strings.LastIndex(key, ".")+1:]
	for _, w := range []string{"password", "passwd", "token", "secret", "crypt_key"} {
		if strings.Contains(last, w) {
			return true
		}
	}
	return false
}

// shape names the type of a value without any of its content.
func shape(val any) string {
	switch val.(type) {
	case string:
		return "a string"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	case bool:
		return "a boolean"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "a number (quote it to make it a string)"
	case float32, float64:
		return "a number (quote it to make it a string)"
	case time.Time:
		return "a date or time (quote it to make it a string)"
	default:
		return fmt.Sprintf("a value of type %T", val)
	}
}

// describe names a bad value for an error message without dumping large
// structures.
func describe(val any) string {
	switch v := val.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// suggest returns a hint naming a known key within a small edit distance of
// key, because most unknown keys are typos (passwd, databse).
func suggest(key string) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if dist := levenshtein(key, f.key); dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	for _, s := range sections {
		if dist := levenshtein(key, s); dist < bestDist {
			best, bestDist = s, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// strayEnvWarnings names SHIPLOG_SOURCE_*, SHIPLOG_DESTINATION_* and
// SHIPLOG_OPTIONS_* variables that match no key: a misspelt password variable
// would otherwise be ignored without a trace. Other SHIPLOG_* variables may
// belong to other parts of shiplog and are left alone.
func strayEnvWarnings() []string {
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[envName(f.key)] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] {
			continue
		}
		for _, p := range []string{"SHIPLOG_SOURCE_", "SHIPLOG_DESTINATION_", "SHIPLOG_OPTIONS_", "SHIPLOG_HTTP_"} {
			if strings.HasPrefix(name, p) {
				out = append(out, fmt.Sprintf("environment variable %s matches no configuration key; ignored", name))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
