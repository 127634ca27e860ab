package transform

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// xsiNamespace is the namespace of the schema-location attributes Magento's
// files carry on their root element.
const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// ReadClassMap reads Magento's class map (the reference tool's
// class-map.xml, schema etc/class-map.xsd): a <classmap> of one or more
// <rename> elements, each with exactly one <from> (not empty) and one <to>,
// in either order. It returns Magento 1 class -> Magento 2 class; a class
// whose <to> is empty (or "0", which Magento's reader takes for empty) maps
// to "", which the class-map handlers read as "drop the class". As in
// Magento's reader, texts are taken as written (not trimmed), a <from> of
// "0" is ignored, and a class renamed twice takes the later <to>. The file
// is checked against the schema; an error names the file and the line.
func ReadClassMap(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read class map: %w", err)
	}
	return parseClassMap(path, data)
}

// classMapNode is an element being read: its name and the line it starts on.
type classMapNode struct {
	name string
	line int
}

func parseClassMap(path string, data []byte) (map[string]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	line := func() int {
		l, _ := d.InputPos()
		return l
	}
	fail := func(at int, format string, args ...any) error {
		return fmt.Errorf("class map %s:%d: %s", path, at, fmt.Sprintf(format, args...))
	}
	out := map[string]string{}
	var (
		stack    []classMapNode
		renames  int
		from, to *string
		text     strings.Builder
		rootSeen bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fail(se.Line, "not well-formed XML: %s", se.Msg)
			}
			return nil, fail(line(), "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			at := line()
			if t.Name.Space != "" {
				return nil, fail(at, "element <%s> is in namespace %q; the class map's elements are in none", t.Name.Local, t.Name.Space)
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == xsiNamespace {
					continue
				}
				return nil, fail(at, "element <%s> may not have attribute %q", t.Name.Local, a.Name.Local)
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1].name
			}
			switch {
			case parent == "" && rootSeen:
				return nil, fail(at, "element <%s> after the root element", t.Name.Local)
			case parent == "" && t.Name.Local != "classmap":
				return nil, fail(at, "root element is <%s>, want <classmap>", t.Name.Local)
			case parent == "":
				rootSeen = true
			case parent == "classmap" && t.Name.Local != "rename":
				return nil, fail(at, "element <%s> in <classmap>: only <rename> is allowed", t.Name.Local)
			case parent == "classmap":
				from, to = nil, nil
			case parent == "rename" && t.Name.Local == "from":
				if from != nil {
					return nil, fail(at, "<rename> has a second <from>")
				}
				text.Reset()
			case parent == "rename" && t.Name.Local == "to":
				if to != nil {
					return nil, fail(at, "<rename> has a second <to>")
				}
				text.Reset()
			case parent == "rename":
				return nil, fail(at, "element <%s> in <rename>: only <from> and <to> are allowed", t.Name.Local)
			default:
				return nil, fail(at, "element <%s> in <%s>: <%s> holds text only", t.Name.Local, parent, parent)
			}
			stack = append(stack, classMapNode{name: t.Name.Local, line: at})
		case xml.EndElement:
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch n.name {
			case "from":
				if text.Len() == 0 {
					return nil, fail(n.line, "<from> is empty")
				}
				s := text.String()
				from = &s
			case "to":
				s := text.String()
				to = &s
			case "rename":
				switch {
				case from == nil:
					return nil, fail(n.line, "<rename> has no <from>")
				case to == nil:
					return nil, fail(n.line, "<rename> of %q has no <to>", *from)
				}
				renames++
				if *from == "0" {
					break // Magento's reader skips a false-looking class name
				}
				if *to == "0" {
					out[*from] = ""
				} else {
					out[*from] = *to
				}
			case "classmap":
				if renames == 0 {
					return nil, fail(n.line, "<classmap> has no <rename>")
				}
			}
		case xml.CharData:
			inText := len(stack) > 0 && (stack[len(stack)-1].name == "from" || stack[len(stack)-1].name == "to")
			switch {
			case inText:
				text.Write(t)
			case len(bytes.TrimSpace(t)) > 0:
				where := "outside the root element"
				if len(stack) > 0 {
					where = "in <" + stack[len(stack)-1].name + ">"
				}
				return nil, fail(line(), "text %q %s", strings.TrimSpace(string(t)), where)
			}
		}
	}
	if !rootSeen {
		return nil, fmt.Errorf("class map %s: no <classmap> element", path)
	}
	return out, nil
}
