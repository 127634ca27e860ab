package transform

// This file reads the XML forms: Magento's map.xml and settings.xml.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

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

// andElems formats element names as "<a>", "<a> and <b>", "<a>, <b> and <c>".
func andElems(names []string) string {
	want := make([]string, len(names))
	for i, w := range names {
		want[i] = "<" + w + ">"
	}
	return andList(want)
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

// xmlRules reads an <ignore>: a non-empty container of leaves, each named as
// the leaf of one of kinds (all of one element), checked with its check and
// added by its rule.
func xmlRules[T any](p *xmlReader, n *xnode, kinds []ruleKind[T], t *T) error {
	if err := p.container(n); err != nil {
		return err
	}
	var names []string
	for _, k := range kinds {
		names = append(names, k.leaf)
	}
	if len(n.kids) == 0 {
		return p.errAt(n, "missing %s", orList(names))
	}
	for _, k := range n.kids {
		i := slices.Index(names, elemName(k))
		if i < 0 {
			return p.unknown(k, names...)
		}
		s, err := p.leafName(k, kinds[i].check)
		if err != nil {
			return err
		}
		kinds[i].rule(t, Rule{Name: s, At: p.origin(k)})
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

// children reads the element children of n by their index in names; an
// unknown child is an error, and with once a repeated one.
func (p *xmlReader) children(n *xnode, names []string, once bool, read func(i int, k *xnode) error) error {
	seen := make([]bool, len(names))
	for _, k := range n.kids {
		i := slices.Index(names, elemName(k))
		if i < 0 {
			return p.unknown(k, names...)
		}
		if once {
			if err := p.once(k, &seen[i]); err != nil {
				return err
			}
		}
		if err := read(i, k); err != nil {
			return err
		}
	}
	return nil
}

// root checks that n is the root element name and reads its children (each
// at most once) by their index in names.
func (p *xmlReader) root(n *xnode, name string, names []string, read func(i int, k *xnode) error) error {
	if !isElem(n, name) {
		return p.errAt(n, "unknown root element (expected <%s>)", name)
	}
	if err := p.rootAttrs(n); err != nil {
		return err
	}
	return p.children(n, names, true, read)
}

func (p *xmlReader) mapRoot(root *xnode, r *Rules) error {
	return p.root(root, "map", mapAreaNames(), func(i int, k *xnode) error {
		a := mapAreas[i]
		if err := p.container(k); err != nil {
			return err
		}
		return p.children(k, sectionNames(mapSections, false), false, func(j int, s *xnode) error {
			return xmlSection(p, s, mapSections[j], a.area(r), a.source)
		})
	})
}

// xmlSection reads the rules of section element n into t; source is false in
// a map's destination area.
func xmlSection[T any](p *xmlReader, n *xnode, s section[T], t *T, source bool) error {
	if err := p.container(n); err != nil {
		return err
	}
	for _, k := range n.kids {
		name := elemName(k)
		var kinds []ruleKind[T] // one, or the kinds of an <ignore> with several leaves
		for _, kind := range s.kinds {
			if kind.xml == name {
				kinds = append(kinds, kind)
			}
		}
		if len(kinds) == 0 {
			return p.unknown(k, s.names(false, source)...)
		}
		kind := kinds[0]
		if kind.sourceOnly && !source {
			return p.errAt(k, "<%s> is not allowed in the destination area (only %s)", name, andElems(s.names(false, false)))
		}
		switch {
		case kind.rule != nil:
			if err := xmlRules(p, k, kinds, t); err != nil {
				return err
			}
		case kind.rename != nil:
			r, err := p.rename(k, kind.leaf, kind.check)
			if err != nil {
				return err
			}
			kind.rename(t, r)
		case kind.transform != nil:
			target, h, err := p.transform(k, kind.leaf, kind.check)
			if err != nil {
				return err
			}
			kind.transform(t, target, h, p.origin(k))
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
	return p.root(root, "settings", sectionNames(settingsSections, false), func(i int, k *xnode) error {
		return xmlSection(p, k, settingsSections[i], s, true)
	})
}
