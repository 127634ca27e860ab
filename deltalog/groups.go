package deltalog

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Document is a table listed in a deltalog file, with the columns its changes
// are logged by (empty: the table's key).
type Document struct {
	Group string
	Table string
	Key   []string
}

// ReadGroups reads Magento's deltalog.xml
//
//	<groups><group name="delta_map"><document key="entity_id">sales_flat_order</document>...</group></groups>
//
// or its YAML form
//
//	groups:
//	  delta_map:
//	    - {table: sales_flat_order, key: [entity_id]}
//	    - customer_entity            # the table's own key
//
// by extension. Keys in XML are comma-separated for composite keys.
func ReadGroups(path string) ([]Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := path // the reference ships deltalog.xml.dist: read as .xml
	if strings.EqualFold(filepath.Ext(name), ".dist") {
		name = strings.TrimSuffix(name, filepath.Ext(name))
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xml":
		return parseGroupsXML(path, data)
	case ".yaml", ".yml":
		return parseGroupsYAML(path, data)
	}
	return nil, fmt.Errorf("deltalog file %s: unsupported extension (want .xml, .yaml or .yml)", path)
}

func parseGroupsXML(path string, data []byte) ([]Document, error) {
	var doc struct {
		XMLName xml.Name `xml:"groups"`
		Groups  []struct {
			Name string `xml:"name,attr"`
			Docs []struct {
				Key   string `xml:"key,attr"`
				Table string `xml:",chardata"`
			} `xml:"document"`
			Other []struct {
				XMLName xml.Name
			} `xml:",any"`
		} `xml:"group"`
		Other []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("deltalog file %s:%d: %s", path, se.Line, se.Msg)
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("deltalog file %s: empty", path)
		}
		return nil, fmt.Errorf("deltalog file %s: %w", path, err)
	}
	if len(doc.Other) > 0 {
		return nil, fmt.Errorf("deltalog file %s: unknown element <%s> in <groups>", path, doc.Other[0].XMLName.Local)
	}
	var out []Document
	for _, g := range doc.Groups {
		if len(g.Other) > 0 {
			return nil, fmt.Errorf("deltalog file %s: unknown element <%s> in <group name=%q>", path, g.Other[0].XMLName.Local, g.Name)
		}
		for _, d := range g.Docs {
			table := strings.TrimSpace(d.Table)
			if table == "" {
				return nil, fmt.Errorf("deltalog file %s: empty <document> in group %q", path, g.Name)
			}
			out = append(out, Document{Group: g.Name, Table: table, Key: splitKey(d.Key)})
		}
	}
	return out, nil
}

func splitKey(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func parseGroupsYAML(path string, data []byte) ([]Document, error) {
	var root struct {
		Groups map[string][]yaml.Node `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("deltalog file %s: %w", path, err)
	}
	var out []Document
	for group, docs := range root.Groups {
		for _, n := range docs {
			switch n.Kind {
			case yaml.ScalarNode:
				out = append(out, Document{Group: group, Table: n.Value})
			case yaml.MappingNode:
				var d struct {
					Table string   `yaml:"table"`
					Key   []string `yaml:"key"`
				}
				if err := n.Decode(&d); err != nil {
					return nil, fmt.Errorf("deltalog file %s:%d: %w", path, n.Line, err)
				}
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k := n.Content[i].Value; k != "table" && k != "key" {
						return nil, fmt.Errorf("deltalog file %s:%d: unknown key %q (want table, key)", path, n.Content[i].Line, k)
					}
				}
				if d.Table == "" {
					return nil, fmt.Errorf("deltalog file %s:%d: document without table", path, n.Line)
				}
				out = append(out, Document{Group: group, Table: d.Table, Key: d.Key})
			default:
				return nil, fmt.Errorf("deltalog file %s:%d: want a table name or {table, key}", path, n.Line)
			}
		}
	}
	return out, nil
}
