package transform

import "fmt"

// Rules are the map rules a plan is compiled from: Magento's map.xml model
// (read from map.xml or its YAML form) plus shiplog's options. The zero value is
// the identity map: every source table to the destination table of the same name
// (after prefixes), every column to the column of the same name.
type Rules struct {
	// SourcePrefix and DestPrefix are the table prefixes of the two
	// installations: names in rules are written without them.
	SourcePrefix, DestPrefix string
	// FullRowTables are tables without a usable key that the user opted into
	// full-row mode: rows are matched by all their columns and not compacted.
	FullRowTables []string
	// IgnoreDestTables are destination tables nothing is expected to fill
	// (shiplog's own state tables are always ignored).
	IgnoreDestTables []string
	// SourceNames are source documents known to exist besides those
	// compiled (a stream compiles the tables its copy recorded, not the
	// ones the map ignores): a destination document pairs with them by
	// name, as with any source document.
	SourceNames []string `json:"-"`
	// SourceSoFar says the source tables compiled are those known so far
	// (a Kafka applier learns them as the publisher's schemas arrive):
	// destination documents no source document maps to yet are a warning,
	// not an error.
	SourceSoFar bool `json:"-"`
	// Env is what handlers may use beyond their records (options, lookups,
	// class map); nil gives them an empty one.
	Env *HandlerEnv `json:"-"`

	// Source holds the rules of map.xml's <source> area, Destination those of
	// <destination> (which allows only document ignore, field ignore, datatype
	// ignore and transform).
	Source, Destination Area
}

// Area is the rules of one side of a map.
type Area struct {
	// IgnoreDocuments are document names or wildcard patterns ('*' matches any
	// run of characters; patterns are anchored at the start only, so "m2_cl_*"
	// and "log_*" are prefix matches).
	IgnoreDocuments []Rule
	// RenameDocuments maps a source document to a destination document (source
	// area only).
	RenameDocuments []Rename
	// IgnoreFields are "document.field" references left out.
	IgnoreFields []Rule
	// IgnoreDatatypes are "document.field" references whose type difference is
	// expected (silences the datatype warning only).
	IgnoreDatatypes []Rule
	// MoveFields move a source field to another destination field, "document.field"
	// to "document.field" (source area only).
	MoveFields []Rename
	// Transforms run a handler on a field.
	Transforms []Transform
}

// Origin says where a rule was written, for error messages.
type Origin struct {
	File    string
	Line    int
	Element string // e.g. "map/source/field_rules/move"
}

func (o Origin) String() string {
	switch {
	case o.File == "":
		return o.Element
	case o.Line > 0:
		return fmt.Sprintf("%s:%d: <%s>", o.File, o.Line, o.Element)
	}
	return fmt.Sprintf("%s: <%s>", o.File, o.Element)
}

// Rule is one name or pattern.
type Rule struct {
	Name string
	At   Origin
}

// Rename maps From to To (documents, or "document.field" for moves).
type Rename struct {
	From, To string
	At       Origin
}

// Transform applies a handler to a field ("document.field").
type Transform struct {
	Field   string
	Handler HandlerSpec
	At      Origin
}

// HandlerSpec names a handler and its parameters as written in a map
// ("\Migration\Handler\SetValue" or "SetValue"; params in file order, names
// unique).
type HandlerSpec struct {
	Name   string
	Params []Param
	At     Origin
}

// Param is a handler parameter.
type Param struct{ Name, Value string }

// SettingsRules are the rules of settings.xml (or its YAML form) for the
// key/value settings table.
type SettingsRules struct {
	// IgnorePaths are paths or patterns: '*' matches one or more characters,
	// anchored at the start.
	IgnorePaths []Rule
	// RenamePaths rename a path exactly.
	RenamePaths []Rename
	// Transforms run a handler on the value of a path (exact).
	Transforms []SettingsTransform
}

// SettingsTransform applies a handler to the value of the settings at Path.
type SettingsTransform struct {
	Path    string
	Handler HandlerSpec
	At      Origin
}
