package transform

// This file is the entry point for Magento Data Migration Tool map files
// (map.xml and settings.xml) and their YAML forms: it reads them into Rules
// and SettingsRules with the reader of the format (mapxml.go, mapyaml.go,
// which describes the YAML forms), by the grammar both readers share.
//
// Both readers are strict: an element, attribute or key they do not know is an
// error (a *FileError naming the file, the line and the element path), never
// silently skipped. The only exception is Magento's <log_changes> in the
// source <document_rules>, which is accepted and ignored (shiplog gets its
// change log from the binlog or deltalog.xml).
//
// Names are checked the same way in both forms:
//   - document names are non-empty and contain neither '.' nor white space;
//   - field references are "document.field": exactly one '.', both sides
//     non-empty, no white space;
//   - settings paths are non-empty and contain no white space;
//   - '*' (wildcard) is allowed only in document ignore rules (map) and in key
//     ignore rules (settings);
//   - handler names are non-empty, param names are non-empty and unique within
//     a handler.
//
// In XML, the text of name elements (<document>, <field>, <path>, ...) is
// trimmed of surrounding white space; attribute values are taken as written.
//
// # Origins
//
// Every Rule, Rename, Transform and HandlerSpec records where it was written.
// Elements are slash paths: in XML the element path ("map/source/field_rules/move",
// "map/source/document_rules/ignore/document", ".../transform/handler"), in
// YAML the key path ("source/fields/move", "source/documents/ignore",
// "source/fields/transform/handler", or ".../value" and ".../eval" for
// literals and expressions).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// FileError is an error in a map or settings file.
type FileError struct {
	File    string
	Line    int    // 1-based; 0 if unknown
	Element string // element or key path, e.g. "map/source/field_rules/move"
	Msg     string
}

// Error formats the error as "map.xml:12: <map/source/field_rules/move>: missing <to>".
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Element != "" {
		b.WriteString("<")
		b.WriteString(e.Element)
		b.WriteString(">: ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ReadMap reads map.xml or its YAML form (by extension .xml / .yaml / .yml)
// into the Source and Destination areas of a Rules (other fields zero).
func ReadMap(path string) (*Rules, error) {
	return readAs(path, ParseMap)
}

// ReadSettings reads settings.xml or its YAML form (by extension .xml / .yaml
// / .yml).
func ReadSettings(path string) (*SettingsRules, error) {
	return readAs(path, ParseSettings)
}

// readAs reads the file at path with parse, in the format of its extension.
func readAs[T any](path string, parse func(name string, data []byte, format string) (*T, error)) (*T, error) {
	format, err := formatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, format)
}

// ParseMap parses a map from data; name is used in errors and origins, format
// is "xml" or "yaml" ("yml" is accepted too).
func ParseMap(name string, data []byte, format string) (*Rules, error) {
	return parseAs(name, data, format, "map", (*xmlReader).mapRoot, (*yamlReader).mapRoot)
}

// ParseSettings parses settings rules from data; name is used in errors and
// origins, format is "xml" or "yaml" ("yml" is accepted too).
func ParseSettings(name string, data []byte, format string) (*SettingsRules, error) {
	return parseAs(name, data, format, "settings", (*xmlReader).settingsRoot, (*yamlReader).settingsRoot)
}

// parseAs parses data in format with the root reader of that format.
func parseAs[T any](name string, data []byte, format, what string,
	fromXML func(*xmlReader, *xnode, *T) error, fromYAML func(*yamlReader, *yaml.Node, *T) error) (*T, error) {
	out := new(T)
	var err error
	switch format {
	case "xml":
		var root *xnode
		if root, err = parseXMLTree(name, data); err == nil {
			err = fromXML(&xmlReader{file: name}, root, out)
		}
	case "yaml", "yml":
		var root *yaml.Node
		if root, err = parseYAMLDoc(name, data); err == nil {
			err = fromYAML(&yamlReader{file: name}, root, out)
		}
	default:
		return nil, &FileError{File: name, Msg: fmt.Sprintf("unknown %s format %q (want xml or yaml)", what, format)}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// formatOf tells a map file's format by its extension; the reference tool's
// shipped files end in .xml.dist, read as .xml.
func formatOf(path string) (string, error) {
	name := path
	if strings.EqualFold(filepath.Ext(name), ".dist") {
		name = strings.TrimSuffix(name, filepath.Ext(name))
	}
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".xml":
		return "xml", nil
	case ".yaml", ".yml":
		return "yaml", nil
	default:
		return "", &FileError{File: path, Msg: fmt.Sprintf("unsupported file extension %q (want .xml, .yaml or .yml)", ext)}
	}
}

// Name checks, shared by both forms. Each returns "" or the problem.

const (
	wildcardDocMsg  = "wildcard '*' is only allowed in document ignore rules"
	wildcardPathMsg = "wildcard '*' is only allowed in key ignore rules"
)

func hasSpace(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

func checkDocument(s string, wildcard bool) string {
	switch {
	case s == "":
		return "empty document name"
	case !wildcard && strings.Contains(s, "*"):
		return wildcardDocMsg
	case strings.Contains(s, "."):
		return fmt.Sprintf("document name %q contains '.'", s)
	case hasSpace(s):
		return fmt.Sprintf("document name %q contains white space", s)
	}
	return ""
}

func checkField(s string) string {
	switch {
	case strings.Contains(s, "*"):
		return wildcardDocMsg
	case hasSpace(s):
		return fmt.Sprintf("field reference %q contains white space", s)
	}
	doc, field, ok := strings.Cut(s, ".")
	if !ok || doc == "" || field == "" || strings.Contains(field, ".") {
		return fmt.Sprintf("field reference %q is not \"document.field\"", s)
	}
	return ""
}

func checkPath(s string, wildcard bool) string {
	switch {
	case s == "":
		return "empty path"
	case !wildcard && strings.Contains(s, "*"):
		return wildcardPathMsg
	case hasSpace(s):
		return fmt.Sprintf("path %q contains white space", s)
	}
	return ""
}

// The grammar both readers share. A file has sections (settings: <key>,
// <value>; a map area: <document_rules>, <field_rules>), a section holds
// rules of the kinds listed for it. Each kind names its XML element and YAML
// key and where its rules go, so a new kind of rule is one row here (and the
// field it fills). The readers derive their "expected ..." and "not allowed
// ..." messages from these tables.

// ruleKind is one kind of rule of a section. Exactly one of rule, rename and
// transform is set (it adds a rule read to its list), or none for a kind that
// is accepted and ignored.
type ruleKind[T any] struct {
	xml  string // element in the section; kinds sharing it are one <ignore> with several leaves
	leaf string // the name element: <ignore><leaf>, <rename><leaf>...<to>, <transform><leaf>...<handler>
	yaml string // key in the section; "" if the kind has no YAML form
	// sourceOnly kinds are not allowed in a map's destination area.
	sourceOnly bool
	check      func(string) string // checks a name (leaf, from, to, target)

	rule      func(*T, Rule)   // a name or pattern
	rename    func(*T, Rename) // from -> to
	transform func(t *T, target string, h HandlerSpec, at Origin)
}

// section is a group of rules: an element (XML) or key (YAML) of a map area or
// of a settings file.
type section[T any] struct {
	xml, yaml string
	kinds     []ruleKind[T]
	// keysFirst (settings): in YAML every key is checked before any is read,
	// and the kinds are read in table order; otherwise (a map area) in file
	// order, each key checked as it is reached.
	keysFirst bool
}

func anyDocument(s string) string   { return checkDocument(s, true) }
func exactDocument(s string) string { return checkDocument(s, false) }
func anyPath(s string) string       { return checkPath(s, true) }
func exactPath(s string) string     { return checkPath(s, false) }

// mapArea is an area of a map; the destination allows no sourceOnly kind.
type mapArea struct {
	name   string // element (XML) and key (YAML)
	source bool
	area   func(*Rules) *Area
}

var mapAreas = []mapArea{
	{"source", true, func(r *Rules) *Area { return &r.Source }},
	{"destination", false, func(r *Rules) *Area { return &r.Destination }},
}

// mapSections are the sections of a map area.
var mapSections = []section[Area]{
	{xml: "document_rules", yaml: "documents", kinds: []ruleKind[Area]{
		{xml: "ignore", leaf: "document", yaml: "ignore", check: anyDocument,
			rule: func(a *Area, r Rule) { a.IgnoreDocuments = append(a.IgnoreDocuments, r) }},
		{xml: "rename", leaf: "document", yaml: "rename", sourceOnly: true, check: exactDocument,
			rename: func(a *Area, r Rename) { a.RenameDocuments = append(a.RenameDocuments, r) }},
		// Magento's change-log declaration: accepted and ignored (shiplog
		// gets its change log from the binlog or deltalog.xml).
		{xml: "log_changes", sourceOnly: true},
	}},
	{xml: "field_rules", yaml: "fields", kinds: []ruleKind[Area]{
		{xml: "ignore", leaf: "field", yaml: "ignore", check: checkField,
			rule: func(a *Area, r Rule) { a.IgnoreFields = append(a.IgnoreFields, r) }},
		{xml: "ignore", leaf: "datatype", yaml: "ignore_datatype", check: checkField,
			rule: func(a *Area, r Rule) { a.IgnoreDatatypes = append(a.IgnoreDatatypes, r) }},
		{xml: "move", leaf: "field", yaml: "move", sourceOnly: true, check: checkField,
			rename: func(a *Area, r Rename) { a.MoveFields = append(a.MoveFields, r) }},
		{xml: "transform", leaf: "field", yaml: "transform", check: checkField,
			transform: func(a *Area, field string, h HandlerSpec, at Origin) {
				a.Transforms = append(a.Transforms, Transform{Field: field, Handler: h, At: at})
			}},
	}},
}

// settingsSections are the sections of a settings file.
var settingsSections = []section[SettingsRules]{
	{xml: "key", yaml: "key", kinds: []ruleKind[SettingsRules]{
		{xml: "ignore", leaf: "path", yaml: "ignore", check: anyPath,
			rule: func(s *SettingsRules, r Rule) { s.IgnorePaths = append(s.IgnorePaths, r) }},
		{xml: "rename", leaf: "path", yaml: "rename", check: exactPath,
			rename: func(s *SettingsRules, r Rename) { s.RenamePaths = append(s.RenamePaths, r) }},
	}, keysFirst: true},
	{xml: "value", yaml: "value", kinds: []ruleKind[SettingsRules]{
		{xml: "transform", leaf: "path", yaml: "transform", check: exactPath,
			transform: func(s *SettingsRules, path string, h HandlerSpec, at Origin) {
				s.Transforms = append(s.Transforms, SettingsTransform{Path: path, Handler: h, At: at})
			}},
	}, keysFirst: true},
}

// names returns the distinct XML elements (inYAML false) or YAML keys (inYAML
// true) of the kinds of s allowed in an area (source: every kind), in table
// order.
func (s section[T]) names(inYAML, source bool) []string {
	var out []string
	for _, k := range s.kinds {
		n := k.xml
		if inYAML {
			n = k.yaml
		}
		if n != "" && (source || !k.sourceOnly) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// sectionNames returns the XML elements or YAML keys of sections.
func sectionNames[T any](sections []section[T], inYAML bool) []string {
	var out []string
	for _, s := range sections {
		if inYAML {
			out = append(out, s.yaml)
		} else {
			out = append(out, s.xml)
		}
	}
	return out
}

func mapAreaNames() []string {
	var out []string
	for _, a := range mapAreas {
		out = append(out, a.name)
	}
	return out
}

// andList joins items as "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
