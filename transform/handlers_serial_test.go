package transform

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// Tables of a real Magento 1.9 source (fixtures/magento/schema/m1-schema.sql).
var (
	serialQuoteOption = &cdc.Table{Name: "sales_flat_quote_item_option", Key: []int{0}, Columns: []cdc.Column{
		{Name: "option_id", DataType: "int", Unsigned: true},
		{Name: "item_id", DataType: "int", Unsigned: true},
		{Name: "product_id", DataType: "int", Unsigned: true},
		{Name: "code", DataType: "varchar"},
		{Name: "value", DataType: "text"},
	}}
	serialOrderItem = &cdc.Table{Name: "sales_flat_order_item", Key: []int{0}, Columns: []cdc.Column{
		{Name: "item_id", DataType: "int", Unsigned: true},
		{Name: "product_type", DataType: "varchar"},
		{Name: "product_options", DataType: "text"},
	}}
	serialProductVarchar = &cdc.Table{Name: "catalog_product_entity_varchar", Key: []int{0}, Columns: []cdc.Column{
		{Name: "value_id", DataType: "int"},
		{Name: "entity_type_id", DataType: "int", Unsigned: true},
		{Name: "attribute_id", DataType: "smallint", Unsigned: true},
		{Name: "store_id", DataType: "smallint", Unsigned: true},
		{Name: "entity_id", DataType: "int", Unsigned: true},
		{Name: "value", DataType: "varchar"},
	}}
	// The row settings mode builds: scope, scope_id, path, value.
	serialConfig = &cdc.Table{Name: "core_config_data", Columns: []cdc.Column{
		{Name: "scope", DataType: "varchar"},
		{Name: "scope_id", DataType: "int"},
		{Name: "path", DataType: "varchar"},
		{Name: "value", DataType: "text"},
	}}
)

type serialCase struct {
	name    string
	params  Params
	set     map[string]any // other fields of the record
	in      any            // the handled field
	want    any
	wantErr string // run-time error substring
}

// serialRun binds handler to tbl.field (with env) once per case and runs it
// on a record made of tc.set and tc.in.
func serialRun(t *testing.T, handler string, tbl *cdc.Table, field string, env *HandlerEnv, cases []serialCase) {
	t.Helper()
	f, ok := LookupHandler(handler)
	if !ok {
		t.Fatalf("handler %s not registered", handler)
	}
	idx := tbl.ColumnIndex(field)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := f(tc.params, Binding{Area: "source", Table: tbl.Name, Field: field, Index: idx, Column: tbl.Columns[idx], Rec: tbl, Env: env})
			if err != nil {
				t.Fatalf("factory: %v", err)
			}
			rec := make([]any, len(tbl.Columns))
			for k, v := range tc.set {
				i := tbl.ColumnIndex(k)
				if i < 0 {
					t.Fatalf("no field %s", k)
				}
				rec[i] = v
			}
			rec[idx] = tc.in
			err = fn(rec, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), handler) {
					t.Fatalf("error %v, want one naming %s and %q", err, handler, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !hdlEqual(rec[idx], tc.want) {
				t.Errorf("got %#v, want %#v", rec[idx], tc.want)
			}
		})
	}
}

// serialBindErrors checks that binding handler to tbl.field with each params
// fails with an error naming the handler and want.
func serialBindErrors(t *testing.T, handler string, tbl *cdc.Table, field string, env *HandlerEnv, cases []hdlParamCase) {
	t.Helper()
	f, _ := LookupHandler(handler)
	for _, tc := range cases {
		fl := field
		if tc.field != "" {
			fl = tc.field
		}
		idx := tbl.ColumnIndex(fl)
		_, err := f(tc.params, Binding{Area: "source", Table: tbl.Name, Field: fl, Index: idx, Column: tbl.Columns[idx], Rec: tbl, Env: env})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), handler) {
			t.Errorf("%s%v: error %v, want one naming %s and %q", handler, tc.params, err, handler, tc.want)
		}
	}
}

// serialWarnings records hdlWarn's messages until the test ends.
func serialWarnings(t *testing.T) *[]string {
	var got []string
	old := hdlWarn
	hdlWarn = func(msg string, args ...any) { got = append(got, msg) }
	t.Cleanup(func() { hdlWarn = old })
	return &got
}

// The pattern of the stock map.xml.dist (1.9.4.5) for quote and wishlist
// item options.
const serialStockPattern = `/(parameters)|(info_buyRequest)|(attributes)|(bundle_option_ids)|(bundle_selection_ids)|(bundle_selection_attributes)/`

func TestConvertWithConditions(t *testing.T) {
	warned := serialWarnings(t)
	stock := Params{"conditionalField": "code", "conditionalFieldValuesPattern": serialStockPattern}
	strict := Params{"conditionalField": "code", "conditionalFieldValuesPattern": serialStockPattern, "ignoreBrokenData": "0"}
	buy := `a:3:{s:4:"uenc";s:8:"aHR0cA,,";s:7:"product";s:3:"166";s:3:"qty";d:1;}`
	code := func(c any) map[string]any { return map[string]any{"code": c} }
	serialRun(t, `SerializeToJson\ConvertWithConditions`, serialQuoteOption, "value", nil, []serialCase{
		{name: "info_buyRequest", params: stock, set: code("info_buyRequest"), in: buy, want: `{"uenc":"aHR0cA,,","product":"166","qty":1}`},
		{name: "bundle ids list", params: stock, set: code([]byte("bundle_selection_ids")), in: []byte(`a:2:{i:0;s:2:"17";i:1;s:2:"18";}`), want: `["17","18"]`},
		{name: "attributes", params: stock, set: code("attributes"), in: `a:1:{i:92;s:2:"20";}`, want: `{"92":"20"}`},
		{name: "unanchored match", params: stock, set: code("my_parameters_x"), in: `i:5;`, want: `5`},
		{name: "other code kept", params: stock, set: code("product_type"), in: "simple", want: "simple"},
		{name: "option code kept", params: stock, set: code("option_12"), in: `a:1:{s:1:"a";i:1;}`, want: `a:1:{s:1:"a";i:1;}`},
		{name: "null value", params: stock, set: code("info_buyRequest"), in: nil, want: nil},
		{name: "empty value kept", params: stock, set: code("info_buyRequest"), in: "", want: ""},
		{name: "already json kept", params: stock, set: code("info_buyRequest"), in: `{"qty":1}`, want: `{"qty":1}`},
		{name: "broken becomes null", params: stock, set: code("info_buyRequest"), in: "brokenString", want: nil},
		{name: "broken fails when strict", params: strict, set: code("info_buyRequest"), in: "brokenString", wantErr: `code "info_buyRequest"`},
		{name: "no JSON form fails when strict", params: strict, set: code("parameters"), in: `d:NAN;`, wantErr: "JSON"},
		{name: "strict good data", params: strict, set: code("parameters"), in: `b:1;`, want: `true`},
		{name: "null code fails", params: stock, set: code(nil), in: buy, wantErr: "conditional field code is NULL"},
		{name: "case-insensitive modifier", params: Params{"conditionalField": "code", "conditionalFieldValuesPattern": "#^INFO_#i"}, set: code("info_buyRequest"), in: `N;`, want: `null`},
		{name: "anchored pattern", params: Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/^info$/"}, set: code("info_x"), in: `N;`, want: `N;`},
	})
	if len(*warned) != 1 {
		t.Errorf("warnings %q, want one for the broken value migrated as NULL", *warned)
	}
	serialBindErrors(t, `SerializeToJson\ConvertWithConditions`, serialQuoteOption, "value", nil, []hdlParamCase{
		{Params{"conditionalField": "code"}, "", "'conditionalFieldValuesPattern' is required"},
		{Params{"conditionalFieldValuesPattern": "/x/"}, "", "'conditionalField' is required"},
		{Params{"conditionalField": "", "conditionalFieldValuesPattern": "/x/"}, "", "'conditionalField' is empty"},
		{Params{"conditionalField": "kode", "conditionalFieldValuesPattern": "/x/"}, "", "kode"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "x"}, "", "delimiter"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/x"}, "", "no ending delimiter"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/(a)\\1/"}, "", "conditionalFieldValuesPattern"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/x/e"}, "", "modifier 'e'"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/x/", "ignoreBrokenData": "maybe"}, "", "'ignoreBrokenData'"},
		{Params{"conditionalField": "code", "conditionalFieldValuesPattern": "/x/", "migrateBrokenData": "1"}, "", "unknown param 'migrateBrokenData'"},
	})
}

func TestSerialPCRE(t *testing.T) {
	for _, tc := range []struct {
		pat, subject string
		want         bool
	}{
		{serialStockPattern, "bundle_selection_attributes", true},
		{serialStockPattern, "option_1", false},
		{`/a\/b/`, "xa/by", true},
		{`{a{1,2}}`, "aa", true},
		{`(^a)`, "ba", false},
		{`[\d]`, "5", true}, // '[' delimiters: the body is \d
		{"  /x/ \n", "x", true},
		{`/^ab$/`, "ab\n", true},   // PCRE's $ before a final newline
		{`/^ab$/D`, "ab\n", false}, // ... not with D
		{`/^ab\z/`, "ab\n", false},
		{`/^b$/m`, "a\nb\nc", true},
		{`/a.b/`, "a\nb", false},
		{`/a.b/s`, "a\nb", true},
		{`/b/`, "ab", true},
		{`/b/A`, "ab", false},
		{`/AB/i`, "xaby", true},
		{`/\d+/u`, "x12", true},
	} {
		re, err := serialPCRE(tc.pat)
		if err != nil {
			t.Errorf("%q: %v", tc.pat, err)
			continue
		}
		if got := re.MatchString(tc.subject); got != tc.want {
			t.Errorf("%q on %q: %v, want %v (as %s)", tc.pat, tc.subject, got, tc.want, re)
		}
	}
	for _, bad := range []string{"", "abc", `\x\`, "/a/x", "/(?<=a)b/", "(a"} {
		if _, err := serialPCRE(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestItemOption(t *testing.T) {
	code := func(c any) map[string]any { return map[string]any{"code": c} }
	file := `a:3:{s:4:"type";s:10:"image/jpeg";s:5:"title";s:7:"476.jpg";s:5:"width";i:666;}`
	serialRun(t, `SerializeToJson\ItemOption`, serialQuoteOption, "value", nil, []serialCase{
		{name: "file option", set: code("option_2"), in: file, want: `{"type":"image\/jpeg","title":"476.jpg","width":666}`},
		{name: "bytes", set: code([]byte("option_7")), in: []byte(`a:1:{s:4:"some";s:5:"value";}`), want: `{"some":"value"}`},
		{name: "text option kept", set: code("option_3"), in: "engraving text", want: "engraving text"},
		{name: "option id kept", set: code("option_4"), in: "12", want: "12"},
		{name: "multiselect ids kept", set: code("option_5"), in: "12,13", want: "12,13"},
		{name: "int kept", set: code("option_5"), in: int64(1), want: int64(1)},
		{name: "serialized false kept", set: code("option_5"), in: "b:0;", want: "b:0;"},
		{name: "serialized null", set: code("option_5"), in: "N;", want: "null"},
		{name: "truncated kept", set: code("option_6"), in: file[:30], want: file[:30]},
		{name: "already json kept", set: code("option_6"), in: `{"type":"image\/jpeg"}`, want: `{"type":"image\/jpeg"}`},
		{name: "empty kept", set: code("option_6"), in: "", want: ""},
		{name: "null", set: code("option_6"), in: nil, want: nil},
		{name: "unanchored code", set: code("bundle_option_12"), in: `i:3;`, want: `3`},
		{name: "option_ids not an option", set: code("option_ids"), in: `a:1:{i:0;i:1;}`, want: `a:1:{i:0;i:1;}`},
		{name: "info_buyRequest not an option", set: code("info_buyRequest"), in: `a:1:{i:0;i:1;}`, want: `a:1:{i:0;i:1;}`},
		{name: "reference fails", set: code("option_1"), in: `a:2:{i:0;a:0:{}i:1;R:2;}`, wantErr: "option_1"},
		{name: "no JSON form fails", set: code("option_1"), in: `d:INF;`, wantErr: "JSON"},
		{name: "null code fails", set: code(nil), in: file, wantErr: "code is NULL"},
	})
	serialBindErrors(t, `SerializeToJson\ItemOption`, serialQuoteOption, "value", nil, []hdlParamCase{
		{Params{"x": "1"}, "", "unknown param 'x'"},
	})
	serialBindErrors(t, `SerializeToJson\ItemOption`, serialOrderItem, "product_options", nil, []hdlParamCase{
		{Params{}, "", "code"},
	})
}

// TestItemOptionAfterConvertWithConditions: the stock map runs both on
// sales_flat_quote_item_option.value; each converts its own rows once.
func TestItemOptionAfterConvertWithConditions(t *testing.T) {
	idx := serialQuoteOption.ColumnIndex("value")
	b := Binding{Area: "source", Table: serialQuoteOption.Name, Field: "value", Index: idx, Column: serialQuoteOption.Columns[idx], Rec: serialQuoteOption}
	cwc, _ := LookupHandler(`\Migration\Handler\SerializeToJson\ConvertWithConditions`)
	io, _ := LookupHandler(`\Migration\Handler\SerializeToJson\ItemOption`)
	f1, err := cwc(Params{"conditionalField": "code", "conditionalFieldValuesPattern": serialStockPattern}, b)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := io(Params{}, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ code, in, want string }{
		{"info_buyRequest", `a:1:{s:3:"qty";i:2;}`, `{"qty":2}`},
		{"option_2", `a:1:{s:4:"type";s:9:"image/png";}`, `{"type":"image\/png"}`},
		{"option_ids", "2,3", "2,3"},
		{"product_type", "bundle", "bundle"},
	} {
		rec := []any{int64(1), int64(1), int64(1), tc.code, tc.in}
		for range 2 { // a replayed row converts to the same value
			if err := f1(rec, nil); err != nil {
				t.Fatal(err)
			}
			if err := f2(rec, nil); err != nil {
				t.Fatal(err)
			}
			if rec[idx] != tc.want {
				t.Fatalf("%s: %#v, want %q", tc.code, rec[idx], tc.want)
			}
		}
	}
}

func TestSalesOrderItem(t *testing.T) {
	warned := serialWarnings(t)
	// A simple product with a text and a file custom option, as Magento 1
	// stores it: the file option's option_value is serialized on its own.
	fileValue := `a:3:{s:4:"type";s:10:"image/jpeg";s:10:"quote_path";s:12:"custom/q.jpg";s:4:"size";s:6:"122340";}`
	withFile := `a:2:{s:15:"info_buyRequest";a:2:{s:7:"product";s:1:"1";s:3:"qty";s:1:"1";}s:7:"options";a:2:{` +
		`i:0;a:3:{s:5:"label";s:4:"Text";s:11:"option_type";s:5:"field";s:12:"option_value";s:4:"test";}` +
		`i:1;a:3:{s:5:"label";s:5:"Photo";s:11:"option_type";s:4:"file";s:12:"option_value";s:` + strconv.Itoa(len(fileValue)) + `:"` + fileValue + `";}}}`
	wantFile := `{"info_buyRequest":{"product":"1","qty":"1"},"options":[` +
		`{"label":"Text","option_type":"field","option_value":"test"},` +
		`{"label":"Photo","option_type":"file","option_value":"{\"type\":\"image\\\/jpeg\",\"quote_path\":\"custom\\\/q.jpg\",\"size\":\"122340\"}"}]}`
	bsa := `a:4:{s:5:"price";d:100;s:3:"qty";d:1;s:12:"option_label";s:8:"option 1";s:9:"option_id";s:1:"1";}`
	bundle := `a:2:{s:15:"info_buyRequest";a:1:{s:13:"bundle_option";a:2:{i:1;s:1:"1";i:2;s:1:"2";}}s:27:"bundle_selection_attributes";s:` + strconv.Itoa(len(bsa)) + `:"` + bsa + `";}`
	wantBundle := `{"info_buyRequest":{"bundle_option":{"1":"1","2":"2"}},"bundle_selection_attributes":"{\"price\":100,\"qty\":1,\"option_label\":\"option 1\",\"option_id\":\"1\"}"}`
	strict := Params{"ignoreBrokenData": "false"}
	serialRun(t, `SerializeToJson\SalesOrderItem`, serialOrderItem, "product_options", nil, []serialCase{
		{name: "file option", in: withFile, want: wantFile},
		{name: "bundle selection attributes", in: []byte(bundle), want: wantBundle},
		{name: "plain", in: `a:1:{s:15:"info_buyRequest";a:1:{s:3:"qty";i:1;}}`, want: `{"info_buyRequest":{"qty":1}}`},
		{name: "empty file value encoded as is", in: `a:1:{s:7:"options";a:1:{i:0;a:2:{s:11:"option_type";s:4:"file";s:12:"option_value";s:0:"";}}}`,
			want: `{"options":[{"option_type":"file","option_value":"\"\""}]}`},
		{name: "null file value encoded as is", in: `a:1:{s:7:"options";a:1:{i:0;a:2:{s:11:"option_type";s:4:"file";s:12:"option_value";N;}}}`,
			want: `{"options":[{"option_type":"file","option_value":"null"}]}`},
		{name: "null bundle attributes left", in: `a:1:{s:27:"bundle_selection_attributes";N;}`, want: `{"bundle_selection_attributes":null}`},
		{name: "empty bundle attributes", in: `a:1:{s:27:"bundle_selection_attributes";s:0:"";}`, want: `{"bundle_selection_attributes":"\"\""}`},
		{name: "option type not exactly file", in: `a:1:{s:7:"options";a:1:{i:0;a:2:{s:11:"option_type";s:4:"File";s:12:"option_value";s:4:"b:1;";}}}`,
			want: `{"options":[{"option_type":"File","option_value":"b:1;"}]}`},
		{name: "non-array option skipped", in: `a:1:{s:7:"options";a:1:{i:0;s:1:"x";}}`, want: `{"options":["x"]}`},
		{name: "scalar", in: `s:3:"abc";`, want: `"abc"`},
		{name: "null", in: nil, want: nil},
		{name: "empty kept", in: "", want: ""},
		{name: "already json kept", in: wantBundle, want: wantBundle},
		{name: "broken becomes null", in: withFile[:40], want: nil},
		{name: "broken fails when strict", params: strict, in: withFile[:40], wantErr: "product_options"},
		{name: "no JSON form becomes null", in: `a:1:{s:1:"p";d:INF;}`, want: nil},
		{name: "broken file value fails", in: `a:1:{s:7:"options";a:1:{i:0;a:2:{s:11:"option_type";s:4:"file";s:12:"option_value";s:5:"a:1:{";}}}`, wantErr: "option_value of file option 0"},
		{name: "file option without value fails", in: `a:1:{s:7:"options";a:1:{i:3;a:1:{s:11:"option_type";s:4:"file";}}}`, wantErr: "file option 3 has no option_value"},
		{name: "broken bundle attributes fail", in: `a:1:{s:27:"bundle_selection_attributes";s:3:"xyz";}`, wantErr: "bundle_selection_attributes"},
		{name: "options not an array fails", in: `a:1:{s:7:"options";s:3:"abc";}`, wantErr: "options is a string"},
		{name: "integer file value fails", in: `a:1:{s:7:"options";a:1:{i:0;a:2:{s:11:"option_type";s:4:"file";s:12:"option_value";i:5;}}}`, wantErr: "integer value is no serialized data"},
		{name: "object fails", in: `O:8:"stdClass":1:{s:7:"options";a:0:{}}`, wantErr: "object of class stdClass"},
	})
	if len(*warned) != 2 {
		t.Errorf("warnings %q, want two (broken data and data without a JSON form, migrated as NULL)", *warned)
	}
	serialBindErrors(t, `SerializeToJson\SalesOrderItem`, serialOrderItem, "product_options", nil, []hdlParamCase{
		{Params{"ignoreBrokenData": "yes"}, "", "'ignoreBrokenData'"},
		{Params{"suppressWarning": "1"}, "", "unknown param 'suppressWarning'"},
	})
	// The expected JSON above is itself valid JSON whose file option holds
	// valid JSON: what Magento 2 decodes twice.
	var outer struct {
		Options []struct {
			OptionValue string `json:"option_value"`
		} `json:"options"`
	}
	if err := json.Unmarshal([]byte(wantFile), &outer); err != nil || len(outer.Options) != 2 || !json.Valid([]byte(outer.Options[1].OptionValue)) {
		t.Fatalf("test data: %v %+v", err, outer)
	}
}

func TestURLSuffix(t *testing.T) {
	serialRun(t, `Settings\UrlSuffix`, serialConfig, "value", nil, []serialCase{
		{name: "dot added", in: "html", want: ".html"},
		{name: "bytes", in: []byte("phtml"), want: ".phtml"},
		{name: "dot kept", in: ".html", want: ".html"},
		{name: "empty", in: "", want: ""},
		{name: "zero is false in PHP", in: "0", want: "0"},
		{name: "null", in: nil, want: nil},
		{name: "slash", in: "/", want: "./"},
	})
	serialBindErrors(t, `Settings\UrlSuffix`, serialConfig, "value", nil, []hdlParamCase{{Params{"x": "1"}, "", "unknown param 'x'"}})
}

// serialEAV returns lookups of a Magento 1 source with the rows of the
// reference's integration databases (resource/default and customer: the URL
// attributes of categories (3) and products (4)); config are the
// core_config_data rows. reads counts the tables read.
func serialEAV(config *[][]any, reads *atomic.Int64) *HandlerEnv {
	return &HandlerEnv{Lookups: NewLookups(func(side, table string) (*LookupRows, error) {
		reads.Add(1)
		if side != SideSource {
			return nil, serialLookupErr(side + " " + table)
		}
		switch table {
		case "core_config_data":
			return NewLookupRows([]string{"config_id", "scope", "scope_id", "path", "value"}, *config), nil
		case "eav_entity_type":
			return NewLookupRows([]string{"entity_type_id", "entity_type_code"}, [][]any{
				{uint64(1), "customer"}, {uint64(3), "catalog_category"}, {uint64(4), "catalog_product"},
			}), nil
		case "eav_attribute":
			return NewLookupRows([]string{"attribute_id", "entity_type_id", "attribute_code"}, [][]any{
				{uint64(41), uint64(3), "name"}, {uint64(43), uint64(3), "url_key"}, {uint64(57), uint64(3), "url_path"},
				{uint64(71), uint64(4), "name"}, {uint64(97), uint64(4), "url_key"}, {uint64(98), uint64(4), "url_path"},
			}), nil
		}
		return nil, serialLookupErr(side + " " + table)
	})}
}

type serialLookupErr string

func (e serialLookupErr) Error() string { return "unexpected lookup of " + string(e) }

func TestTruncateSuffixMagento(t *testing.T) {
	product := Params{"suffixPath": "catalog/seo/product_url_suffix", "attributeCodes": "[url_key,url_path]", "entityTypeCode": "catalog_product"}
	category := Params{"suffixPath": "catalog/seo/category_url_suffix", "attributeCodes": "[url_path]", "entityTypeCode": "catalog_category"}
	attr := func(id any) map[string]any { return map[string]any{"attribute_id": id} }
	// resource/default/source.sql: the product suffix without its dot; a
	// store's own suffix (even before it) is not the one used.
	config := [][]any{
		{int64(2), "stores", int64(1), "catalog/seo/product_url_suffix", ".htm"},
		{int64(4), "default", int64(0), "catalog/seo/product_url_suffix", "phtml"},
		{int64(10), "stores", int64(1), "catalog/seo/category_url_suffix", ".cat"},
	}
	var reads atomic.Int64
	env := serialEAV(&config, &reads)
	serialRun(t, "TruncateSuffix", serialProductVarchar, "value", env, []serialCase{
		{name: "url_key", params: product, set: attr(uint64(97)), in: "blue-shoesphtml", want: "blue-shoes"},
		{name: "suffix read literally", params: product, set: attr(uint64(97)), in: "blue-shoes.phtml", want: "blue-shoes."},
		{name: "url_path bytes", params: product, set: attr(int64(98)), in: []byte("men/shoesphtml"), want: "men/shoes"},
		{name: "once", params: product, set: attr(uint64(98)), in: "aphtmlphtml", want: "aphtml"},
		{name: "before final newline", params: product, set: attr(uint64(98)), in: "aphtml\n", want: "a\n"},
		{name: "not at the end", params: product, set: attr(uint64(97)), in: "phtml-shoes", want: "phtml-shoes"},
		{name: "other attribute", params: product, set: attr(uint64(71)), in: "Shoes phtml", want: "Shoes phtml"},
		{name: "category attribute of the same code", params: product, set: attr(uint64(57)), in: "menphtml", want: "menphtml"},
		{name: "null value", params: product, set: attr(uint64(97)), in: nil, want: nil},
		{name: "null attribute", params: product, in: "aphtml", want: "aphtml"},
		{name: "category url_path, its only row a store's", params: category, set: attr(uint64(57)), in: "men/shoes.cat", want: "men/shoes"},
		{name: "category url_key not listed", params: category, set: attr(uint64(43)), in: "shoes.cat", want: "shoes.cat"},
		{name: "spaces in the list", params: Params{"suffixPath": "x", "attributeCodes": "[ url_key , url_path ]", "entityTypeCode": "catalog_category"}, set: attr(uint64(43)), in: "a.html", want: "a"},
	})
	if n := reads.Load(); n != 3 {
		t.Errorf("read %d tables, want 3 (core_config_data, eav_attribute, eav_entity_type once each)", n)
	}
	for _, ref := range env.Lookups.Tables() {
		if ref.Side != SideSource {
			t.Errorf("looked up %v, want the source only", ref)
		}
	}

	// The default suffix: no row, an empty one, NULL, "0".
	for _, v := range []any{"", nil, "0", "none"} {
		config = [][]any{{int64(1), "default", int64(0), "catalog/seo/product_url_suffix", v}}
		if v == "none" {
			config = nil
		}
		env := serialEAV(&config, &reads)
		serialRun(t, "TruncateSuffix", serialProductVarchar, "value", env, []serialCase{
			{name: "default .html", params: product, set: attr(uint64(97)), in: "shoes.html", want: "shoes"},
		})
	}

	// Only a store's row: it is used.
	config = [][]any{{int64(1), "stores", int64(2), "catalog/seo/product_url_suffix", ".htm"}}
	serialRun(t, "TruncateSuffix", serialProductVarchar, "value", serialEAV(&config, &reads), []serialCase{
		{name: "store row", params: product, set: attr(uint64(97)), in: "shoes.htm", want: "shoes"},
	})

	warned := serialWarnings(t)
	serialRun(t, "TruncateSuffix", serialProductVarchar, "value", serialEAV(&config, &reads), []serialCase{
		{name: "unknown entity type", params: Params{"suffixPath": "x", "attributeCodes": "[url_key]", "entityTypeCode": "catalog_products"},
			set: attr(uint64(97)), in: "a.html", wantErr: `entity type "catalog_products"`},
		{name: "no attribute known", params: Params{"suffixPath": "x", "attributeCodes": "[urlkey,urlpath]", "entityTypeCode": "catalog_product"},
			set: attr(uint64(97)), in: "a.html", wantErr: "none of the attributes urlkey, urlpath"},
		{name: "some attributes known", params: Params{"suffixPath": "x", "attributeCodes": "[url_key,url_paths]", "entityTypeCode": "catalog_product"},
			set: attr(uint64(97)), in: "a.html", want: "a"},
	})
	if len(*warned) != 1 || !strings.Contains((*warned)[0], "not in the source's eav_attribute") {
		t.Errorf("warnings %q, want one naming the unknown attribute", *warned)
	}

	serialBindErrors(t, "TruncateSuffix", serialProductVarchar, "value", env, []hdlParamCase{
		{Params{"suffixPath": "x", "attributeCodes": "[url_key]"}, "", "'entityTypeCode' is required"},
		{Params{"suffixPath": "x", "attributeCodes": "[]", "entityTypeCode": "catalog_product"}, "", "'attributeCodes' names no attribute"},
		{Params{"suffixPath": "x", "attributeCodes": "[url_key]", "entityTypeCode": "catalog_product", "suffix": ".html"}, "", "'suffix' goes alone"},
	})
	serialBindErrors(t, "TruncateSuffix", serialOrderItem, "product_options", env, []hdlParamCase{{product, "", "attribute_id"}})
	serialBindErrors(t, "TruncateSuffix", serialProductVarchar, "value", nil, []hdlParamCase{{product, "", "without a database connection"}})
}

// TestTruncateSuffixReadsAgainAfterInvalidate: a changed suffix setting is
// seen once the stream invalidates core_config_data, and not before.
func TestTruncateSuffixReadsAgainAfterInvalidate(t *testing.T) {
	config := [][]any{{int64(1), "default", int64(0), "catalog/seo/product_url_suffix", ".html"}}
	var reads atomic.Int64
	env := serialEAV(&config, &reads)
	f, _ := LookupHandler(`\Migration\Handler\TruncateSuffix`)
	idx := serialProductVarchar.ColumnIndex("value")
	fn, err := f(Params{"suffixPath": "catalog/seo/product_url_suffix", "attributeCodes": "[url_key]", "entityTypeCode": "catalog_product"},
		Binding{Area: "source", Table: serialProductVarchar.Name, Field: "value", Index: idx, Column: serialProductVarchar.Columns[idx], Rec: serialProductVarchar, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if !env.Lookups.Watches(SideSource, "core_config_data") || !env.Lookups.Watches(SideSource, "eav_attribute") || !env.Lookups.Watches(SideSource, "eav_entity_type") {
		t.Fatalf("tables not registered at bind time: %v", env.Lookups.Tables())
	}
	run := func(in string) any {
		rec := []any{int64(1), uint64(4), uint64(97), uint64(0), uint64(1), in}
		if err := fn(rec, nil); err != nil {
			t.Fatal(err)
		}
		return rec[idx]
	}
	for range 100 {
		if got := run("a.html"); got != "a" {
			t.Fatalf("got %#v", got)
		}
	}
	// Workers share the handler.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 50 {
				rec := []any{int64(1), uint64(4), uint64(97), uint64(0), uint64(1), "b.html"}
				if err := fn(rec, nil); err != nil || rec[idx] != "b" {
					errs <- fmt.Errorf("%v %#v", err, rec[idx])
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	config = [][]any{{int64(1), "default", int64(0), "catalog/seo/product_url_suffix", ".htm"}}
	if got := run("a.htm"); got != "a.htm" || reads.Load() != 3 {
		t.Fatalf("before Invalidate: %#v after %d reads, want the kept rows used", got, reads.Load())
	}
	env.Lookups.Invalidate(SideSource, "core_config_data")
	if got := run("a.htm"); got != "a" || reads.Load() != 4 {
		t.Fatalf("after Invalidate: %#v after %d reads, want the new suffix read once", got, reads.Load())
	}
}

// TestSerialStockUses binds every use of this file's handlers and of
// TruncateSuffix in the reference's stock map.xml.dist (1.9.4.5) and
// settings.xml.dist, with their stock params, and runs each once on a
// Magento 1 record.
func TestSerialStockUses(t *testing.T) {
	dir := filepath.Join(magentoFixturesDir(t), "dmt", "etc", "opensource-to-opensource")
	m, err := ReadMap(filepath.Join(dir, "1.9.4.5", "map.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	config := [][]any{{int64(4), "default", int64(0), "catalog/seo/product_url_suffix", ".html"}}
	var reads atomic.Int64
	env := serialEAV(&config, &reads)
	option := &cdc.Table{Name: "wishlist_item_option", Columns: append([]cdc.Column{}, serialQuoteOption.Columns...)}
	option.Columns[1].Name = "wishlist_item_id"
	tables := map[string]*cdc.Table{
		"sales_flat_quote_item_option":    serialQuoteOption,
		"wishlist_item_option":            option,
		"sales_flat_order_item":           serialOrderItem,
		"catalog_product_entity_varchar":  serialProductVarchar,
		"catalog_category_entity_varchar": {Name: "catalog_category_entity_varchar", Columns: serialProductVarchar.Columns},
	}
	// A record of each table the handlers change, and what they make of it.
	recs := map[string]struct {
		set      map[string]any
		in, want any
	}{
		"sales_flat_quote_item_option":    {map[string]any{"code": "info_buyRequest"}, `a:1:{s:3:"qty";i:1;}`, `{"qty":1}`},
		"wishlist_item_option":            {map[string]any{"code": "option_1"}, `a:1:{s:3:"qty";i:1;}`, `{"qty":1}`},
		"sales_flat_order_item":           {nil, `a:1:{s:3:"qty";i:1;}`, `{"qty":1}`},
		"catalog_product_entity_varchar":  {map[string]any{"attribute_id": uint64(98)}, "men/shoes.html", "men/shoes"},
		"catalog_category_entity_varchar": {map[string]any{"attribute_id": uint64(57)}, "men.html", "men"},
	}
	mine := map[string]int{}
	for _, tr := range m.Source.Transforms {
		name := canonicalHandlerName(tr.Handler.Name)
		if !strings.HasPrefix(name, `serializetojson\`) && name != "truncatesuffix" {
			continue
		}
		mine[name]++
		table, field, _ := strings.Cut(tr.Field, ".")
		tbl := tables[table]
		if tbl == nil {
			t.Fatalf("%s on %s: no test table", tr.Handler.Name, tr.Field)
		}
		p := Params{}
		for _, prm := range tr.Handler.Params {
			p[prm.Name] = prm.Value
		}
		f, _ := LookupHandler(tr.Handler.Name)
		idx := tbl.ColumnIndex(field)
		fn, err := f(p, Binding{Area: "source", Table: table, Field: field, Index: idx, Column: tbl.Columns[idx], Rec: tbl, Env: env})
		if err != nil {
			t.Errorf("%s on %s: %v", tr.Handler.Name, tr.Field, err)
			continue
		}
		r := recs[table]
		rec := make([]any, len(tbl.Columns))
		for k, v := range r.set {
			rec[tbl.ColumnIndex(k)] = v
		}
		rec[idx] = r.in
		want := r.want
		if (name == `serializetojson\convertwithconditions` && table == "wishlist_item_option") ||
			(name == `serializetojson\itemoption` && table == "sales_flat_quote_item_option") {
			want = r.in // the record's code is the other handler's
		}
		if err := fn(rec, nil); err != nil {
			t.Errorf("%s on %s: %v", tr.Handler.Name, tr.Field, err)
		} else if rec[idx] != want {
			t.Errorf("%s on %s: %#v, want %#v", tr.Handler.Name, tr.Field, rec[idx], want)
		}
	}
	want := map[string]int{`serializetojson\convertwithconditions`: 2, `serializetojson\itemoption`: 2, `serializetojson\salesorderitem`: 1, "truncatesuffix": 2}
	if fmt.Sprint(mine) != fmt.Sprint(want) {
		t.Errorf("stock uses %v, want %v", mine, want)
	}

	s, err := ReadSettings(filepath.Join(dir, "settings.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, tr := range s.Transforms {
		if canonicalHandlerName(tr.Handler.Name) != `settings\urlsuffix` {
			continue
		}
		paths = append(paths, tr.Path)
		f, _ := LookupHandler(tr.Handler.Name)
		fn, err := f(Params{}, Binding{Area: "destination", Table: "core_config_data", Field: "value", Index: 3, Column: serialConfig.Columns[3], Rec: serialConfig})
		if err != nil {
			t.Fatalf("UrlSuffix on %s: %v", tr.Path, err)
		}
		rec := []any{"default", int64(0), tr.Path, "phtml"} // resource/default/source.sql
		if err := fn(rec, nil); err != nil || rec[3] != ".phtml" {
			t.Errorf("UrlSuffix on %s: %v %#v", tr.Path, err, rec[3])
		}
	}
	if strings.Join(paths, ",") != "catalog/seo/category_url_suffix,catalog/seo/product_url_suffix" {
		t.Errorf("UrlSuffix paths %v", paths)
	}
}
