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
	format, err := formatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMap(path, data, format)
}

// ReadSettings reads settings.xml or its YAML form (by extension .xml / .yaml
// / .yml).
func ReadSettings(path string) (*SettingsRules, error) {
	format, err := formatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSettings(path, data, format)
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
	switch format {
	case "xml":
		root, err := parseXMLTree(name, data)
		if err != nil {
			return nil, err
		}
		if err := fromXML(&xmlReader{file: name}, root, out); err != nil {
			return nil, err
		}
		return out, nil
	case "yaml", "yml":
		root, err := parseYAMLDoc(name, data)
		if err != nil {
			return nil, err
		}
		if err := fromYAML(&yamlReader{file: name}, root, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, &FileError{File: name, Msg: fmt.Sprintf("unknown %s format %q (want xml or yaml)", what, format)}
}

func formatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
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
