package transform

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stripOrigins returns a copy of r without origins, so that the XML and YAML
// forms of one map compare equal.
func stripOrigins(r *Rules) *Rules {
	c := *r
	c.Source = stripArea(r.Source)
	c.Destination = stripArea(r.Destination)
	return &c
}

func stripRules(in []Rule) []Rule {
	var out []Rule
	for _, r := range in {
		out = append(out, Rule{Name: r.Name})
	}
	return out
}

func stripRenames(in []Rename) []Rename {
	var out []Rename
	for _, r := range in {
		out = append(out, Rename{From: r.From, To: r.To})
	}
	return out
}

func stripArea(a Area) Area {
	var ts []Transform
	for _, t := range a.Transforms {
		ts = append(ts, Transform{Field: t.Field, Handler: HandlerSpec{Name: t.Handler.Name, Params: t.Handler.Params}})
	}
	return Area{
		IgnoreDocuments: stripRules(a.IgnoreDocuments),
		RenameDocuments: stripRenames(a.RenameDocuments),
		IgnoreFields:    stripRules(a.IgnoreFields),
		IgnoreDatatypes: stripRules(a.IgnoreDatatypes),
		MoveFields:      stripRenames(a.MoveFields),
		Transforms:      ts,
	}
}

func stripSettings(s *SettingsRules) *SettingsRules {
	out := &SettingsRules{IgnorePaths: stripRules(s.IgnorePaths), RenamePaths: stripRenames(s.RenamePaths)}
	for _, t := range s.Transforms {
		out.Transforms = append(out.Transforms, SettingsTransform{Path: t.Path, Handler: HandlerSpec{Name: t.Handler.Name, Params: t.Handler.Params}})
	}
	return out
}

func names(ns ...string) []Rule {
	var out []Rule
	for _, n := range ns {
		out = append(out, Rule{Name: n})
	}
	return out
}

func TestReadMapFormatsAgree(t *testing.T) {
	want := &Rules{
		Source: Area{
			IgnoreDocuments: names("log_visitor", "m2_cl_*"),
			RenameDocuments: []Rename{{From: "sales_flat_order", To: "sales_order"}},
			IgnoreFields:    names("sales_flat_order.legacy"),
			IgnoreDatatypes: names("sales_flat_order.weight"),
			MoveFields:      []Rename{{From: "sales_flat_order.customer_note", To: "sales_flat_order.note"}},
			Transforms: []Transform{
				{Field: "sales_flat_order.status", Handler: HandlerSpec{Name: "Convert", Params: []Param{
					{"map", "[pending:new;complete:done]"}, {"defaultValue", "new"}}}},
				{Field: "sales_flat_order.store_name", Handler: HandlerSpec{Name: "SetValue", Params: []Param{{"value", "Main Store"}}}},
				{Field: "sales_flat_order.grand_total", Handler: HandlerSpec{Name: "Expression", Params: []Param{{"expression", "base_grand_total * 1.2"}}}},
				{Field: "sales_flat_order.remote_ip", Handler: HandlerSpec{Name: `\Migration\Handler\ConvertIp`}},
			},
		},
		Destination: Area{
			IgnoreDocuments: names("sales_order_grid", "customer_visitor*"),
			IgnoreFields:    names("sales_order.send_email"),
			IgnoreDatatypes: names("sales_order.customer_gender"),
			Transforms: []Transform{
				{Field: "sales_order.store_id", Handler: HandlerSpec{Name: `\Migration\Handler\SetValue`, Params: []Param{{"value", "+1"}}}},
			},
		},
	}
	checkBothForms(t, "ReadMap", "map_full", ReadMap, stripOrigins, want, checkRulesWellFormed)
}

// checkBothForms reads testdata/maps/<base>.xml and .yaml with read and
// compares them, stripped of origins, with want.
func checkBothForms[T any](t *testing.T, what, base string, read func(string) (*T, error), strip func(*T) *T, want *T,
	wellFormed func(*testing.T, string, *T)) {
	for _, file := range []string{base + ".xml", base + ".yaml"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", "maps", file)
			r, err := read(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := strip(r); !reflect.DeepEqual(got, want) {
				t.Errorf("%s(%s) =\n%+v\nwant\n%+v", what, file, got, want)
			}
			wellFormed(t, path, r)
		})
	}
}

func TestReadMapOrigins(t *testing.T) {
	x, err := ReadMap("testdata/maps/map_full.xml")
	if err != nil {
		t.Fatal(err)
	}
	y, err := ReadMap("testdata/maps/map_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const xf, yf = "testdata/maps/map_full.xml", "testdata/maps/map_full.yaml"
	tests := []struct {
		name string
		got  Origin
		want Origin
	}{
		{"xml ignore document", x.Source.IgnoreDocuments[1].At, Origin{xf, 7, "map/source/document_rules/ignore/document"}},
		{"xml rename", x.Source.RenameDocuments[0].At, Origin{xf, 9, "map/source/document_rules/rename"}},
		{"xml move", x.Source.MoveFields[0].At, Origin{xf, 24, "map/source/field_rules/move"}},
		{"xml transform", x.Source.Transforms[0].At, Origin{xf, 28, "map/source/field_rules/transform"}},
		{"xml handler", x.Source.Transforms[0].Handler.At, Origin{xf, 30, "map/source/field_rules/transform/handler"}},
		{"xml destination transform", x.Destination.Transforms[0].At, Origin{xf, 69, "map/destination/field_rules/transform"}},
		{"yaml ignore document", y.Source.IgnoreDocuments[1].At, Origin{yf, 4, "source/documents/ignore"}},
		{"yaml rename", y.Source.RenameDocuments[0].At, Origin{yf, 6, "source/documents/rename"}},
		{"yaml move", y.Source.MoveFields[0].At, Origin{yf, 11, "source/fields/move"}},
		{"yaml transform", y.Source.Transforms[0].At, Origin{yf, 13, "source/fields/transform"}},
		{"yaml handler", y.Source.Transforms[0].Handler.At, Origin{yf, 14, "source/fields/transform/handler"}},
		{"yaml literal", y.Source.Transforms[1].Handler.At, Origin{yf, 16, "source/fields/transform/value"}},
		{"yaml eval", y.Source.Transforms[2].Handler.At, Origin{yf, 17, "source/fields/transform/eval"}},
		{"yaml destination handler", y.Destination.Transforms[0].Handler.At, Origin{yf, 29, "destination/fields/transform/handler"}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: origin %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
	if got, want := x.Source.MoveFields[0].At.String(), xf+":24: <map/source/field_rules/move>"; got != want {
		t.Errorf("Origin.String() = %q, want %q", got, want)
	}
}

// TestReadMapMagentoSample reads the example of Magento's documentation,
// with its <log_changes>.
func TestReadMapMagentoSample(t *testing.T) {
	r, err := ReadMap("testdata/maps/map_magento.xml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Rules{
		Source: Area{
			IgnoreDocuments: names("some_document2"),
			RenameDocuments: []Rename{{From: "some_document", To: "some_dest_document"}},
			IgnoreFields:    names("some_document3.field8"),
			MoveFields:      []Rename{{From: "some_document1.field1", To: "some_document1.field2"}},
			Transforms: []Transform{{Field: "some_document1.field1", Handler: HandlerSpec{Name: `\Migration\Handler\Convert`,
				Params: []Param{{"map", "[value1:value2;value3:value4;value5:value6;]"}}}}},
		},
		Destination: Area{
			IgnoreDocuments: names("some_document8"),
			Transforms: []Transform{{Field: "some_document5.field3", Handler: HandlerSpec{Name: `\Migration\Handler\SetValue`,
				Params: []Param{{"value", "10"}}}}},
		},
	}
	if got := stripOrigins(r); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadSettingsFormatsAgree(t *testing.T) {
	want := &SettingsRules{
		IgnorePaths: names("admin/security/*", "dev/*", "web/secure/base_url"),
		RenamePaths: []Rename{{From: "catalog/frontend/list_allow_all", To: "catalog/frontend/list_allow_all_new"}},
		Transforms: []SettingsTransform{
			{Path: "general/locale/code", Handler: HandlerSpec{Name: `\Migration\Handler\Settings\Locale`}},
			{Path: "web/cookie/cookie_path", Handler: HandlerSpec{Name: "SetValue", Params: []Param{{"value", "/"}}}},
			{Path: "sales/minimum_order/amount", Handler: HandlerSpec{Name: "Expression", Params: []Param{{"expression", "value * 2"}}}},
			{Path: "design/theme/full_name", Handler: HandlerSpec{Name: "Convert", Params: []Param{
				{"map", "[default:Magento/luma]"}, {"defaultValue", "Magento/luma"}}}},
		},
	}
	checkBothForms(t, "ReadSettings", "settings_full", ReadSettings, stripSettings, want, checkSettingsWellFormed)
	x, err := ReadSettings("testdata/maps/settings_full.xml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := x.RenamePaths[0].At, (Origin{"testdata/maps/settings_full.xml", 11, "settings/key/rename"}); got != want {
		t.Errorf("rename origin %+v, want %+v", got, want)
	}
	if got, want := x.Transforms[1].Handler.At, (Origin{"testdata/maps/settings_full.xml", 23, "settings/value/transform/handler"}); got != want {
		t.Errorf("handler origin %+v, want %+v", got, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, tt := range []struct{ format, data string }{
		{"xml", "<map/>"},
		{"xml", `<?xml version="1.0"?><!-- nothing --><map><source/><destination></destination></map>`},
		{"xml", "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<map>\r\n</map>\r\n"},
		{"yaml", "\xef\xbb\xbfsource: {}\r\n"},
		{"yaml", ""},
		{"yaml", "# nothing\n"},
		{"yaml", "source:\ndestination: {documents: {}, fields: {ignore: []}}\n"},
	} {
		r, err := ParseMap("m", []byte(tt.data), tt.format)
		if err != nil {
			t.Errorf("ParseMap(%q): %v", tt.data, err)
			continue
		}
		if !reflect.DeepEqual(stripOrigins(r), &Rules{}) {
			t.Errorf("ParseMap(%q) = %+v, want empty rules", tt.data, r)
		}
	}
	for _, tt := range []struct{ format, data string }{
		{"xml", "<settings><key/><value/></settings>"},
		{"yaml", "key: {}\nvalue:\n"},
	} {
		s, err := ParseSettings("s", []byte(tt.data), tt.format)
		if err != nil {
			t.Errorf("ParseSettings(%q): %v", tt.data, err)
			continue
		}
		if !reflect.DeepEqual(stripSettings(s), &SettingsRules{}) {
			t.Errorf("ParseSettings(%q) = %+v, want empty rules", tt.data, s)
		}
	}
}

// TestParseXMLDetails covers what the formats-agree files do not: trimming,
// CDATA, comments, empty param values, several <field_rules>.
func TestParseXMLDetails(t *testing.T) {
	const doc = `<map>
  <source>
    <field_rules>
      <ignore><field>
        t.a
      </field><!-- comment --><field><![CDATA[t.b]]></field></ignore>
    </field_rules>
    <field_rules>
      <transform><handler class=" SetValue "><param name="value" value=""/></handler><field>t.c</field></transform>
    </field_rules>
  </source>
</map>`
	r, err := ParseMap("m.xml", []byte(doc), "xml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Rules{Source: Area{
		IgnoreFields: names("t.a", "t.b"),
		Transforms:   []Transform{{Field: "t.c", Handler: HandlerSpec{Name: "SetValue", Params: []Param{{"value", ""}}}}},
	}}
	if got := stripOrigins(r); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := r.Source.IgnoreFields[0].At.Line; got != 4 {
		t.Errorf("line of first field = %d, want 4", got)
	}
	if got := r.Source.IgnoreFields[1].At.Line; got != 6 {
		t.Errorf("line of second field = %d, want 6", got)
	}
}

// fileErrorTest is a file (data in format) that fails to parse with a
// *FileError at line and element, with a message containing msg.
type fileErrorTest struct {
	name    string
	format  string
	data    string
	line    int
	element string
	msg     string
}

// checkFileErrors parses each test's data as <what>.<format> with parse.
func checkFileErrors[T any](t *testing.T, what string, parse func(string, []byte, string) (*T, error), tests []fileErrorTest) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := what + "." + tt.format
			r, err := parse(file, []byte(tt.data), tt.format)
			checkFileError(t, err, r, file, tt.line, tt.element, tt.msg)
		})
	}
}

func TestParseMapErrors(t *testing.T) {
	checkFileErrors(t, "map", ParseMap, []fileErrorTest{
		// XML structure.
		{"unknown element", "xml", "<map>\n<source>\n<document_rules>\n<bogus/>\n</document_rules>\n</source>\n</map>",
			4, "map/source/document_rules/bogus", "unknown element (expected <ignore>, <rename> or <log_changes>)"},
		{"unknown area", "xml", "<map>\n  <sources/>\n</map>", 2, "map/sources", "unknown element (expected <source> or <destination>)"},
		{"unknown rule in field_rules", "xml", "<map><source>\n<field_rules><rename/></field_rules></source></map>",
			2, "map/source/field_rules/rename", "unknown element (expected <ignore>, <move> or <transform>)"},
		{"namespaced element", "xml", "<map xmlns:x=\"urn:x\">\n<x:source/></map>", 2, "map/urn:x:source", "unknown element"},
		{"wrong root", "xml", "<config/>", 1, "config", "unknown root element (expected <map>)"},
		{"duplicate source", "xml", "<map>\n<source/>\n<source/>\n</map>", 3, "map/source", "duplicate <source>"},
		{"unknown root attribute", "xml", "<map version=\"2\"/>", 1, "map", `unexpected attribute "version"`},
		{"attribute on rule", "xml", "<map><source><document_rules>\n<ignore x=\"1\"><document>a</document></ignore></document_rules></source></map>",
			2, "map/source/document_rules/ignore", `unexpected attribute "x"`},
		{"text in container", "xml", "<map><source>\n<field_rules>\n  oops\n</field_rules></source></map>",
			3, "map/source/field_rules", "unexpected text"},
		{"element in leaf", "xml", "<map><source><document_rules><ignore>\n<document><b/>a</document></ignore></document_rules></source></map>",
			2, "map/source/document_rules/ignore/document/b", "holds only text"},
		{"empty ignore", "xml", "<map><source><document_rules>\n<ignore/></document_rules></source></map>",
			2, "map/source/document_rules/ignore", "missing <document>"},
		{"empty field ignore", "xml", "<map><source><field_rules>\n<ignore></ignore></field_rules></source></map>",
			2, "map/source/field_rules/ignore", "missing <field> or <datatype>"},
		{"unknown in ignore", "xml", "<map><source><field_rules>\n<ignore><document>a</document></ignore></field_rules></source></map>",
			2, "map/source/field_rules/ignore/document", "unknown element (expected <field> or <datatype>)"},
		{"log_changes in destination", "xml", "<map><destination><document_rules>\n<log_changes/></document_rules></destination></map>",
			2, "map/destination/document_rules/log_changes", "not allowed in the destination area"},
		// Destination area.
		{"destination rename", "xml", "<map>\n<destination>\n<document_rules>\n<rename><document>a</document><to>b</to></rename>\n</document_rules>\n</destination>\n</map>",
			4, "map/destination/document_rules/rename", "<rename> is not allowed in the destination area"},
		{"destination move", "xml", "<map>\n<destination>\n<field_rules>\n\n<move><field>a.b</field><to>a.c</to></move>\n</field_rules>\n</destination>\n</map>",
			5, "map/destination/field_rules/move", "<move> is not allowed in the destination area"},
		// References.
		{"field without dot", "xml", "<map><source><field_rules>\n<ignore>\n<field>sales_flat_order</field></ignore></field_rules></source></map>",
			3, "map/source/field_rules/ignore/field", `field reference "sales_flat_order" is not "document.field"`},
		{"field with two dots", "xml", "<map><source><field_rules>\n<move><field>a.b</field>\n<to>a.b.c</to></move></field_rules></source></map>",
			3, "map/source/field_rules/move/to", `field reference "a.b.c" is not "document.field"`},
		{"field without document", "xml", "<map><destination><field_rules>\n<ignore><datatype>.f</datatype></ignore></field_rules></destination></map>",
			2, "map/destination/field_rules/ignore/datatype", `is not "document.field"`},
		{"field without field", "xml", "<map><source><field_rules>\n<transform><field>t.</field><handler class=\"X\"/></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/field", `is not "document.field"`},
		{"field with space", "xml", "<map><source><field_rules>\n<ignore><field>t. f</field></ignore></field_rules></source></map>",
			2, "map/source/field_rules/ignore/field", "white space"},
		{"empty document", "xml", "<map><source><document_rules>\n<ignore><document> </document></ignore></document_rules></source></map>",
			2, "map/source/document_rules/ignore/document", "empty document name"},
		{"document with dot", "xml", "<map><source><document_rules>\n<rename><document>a.b</document><to>c</to></rename></document_rules></source></map>",
			2, "map/source/document_rules/rename/document", `document name "a.b" contains '.'`},
		// Wildcards.
		{"wildcard in rename", "xml", "<map><source><document_rules>\n<rename><document>a</document>\n<to>b_*</to></rename></document_rules></source></map>",
			3, "map/source/document_rules/rename/to", "wildcard '*' is only allowed in document ignore rules"},
		{"wildcard in field ignore", "xml", "<map><source><field_rules>\n<ignore><field>t.*</field></ignore></field_rules></source></map>",
			2, "map/source/field_rules/ignore/field", "wildcard"},
		{"wildcard in move", "xml", "<map><source><field_rules>\n<move><field>t*.a</field><to>t.b</to></move></field_rules></source></map>",
			2, "map/source/field_rules/move/field", "wildcard"},
		{"wildcard in transform", "xml", "<map><destination><field_rules>\n<transform><field>*.a</field><handler class=\"X\"/></transform></field_rules></destination></map>",
			2, "map/destination/field_rules/transform/field", "wildcard"},
		// Handlers.
		{"duplicate param", "xml", "<map><source><field_rules><transform><field>t.f</field>\n<handler class=\"Convert\">\n<param name=\"map\" value=\"[a:b]\"/>\n<param name=\"map\" value=\"[c:d]\"/>\n</handler></transform></field_rules></source></map>",
			4, "map/source/field_rules/transform/handler/param", `duplicate param "map"`},
		{"missing class", "xml", "<map><source><field_rules><transform><field>t.f</field>\n<handler/></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler", `missing attribute "class"`},
		{"empty class", "xml", "<map><source><field_rules><transform><field>t.f</field>\n<handler class=\"\"/></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler", "empty handler class"},
		{"duplicate attribute", "xml", "<map><source><field_rules><transform><field>t.f</field>\n<handler class=\"A\" class=\"B\"/></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler", `duplicate attribute "class"`},
		{"text in handler", "xml", "<map><source><field_rules><transform><field>t.f</field>\n<handler class=\"A\">\nx</handler></transform></field_rules></source></map>",
			3, "map/source/field_rules/transform/handler", "unexpected text"},
		{"param without value", "xml", "<map><source><field_rules><transform><field>t.f</field><handler class=\"X\">\n<param name=\"a\"/></handler></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler/param", `missing attribute "value"`},
		{"param with empty name", "xml", "<map><source><field_rules><transform><field>t.f</field><handler class=\"X\">\n<param name=\"\" value=\"v\"/></handler></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler/param", "empty param name"},
		{"unknown param attribute", "xml", "<map><source><field_rules><transform><field>t.f</field><handler class=\"X\">\n<param name=\"a\" value=\"v\" type=\"int\"/></handler></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler/param", `unexpected attribute "type"`},
		{"unknown in handler", "xml", "<map><source><field_rules><transform><field>t.f</field><handler class=\"X\">\n<arg/></handler></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform/handler/arg", "unknown element (expected <param>)"},
		// Missing and duplicate parts.
		{"missing to in move", "xml", "<map>\n<source>\n<field_rules>\n<move>\n<field>a.b</field>\n</move>\n</field_rules>\n</source>\n</map>",
			4, "map/source/field_rules/move", "missing <to>"},
		{"missing to in rename", "xml", "<map><source><document_rules>\n<rename><document>a</document></rename></document_rules></source></map>",
			2, "map/source/document_rules/rename", "missing <to>"},
		{"missing document in rename", "xml", "<map><source><document_rules>\n<rename><to>a</to></rename></document_rules></source></map>",
			2, "map/source/document_rules/rename", "missing <document>"},
		{"missing handler", "xml", "<map><source><field_rules>\n<transform><field>a.b</field></transform></field_rules></source></map>",
			2, "map/source/field_rules/transform", "missing <handler>"},
		{"duplicate to", "xml", "<map><source><field_rules>\n<move><field>a.b</field><to>a.c</to>\n<to>a.d</to></move></field_rules></source></map>",
			3, "map/source/field_rules/move/to", "duplicate <to>"},
		// Malformed XML.
		{"unclosed element", "xml", "<map>\n<source>\n</map>", 3, "map/source", "malformed XML"},
		{"unexpected EOF", "xml", "<map>\n<source>\n", 3, "map/source", "malformed XML"},
		{"bad attribute", "xml", "<map>\n\n<source a=>", 3, "map", "malformed XML"},
		{"empty file", "xml", "", 1, "", "no root element"},
		{"two roots", "xml", "<map/>\n<map/>", 2, "map", "more than one root element"},
		{"text after root", "xml", "<map/>\n\nx", 3, "", "text outside the root element"},
		{"doctype", "xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE map>\n<map/>", 2, "", "directive"},
		{"latin1", "xml", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<map/>", 1, "", "unsupported encoding"},
		{"unknown entity", "xml", "<map><source><document_rules><ignore>\n<document>&nbsp;</document></ignore></document_rules></source></map>",
			2, "map/source/document_rules/ignore/document", "malformed XML"},

		// YAML.
		{"yaml unknown top key", "yaml", "source: {}\nsettings: {}\n", 2, "", `unknown key "settings" (expected source, destination)`},
		{"yaml unknown area key", "yaml", "source:\n  documents: {}\n  tables: {}\n", 3, "source", `unknown key "tables"`},
		{"yaml unknown documents key", "yaml", "source:\n  documents:\n    ignore: [a]\n    drop: [b]\n", 4, "source/documents", `unknown key "drop" (expected ignore, rename)`},
		{"yaml unknown fields key", "yaml", "source:\n  fields:\n    ignore_type: [a.b]\n", 3, "source/fields", `unknown key "ignore_type"`},
		{"yaml unknown transform key", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n        handler: X\n        param: {a: b}\n", 6, "source/fields/transform", `unknown key "param"`},
		{"yaml unknown rename key", "yaml", "source:\n  documents:\n    rename:\n      - {from: a, into: b}\n", 4, "source/documents/rename", `unknown key "into"`},
		{"yaml destination rename", "yaml", "destination:\n  documents:\n    ignore: [a]\n    rename: [{from: a, to: b}]\n", 4, "destination/documents", "rename is not allowed in the destination area"},
		{"yaml destination move", "yaml", "destination:\n  fields:\n    move: [{from: a.b, to: a.c}]\n", 3, "destination/fields", "move is not allowed in the destination area"},
		{"yaml bad field ref", "yaml", "source:\n  fields:\n    ignore:\n      - a.b\n      - ab\n", 5, "source/fields/ignore", `field reference "ab" is not "document.field"`},
		{"yaml bad move ref", "yaml", "source:\n  fields:\n    move:\n      - from: a.b\n        to: a..c\n", 5, "source/fields/move", `is not "document.field"`},
		{"yaml bad transform ref", "yaml", "destination:\n  fields:\n    transform:\n      - {field: x, value: 1}\n", 4, "destination/fields/transform", `field reference "x" is not "document.field"`},
		{"yaml wildcard in rename", "yaml", "source:\n  documents:\n    rename: [{from: 'a*', to: b}]\n", 3, "source/documents/rename", "wildcard"},
		{"yaml wildcard in datatype", "yaml", "source:\n  fields:\n    ignore_datatype: ['t.*']\n", 3, "source/fields/ignore_datatype", "wildcard"},
		{"yaml duplicate param", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n        handler: Convert\n        params:\n          map: x\n          map: y\n", 8, "source/fields/transform/params", `duplicate param "map"`},
		{"yaml missing to", "yaml", "source:\n  fields:\n    move:\n      - {from: a.b}\n", 4, "source/fields/move", `missing key "to"`},
		{"yaml null to", "yaml", "source:\n  documents:\n    rename:\n      - from: a\n        to:\n", 5, "source/documents/rename", "to: missing value"},
		{"yaml handler and value", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n        handler: X\n        value: y\n", 6, "source/fields/transform", "exactly one of handler, value and eval"},
		{"yaml no handler", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n", 4, "source/fields/transform", "exactly one of handler, value and eval"},
		{"yaml params with value", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n        value: y\n        params: {}\n", 6, "source/fields/transform", "params goes only with handler"},
		{"yaml null param", "yaml", "source:\n  fields:\n    transform:\n      - field: a.b\n        handler: X\n        params:\n          p: ~\n", 7, "source/fields/transform/params", `param "p": missing value`},
		{"yaml empty handler", "yaml", "source:\n  fields:\n    transform:\n      - {field: a.b, handler: ''}\n", 4, "source/fields/transform/handler", "empty handler name"},
		{"yaml duplicate key", "yaml", "source:\n  fields: {}\n  fields: {}\n", 3, "source", `duplicate key "fields"`},
		{"yaml name not a string", "yaml", "source:\n  documents:\n    ignore:\n      - [a]\n", 4, "source/documents/ignore", "name: expected a string, found a list"},
		{"yaml null name", "yaml", "source:\n  documents:\n    ignore: [a, ~]\n", 3, "source/documents/ignore", "name: missing value"},
		{"yaml area not a mapping", "yaml", "source: [a]\n", 1, "source", "expected a mapping, found a list"},
		{"yaml not a list", "yaml", "source:\n  documents:\n    ignore: a\n", 3, "source/documents/ignore", "expected a list"},
		{"yaml not a mapping", "yaml", "- source\n", 1, "", "expected a mapping"},
		{"yaml alias", "yaml", "source:\n  documents:\n    ignore: &x [a]\ndestination:\n  documents:\n    ignore: *x\n", 6, "destination/documents/ignore", "aliases are not supported"},
		{"yaml two documents", "yaml", "source: {}\n---\ndestination: {}\n", 2, "", "more than one YAML document"},
		{"yaml malformed", "yaml", "source:\n  documents:\n    ignore: [a\n  fields: {}\n", 3, "", "malformed YAML"},
		{"yaml bad indentation", "yaml", "source:\n  documents: {}\n fields: {}\n", 3, "", "malformed YAML"},
	})
}

func TestParseSettingsErrors(t *testing.T) {
	checkFileErrors(t, "settings", ParseSettings, []fileErrorTest{
		{"unknown element", "xml", "<settings>\n<key>\n<drop><path>a</path></drop>\n</key>\n</settings>", 3, "settings/key/drop", "unknown element (expected <ignore> or <rename>)"},
		{"unknown section", "xml", "<settings>\n<keys/>\n</settings>", 2, "settings/keys", "unknown element (expected <key> or <value>)"},
		{"wrong root", "xml", "<map/>", 1, "map", "unknown root element (expected <settings>)"},
		{"duplicate key", "xml", "<settings>\n<key/>\n<key/>\n</settings>", 3, "settings/key", "duplicate <key>"},
		{"wildcard in rename", "xml", "<settings><key>\n<rename><path>a/*</path><to>b</to></rename></key></settings>", 2, "settings/key/rename/path", "wildcard '*' is only allowed in key ignore rules"},
		{"wildcard in transform", "xml", "<settings><value>\n<transform>\n<path>a/*</path><handler class=\"X\"/></transform></value></settings>", 3, "settings/value/transform/path", "wildcard"},
		{"empty path", "xml", "<settings><key><ignore>\n<path/></ignore></key></settings>", 2, "settings/key/ignore/path", "empty path"},
		{"missing to", "xml", "<settings><key>\n<rename><path>a</path></rename></key></settings>", 2, "settings/key/rename", "missing <to>"},
		{"missing handler", "xml", "<settings><value>\n<transform><path>a</path></transform></value></settings>", 2, "settings/value/transform", "missing <handler>"},
		{"duplicate param", "xml", "<settings><value><transform><path>a</path><handler class=\"X\">\n<param name=\"p\" value=\"1\"/>\n<param name=\"p\" value=\"2\"/></handler></transform></value></settings>", 3, "settings/value/transform/handler/param", `duplicate param "p"`},
		// The typo of Magento's documentation: <key> opened twice.
		{"docs typo", "xml", "<settings>\n    <key>\n        <ignore><path>a*</path></ignore>\n    <key>\n    <value/>\n</settings>", 6, "settings/key/key", "malformed XML"},

		{"yaml unknown key", "yaml", "key:\n  ignore: [a]\n  drop: [b]\n", 3, "key", `unknown key "drop" (expected ignore, rename)`},
		{"yaml unknown transform key", "yaml", "value:\n  transform:\n    - {path: a, handler: X, field: b}\n", 3, "value/transform", `unknown key "field"`},
		{"yaml field instead of path", "yaml", "value:\n  transform:\n    - {field: a, handler: X}\n", 3, "value/transform", `unknown key "field"`},
		{"yaml wildcard in rename", "yaml", "key:\n  rename:\n    - {from: a, to: 'b/*'}\n", 3, "key/rename", "wildcard"},
		{"yaml missing path", "yaml", "value:\n  transform:\n    - {value: 1}\n", 3, "value/transform", `missing key "path"`},
		{"yaml eval and value", "yaml", "value:\n  transform:\n    - path: a\n      value: 1\n      eval: 2\n", 5, "value/transform", "exactly one of"},
		{"yaml duplicate param", "yaml", "value:\n  transform:\n    - path: a\n      handler: X\n      params: {p: 1, p: 2}\n", 5, "value/transform/params", `duplicate param "p"`},
		{"yaml malformed", "yaml", "key:\n  ignore: [a\n", 2, "", "malformed YAML"},
	})
}

func checkFileError(t *testing.T, err error, got any, file string, line int, element, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; got %+v", got)
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not a *FileError", err, err)
	}
	if fe.File != file || fe.Line != line || fe.Element != element || !strings.Contains(fe.Msg, msg) {
		t.Errorf("error %q\n got file %q line %d element %q msg %q\nwant file %q line %d element %q msg containing %q",
			err, fe.File, fe.Line, fe.Element, fe.Msg, file, line, element, msg)
	}
}

func TestFileErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    FileError
		want string
	}{
		{FileError{"map.xml", 12, "map/source/field_rules/move", "missing <to>"}, "map.xml:12: <map/source/field_rules/move>: missing <to>"},
		{FileError{"map.xml", 0, "map", "x"}, "map.xml: <map>: x"},
		{FileError{"map.xml", 3, "", "x"}, "map.xml:3: x"},
		{FileError{"", 0, "", "x"}, "x"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestReadMapFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"m.yml", "M.XML"} {
		data := "source: {documents: {ignore: [a]}}\n"
		if strings.HasSuffix(strings.ToLower(name), ".xml") {
			data = "<map><source><document_rules><ignore><document>a</document></ignore></document_rules></source></map>"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadMap(path)
		if err != nil {
			t.Fatalf("ReadMap(%s): %v", name, err)
		}
		if len(r.Source.IgnoreDocuments) != 1 || r.Source.IgnoreDocuments[0].At.File != path {
			t.Errorf("ReadMap(%s) = %+v", name, r)
		}
	}

	_, err := ReadMap(filepath.Join(dir, "map.json"))
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "unsupported file extension") {
		t.Errorf("ReadMap(map.json) error = %v, want unsupported extension", err)
	}
	if _, err := ReadSettings(filepath.Join(dir, "settings.txt")); !errors.As(err, &fe) {
		t.Errorf("ReadSettings(settings.txt) error = %v, want a FileError", err)
	}
	if _, err := ReadMap(filepath.Join(dir, "missing.xml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadMap(missing.xml) error = %v, want not exist", err)
	}
	if _, err := ParseMap("m", nil, "json"); !errors.As(err, &fe) {
		t.Errorf("ParseMap(json) error = %v, want a FileError", err)
	}
	if _, err := ParseSettings("s", nil, "toml"); !errors.As(err, &fe) {
		t.Errorf("ParseSettings(toml) error = %v, want a FileError", err)
	}
}
