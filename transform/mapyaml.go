package transform

// This file reads the YAML forms of map.xml and settings.xml.
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

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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

// each calls read for each item of the list n.
func (p *yamlReader) each(n *yaml.Node, elem string, read func(it *yaml.Node) error) error {
	items, err := p.list(n, elem)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := read(it); err != nil {
			return err
		}
	}
	return nil
}

// rename reads {from, to}.
func (p *yamlReader) rename(it *yaml.Node, elem string, check func(string) string) (Rename, error) {
	m, err := p.mapping(it, elem, "from", "to")
	if err != nil {
		return Rename{}, err
	}
	if isNull(it) {
		return Rename{}, p.errAt(it, elem, "expected a mapping {from, to}, found null")
	}
	r := Rename{At: p.origin(it, elem)}
	for _, f := range []struct {
		key string
		dst *string
	}{{"from", &r.From}, {"to", &r.To}} {
		kv, ok := m[f.key]
		if !ok {
			return Rename{}, p.errAt(it, elem, "missing key %q", f.key)
		}
		if *f.dst, err = p.name(kv.val, elem, f.key, check); err != nil {
			return Rename{}, err
		}
	}
	return r, nil
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

// sections reads the mapping n, whose keys are names, calling read for each
// present key in the order of names.
func (p *yamlReader) sections(n *yaml.Node, elem string, names []string, read func(i int, val *yaml.Node, elem string) error) error {
	m, err := p.mapping(n, elem, names...)
	if err != nil {
		return err
	}
	for i, name := range names {
		if kv, ok := m[name]; ok {
			e := name
			if elem != "" {
				e = elem + "/" + name
			}
			if err := read(i, kv.val, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *yamlReader) mapRoot(root *yaml.Node, r *Rules) error {
	return p.sections(root, "", mapAreaNames(), func(i int, n *yaml.Node, elem string) error {
		a := mapAreas[i]
		return p.sections(n, elem, sectionNames(mapSections, true), func(j int, s *yaml.Node, e string) error {
			return yamlSection(p, s, e, mapSections[j], a.area(r), a.source)
		})
	})
}

func (p *yamlReader) settingsRoot(root *yaml.Node, s *SettingsRules) error {
	return p.sections(root, "", sectionNames(settingsSections, true), func(i int, n *yaml.Node, elem string) error {
		return yamlSection(p, n, elem, settingsSections[i], s, true)
	})
}

// yamlSection reads the rules of section mapping n into t; source is false in
// a map's destination area.
func yamlSection[T any](p *yamlReader, n *yaml.Node, elem string, s section[T], t *T, source bool) error {
	allowed := s.names(true, source)
	var keys []string // checked up front (keysFirst)
	if s.keysFirst {
		keys = allowed
	}
	ps, err := p.pairs(n, elem, "key", keys)
	if err != nil {
		return err
	}
	if s.keysFirst {
		slices.SortStableFunc(ps, func(a, b ykey) int {
			return slices.Index(allowed, a.key.Value) - slices.Index(allowed, b.key.Value)
		})
	}
	for _, kv := range ps {
		key := kv.key.Value
		i := slices.IndexFunc(s.kinds, func(k ruleKind[T]) bool { return k.yaml != "" && k.yaml == key })
		if i < 0 {
			return p.errAt(kv.key, elem, "unknown key %q (expected %s)", key, strings.Join(allowed, ", "))
		}
		kind, e := s.kinds[i], elem+"/"+key
		if kind.sourceOnly && !source {
			return p.errAt(kv.key, elem, "%s is not allowed in the destination area (only %s)", key, andList(s.names(true, false)))
		}
		err := p.each(kv.val, e, func(it *yaml.Node) error {
			switch {
			case kind.rule != nil:
				name, err := p.name(it, e, "name", kind.check)
				if err != nil {
					return err
				}
				kind.rule(t, Rule{Name: name, At: p.origin(it, e)})
			case kind.rename != nil:
				r, err := p.rename(it, e, kind.check)
				if err != nil {
					return err
				}
				kind.rename(t, r)
			case kind.transform != nil:
				target, h, err := p.transform(it, e, kind.leaf, kind.check)
				if err != nil {
					return err
				}
				kind.transform(t, target, h, p.origin(it, e))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
