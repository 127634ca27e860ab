package transform

// This file reads Magento Data Migration Tool map files (map.xml and
// settings.xml) and their YAML forms into Rules and SettingsRules.
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
// # YAML form of map.xml
//
//	source:
//	  documents:
//	    ignore: [log_visitor, "m2_cl_*"]            # names or patterns
//	    rename:                                     # source area only
//	      - {from: sales_flat_order, to: sales_order}
//	  fields:
//	    ignore: [sales_flat_order.legacy]           # document.field
//	    ignore_datatype: [sales_flat_order.weight]  # document.field
//	    move:                                       # source area only
//	      - {from: sales_flat_order.customer_note, to: sales_flat_order.note}
//	    transform:
//	      # a handler with params (params in file order, names unique):
//	      - {field: sales_flat_order.status, handler: Convert,
//	         params: {map: "[pending:new;complete:done]", defaultValue: new}}
//	      # a literal: HandlerSpec{Name: "SetValue", Params: [{value, "Main Store"}]}
//	      - {field: sales_flat_order.store_name, value: "Main Store"}
//	      # an expression: HandlerSpec{Name: "Expression", Params: [{expression, ...}]}
//	      - {field: sales_flat_order.grand_total, eval: "base_grand_total * 1.2"}
//	destination:
//	  documents: {ignore: [...]}
//	  fields: {ignore: [...], ignore_datatype: [...], transform: [...]}
//
// Every key is optional; an empty or null section is the same as an absent
// one. A transform has exactly one of handler, value and eval; params goes
// only with handler. Param values and value/eval are scalars (null is an
// error: SetValue's SQL NULL is the string "NULL"). Unknown and duplicate
// keys, YAML aliases and multi-document streams are errors.
//
// # YAML form of settings.xml
//
//	key:
//	  ignore: [web/secure/*, "dev/*"]               # paths or patterns
//	  rename:
//	    - {from: old/path, to: new/path}
//	value:
//	  transform:
//	    - {path: x/y, handler: "\\Migration\\Handler\\Settings\\Locale", params: {p: v}}
//	    - {path: web/cookie/cookie_path, value: "/"}
//	    - {path: sales/minimum_order/amount, eval: "value * 2"}
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
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
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

// ---------------------------------------------------------------------------
// XML

// xnode is an element of the parsed XML tree.
type xnode struct {
	name     xml.Name
	parent   *xnode
	line     int
	attrs    []xml.Attr
	kids     []*xnode
	text     []byte
	textLine int // line of the first non-space text; 0 if none
}

func label(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// path is the element path from the root, e.g. "map/source/field_rules".
func (n *xnode) path() string {
	var parts []string
	for m := n; m != nil; m = m.parent {
		parts = append(parts, label(m.name))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// lineCounter converts input offsets to 1-based line numbers.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (c *lineCounter) at(off int64) int {
	o := int(off)
	if o > len(c.data) {
		o = len(c.data)
	}
	if o < c.off {
		c.off, c.line = 0, 1
	}
	c.line += bytes.Count(c.data[c.off:o], []byte{'\n'})
	c.off = o
	return c.line
}

// parseXMLTree reads the whole document into a tree of elements with their
// lines, or returns a *FileError for malformed XML.
func parseXMLTree(file string, data []byte) (*xnode, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	d := xml.NewDecoder(bytes.NewReader(data))
	lc := &lineCounter{data: data, line: 1}
	var root *xnode
	var stack []*xnode
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			fe := &FileError{File: file, Msg: "reading XML: " + err.Error()}
			if strings.Contains(err.Error(), "CharsetReader") {
				fe.Msg = "unsupported encoding (only UTF-8 is read): " + err.Error()
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				fe.Line, fe.Msg = se.Line, "malformed XML: "+se.Msg
			} else {
				fe.Line = lc.at(d.InputOffset())
			}
			if len(stack) > 0 {
				fe.Element = stack[len(stack)-1].path()
			}
			return nil, fe
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name, line: lc.at(off), attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, &FileError{File: file, Line: n.line, Element: n.path(), Msg: "malformed XML: more than one root element"}
				}
				root = n
			} else {
				n.parent = stack[len(stack)-1]
				n.parent.kids = append(n.parent.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			i := bytes.IndexFunc(t, func(r rune) bool { return !unicode.IsSpace(r) })
			if len(stack) == 0 {
				if i >= 0 {
					return nil, &FileError{File: file, Line: lc.at(off) + bytes.Count(t[:i], []byte{'\n'}), Msg: "malformed XML: text outside the root element"}
				}
				continue
			}
			top := stack[len(stack)-1]
			if top.textLine == 0 && i >= 0 {
				top.textLine = lc.at(off) + bytes.Count(t[:i], []byte{'\n'})
			}
			top.text = append(top.text, t...)
		case xml.Directive:
			fe := &FileError{File: file, Line: lc.at(off), Msg: "unexpected <!...> directive"}
			if len(stack) > 0 {
				fe.Element = stack[len(stack)-1].path()
			}
			return nil, fe
		case xml.Comment, xml.ProcInst:
		}
	}
	if root == nil {
		return nil, &FileError{File: file, Line: lc.at(int64(len(data))), Msg: "malformed XML: no root element"}
	}
	return root, nil
}

type xmlReader struct{ file string }

func (p *xmlReader) errAt(n *xnode, format string, args ...any) *FileError {
	return &FileError{File: p.file, Line: n.line, Element: n.path(), Msg: fmt.Sprintf(format, args...)}
}

func (p *xmlReader) origin(n *xnode) Origin {
	return Origin{File: p.file, Line: n.line, Element: n.path()}
}

// orList formats element names as "<a>", "<a> or <b>", "<a>, <b> or <c>".
func orList(names []string) string {
	want := make([]string, len(names))
	for i, w := range names {
		want[i] = "<" + w + ">"
	}
	if len(want) == 1 {
		return want[0]
	}
	return strings.Join(want[:len(want)-1], ", ") + " or " + want[len(want)-1]
}

func (p *xmlReader) unknown(n *xnode, want ...string) error {
	if len(want) == 0 {
		return p.errAt(n, "unknown element")
	}
	return p.errAt(n, "unknown element (expected %s)", orList(want))
}

func (p *xmlReader) noAttrs(n *xnode) error {
	if len(n.attrs) > 0 {
		return p.errAt(n, "unexpected attribute %q", label(n.attrs[0].Name))
	}
	return nil
}

func (p *xmlReader) noText(n *xnode) error {
	if n.textLine > 0 {
		return &FileError{File: p.file, Line: n.textLine, Element: n.path(), Msg: "unexpected text"}
	}
	return nil
}

// container checks an element that holds only elements.
func (p *xmlReader) container(n *xnode) error {
	if err := p.noAttrs(n); err != nil {
		return err
	}
	return p.noText(n)
}

// leaf returns the trimmed text of an element that holds only text.
func (p *xmlReader) leaf(n *xnode) (string, error) {
	if err := p.noAttrs(n); err != nil {
		return "", err
	}
	if len(n.kids) > 0 {
		return "", p.errAt(n.kids[0], "unexpected element: <%s> holds only text", label(n.name))
	}
	return strings.TrimSpace(string(n.text)), nil
}

// pair returns the two leaf children named a and b (each exactly once) of a
// container.
func (p *xmlReader) pair(n *xnode, a, b string) (na, nb *xnode, err error) {
	if err := p.container(n); err != nil {
		return nil, nil, err
	}
	for _, k := range n.kids {
		var slot **xnode
		switch {
		case k.name.Space == "" && k.name.Local == a:
			slot = &na
		case k.name.Space == "" && k.name.Local == b:
			slot = &nb
		default:
			return nil, nil, p.unknown(k, a, b)
		}
		if *slot != nil {
			return nil, nil, p.errAt(k, "duplicate <%s>", k.name.Local)
		}
		*slot = k
	}
	switch {
	case na == nil:
		return nil, nil, p.errAt(n, "missing <%s>", a)
	case nb == nil:
		return nil, nil, p.errAt(n, "missing <%s>", b)
	}
	return na, nb, nil
}

// leafName reads a leaf and checks its text with check.
func (p *xmlReader) leafName(n *xnode, check func(string) string) (string, error) {
	s, err := p.leaf(n)
	if err != nil {
		return "", err
	}
	if msg := check(s); msg != "" {
		return "", p.errAt(n, "%s", msg)
	}
	return s, nil
}

// once reports a repeated section (<source>, <key>, ...); *seen is set by the
// first.
func (p *xmlReader) once(n *xnode, seen *bool) error {
	if *seen {
		return p.errAt(n, "duplicate <%s>", n.name.Local)
	}
	*seen = true
	return nil
}

// rules reads an <ignore>: a non-empty container of leaves, each named one of
// names, checked with check and appended to the list of the same index in
// lists.
func (p *xmlReader) rules(n *xnode, check func(string) string, names []string, lists ...*[]Rule) error {
	if err := p.container(n); err != nil {
		return err
	}
	if len(n.kids) == 0 {
		return p.errAt(n, "missing %s", orList(names))
	}
	for _, k := range n.kids {
		i := slices.Index(names, elemName(k))
		if i < 0 {
			return p.unknown(k, names...)
		}
		s, err := p.leafName(k, check)
		if err != nil {
			return err
		}
		*lists[i] = append(*lists[i], Rule{Name: s, At: p.origin(k)})
	}
	return nil
}

// rename reads a <rename> or <move>: the leaves from and <to>, both checked
// with check.
func (p *xmlReader) rename(n *xnode, from string, check func(string) string) (Rename, error) {
	fn, tn, err := p.pair(n, from, "to")
	if err != nil {
		return Rename{}, err
	}
	f, err := p.leafName(fn, check)
	if err != nil {
		return Rename{}, err
	}
	t, err := p.leafName(tn, check)
	if err != nil {
		return Rename{}, err
	}
	return Rename{From: f, To: t, At: p.origin(n)}, nil
}

// transform reads a <transform>: the leaf target (checked with check) and the
// <handler>.
func (p *xmlReader) transform(n *xnode, target string, check func(string) string) (string, HandlerSpec, error) {
	tn, hn, err := p.pair(n, target, "handler")
	if err != nil {
		return "", HandlerSpec{}, err
	}
	t, err := p.leafName(tn, check)
	if err != nil {
		return "", HandlerSpec{}, err
	}
	h, err := p.handler(hn)
	if err != nil {
		return "", HandlerSpec{}, err
	}
	return t, h, nil
}

func isElem(n *xnode, local string) bool { return n.name.Space == "" && n.name.Local == local }

// elemName is the name used to dispatch on children: namespaced elements
// never match.
func elemName(n *xnode) string {
	if n.name.Space != "" {
		return label(n.name)
	}
	return n.name.Local
}

// rootAttrs allows the schema attributes Magento's files carry on the root:
// namespace declarations (xmlns:xs) and xs:noNamespaceSchemaLocation.
func (p *xmlReader) rootAttrs(n *xnode) error {
	for _, a := range n.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space != "" && a.Name.Local == "noNamespaceSchemaLocation") {
			continue
		}
		return p.errAt(n, "unexpected attribute %q", label(a.Name))
	}
	return p.noText(n)
}

func (p *xmlReader) mapRoot(root *xnode, r *Rules) error {
	if !isElem(root, "map") {
		return p.errAt(root, "unknown root element (expected <map>)")
	}
	if err := p.rootAttrs(root); err != nil {
		return err
	}
	var seenSrc, seenDst bool
	for _, k := range root.kids {
		var err error
		switch elemName(k) {
		case "source":
			if err = p.once(k, &seenSrc); err == nil {
				err = p.area(k, &r.Source, true)
			}
		case "destination":
			if err = p.once(k, &seenDst); err == nil {
				err = p.area(k, &r.Destination, false)
			}
		default:
			err = p.unknown(k, "source", "destination")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *xmlReader) area(n *xnode, a *Area, source bool) error {
	if err := p.container(n); err != nil {
		return err
	}
	for _, k := range n.kids {
		var err error
		switch elemName(k) {
		case "document_rules":
			err = p.documentRules(k, a, source)
		case "field_rules":
			err = p.fieldRules(k, a, source)
		default:
			err = p.unknown(k, "document_rules", "field_rules")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *xmlReader) documentRules(n *xnode, a *Area, source bool) error {
	if err := p.container(n); err != nil {
		return err
	}
	for _, k := range n.kids {
		switch elemName(k) {
		case "ignore":
			err := p.rules(k, func(s string) string { return checkDocument(s, true) }, []string{"document"}, &a.IgnoreDocuments)
			if err != nil {
				return err
			}
		case "rename":
			if !source {
				return p.errAt(k, "<rename> is not allowed in the destination area (only <ignore>)")
			}
			r, err := p.rename(k, "document", func(s string) string { return checkDocument(s, false) })
			if err != nil {
				return err
			}
			a.RenameDocuments = append(a.RenameDocuments, r)
		case "log_changes":
			if !source {
				return p.errAt(k, "<log_changes> is not allowed in the destination area (only <ignore>)")
			}
			// Magento's change-log declaration: accepted and ignored.
		default:
			if source {
				return p.unknown(k, "ignore", "rename", "log_changes")
			}
			return p.unknown(k, "ignore")
		}
	}
	return nil
}

func (p *xmlReader) fieldRules(n *xnode, a *Area, source bool) error {
	if err := p.container(n); err != nil {
		return err
	}
	for _, k := range n.kids {
		switch elemName(k) {
		case "ignore":
			if err := p.rules(k, checkField, []string{"field", "datatype"}, &a.IgnoreFields, &a.IgnoreDatatypes); err != nil {
				return err
			}
		case "move":
			if !source {
				return p.errAt(k, "<move> is not allowed in the destination area (only <ignore> and <transform>)")
			}
			r, err := p.rename(k, "field", checkField)
			if err != nil {
				return err
			}
			a.MoveFields = append(a.MoveFields, r)
		case "transform":
			f, h, err := p.transform(k, "field", checkField)
			if err != nil {
				return err
			}
			a.Transforms = append(a.Transforms, Transform{Field: f, Handler: h, At: p.origin(k)})
		default:
			if source {
				return p.unknown(k, "ignore", "move", "transform")
			}
			return p.unknown(k, "ignore", "transform")
		}
	}
	return nil
}

// attrs reads the attributes of n, allowing only the names given; it returns
// the values by name (absent names are missing from the map).
func (p *xmlReader) attrs(n *xnode, allowed ...string) (map[string]string, error) {
	out := make(map[string]string, len(n.attrs))
	for _, a := range n.attrs {
		ok := false
		if a.Name.Space == "" {
			for _, w := range allowed {
				ok = ok || a.Name.Local == w
			}
		}
		if !ok {
			return nil, p.errAt(n, "unexpected attribute %q", label(a.Name))
		}
		if _, dup := out[a.Name.Local]; dup {
			return nil, p.errAt(n, "duplicate attribute %q", a.Name.Local)
		}
		out[a.Name.Local] = a.Value
	}
	return out, nil
}

func (p *xmlReader) handler(n *xnode) (HandlerSpec, error) {
	at, err := p.attrs(n, "class")
	if err != nil {
		return HandlerSpec{}, err
	}
	if err := p.noText(n); err != nil {
		return HandlerSpec{}, err
	}
	class, ok := at["class"]
	if !ok {
		return HandlerSpec{}, p.errAt(n, "missing attribute \"class\"")
	}
	class = strings.TrimSpace(class)
	if class == "" {
		return HandlerSpec{}, p.errAt(n, "empty handler class")
	}
	h := HandlerSpec{Name: class, At: p.origin(n)}
	seen := map[string]bool{}
	for _, k := range n.kids {
		if !isElem(k, "param") {
			return HandlerSpec{}, p.unknown(k, "param")
		}
		pa, err := p.attrs(k, "name", "value")
		if err != nil {
			return HandlerSpec{}, err
		}
		if len(k.kids) > 0 {
			return HandlerSpec{}, p.errAt(k.kids[0], "unexpected element: <param> is empty")
		}
		if err := p.noText(k); err != nil {
			return HandlerSpec{}, err
		}
		name, ok := pa["name"]
		if !ok {
			return HandlerSpec{}, p.errAt(k, "missing attribute \"name\"")
		}
		value, ok := pa["value"]
		if !ok {
			return HandlerSpec{}, p.errAt(k, "missing attribute \"value\"")
		}
		if name == "" {
			return HandlerSpec{}, p.errAt(k, "empty param name")
		}
		if seen[name] {
			return HandlerSpec{}, p.errAt(k, "duplicate param %q", name)
		}
		seen[name] = true
		h.Params = append(h.Params, Param{Name: name, Value: value})
	}
	return h, nil
}

func (p *xmlReader) settingsRoot(root *xnode, s *SettingsRules) error {
	if !isElem(root, "settings") {
		return p.errAt(root, "unknown root element (expected <settings>)")
	}
	if err := p.rootAttrs(root); err != nil {
		return err
	}
	var seenKey, seenValue bool
	exact := func(s string) string { return checkPath(s, false) }
	for _, k := range root.kids {
		switch elemName(k) {
		case "key":
			if err := p.once(k, &seenKey); err != nil {
				return err
			}
			if err := p.container(k); err != nil {
				return err
			}
			for _, r := range k.kids {
				switch elemName(r) {
				case "ignore":
					if err := p.rules(r, func(s string) string { return checkPath(s, true) }, []string{"path"}, &s.IgnorePaths); err != nil {
						return err
					}
				case "rename":
					rn, err := p.rename(r, "path", exact)
					if err != nil {
						return err
					}
					s.RenamePaths = append(s.RenamePaths, rn)
				default:
					return p.unknown(r, "ignore", "rename")
				}
			}
		case "value":
			if err := p.once(k, &seenValue); err != nil {
				return err
			}
			if err := p.container(k); err != nil {
				return err
			}
			for _, t := range k.kids {
				if !isElem(t, "transform") {
					return p.unknown(t, "transform")
				}
				path, h, err := p.transform(t, "path", exact)
				if err != nil {
					return err
				}
				s.Transforms = append(s.Transforms, SettingsTransform{Path: path, Handler: h, At: p.origin(t)})
			}
		default:
			return p.unknown(k, "key", "value")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// YAML

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAMLDoc returns the root node of the single document in data (nil for
// an empty stream).
func parseYAMLDoc(file string, data []byte) (root *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, yamlSyntaxError(file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, yamlSyntaxError(file, err)
	default:
		return nil, &FileError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], nil
	}
	return nil, nil
}

func yamlSyntaxError(file string, err error) *FileError {
	msg := strings.TrimSpace(err.Error())
	fe := &FileError{File: file, Msg: "malformed YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			if yamlParserProblems[m[2]] {
				// yaml.v3 reports the 0-based line of the construct for
				// parser (not scanner) errors.
				n++
			}
			fe.Line, fe.Msg = n, "malformed YAML: "+m[2]
		}
	}
	return fe
}

// yamlParserProblems are the messages of yaml.v3's parser errors (see
// yaml_parser_set_parser_error in parserc.go), whose line it reports 0-based.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

type yamlReader struct{ file string }

func (p *yamlReader) errAt(n *yaml.Node, elem, format string, args ...any) *FileError {
	return &FileError{File: p.file, Line: n.Line, Element: elem, Msg: fmt.Sprintf(format, args...)}
}

func (p *yamlReader) origin(n *yaml.Node, elem string) Origin {
	return Origin{File: p.file, Line: n.Line, Element: elem}
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func (p *yamlReader) noAlias(n *yaml.Node, elem string) error {
	if n != nil && n.Kind == yaml.AliasNode {
		return p.errAt(n, elem, "YAML aliases are not supported")
	}
	return nil
}

// ykey is a key of a mapping with its value.
type ykey struct {
	key, val *yaml.Node
}

// pairs returns the entries of a mapping node in order, rejecting non-string
// keys, duplicate keys (what names them in the error) and (if allowed is not nil) keys not in allowed. A null
// node is an empty mapping.
func (p *yamlReader) pairs(n *yaml.Node, elem, what string, allowed []string) ([]ykey, error) {
	if isNull(n) {
		return nil, nil
	}
	if err := p.noAlias(n, elem); err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, elem, "expected a mapping, found %s", kindName(n))
	}
	var out []ykey
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := p.noAlias(k, elem); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return nil, p.errAt(k, elem, "keys must be strings, found %s", kindName(k))
		}
		if allowed != nil {
			ok := false
			for _, a := range allowed {
				ok = ok || k.Value == a
			}
			if !ok {
				return nil, p.errAt(k, elem, "unknown key %q (expected %s)", k.Value, strings.Join(allowed, ", "))
			}
		}
		if seen[k.Value] {
			return nil, p.errAt(k, elem, "duplicate %s %q", what, k.Value)
		}
		seen[k.Value] = true
		out = append(out, ykey{k, v})
	}
	return out, nil
}

// mapping returns the values of a mapping by key.
func (p *yamlReader) mapping(n *yaml.Node, elem string, allowed ...string) (map[string]ykey, error) {
	ps, err := p.pairs(n, elem, "key", allowed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ykey, len(ps))
	for _, kv := range ps {
		out[kv.key.Value] = kv
	}
	return out, nil
}

// list returns the items of a sequence node (nil for null).
func (p *yamlReader) list(n *yaml.Node, elem string) ([]*yaml.Node, error) {
	if isNull(n) {
		return nil, nil
	}
	if err := p.noAlias(n, elem); err != nil {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, elem, "expected a list, found %s", kindName(n))
	}
	return n.Content, nil
}

// scalar returns the value of a non-null scalar; what names it in errors.
func (p *yamlReader) scalar(n *yaml.Node, elem, what string) (string, error) {
	if err := p.noAlias(n, elem); err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode {
		return "", p.errAt(n, elem, "%s: expected a string, found %s", what, kindName(n))
	}
	if isNull(n) {
		return "", p.errAt(n, elem, "%s: missing value", what)
	}
	return n.Value, nil
}

// name returns a scalar checked with check.
func (p *yamlReader) name(n *yaml.Node, elem, what string, check func(string) string) (string, error) {
	s, err := p.scalar(n, elem, what)
	if err != nil {
		return "", err
	}
	if msg := check(s); msg != "" {
		return "", p.errAt(n, elem, "%s", msg)
	}
	return s, nil
}

// names reads a list of names.
func (p *yamlReader) names(n *yaml.Node, elem string, check func(string) string) ([]Rule, error) {
	items, err := p.list(n, elem)
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, it := range items {
		s, err := p.name(it, elem, "name", check)
		if err != nil {
			return nil, err
		}
		out = append(out, Rule{Name: s, At: p.origin(it, elem)})
	}
	return out, nil
}

// renames reads a list of {from, to}.
func (p *yamlReader) renames(n *yaml.Node, elem string, check func(string) string) ([]Rename, error) {
	items, err := p.list(n, elem)
	if err != nil {
		return nil, err
	}
	var out []Rename
	for _, it := range items {
		m, err := p.mapping(it, elem, "from", "to")
		if err != nil {
			return nil, err
		}
		if isNull(it) {
			return nil, p.errAt(it, elem, "expected a mapping {from, to}, found null")
		}
		r := Rename{At: p.origin(it, elem)}
		for _, f := range []struct {
			key string
			dst *string
		}{{"from", &r.From}, {"to", &r.To}} {
			kv, ok := m[f.key]
			if !ok {
				return nil, p.errAt(it, elem, "missing key %q", f.key)
			}
			if *f.dst, err = p.name(kv.val, elem, f.key, check); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// transform reads {<target>, handler, params} | {<target>, value} |
// {<target>, eval}, returning the target and the handler.
func (p *yamlReader) transform(it *yaml.Node, elem, target string, check func(string) string) (string, HandlerSpec, error) {
	m, err := p.mapping(it, elem, target, "handler", "params", "value", "eval")
	if err != nil {
		return "", HandlerSpec{}, err
	}
	if isNull(it) {
		return "", HandlerSpec{}, p.errAt(it, elem, "expected a mapping, found null")
	}
	tkv, ok := m[target]
	if !ok {
		return "", HandlerSpec{}, p.errAt(it, elem, "missing key %q", target)
	}
	t, err := p.name(tkv.val, elem, target, check)
	if err != nil {
		return "", HandlerSpec{}, err
	}
	var kinds []ykey
	for _, k := range []string{"handler", "value", "eval"} {
		if kv, ok := m[k]; ok {
			kinds = append(kinds, kv)
		}
	}
	if len(kinds) != 1 {
		at := it
		if len(kinds) > 1 {
			at = kinds[1].key
		}
		return "", HandlerSpec{}, p.errAt(at, elem, "a transform needs exactly one of handler, value and eval")
	}
	kv := kinds[0]
	helem := elem + "/" + kv.key.Value
	if pk, ok := m["params"]; ok && kv.key.Value != "handler" {
		return "", HandlerSpec{}, p.errAt(pk.key, elem, "params goes only with handler (not with %s)", kv.key.Value)
	}
	v, err := p.scalar(kv.val, helem, kv.key.Value)
	if err != nil {
		return "", HandlerSpec{}, err
	}
	h := HandlerSpec{At: p.origin(kv.val, helem)}
	switch kv.key.Value {
	case "value":
		h.Name, h.Params = "SetValue", []Param{{Name: "value", Value: v}}
	case "eval":
		h.Name, h.Params = "Expression", []Param{{Name: "expression", Value: v}}
	default:
		h.Name = strings.TrimSpace(v)
		if h.Name == "" {
			return "", HandlerSpec{}, p.errAt(kv.val, helem, "empty handler name")
		}
		if pk, ok := m["params"]; ok {
			pelem := elem + "/params"
			ps, err := p.pairs(pk.val, pelem, "param", nil)
			if err != nil {
				return "", HandlerSpec{}, err
			}
			for _, pv := range ps {
				if pv.key.Value == "" {
					return "", HandlerSpec{}, p.errAt(pv.key, pelem, "empty param name")
				}
				val, err := p.scalar(pv.val, pelem, "param "+strconv.Quote(pv.key.Value))
				if err != nil {
					return "", HandlerSpec{}, err
				}
				h.Params = append(h.Params, Param{Name: pv.key.Value, Value: val})
			}
		}
	}
	return t, h, nil
}

// transforms reads a list of transforms, passing each to add with its origin.
func (p *yamlReader) transforms(n *yaml.Node, elem, target string, check func(string) string, add func(t string, h HandlerSpec, at Origin)) error {
	items, err := p.list(n, elem)
	if err != nil {
		return err
	}
	for _, it := range items {
		t, h, err := p.transform(it, elem, target, check)
		if err != nil {
			return err
		}
		add(t, h, p.origin(it, elem))
	}
	return nil
}

func (p *yamlReader) mapRoot(root *yaml.Node, r *Rules) error {
	m, err := p.mapping(root, "", "source", "destination")
	if err != nil {
		return err
	}
	if kv, ok := m["source"]; ok {
		if err := p.area(kv.val, "source", &r.Source, true); err != nil {
			return err
		}
	}
	if kv, ok := m["destination"]; ok {
		if err := p.area(kv.val, "destination", &r.Destination, false); err != nil {
			return err
		}
	}
	return nil
}

func (p *yamlReader) area(n *yaml.Node, elem string, a *Area, source bool) error {
	m, err := p.mapping(n, elem, "documents", "fields")
	if err != nil {
		return err
	}
	if kv, ok := m["documents"]; ok {
		e := elem + "/documents"
		allowed := []string{"ignore", "rename"}
		if !source {
			allowed = allowed[:1]
		}
		dm, err := p.pairs(kv.val, e, "key", nil)
		if err != nil {
			return err
		}
		for _, d := range dm {
			switch d.key.Value {
			case "ignore":
				if a.IgnoreDocuments, err = p.names(d.val, e+"/ignore", func(s string) string { return checkDocument(s, true) }); err != nil {
					return err
				}
			case "rename":
				if !source {
					return p.errAt(d.key, e, "rename is not allowed in the destination area (only ignore)")
				}
				if a.RenameDocuments, err = p.renames(d.val, e+"/rename", func(s string) string { return checkDocument(s, false) }); err != nil {
					return err
				}
			default:
				return p.errAt(d.key, e, "unknown key %q (expected %s)", d.key.Value, strings.Join(allowed, ", "))
			}
		}
	}
	if kv, ok := m["fields"]; ok {
		e := elem + "/fields"
		allowed := []string{"ignore", "ignore_datatype", "move", "transform"}
		if !source {
			allowed = []string{"ignore", "ignore_datatype", "transform"}
		}
		fm, err := p.pairs(kv.val, e, "key", nil)
		if err != nil {
			return err
		}
		for _, f := range fm {
			switch f.key.Value {
			case "ignore":
				if a.IgnoreFields, err = p.names(f.val, e+"/ignore", checkField); err != nil {
					return err
				}
			case "ignore_datatype":
				if a.IgnoreDatatypes, err = p.names(f.val, e+"/ignore_datatype", checkField); err != nil {
					return err
				}
			case "move":
				if !source {
					return p.errAt(f.key, e, "move is not allowed in the destination area (only ignore, ignore_datatype and transform)")
				}
				if a.MoveFields, err = p.renames(f.val, e+"/move", checkField); err != nil {
					return err
				}
			case "transform":
				err := p.transforms(f.val, e+"/transform", "field", checkField, func(field string, h HandlerSpec, at Origin) {
					a.Transforms = append(a.Transforms, Transform{Field: field, Handler: h, At: at})
				})
				if err != nil {
					return err
				}
			default:
				return p.errAt(f.key, e, "unknown key %q (expected %s)", f.key.Value, strings.Join(allowed, ", "))
			}
		}
	}
	return nil
}

func (p *yamlReader) settingsRoot(root *yaml.Node, s *SettingsRules) error {
	m, err := p.mapping(root, "", "key", "value")
	if err != nil {
		return err
	}
	exact := func(s string) string { return checkPath(s, false) }
	if kv, ok := m["key"]; ok {
		km, err := p.mapping(kv.val, "key", "ignore", "rename")
		if err != nil {
			return err
		}
		if ig, ok := km["ignore"]; ok {
			if s.IgnorePaths, err = p.names(ig.val, "key/ignore", func(s string) string { return checkPath(s, true) }); err != nil {
				return err
			}
		}
		if rn, ok := km["rename"]; ok {
			if s.RenamePaths, err = p.renames(rn.val, "key/rename", exact); err != nil {
				return err
			}
		}
	}
	if kv, ok := m["value"]; ok {
		vm, err := p.mapping(kv.val, "value", "transform")
		if err != nil {
			return err
		}
		if tr, ok := vm["transform"]; ok {
			err := p.transforms(tr.val, "value/transform", "path", exact, func(path string, h HandlerSpec, at Origin) {
				s.Transforms = append(s.Transforms, SettingsTransform{Path: path, Handler: h, At: at})
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
