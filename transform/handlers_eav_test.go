package transform

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// eavFixtureRows reads the rows of table from one of the reference's
// integration-test databases (dmt/tests/integration/resource/<step>/<file>):
// the INSERT statements with a column list, as LookupRows in canonical
// values (integers int64, text string, NULL nil).
func eavFixtureRows(t *testing.T, step, file, table string) *LookupRows {
	t.Helper()
	path := filepath.Join(magentoFixturesDir(t), "dmt", "tests", "integration", "resource", step, file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	var out *LookupRows
	head := "INSERT INTO `" + table + "`"
	for {
		i := strings.Index(src, head)
		if i < 0 {
			break
		}
		p := &eavSQL{s: src[i+len(head):]}
		cols, rows, err := p.insert()
		if err != nil {
			t.Fatalf("%s: INSERT INTO %s: %v", path, table, err)
		}
		if out == nil {
			out = NewLookupRows(cols, nil)
		} else if strings.Join(cols, ",") != strings.Join(out.Columns, ",") {
			t.Fatalf("%s: INSERT INTO %s with other columns", path, table)
		}
		out.Rows = append(out.Rows, rows...)
		src = p.s
	}
	if out == nil {
		t.Fatalf("%s has no rows of %s", path, table)
	}
	return out
}

// eavSQL parses the tail of one INSERT statement of a mysqldump file.
type eavSQL struct{ s string }

func (p *eavSQL) skip() { p.s = strings.TrimLeft(p.s, " \t\r\n") }

func (p *eavSQL) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s, tok) {
		p.s = p.s[len(tok):]
		return true
	}
	return false
}

func (p *eavSQL) insert() ([]string, [][]any, error) {
	if !p.eat("(") {
		return nil, nil, errors.New("no column list")
	}
	var cols []string
	for {
		p.skip()
		if !strings.HasPrefix(p.s, "`") {
			return nil, nil, errors.New("bad column list")
		}
		end := strings.IndexByte(p.s[1:], '`')
		cols = append(cols, p.s[1:end+1])
		p.s = p.s[end+2:]
		if p.eat(")") {
			break
		}
		if !p.eat(",") {
			return nil, nil, errors.New("bad column list")
		}
	}
	if !p.eat("VALUES") {
		return nil, nil, errors.New("no VALUES")
	}
	var rows [][]any
	for {
		if !p.eat("(") {
			return nil, nil, errors.New("no row")
		}
		var row []any
		for {
			v, err := p.value()
			if err != nil {
				return nil, nil, err
			}
			row = append(row, v)
			if p.eat(")") {
				break
			}
			if !p.eat(",") {
				return nil, nil, errors.New("bad row")
			}
		}
		if len(row) != len(cols) {
			return nil, nil, errors.New("row and column list differ in length")
		}
		rows = append(rows, row)
		if p.eat(";") {
			return cols, rows, nil
		}
		if !p.eat(",") {
			return nil, nil, errors.New("rows not separated by ','")
		}
	}
}

func (p *eavSQL) value() (any, error) {
	p.skip()
	if p.eat("NULL") {
		return nil, nil
	}
	if strings.HasPrefix(p.s, "'") {
		var b strings.Builder
		for i := 1; i < len(p.s); i++ {
			switch c := p.s[i]; c {
			case '\\':
				i++
				b.WriteByte(p.s[i])
			case '\'':
				if i+1 < len(p.s) && p.s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				p.s = p.s[i+1:]
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return nil, errors.New("unterminated string")
	}
	n := strings.IndexAny(p.s, ",)")
	if n < 0 {
		return nil, errors.New("bad value")
	}
	tok := strings.TrimSpace(p.s[:n])
	p.s = p.s[n:]
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return i, nil
	}
	return tok, nil
}

// eavLookups serves the given tables and counts the reads of each.
type eavLookups struct {
	mu     sync.Mutex
	tables map[LookupRef]*LookupRows
	reads  map[LookupRef]int
}

func (e *eavLookups) load(side, table string) (*LookupRows, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ref := LookupRef{Side: side, Table: table}
	e.reads[ref]++
	rows, ok := e.tables[ref]
	if !ok {
		return nil, errors.New("no such table")
	}
	// A fresh copy, as a new read would be (indexes are built per copy).
	return NewLookupRows(rows.Columns, rows.Rows), nil
}

// eavMagento1 is the source side of the reference's customer-step test
// database: its 135 eav_attribute rows and eight entity types. Magento 1's
// stock product attributes have no multiselect, so one user-defined
// multiselect product attribute (136, "material", as a shop would add) is
// appended.
func eavMagento1(t *testing.T) *eavLookups {
	t.Helper()
	attrs := eavFixtureRows(t, "customer", "source.sql", "eav_attribute")
	if len(attrs.Rows) != 135 {
		t.Fatalf("customer/source.sql: %d eav_attribute rows read, want 135", len(attrs.Rows))
	}
	extra := make([]any, len(attrs.Columns))
	for k, v := range map[string]any{"attribute_id": int64(136), "entity_type_id": int64(4), "attribute_code": "material",
		"backend_type": "varchar", "frontend_input": "multiselect", "frontend_label": "Material", "is_user_defined": int64(1),
		"is_required": int64(0), "is_unique": int64(0)} {
		extra[attrs.Col(k)] = v
	}
	attrs.Rows = append(attrs.Rows, extra)
	return &eavLookups{reads: map[LookupRef]int{}, tables: map[LookupRef]*LookupRows{
		{SideSource, "eav_attribute"}:   attrs,
		{SideSource, "eav_entity_type"}: eavFixtureRows(t, "customer", "source.sql", "eav_entity_type"),
		// Bundle relations (columns of Magento 1's schema): option 1 and
		// 2 of bundle product 447, option 3 orphaned (parent_id 0);
		// selections 10 and 11 of product 447, 12 of product 0.
		{SideSource, "catalog_product_bundle_option"}: NewLookupRows(
			[]string{"option_id", "parent_id", "required", "position", "type"}, [][]any{
				{int64(1), int64(447), int64(1), int64(0), "select"},
				{int64(2), int64(447), int64(0), int64(1), "checkbox"},
				{int64(3), int64(0), int64(0), int64(0), "radio"},
			}),
		{SideSource, "catalog_product_bundle_selection"}: NewLookupRows(
			[]string{"selection_id", "option_id", "parent_product_id", "product_id", "position", "is_default"}, [][]any{
				{int64(10), int64(1), int64(447), int64(374), int64(0), int64(1)},
				{int64(11), int64(2), int64(447), int64(375), int64(1), int64(0)},
				{int64(12), int64(3), int64(0), int64(376), int64(0), int64(0)},
			}),
	}}
}

// Tables of the records the handlers get (columns of the real schemas).
var (
	eavCategoryVarchar = eavTable("catalog_category_entity_varchar", "value_id:int", "entity_type_id:smallint", "attribute_id:smallint", "store_id:smallint", "entity_id:int", "value:varchar")
	eavProductText     = eavTable("catalog_product_entity_text", "value_id:int", "entity_type_id:smallint", "attribute_id:smallint", "store_id:smallint", "entity_id:int", "value:text")
	eavCustomerAttr    = eavTable("customer_eav_attribute", "attribute_id:smallint", "is_visible:smallint", "input_filter:varchar", "multiline_count:smallint", "validate_rules:text")
	eavCatalogAttr     = eavTable("catalog_eav_attribute", "attribute_id:smallint", "is_global:smallint", "apply_to:varchar", "is_configurable:smallint")
	eavCatalogAttr2    = eavTable("catalog_eav_attribute", "attribute_id:smallint", "is_global:smallint", "apply_to:varchar")
	eavAttribute       = eavTable("eav_attribute", "attribute_id:smallint", "entity_type_id:smallint", "attribute_code:varchar", "backend_type:varchar", "frontend_input:varchar", "is_user_defined:smallint")
	eavGroup2          = eavTable("eav_attribute_group", "attribute_group_id:smallint", "attribute_set_id:smallint", "attribute_group_name:varchar", "sort_order:smallint", "default_id:smallint", "attribute_group_code:varchar", "tab_group_code:varchar")
	eavOptionValue2    = eavTable("catalog_product_bundle_option_value", "value_id:int", "option_id:int", "store_id:smallint", "title:varchar", "parent_product_id:int")
	eavSelPrice2       = eavTable("catalog_product_bundle_selection_price", "selection_id:int", "website_id:smallint", "selection_price_type:smallint", "selection_price_value:decimal", "parent_product_id:int")
)

func eavTable(name string, cols ...string) *cdc.Table {
	t := &cdc.Table{Name: name, Key: []int{0}}
	for _, c := range cols {
		n, typ, _ := strings.Cut(c, ":")
		t.Columns = append(t.Columns, cdc.Column{Name: n, DataType: typ})
	}
	return t
}

// eavCase is one record through one bound handler.
type eavCase struct {
	name   string
	set    map[string]any // fields of rec
	other  map[string]any // fields of the opposite record
	want   any            // the field after the handler
	runErr string         // wanted run-time error
}

// eavRun binds handler on table.field (area "source" unless the binding
// says otherwise) with lookups l and runs the cases.
func eavRun(t *testing.T, handler string, p Params, b Binding, l *Lookups, cases []eavCase) {
	t.Helper()
	f, ok := LookupHandler(handler)
	if !ok {
		t.Fatalf("handler %s is not registered", handler)
	}
	b.Env = &HandlerEnv{Lookups: l}
	fn, err := f(p, b)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := make([]any, len(b.Rec.Columns))
			for k, v := range tc.set {
				i := b.Rec.ColumnIndex(k)
				if i < 0 {
					t.Fatalf("no field %s", k)
				}
				rec[i] = v
			}
			var other []any
			if b.Other != nil {
				other = make([]any, len(b.Other.Columns))
				for k, v := range tc.other {
					other[b.Other.ColumnIndex(k)] = v
				}
			}
			err := fn(rec, other)
			if tc.runErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.runErr) {
					t.Fatalf("error %v, want %q", err, tc.runErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !hdlEqual(rec[b.Index], tc.want) {
				t.Errorf("%s = %#v, want %#v", b.Field, rec[b.Index], tc.want)
			}
		})
	}
}

func eavBind(area string, rec, other *cdc.Table, field string) Binding {
	i := rec.ColumnIndex(field)
	return Binding{Area: area, Table: rec.Name, Field: field, Index: i, Column: rec.Columns[i], Rec: rec, Other: other}
}

func TestSetValueAttributeCondition(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	// catalog_category_entity_varchar.value, custom_design -> NULL (map.xml.dist)
	eavRun(t, "SetValueAttributeCondition", Params{"attributeCode": "custom_design", "value": "NULL"},
		eavBind("source", eavCategoryVarchar, nil, "value"), l, []eavCase{
			{name: "category custom_design (58)", set: map[string]any{"attribute_id": int64(58), "value": "default/modern"}, want: nil},
			{name: "product custom_design (103): any entity type's attribute of the code", set: map[string]any{"attribute_id": int64(103), "value": "default/modern"}, want: nil},
			{name: "url_path (57) is another attribute", set: map[string]any{"attribute_id": int64(57), "value": "shoes.html"}, want: "shoes.html"},
			{name: "unknown attribute", set: map[string]any{"attribute_id": int64(9999), "value": "x"}, want: "x"},
			{name: "NULL attribute_id", set: map[string]any{"value": "x"}, want: "x"},
			{name: "attribute_id as text", set: map[string]any{"attribute_id": "58", "value": "x"}, want: nil},
		})
	// customer_eav_attribute.is_visible, middlename -> "0" (map-eav.xml.dist)
	eavRun(t, "\\Migration\\Handler\\SetValueAttributeCondition", Params{"attributeCode": "middlename", "value": "0"},
		eavBind("source", eavCustomerAttr, nil, "is_visible"), l, []eavCase{
			{name: "customer middlename (6)", set: map[string]any{"attribute_id": int64(6), "is_visible": int64(1)}, want: "0"},
			{name: "address middlename (21)", set: map[string]any{"attribute_id": int64(21), "is_visible": int64(1)}, want: "0"},
			{name: "firstname (5)", set: map[string]any{"attribute_id": int64(5), "is_visible": int64(1)}, want: int64(1)},
		})
	// customer_eav_attribute.input_filter, created_at -> NULL; "null" in any case
	eavRun(t, "SetValueAttributeCondition", Params{"attributeCode": "created_at", "value": "null"},
		eavBind("source", eavCustomerAttr, nil, "input_filter"), l, []eavCase{
			{name: "created_at (17)", set: map[string]any{"attribute_id": int64(17), "input_filter": "datetime"}, want: nil},
			{name: "dob (11)", set: map[string]any{"attribute_id": int64(11), "input_filter": "date"}, want: "date"},
		})
	if n := m1.reads[LookupRef{SideSource, "eav_attribute"}]; n != 1 {
		t.Errorf("eav_attribute read %d times for all rows of three bindings, want once", n)
	}
	if !l.Watches(SideSource, "eav_attribute") {
		t.Error("the binding did not register the source eav_attribute")
	}

	// The table is read again after the stream invalidates it: an
	// attribute renamed in the source is followed.
	b := eavBind("source", eavCategoryVarchar, nil, "value")
	b.Env = &HandlerEnv{Lookups: l}
	fn, err := newSetValueAttributeCondition(Params{"attributeCode": "custom_design", "value": "NULL"}, b)
	if err != nil {
		t.Fatal(err)
	}
	attrs := m1.tables[LookupRef{SideSource, "eav_attribute"}]
	row := attrs.Find([]string{"attribute_id"}, "57")[0]
	renamed := append([]any(nil), attrs.Rows[row]...)
	renamed[attrs.Col("attribute_code")] = "custom_design"
	rows := append(append([][]any(nil), attrs.Rows[:row]...), renamed)
	m1.tables[LookupRef{SideSource, "eav_attribute"}] = NewLookupRows(attrs.Columns, append(rows, attrs.Rows[row+1:]...))
	rec := []any{int64(1), int64(3), int64(57), int64(0), int64(5), "x"}
	if err := fn(rec, nil); err != nil || rec[5] != "x" {
		t.Fatalf("before the invalidation: %v %#v, want the cached rows", err, rec[5])
	}
	l.Invalidate(SideSource, "eav_attribute")
	if err := fn(rec, nil); err != nil || rec[5] != nil {
		t.Fatalf("after the invalidation: %v %#v, want NULL", err, rec[5])
	}
}

// TestEavHandlerBindErrors: bad params, a record without the fields the
// handler reads, and a plan without a database are refused when binding.
func TestEavHandlerBindErrors(t *testing.T) {
	l := NewLookups(eavMagento1(t).load)
	withEnv := func(b Binding, env *HandlerEnv) Binding { b.Env = env; return b }
	env := &HandlerEnv{Lookups: l}
	cases := []struct {
		handler string
		p       Params
		b       Binding
		want    string
	}{
		{"SetValueAttributeCondition", Params{"value": "1"}, eavBind("source", eavCustomerAttr, nil, "is_visible"), "param 'attributeCode' is required"},
		{"SetValueAttributeCondition", Params{"attributeCode": "x"}, eavBind("source", eavCustomerAttr, nil, "is_visible"), "param 'value' is required"},
		{"SetValueAttributeCondition", Params{"attributeCode": "x", "value": "1", "valeu": "2"}, eavBind("source", eavCustomerAttr, nil, "is_visible"), "unknown param 'valeu'"},
		{"SetValueAttributeCondition", Params{"attributeCode": "x", "value": "1"}, eavBind("source", eavGroup2, nil, "sort_order"), "attribute_id"},
		{"CleanMultiselect", Params{"x": "1"}, eavBind("source", eavProductText, nil, "value"), "unknown param 'x'"},
		{"CleanMultiselect", nil, eavBind("source", eavGroup2, nil, "attribute_group_name"), "attribute_id"},
		{"ConvertEavValue", Params{"map": "[a:b]"}, eavBind("source", eavCategoryVarchar, nil, "value"), "param 'attributeCode' is required"},
		{"ConvertEavValue", Params{"map": "[a:b:c]", "attributeCode": "page_layout"}, eavBind("source", eavCategoryVarchar, nil, "value"), "param 'map'"},
		{"ConvertEavValue", Params{"map": "[a:b;c]", "attributeCode": "page_layout"}, eavBind("source", eavCategoryVarchar, nil, "value"), "param 'map'"},
		{`EavAttribute\ApplyTo`, nil, eavBind("destination", eavCatalogAttr2, eavCatalogAttr, "apply_to"), "source area only"},
		{`EavAttribute\ApplyTo`, Params{"x": ""}, eavBind("source", eavCatalogAttr, eavCatalogAttr2, "apply_to"), "unknown param"},
		{`EavAttribute\BackendTypeForMultiselect`, nil, eavBind("source", eavCustomerAttr, nil, "input_filter"), "frontend_input"},
		{`EavAttributeGroup\SetGroupCode`, nil, eavBind("destination", eavAttribute, nil, "attribute_code"), "attribute_group_name"},
		{"BundleParentProduct", Params{"parentField": "option_id", "documentWithProductId": "catalog_product_bundle_option"}, eavBind("destination", eavOptionValue2, nil, "parent_product_id"), "param 'fieldWithProductId' is required"},
		{"BundleParentProduct", Params{"parentField": "selection_id", "documentWithProductId": "catalog_product_bundle_option", "fieldWithProductId": "parent_id"}, eavBind("destination", eavOptionValue2, nil, "parent_product_id"), "param 'parentField'"},
		{"BundleParentProduct", Params{"parentField": "option_id", "documentWithProductId": " ", "fieldWithProductId": "parent_id"}, eavBind("destination", eavOptionValue2, nil, "parent_product_id"), "param 'documentWithProductId' is empty"},
	}
	for _, tc := range cases {
		f, _ := LookupHandler(tc.handler)
		if _, err := f(tc.p, withEnv(tc.b, env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v on %s.%s: error %v, want %q", tc.handler, tc.p, tc.b.Table, tc.b.Field, err, tc.want)
		}
	}
	// Without a database every lookup handler says so.
	noDB := []struct {
		handler string
		p       Params
		b       Binding
	}{
		{"SetValueAttributeCondition", Params{"attributeCode": "x", "value": "1"}, eavBind("source", eavCustomerAttr, nil, "is_visible")},
		{"CleanMultiselect", nil, eavBind("source", eavProductText, nil, "value")},
		{"ConvertEavValue", Params{"map": "[a:b]", "attributeCode": "page_layout"}, eavBind("source", eavCategoryVarchar, nil, "value")},
		{`EavAttribute\ApplyTo`, nil, eavBind("source", eavCatalogAttr, eavCatalogAttr2, "apply_to")},
		{`EavAttribute\BackendTypeForMultiselect`, nil, eavBind("source", eavAttribute, nil, "backend_type")},
		{"BundleParentProduct", Params{"parentField": "option_id", "documentWithProductId": "catalog_product_bundle_option", "fieldWithProductId": "parent_id"}, eavBind("destination", eavOptionValue2, nil, "parent_product_id")},
	}
	for _, tc := range noDB {
		f, _ := LookupHandler(tc.handler)
		if _, err := f(tc.p, withEnv(tc.b, &HandlerEnv{})); err == nil || !strings.Contains(err.Error(), "without a database") {
			t.Errorf("%s without lookups: error %v", tc.handler, err)
		}
	}
	// SetGroupCode reads no table: it binds without a database.
	f, _ := LookupHandler(`EavAttributeGroup\SetGroupCode`)
	if _, err := f(nil, withEnv(eavBind("destination", eavGroup2, nil, "attribute_group_code"), &HandlerEnv{})); err != nil {
		t.Errorf("SetGroupCode without lookups: %v", err)
	}
}

// TestEavLookupFailures: a looked-up table that cannot be read, or lacks a
// column the handler compares, fails the row instead of passing it through.
func TestEavLookupFailures(t *testing.T) {
	broken := NewLookups(func(side, table string) (*LookupRows, error) {
		if table == "eav_entity_type" {
			return NewLookupRows([]string{"entity_type_id", "entity_type_code"}, [][]any{{int64(4), "catalog_product"}}), nil
		}
		if table == "catalog_product_bundle_option" {
			return NewLookupRows([]string{"option_id", "parentid"}, [][]any{{int64(1), int64(447)}}), nil
		}
		if side == SideSource && table == "eav_attribute" {
			return NewLookupRows([]string{"attribute_id", "code"}, [][]any{{int64(58), "custom_design"}}), nil
		}
		return nil, errors.New("connection refused")
	})
	down := NewLookups(func(side, table string) (*LookupRows, error) { return nil, errors.New("connection refused") })
	eavRun(t, "SetValueAttributeCondition", Params{"attributeCode": "custom_design", "value": "NULL"},
		eavBind("source", eavCategoryVarchar, nil, "value"), broken, []eavCase{
			{name: "no attribute_code column", set: map[string]any{"attribute_id": int64(58)}, runErr: "source table eav_attribute has no column attribute_code"},
		})
	eavRun(t, "ConvertEavValue", Params{"map": "[a:b]", "attributeCode": "page_layout"},
		eavBind("source", eavCategoryVarchar, nil, "value"), down, []eavCase{
			{name: "unreadable", set: map[string]any{"attribute_id": int64(61), "value": "a"}, runErr: "connection refused"},
		})
	eavRun(t, "CleanMultiselect", nil, eavBind("source", eavProductText, nil, "value"), broken, []eavCase{
		{name: "no frontend_input column", set: map[string]any{"attribute_id": int64(58), "value": "1,,2"}, runErr: "no column entity_type_id"},
	})
	eavRun(t, `EavAttribute\ApplyTo`, nil, eavBind("source", eavCatalogAttr, eavCatalogAttr2, "apply_to"), broken, []eavCase{
		{name: "no is_user_defined column", set: map[string]any{"attribute_id": int64(58)}, runErr: "no column is_user_defined"},
	})
	eavRun(t, `EavAttribute\BackendTypeForMultiselect`, nil, eavBind("source", eavAttribute, nil, "backend_type"), down, []eavCase{
		{name: "unreadable", set: map[string]any{"frontend_input": "multiselect", "entity_type_id": int64(4)}, runErr: "connection refused"},
	})
	eavRun(t, "BundleParentProduct", Params{"parentField": "option_id", "documentWithProductId": "catalog_product_bundle_option", "fieldWithProductId": "parent_id"},
		eavBind("destination", eavOptionValue2, nil, "parent_product_id"), broken, []eavCase{
			{name: "no parent_id column", set: map[string]any{"option_id": int64(1)}, runErr: "source table catalog_product_bundle_option has no column parent_id"},
		})
}

func TestConvertEavValue(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	// As map.xml.dist has it on catalog_category_entity_varchar.value and
	// catalog_product_entity_varchar.value.
	stock := Params{"map": "[one_column:1column;two_columns_left:2columns-left;two_columns_right:2columns-right;three_columns:3columns]", "attributeCode": "page_layout"}
	eavRun(t, "ConvertEavValue", stock, eavBind("source", eavCategoryVarchar, nil, "value"), l, []eavCase{
		{name: "category page_layout (61)", set: map[string]any{"attribute_id": int64(61), "value": "one_column"}, want: "1column"},
		{name: "product page_layout (107)", set: map[string]any{"attribute_id": int64(107), "value": "three_columns"}, want: "3columns"},
		{name: "two_columns_left", set: map[string]any{"attribute_id": int64(61), "value": "two_columns_left"}, want: "2columns-left"},
		{name: "value not in the map stays", set: map[string]any{"attribute_id": int64(61), "value": "empty"}, want: "empty"},
		{name: "already converted stays", set: map[string]any{"attribute_id": int64(61), "value": "1column"}, want: "1column"},
		{name: "case matters", set: map[string]any{"attribute_id": int64(61), "value": "ONE_COLUMN"}, want: "ONE_COLUMN"},
		{name: "empty stays", set: map[string]any{"attribute_id": int64(61), "value": ""}, want: ""},
		{name: "NULL stays", set: map[string]any{"attribute_id": int64(61)}, want: nil},
		{name: "other attribute: custom_design (58)", set: map[string]any{"attribute_id": int64(58), "value": "one_column"}, want: "one_column"},
		{name: "unknown attribute", set: map[string]any{"attribute_id": int64(4040), "value": "one_column"}, want: "one_column"},
		{name: "NULL attribute_id", set: map[string]any{"value": "one_column"}, want: "one_column"},
	})
	// Records are trimmed; the empty key is what NULL looks up (PHP's
	// isset($map[null])).
	eavRun(t, "ConvertEavValue", Params{"map": "[ :none; one_column:1column ]", "attributeCode": "page_layout"},
		eavBind("source", eavCategoryVarchar, nil, "value"), l, []eavCase{
			{name: "NULL takes the empty key", set: map[string]any{"attribute_id": int64(61)}, want: "none"},
			{name: "empty takes the empty key", set: map[string]any{"attribute_id": int64(107), "value": ""}, want: "none"},
			{name: "trimmed record", set: map[string]any{"attribute_id": int64(61), "value": "one_column"}, want: "1column"},
		})
	// An attribute code the source does not have changes nothing.
	eavRun(t, "ConvertEavValue", Params{"map": "[a:b]", "attributeCode": "no_such_attribute"},
		eavBind("source", eavCategoryVarchar, nil, "value"), l, []eavCase{
			{name: "unknown code", set: map[string]any{"attribute_id": int64(61), "value": "a"}, want: "a"},
		})
	if n := m1.reads[LookupRef{SideSource, "eav_attribute"}]; n != 1 {
		t.Errorf("eav_attribute read %d times, want once", n)
	}
}

func TestCleanMultiselect(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	for _, tb := range []*cdc.Table{eavProductText, eavTable("catalog_product_entity_varchar", "value_id:int", "entity_type_id:smallint", "attribute_id:smallint", "store_id:smallint", "entity_id:int", "value:varchar")} {
		eavRun(t, "CleanMultiselect", nil, eavBind("source", tb, nil, "value"), l, []eavCase{
			{name: tb.Name + " empty items", set: map[string]any{"attribute_id": int64(136), "value": "24,,,41,,"}, want: "24,41"},
			{name: tb.Name + " leading commas", set: map[string]any{"attribute_id": int64(136), "value": ",,7"}, want: "7"},
			{name: tb.Name + " clean list stays", set: map[string]any{"attribute_id": int64(136), "value": "3,5,8"}, want: "3,5,8"},
			{name: tb.Name + " 0 items dropped (array_filter)", set: map[string]any{"attribute_id": int64(136), "value": "0,5,0"}, want: "5"},
			{name: tb.Name + " 00 and spaces kept", set: map[string]any{"attribute_id": int64(136), "value": "00, ,5"}, want: "00, ,5"},
			{name: tb.Name + " only commas", set: map[string]any{"attribute_id": int64(136), "value": ",,,"}, want: ""},
			{name: tb.Name + " NULL becomes empty", set: map[string]any{"attribute_id": int64(136)}, want: ""},
			{name: tb.Name + " 0 becomes empty", set: map[string]any{"attribute_id": int64(136), "value": "0"}, want: ""},
			{name: tb.Name + " bytes", set: map[string]any{"attribute_id": int64(136), "value": []byte("1,,2")}, want: "1,2"},
			{name: tb.Name + " category multiselect (65) is not a product's", set: map[string]any{"attribute_id": int64(65), "value": "name,,price"}, want: "name,,price"},
			{name: tb.Name + " product select color (92)", set: map[string]any{"attribute_id": int64(92), "value": "1,,2"}, want: "1,,2"},
			{name: tb.Name + " product text description (72)", set: map[string]any{"attribute_id": int64(72), "value": "a,,b"}, want: "a,,b"},
			{name: tb.Name + " unknown attribute", set: map[string]any{"attribute_id": int64(777), "value": "1,,2"}, want: "1,,2"},
			{name: tb.Name + " NULL attribute_id", set: map[string]any{"value": "1,,2"}, want: "1,,2"},
		})
	}
	for _, ref := range []LookupRef{{SideSource, "eav_attribute"}, {SideSource, "eav_entity_type"}} {
		if n := m1.reads[ref]; n != 1 {
			t.Errorf("%s read %d times, want once", ref.Table, n)
		}
	}
}

func TestEavBackendTypeForMultiselect(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	eavRun(t, `EavAttribute\BackendTypeForMultiselect`, nil, eavBind("source", eavAttribute, nil, "backend_type"), l, []eavCase{
		{name: "product multiselect (136)", set: map[string]any{"attribute_id": int64(136), "entity_type_id": int64(4), "frontend_input": "multiselect", "backend_type": "text"}, want: "varchar"},
		{name: "product multiselect already varchar", set: map[string]any{"attribute_id": int64(136), "entity_type_id": int64(4), "frontend_input": "multiselect", "backend_type": "varchar"}, want: "varchar"},
		{name: "category multiselect available_sort_by (65)", set: map[string]any{"attribute_id": int64(65), "entity_type_id": int64(3), "frontend_input": "multiselect", "backend_type": "text"}, want: "text"},
		{name: "product select color (92)", set: map[string]any{"attribute_id": int64(92), "entity_type_id": int64(4), "frontend_input": "select", "backend_type": "int"}, want: "int"},
		{name: "NULL frontend_input (price_type, 123)", set: map[string]any{"attribute_id": int64(123), "entity_type_id": int64(4), "backend_type": "int"}, want: "int"},
		{name: "NULL entity_type_id", set: map[string]any{"frontend_input": "multiselect", "backend_type": "text"}, want: "text"},
		{name: "frontend_input compared exactly", set: map[string]any{"entity_type_id": int64(4), "frontend_input": "Multiselect", "backend_type": "text"}, want: "text"},
	})
	// A source without a catalog_product entity type changes nothing.
	noProduct := NewLookups(func(side, table string) (*LookupRows, error) {
		return NewLookupRows([]string{"entity_type_id", "entity_type_code"}, [][]any{{int64(1), "customer"}, {int64(3), "catalog_category"}}), nil
	})
	eavRun(t, `EavAttribute\BackendTypeForMultiselect`, nil, eavBind("source", eavAttribute, nil, "backend_type"), noProduct, []eavCase{
		{name: "no catalog_product", set: map[string]any{"entity_type_id": int64(4), "frontend_input": "multiselect", "backend_type": "text"}, want: "text"},
	})
}

func TestEavApplyTo(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	eavRun(t, `EavAttribute\ApplyTo`, nil, eavBind("source", eavCatalogAttr, eavCatalogAttr2, "apply_to"), l, []eavCase{
		// The opposite row as shiplog gives it in the source area (all
		// NULL) and as the reference's EAV step does (column defaults).
		{name: "user-defined color (92)", set: map[string]any{"attribute_id": int64(92), "apply_to": "simple,configurable"}, want: nil},
		{name: "user-defined cost (79), default opposite row", set: map[string]any{"attribute_id": int64(79), "apply_to": "simple,virtual"}, other: map[string]any{"attribute_id": "", "is_global": int64(1)}, want: nil},
		{name: "system price (75) takes the opposite's apply_to (NULL)", set: map[string]any{"attribute_id": int64(75), "apply_to": "simple,configurable,virtual,bundle,downloadable"}, want: nil},
		{name: "system price (75) takes the opposite's apply_to", set: map[string]any{"attribute_id": int64(75), "apply_to": "simple"}, other: map[string]any{"apply_to": "simple,virtual,bundle,downloadable,configurable"}, want: "simple,virtual,bundle,downloadable,configurable"},
		{name: "user-defined (92) with an existing opposite row takes its apply_to", set: map[string]any{"attribute_id": int64(92), "apply_to": "simple"}, other: map[string]any{"attribute_id": int64(93), "apply_to": "simple,virtual,configurable"}, want: "simple,virtual,configurable"},
		{name: "opposite attribute_id 0 counts as none", set: map[string]any{"attribute_id": int64(92), "apply_to": "simple"}, other: map[string]any{"attribute_id": int64(0), "apply_to": "x"}, want: nil},
		{name: "unknown attribute takes the opposite's apply_to", set: map[string]any{"attribute_id": int64(900), "apply_to": "simple"}, other: map[string]any{"apply_to": "virtual"}, want: "virtual"},
	})
	// An opposite table without apply_to gives NULL, as PHP's getValue of
	// a missing field.
	eavRun(t, `EavAttribute\ApplyTo`, nil, eavBind("source", eavCatalogAttr, eavTable("catalog_eav_attribute", "attribute_id:smallint"), "apply_to"), l, []eavCase{
		{name: "no apply_to in the opposite row", set: map[string]any{"attribute_id": int64(75), "apply_to": "simple"}, want: nil},
	})
}

func TestEavSetGroupCode(t *testing.T) {
	const md5Empty, md5Zero = "d41d8cd98f00b204e9800998ecf8427e", "cfcd208495d565ef66e7dff9f98764da"
	var cases []eavCase
	for _, c := range []struct{ name, want any }{
		// Magento 1 names of the reference's eav step (source.sql) and
		// the codes Magento 2 has for them (dest.sql).
		{"General", "general"}, {"Prices", "prices"}, {"Design", "design"}, {"Images", "images"},
		{"Product Details", "product-details"},
		{"Migration General", "migration-general"},
		{"Gift Options", "gift-options"},
		{"  Meta   Information ", "meta-information"},
		{"Recurring_Profile", "recurring-profile"},
		{"Größe & Farbe", "grosse-farbe"},
		{"&AMP; more", "and-more"},
		{"Ärger", "arger"},
		{"Crème Brûlée", "creme-brulee"},
		{"São Paulo", "s-o-paulo"}, // ã is not in Magento's table
		{"Êtes", "tes"},            // nor Ê
		{"Цены", "ceny"},
		{"Йогурт", "ogurt"}, // Й becomes "Y", which is not [a-z]
		{"Товар №1", "tovar-1"},
		{"Ελληνικά", "ellinika"},
		{"שלום", "wlvm"},
		{"Café™ @ Home", "cafetm-at-home"},
		{"Nr. 0", "nr-0"},
		{"0", md5Zero},
		{"-0-", md5Zero},
		{"", md5Empty},
		{"---", md5Empty},
		{"价格", md5Empty},
		{nil, md5Empty},
	} {
		name, _ := c.name.(string)
		cases = append(cases, eavCase{name: "name " + strconv.Quote(name), set: map[string]any{"attribute_group_name": c.name}, want: c.want})
	}
	eavRun(t, `EavAttributeGroup\SetGroupCode`, nil, eavBind("destination", eavGroup2, nil, "attribute_group_code"), nil, cases)
}

func TestEavTranslitLongestMatch(t *testing.T) {
	for in, want := range map[string]string{
		"ক্ষ্ম":        "ksmo", // not "kso" + "h" + "ma"
		"ক্ষ":          "kso",
		"ক":            "ka",
		"&amp;":        "and",
		"&am":          "&am",
		"\u09dc":       "ra", // the precomposed letter
		"\u09a1\u09bc": "ra", // and its decomposed form
		"\u09a1":       "da",
	} {
		if got := eavTranslitReplacer.Replace(in); got != want {
			t.Errorf("translit %q = %q, want %q", in, got, want)
		}
	}
}

func TestBundleParentProduct(t *testing.T) {
	m1 := eavMagento1(t)
	l := NewLookups(m1.load)
	eavRun(t, "BundleParentProduct", Params{"parentField": "option_id", "documentWithProductId": "catalog_product_bundle_option", "fieldWithProductId": "parent_id"},
		eavBind("destination", eavOptionValue2, nil, "parent_product_id"), l, []eavCase{
			{name: "option 1 of product 447", set: map[string]any{"value_id": int64(1), "option_id": int64(1), "store_id": int64(0), "title": "Pillow"}, want: int64(447)},
			{name: "option 2", set: map[string]any{"option_id": int64(2)}, want: int64(447)},
			{name: "option with parent 0", set: map[string]any{"option_id": int64(3), "parent_product_id": int64(9)}, want: int64(0)},
			{name: "unknown option", set: map[string]any{"option_id": int64(99), "parent_product_id": int64(9)}, want: int64(0)},
			{name: "NULL option", set: map[string]any{"parent_product_id": int64(9)}, want: int64(0)},
			{name: "option id as text", set: map[string]any{"option_id": "2"}, want: int64(447)},
		})
	eavRun(t, "BundleParentProduct", Params{"parentField": "selection_id", "documentWithProductId": "catalog_product_bundle_selection", "fieldWithProductId": "parent_product_id"},
		eavBind("destination", eavSelPrice2, nil, "parent_product_id"), l, []eavCase{
			{name: "selection 10", set: map[string]any{"selection_id": int64(10), "website_id": int64(1)}, want: int64(447)},
			{name: "selection 11", set: map[string]any{"selection_id": int64(11), "website_id": int64(1)}, want: int64(447)},
			{name: "selection of product 0", set: map[string]any{"selection_id": int64(12)}, want: int64(0)},
			{name: "unknown selection", set: map[string]any{"selection_id": int64(13)}, want: int64(0)},
		})
	for _, tbl := range []string{"catalog_product_bundle_option", "catalog_product_bundle_selection"} {
		if !l.Watches(SideSource, tbl) || m1.reads[LookupRef{SideSource, tbl}] != 1 {
			t.Errorf("source %s: watched %v, read %d times; want watched and read once", tbl, l.Watches(SideSource, tbl), m1.reads[LookupRef{SideSource, tbl}])
		}
	}
}

// TestEavHandlersInAStockPlan compiles the stock map.xml.dist's transforms
// of this group's handlers on their real tables (columns of the Magento 1
// and 2 schemas) and runs rows through the plan: source handlers on the
// Magento 1 row, destination ones on the Magento 2 row after the copy.
func TestEavHandlersInAStockPlan(t *testing.T) {
	stock, err := ReadMap(filepath.Join(magentoFixturesDir(t), "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "map.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, n := range []string{"SetValueAttributeCondition", "CleanMultiselect", "ConvertEavValue", "BundleParentProduct"} {
		ours[canonicalHandlerName(n)] = true
	}
	tables := map[string]bool{"catalog_category_entity_varchar": true, "catalog_product_entity_text": true,
		"catalog_product_bundle_option_value": true, "catalog_product_bundle_selection_price": true}
	pick := func(in []Transform) (out []Transform) {
		for _, tr := range in {
			doc, _, _ := strings.Cut(tr.Field, ".")
			if tables[doc] && ours[canonicalHandlerName(tr.Handler.Name)] {
				out = append(out, tr)
			}
		}
		return out
	}
	rules := &Rules{Source: Area{Transforms: pick(stock.Source.Transforms)}, Destination: Area{Transforms: pick(stock.Destination.Transforms)}}
	if n := len(rules.Source.Transforms) + len(rules.Destination.Transforms); n != 5 {
		t.Fatalf("%d transforms of this group's handlers on the four tables in the stock map, want 5", n)
	}
	m1 := eavMagento1(t)
	rules.Env = &HandlerEnv{Lookups: NewLookups(m1.load)}
	eavAttrValue := []cdc.Column{col("value_id", "int"), col("entity_type_id", "smallint"), col("attribute_id", "smallint"), col("store_id", "smallint"), col("entity_id", "int")}
	m2AttrValue := []cdc.Column{col("value_id", "int"), col("attribute_id", "smallint"), col("store_id", "smallint"), col("entity_id", "int")}
	src := []*cdc.Table{
		tbl("catalog_category_entity_varchar", []int{0}, append(eavAttrValue, col("value", "varchar"))...),
		tbl("catalog_product_entity_text", []int{0}, append(eavAttrValue, col("value", "text"))...),
		tbl("catalog_product_bundle_option_value", []int{0}, col("value_id", "int"), col("option_id", "int"), col("store_id", "smallint"), col("title", "varchar")),
		tbl("catalog_product_bundle_selection_price", []int{0, 1}, col("selection_id", "int"), col("website_id", "smallint"), col("selection_price_type", "smallint"), col("selection_price_value", "decimal")),
	}
	dst := []*cdc.Table{
		tbl("catalog_category_entity_varchar", []int{0}, append(m2AttrValue, col("value", "varchar"))...),
		tbl("catalog_product_entity_text", []int{0}, append(m2AttrValue, col("value", "text"))...),
		tbl("catalog_product_bundle_option_value", []int{0}, col("value_id", "int"), col("option_id", "int"), col("store_id", "smallint"), col("title", "varchar"), col("parent_product_id", "int")),
		tbl("catalog_product_bundle_selection_price", []int{0, 4, 1}, col("selection_id", "int"), col("website_id", "smallint"), col("selection_price_type", "smallint"), col("selection_price_value", "decimal"), col("parent_product_id", "int")),
	}
	rules.Source.IgnoreFields = ruleList("catalog_category_entity_varchar.entity_type_id", "catalog_product_entity_text.entity_type_id")
	plan, problems := Compile(rules, src, dst)
	if HasErrors(problems) {
		t.Fatalf("problems: %v", problems)
	}
	for _, tc := range []struct {
		table   string
		in      []any
		field   string
		want    any
		comment string
	}{
		{"catalog_category_entity_varchar", []any{int64(1), int64(3), int64(61), int64(0), int64(3), "two_columns_right"}, "value", "2columns-right", "page_layout converted"},
		{"catalog_category_entity_varchar", []any{int64(2), int64(3), int64(58), int64(0), int64(3), "default/blank"}, "value", nil, "custom_design set to NULL"},
		{"catalog_category_entity_varchar", []any{int64(3), int64(3), int64(41), int64(0), int64(3), "Root Catalog"}, "value", "Root Catalog", "name untouched"},
		{"catalog_product_entity_text", []any{int64(4), int64(4), int64(136), int64(0), int64(9), "5,,6,"}, "value", "5,6", "multiselect cleaned"},
		{"catalog_product_entity_text", []any{int64(5), int64(4), int64(106), int64(0), int64(9), "<reference/>"}, "value", "<reference/>", "another attribute untouched"},
		{"catalog_product_bundle_option_value", []any{int64(7), int64(2), int64(0), "Throw"}, "parent_product_id", int64(447), "bundle parent found"},
		{"catalog_product_bundle_selection_price", []any{int64(11), int64(1), int64(0), "2.5000"}, "parent_product_id", int64(447), "selection parent found"},
		{"catalog_product_bundle_selection_price", []any{int64(99), int64(1), int64(0), "2.5000"}, "parent_product_id", int64(0), "no selection: 0"},
	} {
		tp := plan.Table(tc.table)
		out, err := tp.Row(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.comment, err)
		}
		i := tp.Dest.ColumnIndex(tc.field)
		if i < 0 || !hdlEqual(out[i], tc.want) {
			t.Errorf("%s: %s.%s = %#v, want %#v", tc.comment, tc.table, tc.field, out, tc.want)
		}
	}
}
