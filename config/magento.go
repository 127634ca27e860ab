package config

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Magento config.xml, as written for the Data Migration Tool:
//
//	<config>
//	  <steps mode="data"><step title="Map Step"><data>Migration\Step\Map\Data</data>...</step></steps>
//	  <source><database host="" name="" user="" password="" port="" ssl_ca="" .../></source>
//	  <destination>...</destination>
//	  <options><map_file>...</map_file>...</options>
//	</config>

type xmlConfig struct {
	XMLName     xml.Name      `xml:"config"`
	Steps       []xmlSteps    `xml:"steps"`
	Source      []xmlEndpoint `xml:"source"`
	Destination []xmlEndpoint `xml:"destination"`
	Options     []xmlOptions  `xml:"options"`
	Other       []xmlAny      `xml:",any"`
}

type xmlSteps struct {
	Mode  string    `xml:"mode,attr"`
	Steps []xmlStep `xml:"step"`
}

type xmlStep struct {
	Title  string   `xml:"title,attr"`
	Stages []xmlAny `xml:",any"`
}

type xmlEndpoint struct {
	Databases []xmlDatabase `xml:"database"`
}

type xmlDatabase struct {
	Attrs []xml.Attr `xml:",any,attr"`
}

type xmlOptions struct {
	Items []xmlAny `xml:",any"`
}

// xmlAny is any element with text content: a stage, an option.
type xmlAny struct {
	XMLName xml.Name
	Text    string `xml:",chardata"`
}

// magentoAttrs maps <database> attributes to schema keys (without the side).
var magentoAttrs = map[string]string{
	"host": "host", "port": "port", "user": "user", "password": "password", "name": "database",
	"ssl_ca": "tls.ca", "ssl_cert": "tls.cert", "ssl_key": "tls.key",
}

// magentoOptions maps <options> children to schema keys.
var magentoOptions = map[string]string{
	"map_file": "map", "settings_map_file": "settings_map", "bulk_size": "bulk_size",
	"source_prefix": "source_prefix", "dest_prefix": "dest_prefix",
}

// magentoIgnored are options the reference tool knows that shiplog's own
// settings do not take (they configure steps shiplog does not run, PHP
// specifics, or handlers: crypt_key, class_map). They are accepted without a
// warning so a stock config.xml.dist loads quietly, and like every option
// reach handlers by name (Options.Magento).
var magentoIgnored = []string{
	"direct_document_copy", "crypt_key", "auto_resolve_urlrewrite_duplicates",
	"upgrade_customer_password_hash", "edition_migrate", "edition_number",
	"resource_adapter_class_name", "eav_map_file", "eav_document_groups_file",
	"eav_attribute_groups_file", "log_map_file", "log_document_groups_file",
	"customer_map_file", "customer_document_groups_file", "customer_attribute_groups_file",
	"customer_attr_map_file", "customer_attr_document_groups_file", "sales_order_map_file",
	"order_grids_document_groups_file", "map_document_groups", "class_map",
	"tier_price_map_file", "stores_map_file", "visual_merchandiser_map",
	"visual_merchandiser_document_groups", "visual_merchandiser_attribute_groups",
}

var magentoFormat = format{
	label:    magentoLabel,
	defaults: map[string]any{"source.port": 3306, "destination.port": 3306},
	// Magento requires host, name and user; unlike shiplog's own format there
	// are no defaults for host and user.
	required: []string{
		"source.host", "source.database", "source.user",
		"destination.host", "destination.database", "destination.user",
	},
	missing: "required attribute is missing",
	// Paths are found as the reference tool finds them (see findMagentoFile).
	findFile: findMagentoFile,
}

// magentoLabel names a schema key as the user wrote it in config.xml; keys
// config.xml cannot hold (set from the environment) keep their dotted name.
func magentoLabel(key string) string {
	side, rest, _ := strings.Cut(key, ".")
	switch side {
	case "source", "destination":
		if rest == "tls" {
			return side + "/database/@ssl_*"
		}
		for attr, k := range magentoAttrs {
			if k == rest {
				return side + "/database/@" + attr
			}
		}
	case "magento":
		return "options/" + strings.TrimPrefix(rest, "options.")
	case "options":
		for opt, k := range magentoOptions {
			if k == rest {
				return "options/" + opt
			}
		}
	}
	return key
}

// readMagento parses a config.xml. It returns the values that share shiplog's
// schema as a raw nested map (so they are checked and overridden like YAML),
// and fills cfg with what only config.xml has: steps, init statements, the
// deltalog, log file and progress bar format, and warnings. Which steps
// shiplog has is the step registry's business: a mode warns about the
// steps it skips when it runs.
func readMagento(path string, cfg *Config) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	var doc xmlConfig
	if err := xml.Unmarshal(data, &doc); err != nil {
		if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
			// The parser quotes what it stumbled on (an entity name, a
			// character); on a line with a password that may be part of it.
			if lineHasSecret(data, se.Line) {
				return nil, &Error{File: path, Msg: fmt.Sprintf("line %d: malformed XML (details not shown: the line holds a password)", se.Line)}
			}
			return nil, &Error{File: path, Msg: fmt.Sprintf("line %d: malformed XML: %s", se.Line, se.Msg), Err: err}
		}
		return nil, &Error{File: path, Msg: "not a Magento config.xml: " + err.Error(), Err: err}
	}

	dir := filepath.Dir(path)
	warn := func(format string, args ...any) {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf(format, args...))
	}
	for _, o := range doc.Other {
		warn("unknown element <%s> in <config>; ignored", o.XMLName.Local)
	}

	for _, group := range doc.Steps {
		for _, s := range group.Steps {
			step := Step{Mode: group.Mode, Title: strings.TrimSpace(s.Title)}
			for _, st := range s.Stages {
				step.Classes = append(step.Classes, strings.TrimPrefix(strings.TrimSpace(st.Text), `\`))
			}
			cfg.Steps = append(cfg.Steps, step)
		}
	}

	raw := map[string]any{}
	for _, side := range []struct {
		name string
		eps  []xmlEndpoint
	}{{"source", doc.Source}, {"destination", doc.Destination}} {
		var dbs []xmlDatabase
		for _, ep := range side.eps {
			dbs = append(dbs, ep.Databases...)
		}
		if len(side.eps) > 1 || len(dbs) > 1 {
			return nil, &Error{Key: side.name, File: path, Msg: "must hold exactly one <database>"}
		}
		m := map[string]any{}
		if len(dbs) == 1 {
			for _, a := range dbs[0].Attrs {
				key, ok := magentoAttrs[a.Name.Local]
				if !ok {
					warn("unknown attribute %s on <%s><database>; ignored", a.Name.Local, side.name)
					continue
				}
				// An empty port means "default", as it does in Magento.
				if a.Value == "" && key == "port" {
					continue
				}
				if tlsKey, ok := strings.CutPrefix(key, "tls."); ok {
					tlsMap, _ := m["tls"].(map[string]any)
					if tlsMap == nil {
						tlsMap = map[string]any{}
						m["tls"] = tlsMap
					}
					tlsMap[tlsKey] = a.Value
					continue
				}
				m[key] = a.Value
			}
		}
		raw[side.name] = m
	}

	opts := map[string]any{}
	all := map[string]any{} // every option, for handlers (Options.Magento)
	seen := map[string]bool{}
	for _, group := range doc.Options {
		for _, o := range group.Items {
			name, val := o.XMLName.Local, strings.TrimSpace(o.Text)
			if seen[name] {
				warn("option %s is given more than once; the last one is used", name)
			}
			seen[name] = true
			all[name] = val
			switch {
			case magentoOptions[name] != "":
				// An empty <bulk_size/> means automatic, like 0.
				if val != "" || name == "source_prefix" || name == "dest_prefix" {
					opts[magentoOptions[name]] = val
				}
			case name == "delta_document_groups_file":
				f, err := findMagentoFile(dir, val)
				if err != nil {
					warn("options/delta_document_groups_file: %v", err)
					f = resolve(dir, val)
				}
				cfg.Options.DeltalogFile = f
			case name == "log_file":
				// Left as written: it is an output, relative to where shiplog runs.
				cfg.Options.LogFile = val
			case name == "progress_bar_format":
				cfg.Options.ProgressBarFormat = val
			case name == "init_statements_source":
				cfg.Source.InitStatements = splitStatements(val)
			case name == "init_statements_destination":
				cfg.Destination.InitStatements = splitStatements(val)
			case name == "delta_source":
				// shiplog's: the reference's delta is always its change
				// logs; shiplog's default is the binlog.
				if val != "" {
					raw["delta"] = map[string]any{"source": val}
				}
			case name == "workers":
				if val != "" {
					opts["workers"] = val
				}
			}
		}
	}
	raw["options"] = opts
	raw["magento"] = map[string]any{"options": all}
	return raw, nil
}

// lineHasSecret reports whether line n (1-based) of data holds a password
// attribute or a crypt key.
func lineHasSecret(data []byte, n int) bool {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return true // unknown line: assume the worst
	}
	l := strings.ToLower(lines[n-1])
	return strings.Contains(l, "password") || strings.Contains(l, "crypt_key")
}

// splitStatements splits Magento's ';'-separated init statements. Like the
// reference tool it does not parse SQL, so a ';' inside a quoted string is
// not supported.
func splitStatements(s string) []string {
	var out []string
	for _, st := range strings.Split(s, ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// findMagentoFile resolves path p named in a Magento config.xml in dir. The
// reference tool reads such paths from its own root (the folder holding
// etc/, so that etc/opensource-to-opensource/1.9.4.5/map.xml.dist works from
// the config.xml beside that map); shiplog looks in the config's folder, then
// in each folder above it, and takes the first that has the file. An
// absolute path is taken as it is. When no folder has it, the error names
// every place looked at.
func findMagentoFile(dir, p string) (string, error) {
	if p == "" || filepath.IsAbs(p) {
		return p, nil
	}
	isFile := func(c string) bool {
		st, err := os.Stat(c)
		return err == nil && !st.IsDir()
	}
	// The config's folder first, named as the config was.
	first := filepath.Join(dir, p)
	if isFile(first) {
		return first, nil
	}
	looked := []string{first}
	d, err := filepath.Abs(dir)
	if err != nil {
		d = filepath.Clean(dir)
	}
	for up := filepath.Dir(d); up != d; d, up = up, filepath.Dir(up) {
		c := filepath.Join(up, p)
		if isFile(c) {
			return c, nil
		}
		looked = append(looked, c)
	}
	return "", fmt.Errorf("file %s not found; looked at %s (a relative path is read from the config's folder or a folder above it, as the Data Migration Tool reads it from its root)",
		p, strings.Join(looked, ", "))
}

// trimDist is the name of a reference tool's shipped file without its .dist
// suffix (map.xml.dist -> map.xml), for telling its format.
func trimDist(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".dist") {
		return strings.TrimSuffix(path, filepath.Ext(path))
	}
	return path
}

// resolve makes a relative path from a config file relative to its folder.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
