package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The options of the Data Migration Tool's config.xml (<options>), or of a
// YAML/TOML file's magento.options, reach handlers by name as they were
// written (Options.Magento). shiplog itself reads a few of them: the paths
// class_map and m2_env_php, resolved like the other files (Options.ClassMapFile,
// Options.M2EnvPHP). crypt_key and m2_crypt_key are secrets.

// magentoShiplogOptions are the options shiplog adds to the reference's.
var magentoShiplogOptions = []string{
	// The Magento 2 key(s), as env.php's crypt/key holds them.
	"m2_crypt_key",
	// Magento 2's app/etc/env.php, read for m2_crypt_key.
	"m2_env_php",
	// delta.source: binlog (shiplog's default) or triggers (the
	// reference's m2_cl_* change logs).
	"delta_source",
	// options.workers: tables copied at once.
	"workers",
}

// magentoOptionsEnvPrefix starts the environment variables that set an
// option: SHIPLOG_MAGENTO_OPTIONS_CRYPT_KEY sets crypt_key.
const magentoOptionsEnvPrefix = "SHIPLOG_MAGENTO_OPTIONS_"

// knownMagentoOption reports whether name is an option of the reference
// tool or of shiplog.
func knownMagentoOption(name string) bool {
	switch name {
	case "delta_document_groups_file", "log_file", "progress_bar_format",
		"init_statements_source", "init_statements_destination":
		return true
	}
	return magentoOptions[name] != "" || slices.Contains(magentoIgnored, name) || slices.Contains(magentoShiplogOptions, name)
}

// magento fills cfg.Options.Magento (and the paths shiplog reads from it)
// from raw's magento.options and SHIPLOG_MAGENTO_OPTIONS_* variables.
// Values are never part of a message: some are secrets.
func (d *decoder) magento(cfg *Config, raw map[string]any) {
	opts := map[string]string{}
	if m, ok := raw["magento"].(map[string]any); ok {
		o, _ := m["options"].(map[string]any)
		for name, val := range o {
			s, ok := optionString(val)
			if !ok {
				d.fail("magento.options."+name, "must be a string, a number or a boolean, got "+shape(val), nil)
				continue
			}
			opts[name] = s
		}
	}
	fromEnv := map[string]bool{}
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if rest, ok := strings.CutPrefix(name, magentoOptionsEnvPrefix); ok && rest != "" {
			opts[strings.ToLower(rest)] = val
			fromEnv[strings.ToLower(rest)] = true
		}
	}
	names := slices.Sorted(maps.Keys(opts))
	for _, name := range names {
		if !knownMagentoOption(name) {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s is not an option of the Data Migration Tool or of shiplog: handlers see it as it is, nothing else reads it",
				d.format.label("magento.options."+name)))
		}
	}
	path := func(name string) string {
		p := opts[name]
		switch {
		case p == "" || fromEnv[name]:
			// From the environment: relative to the working folder.
			return p
		case d.format.findFile != nil:
			found, err := d.format.findFile(d.dir, p)
			if err != nil {
				cfg.Warnings = append(cfg.Warnings, d.format.label("magento.options."+name)+": "+err.Error())
				return resolve(d.dir, p)
			}
			return found
		default:
			return resolve(d.dir, p)
		}
	}
	cfg.Options.ClassMapFile = path("class_map")
	cfg.Options.M2EnvPHP = path("m2_env_php")
	if opts["m2_crypt_key"] != "" && opts["m2_env_php"] != "" {
		d.fail("magento.options.m2_crypt_key", fmt.Sprintf("set either it or %s (the Magento 2 key is read from that file), not both",
			d.format.label("magento.options.m2_env_php")), nil)
	}
	if len(opts) > 0 {
		cfg.Options.Magento = opts
	}
}

// optionString is an option's value as text: YAML and TOML give numbers and
// booleans their own types, Magento's config.xml has text only.
func optionString(val any) (string, bool) {
	switch v := val.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case bool:
		if v {
			return "1", true // as PHP prints true
		}
		return "0", true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	}
	return "", false
}

// MagentoSecrets are the values of the options that are secrets (the
// Magento 1 and 2 crypt keys), each key of a list of keys too, for callers
// that scrub texts shiplog did not write.
func (o Options) MagentoSecrets() []string {
	var out []string
	for _, name := range []string{"crypt_key", "m2_crypt_key"} {
		v := o.Magento[name]
		if strings.TrimSpace(v) == "" {
			continue
		}
		out = append(out, v)
		out = append(out, strings.Fields(v)...)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// MagentoFile resolves the file named by config.xml option name (any of the
// reference's *_file options: "eav_map_file", "stores_map_file", ...) as the
// reference tool finds it: a
// relative path from the configuration's folder, then each folder above
// it. ok is false when the option is not set; an error names every place
// looked at.
func (c *Config) MagentoFile(name string) (path string, ok bool, err error) {
	v := strings.TrimSpace(c.Options.Magento[name])
	if v == "" {
		return "", false, nil
	}
	dir := "."
	if c.Path != "" {
		dir = filepath.Dir(c.Path)
	}
	p, err := findMagentoFile(dir, v)
	if err != nil {
		return "", true, fmt.Errorf("options/%s: %w", name, err)
	}
	return p, true, nil
}
