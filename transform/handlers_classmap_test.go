package transform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform/phpserial"
)

// cmSrc and cmDst are eav_attribute of Magento 1 and 2 (the columns used).
var (
	cmSrc = &cdc.Table{Name: "eav_attribute", Key: []int{0}, Columns: []cdc.Column{
		{Name: "attribute_id", DataType: "smallint", Unsigned: true},
		{Name: "attribute_code", DataType: "varchar"},
		{Name: "backend_model", DataType: "varchar"},
		{Name: "content", DataType: "mediumtext"},
	}}
	cmDst = &cdc.Table{Name: "eav_attribute", Columns: []cdc.Column{
		{Name: "attribute_id", DataType: "smallint", Unsigned: true},
		{Name: "backend_model", DataType: "varchar"},
	}}
)

type cmCase struct {
	name    string
	field   string // default backend_model
	in      any
	other   any // the opposite record's backend_model
	options map[string]string
	want    any
	wantErr string
	warns   []string // the subjects logged, in order
}

// cmRun runs handler on each case with the stock class map, in the source
// area (rec: cmSrc, other: cmDst).
func cmRun(t *testing.T, handler string, cases []cmCase) {
	t.Helper()
	cm := stockClassMap(t)
	f, ok := LookupHandler(handler)
	if !ok {
		t.Fatalf("handler %s not registered", handler)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var warned []string
			old := hdlWarn
			hdlWarn = func(msg string, args ...any) {
				for i := 0; i+1 < len(args); i += 2 {
					if k := args[i]; k == "class" || k == "type" {
						warned = append(warned, fmt.Sprint(args[i+1]))
					}
				}
			}
			defer func() { hdlWarn = old }()
			field := tc.field
			if field == "" {
				field = "backend_model"
			}
			i := cmSrc.ColumnIndex(field)
			b := Binding{Area: "source", Table: cmSrc.Name, Field: field, Index: i, Column: cmSrc.Columns[i], Rec: cmSrc, Other: cmDst,
				Env: &HandlerEnv{ClassMap: cm, Options: tc.options}}
			fn, err := f(Params{}, b)
			if err != nil {
				t.Fatalf("factory: %v", err)
			}
			// Twice: the second run shows each subject is logged once.
			for range 2 {
				rec := []any{int64(63), "sku", nil, nil}
				rec[i] = tc.in
				other := []any{nil, tc.other}
				err = fn(rec, other)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("error %v, want %q", err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !hdlEqual(rec[i], tc.want) {
					t.Fatalf("got %#v, want %#v", rec[i], tc.want)
				}
			}
			if strings.Join(warned, "|") != strings.Join(tc.warns, "|") {
				t.Errorf("logged %q, want %q", warned, tc.warns)
			}
		})
	}
}

func TestClassMapHandlersNeedTheClassMap(t *testing.T) {
	for _, h := range []string{"ClassMap", `\Migration\Handler\EavAttribute\ConvertModel`, "placeholder", `Rule\SerializedData`} {
		f, ok := LookupHandler(h)
		if !ok {
			t.Fatalf("%s not registered", h)
		}
		i := cmSrc.ColumnIndex("backend_model")
		b := Binding{Area: "source", Table: cmSrc.Name, Field: "backend_model", Index: i, Column: cmSrc.Columns[i], Rec: cmSrc, Other: cmDst, Env: &HandlerEnv{}}
		if _, err := f(Params{}, b); err == nil || !strings.Contains(err.Error(), "set the class_map option in config.xml") {
			t.Errorf("%s without a class map: %v", h, err)
		}
		b.Env.ClassMap = map[string]string{}
		if _, err := f(Params{"map": "x"}, b); err == nil || !strings.Contains(err.Error(), "unknown param 'map'") {
			t.Errorf("%s with a param: %v", h, err)
		}
		if _, err := f(Params{}, b); err != nil {
			t.Errorf("%s with an empty class map: %v", h, err)
		}
	}
}

func TestClassMapHandler(t *testing.T) {
	cmRun(t, "ClassMap", []cmCase{
		{name: "known class", in: "cms/widget_page_link", want: `Magento\Cms\Block\Widget\Page\Link`},
		{name: "known class as bytes", in: []byte("catalog/product_widget_link"), want: `Magento\Catalog\Block\Product\Widget\Link`},
		{name: "class the map drops", in: "catalog/product_attribute_backend_media", want: nil},
		{name: "unknown class becomes NULL, logged once", in: "acme/widget_banner", want: nil, warns: []string{"acme/widget_banner"}},
		{name: "already Magento 2 is unknown too", in: `Magento\Cms\Block\Widget\Block`, want: nil, warns: []string{`Magento\Cms\Block\Widget\Block`}},
		{name: "empty", in: "", want: nil},
		{name: "NULL", in: nil, want: nil},
		{name: "the opposite record is not read", in: nil, other: `Magento\Cms\Block\Widget\Block`, want: nil},
	})
}

func TestConvertModel(t *testing.T) {
	const sku = `Magento\Catalog\Model\Product\Attribute\Backend\Sku`
	cmRun(t, `EavAttribute\ConvertModel`, []cmCase{
		// Rows of the reference's eav integration database (attribute 63 sku, 118 msrp_enabled).
		{name: "known class", in: "catalog/product_attribute_backend_sku", want: sku},
		{name: "known class, the opposite value is not used", in: "catalog/product_attribute_backend_sku", other: "Other", want: sku},
		{name: "class the map drops", in: "catalog/product_attribute_backend_msrp", want: nil},
		{name: "class the map drops, even when the opposite record has one", in: "catalog/product_attribute_backend_msrp", other: "X", want: nil},
		{name: "NULL takes the opposite value", in: nil, other: sku, want: sku},
		{name: "empty takes the opposite value", in: "", other: sku, want: sku},
		{name: "zero is empty", in: "0", other: sku, want: sku},
		{name: "NULL with no opposite value", in: nil, want: nil},
		{name: "empty with an empty opposite value", in: "", other: "", want: nil},
		{name: "empty with a zero opposite value", in: "", other: "0", want: nil},
		{name: "unknown class fails the row", in: "acme/attribute_backend_x", wantErr: `class "acme/attribute_backend_x" is not in the class map`},
		{name: "unknown class with auto_resolve", in: "acme/attribute_backend_x", options: map[string]string{"auto_resolve": "1"}, want: nil, warns: []string{"acme/attribute_backend_x"}},
		{name: "auto_resolve 0 is off", in: "acme/attribute_backend_x", options: map[string]string{"auto_resolve": "0"}, wantErr: "auto_resolve"},
		{name: "field the opposite table lacks", field: "content", in: nil, other: "ignored", want: nil},
	})
}

func TestPlaceholder(t *testing.T) {
	const (
		link = `Magento\\Cms\\Block\\Widget\\Page\\Link`
		pl   = `{{widget type="cms/widget_page_link" anchor_text="About us" template="cms/widget/link/link_block.phtml" page_id="4"}}`
		plTo = `{{widget type="` + link + `" anchor_text="About us" template="widget/link/link_block.phtml" page_id="4"}}`
	)
	cmRun(t, "Placeholder", []cmCase{
		{name: "widget converted, template cut, unknown widget removed", field: "content",
			in:    `<p>` + pl + `</p><p>{{widget type="acme/widget_banner" banner_id="2"}}</p>`,
			want:  `<p>` + plTo + `</p><p></p>`,
			warns: []string{"acme/widget_banner"}},
		{name: "bytes", field: "content", in: []byte(pl), want: plTo},
		{name: "every directive of a line, lazily", field: "content",
			in:   `{{block type="cms/block" template="page/a.phtml"}}{{block template="c/d/e.phtml"}}`,
			want: `{{block type="cms/block" template="a.phtml"}}{{block template="d/e.phtml"}}`},
		{name: "class the map drops", field: "content",
			in:   `{{widget type="catalog/product_attribute_backend_media" x="1"}}`,
			want: `{{widget type="" x="1"}}`},
		{name: "types outside directives are renamed too", field: "content",
			in:   "<div type=\"cms/widget_page_link\"></div>\n{{block id=\"x\"}}",
			want: "<div type=\"" + link + "\"></div>\n{{block id=\"x\"}}"},
		{name: "no directive: left alone", field: "content",
			in: `<div type="cms/widget_page_link">{{var store}}</div>`, want: `<div type="cms/widget_page_link">{{var store}}</div>`},
		{name: "a directive across lines is none", field: "content",
			in:   "{{widget type=\"acme/widget_banner\"\n id=\"1\"}}",
			want: "{{widget type=\"acme/widget_banner\"\n id=\"1\"}}"},
		{name: "unknown widget with nothing before }} stays", field: "content",
			in: `<p>{{widget type="acme/widget_banner"}}</p>`, want: `<p>{{widget type="acme/widget_banner"}}</p>`},
		{name: "unknown widget removal reaches the next }} of the line", field: "content",
			in:    `<p>{{widget type="acme/widget_banner"}} and {{var store.name}}</p>` + "\n{{block id=\"1\"}}",
			want:  "<p></p>\n{{block id=\"1\"}}",
			warns: []string{"acme/widget_banner"}},
		{name: "unknown widget removal stops at the first }}", field: "content",
			in:    `{{widget type="acme/widget_banner" id="1"}} keep {{var store.name}}`,
			want:  ` keep {{var store.name}}`,
			warns: []string{"acme/widget_banner"}},
		{name: "unknown block stays", field: "content",
			in: `{{block type="core/template" name="x"}}`, want: `{{block type="core/template" name="x"}}`},
		{name: "template without a folder", field: "content",
			in: `{{block type="core/template" template="x.phtml"}}`, want: `{{block type="core/template" template="x.phtml"}}`},
		{name: "NULL", field: "content", in: nil, want: nil},
		{name: "empty", field: "content", in: "", want: ""},
	})
}

func TestPlaceholderRefusesOrderDependentMaps(t *testing.T) {
	f, _ := LookupHandler("Placeholder")
	i := cmSrc.ColumnIndex("content")
	for _, cm := range []map[string]string{
		{"a/b": `x"y`},
		{`a"b`: "X"},
		{"a/b": "c/d", "c/d": "E"},
	} {
		b := Binding{Area: "source", Table: cmSrc.Name, Field: "content", Index: i, Column: cmSrc.Columns[i], Rec: cmSrc, Other: cmDst, Env: &HandlerEnv{ClassMap: cm}}
		if _, err := f(Params{}, b); err == nil || !strings.Contains(err.Error(), "class map entry") {
			t.Errorf("%q: %v", cm, err)
		}
	}
}

// phpS is PHP's serialize() of a string, written out for the expectations.
func phpS(s string) string { return fmt.Sprintf("s:%d:\"%s\";", len(s), s) }

func TestRuleSerializedData(t *testing.T) {
	// A Magento 1 cart price rule's conditions: subtotal >= 100 and a product found in the cart.
	rule := func(combine, address, found, product string) string {
		return "a:7:{" + phpS("type") + phpS(combine) + phpS("attribute") + "N;" + phpS("operator") + "N;" +
			phpS("value") + phpS("1") + phpS("is_value_processed") + "N;" + phpS("aggregator") + phpS("all") +
			phpS("conditions") + "a:2:{" +
			"i:0;a:5:{" + phpS("type") + phpS(address) + phpS("attribute") + phpS("base_subtotal") + phpS("operator") + phpS(">=") +
			phpS("value") + phpS("100") + phpS("is_value_processed") + "b:0;}" +
			"i:1;a:4:{" + phpS("type") + phpS(found) + phpS("value") + "i:1;" + phpS("aggregator") + phpS("all") +
			phpS("conditions") + "a:1:{i:0;a:4:{" + phpS("type") + phpS(product) + phpS("attribute") + phpS("sku") +
			phpS("operator") + phpS("==") + phpS("value") + phpS("ABC-1") + "}}}}}"
	}
	m1 := rule("salesrule/rule_condition_combine", "salesrule/rule_condition_address", "salesrule/rule_condition_product_found", "salesrule/rule_condition_product")
	m2 := rule(`Magento\SalesRule\Model\Rule\Condition\Combine`, `Magento\SalesRule\Model\Rule\Condition\Address`,
		`Magento\SalesRule\Model\Rule\Condition\Product\Found`, `Magento\SalesRule\Model\Rule\Condition\Product`)
	block := phpS(`Magento\Cms\Block\Widget\Block`)
	broken := m1[:len(m1)-3]
	cmRun(t, `Rule\SerializedData`, []cmCase{
		{name: "cart price rule", field: "content", in: m1, want: m2},
		{name: "bytes", field: "content", in: []byte(m1), want: m2},
		{name: "unknown and dropped classes and keys stay", field: "content",
			in:   "a:3:{" + phpS("cms/widget_block") + phpS("acme/rule_condition_x") + "i:0;" + phpS("catalog/product_attribute_backend_media") + "i:1;d:0.5;}",
			want: "a:3:{" + phpS("cms/widget_block") + phpS("acme/rule_condition_x") + "i:0;" + phpS("catalog/product_attribute_backend_media") + "i:1;d:0.5;}"},
		{name: "serialized again as PHP does: numeric string keys become integers", field: "content",
			in: "a:1:{" + phpS("5") + phpS("cms/widget_block") + "}", want: "a:1:{i:5;" + block + "}"},
		{name: "objects are not arrays: left as they are", field: "content",
			in:   "a:1:{i:0;O:8:\"stdClass\":1:{" + phpS("type") + phpS("cms/widget_block") + "}}",
			want: "a:1:{i:0;O:8:\"stdClass\":1:{" + phpS("type") + phpS("cms/widget_block") + "}}"},
		{name: "a string is no array", field: "content", in: phpS("cms/widget_block"), want: phpS("cms/widget_block")},
		{name: "false", field: "content", in: "b:0;", want: "b:0;"},
		{name: "NULL", field: "content", in: nil, want: nil},
		{name: "empty", field: "content", in: "", want: ""},
		{name: "broken data fails the row", field: "content", in: broken, wantErr: "the serialized rule is broken"},
		{name: "JSON is broken data", field: "content", in: `{"type":"x"}`, wantErr: "the serialized rule is broken"},
		{name: "a number is broken data", field: "content", in: int64(7), wantErr: "the serialized rule is broken"},
		{name: "references are not decoded", field: "content", in: "a:2:{i:0;" + phpS("x") + "i:1;R:2;}", wantErr: "does not decode"},
	})
}

// TestClassMapHandlersInAPlan compiles the stock map's rules for rules, widgets
// and CMS blocks with the stock class map and maps rows through the plan: a
// cart price rule leaves renamed and, through the destination's
// SerializeToJson, as JSON, as Magento's tool writes it.
func TestClassMapHandlersInAPlan(t *testing.T) {
	text := func(n string) cdc.Column { c := col(n, "mediumtext"); c.ColumnType = "mediumtext"; return c }
	vc := func(n string) cdc.Column { c := col(n, "varchar"); c.ColumnType = "varchar(255)"; return c }
	tables := func() []*cdc.Table {
		return []*cdc.Table{
			tbl("salesrule", []int{0}, col("rule_id", "int"), text("conditions_serialized"), text("actions_serialized")),
			tbl("widget_instance", []int{0}, col("instance_id", "int"), vc("instance_type")),
			tbl("cms_block", []int{0}, col("block_id", "int"), text("content")),
		}
	}
	tr := func(field, h string) Transform {
		return Transform{Field: field, Handler: handler(`\Migration\Handler\` + h)}
	}
	r := &Rules{
		Source: Area{Transforms: []Transform{
			tr("widget_instance.instance_type", "ClassMap"),
			tr("cms_block.content", "Placeholder"),
			tr("salesrule.conditions_serialized", `Rule\SerializedData`),
			tr("salesrule.actions_serialized", `Rule\SerializedData`),
		}},
		Destination: Area{Transforms: []Transform{
			tr("salesrule.conditions_serialized", "SerializeToJson"),
			tr("salesrule.actions_serialized", "SerializeToJson"),
		}},
		Env: &HandlerEnv{ClassMap: stockClassMap(t)},
	}
	plan, problems := Compile(r, tables(), tables())
	if HasErrors(problems) {
		t.Fatalf("problems: %v", problems)
	}
	cases := []struct {
		table string
		in    []any
		want  []any
	}{
		{"salesrule",
			[]any{int64(1), "a:3:{" + phpS("type") + phpS("salesrule/rule_condition_combine") + phpS("value") + phpS("1") + phpS("conditions") + "a:0:{}}",
				"a:2:{" + phpS("type") + phpS("salesrule/rule_condition_product_combine") + phpS("attribute") + "N;}"},
			[]any{int64(1), `{"type":"Magento\\SalesRule\\Model\\Rule\\Condition\\Combine","value":"1","conditions":[]}`,
				`{"type":"Magento\\SalesRule\\Model\\Rule\\Condition\\Product\\Combine","attribute":null}`}},
		{"salesrule", []any{int64(2), nil, ""}, []any{int64(2), nil, ""}},
		{"widget_instance", []any{int64(3), "cms/widget_page_link"}, []any{int64(3), `Magento\Cms\Block\Widget\Page\Link`}},
		{"cms_block", []any{int64(4), `{{widget type="cms/widget_block" template="cms/widget/static_block/default.phtml" block_id="5"}}`},
			[]any{int64(4), `{{widget type="Magento\\Cms\\Block\\Widget\\Block" template="widget/static_block/default.phtml" block_id="5"}}`}},
	}
	for _, c := range cases {
		out, err := plan.Table(c.table).Row(c.in)
		if err != nil {
			t.Fatalf("%s %v: %v", c.table, c.in, err)
		}
		for i := range c.want {
			if out[i] != c.want[i] {
				t.Errorf("%s column %d: got %#v, want %#v", c.table, i, out[i], c.want[i])
			}
		}
	}
	_, err := plan.Table("salesrule").Row([]any{int64(5), `a:1:{i:0;s:3:"ab`, nil})
	var he *HandlerError
	if !errors.As(err, &he) || he.Field != "conditions_serialized" || !strings.Contains(he.Handler, `Rule\SerializedData`) {
		t.Fatalf("broken rule: %v, want a failed row from Rule\\SerializedData on conditions_serialized", err)
	}
}

func TestHdlOnceIsBounded(t *testing.T) {
	var msgs []string
	old := hdlWarn
	hdlWarn = func(msg string, _ ...any) { msgs = append(msgs, msg) }
	defer func() { hdlWarn = old }()
	var o hdlOnce
	for i := range 3 * hdlOnceMax {
		o.warn(fmt.Sprint(i%(2*hdlOnceMax)), "m")
	}
	if len(msgs) != hdlOnceMax+1 || !strings.Contains(msgs[hdlOnceMax], "the last such warning") || len(o.seen) != hdlOnceMax+1 {
		t.Fatalf("%d warnings, %d remembered; want %d, the last saying so", len(msgs), len(o.seen), hdlOnceMax+1)
	}
}

// FuzzRuleSerializedData: whatever the value, the handler fails the row or
// writes data that unserializes, and running it again changes nothing (with
// the stock map no renamed class is itself a class of the map).
func FuzzRuleSerializedData(f *testing.F) {
	for _, s := range []string{
		"a:1:{i:0;" + phpS("salesrule/rule_condition_combine") + "}",
		"a:2:{s:1:\"5\";a:1:{i:0;" + phpS("cms/widget_block") + "}i:1;d:0.1;}",
		"b:0;", "", "N;", "a:1:{i:0;O:8:\"stdClass\":0:{}}", "a:1:{i:0;s:3:\"ab",
	} {
		f.Add(s)
	}
	cm := stockClassMap(f)
	i := cmSrc.ColumnIndex("content")
	b := Binding{Area: "source", Table: cmSrc.Name, Field: "content", Index: i, Column: cmSrc.Columns[i], Rec: cmSrc, Other: cmDst, Env: &HandlerEnv{ClassMap: cm}}
	fn, err := newRuleSerializedData(Params{}, b)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rec := []any{nil, nil, nil, in}
		if err := fn(rec, nil); err != nil {
			return
		}
		out, _ := rec[i].(string)
		if out != in {
			if _, err := phpserial.Unmarshal([]byte(out)); err != nil {
				t.Fatalf("%q -> %q, which does not unserialize: %v", in, out, err)
			}
		}
		again := []any{nil, nil, nil, out}
		if err := fn(again, nil); err != nil || again[i] != out {
			t.Fatalf("second run on %q: %#v, %v", out, again[i], err)
		}
	})
}
