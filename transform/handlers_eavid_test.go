package transform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestEavAttributeId: the Map step's attribute_id translation through the
// EAV step's map. The map rows are those the EAV step writes for the
// reference's eav test databases (tests/integration/resource/eav): sku
// 63 -> 70, website_id 1 -> 1; msrp_enabled (118) is ignored and absent.
func TestEavAttributeId(t *testing.T) {
	var reads []LookupRef
	l := NewLookups(func(side, table string) (*LookupRows, error) {
		reads = append(reads, LookupRef{side, table})
		if side != SideDestination || table != EavAttributeMapTable {
			return nil, errors.New("unexpected table")
		}
		return NewLookupRows([]string{"m1_id", "m2_id", "entity_type_code", "attribute_code"}, [][]any{
			{uint64(63), uint64(70), "catalog_product", "sku"},
			{uint64(1), uint64(1), "customer", "website_id"},
			{uint64(300), "x", "catalog_product", "broken"},
		}), nil
	})
	table := &cdc.Table{Name: "catalog_product_entity_varchar", Columns: []cdc.Column{
		{Name: "value_id", DataType: "int"}, {Name: "attribute_id", DataType: "smallint", Unsigned: true}, {Name: "value", DataType: "varchar"}}}
	signed := &cdc.Table{Name: "t", Columns: []cdc.Column{{Name: "value_id", DataType: "int"}, {Name: "attribute_id", DataType: "int"}}}
	bind := func(tb *cdc.Table, p Params, env *HandlerEnv) (Func, error) {
		f, ok := LookupHandler(`\Shiplog\EavAttributeId`)
		if !ok {
			t.Fatal("handler not registered")
		}
		return f(p, Binding{Area: "source", Table: tb.Name, Field: "attribute_id", Index: 1, Column: tb.Columns[1], Rec: tb, Env: env})
	}
	env := &HandlerEnv{Lookups: l}
	tests := []struct {
		name    string
		tb      *cdc.Table
		in      any
		want    any
		wantErr string
	}{
		{"sku translated", table, uint64(63), uint64(70), ""},
		{"same id both sides", table, uint64(1), uint64(1), ""},
		{"id as text", table, "63", uint64(70), ""},
		{"signed column", signed, int64(63), int64(70), ""},
		{"ignored attribute fails", table, uint64(118), nil, "attribute_id 118 is not in the EAV step's attribute map"},
		{"unknown attribute fails", table, uint64(9999), nil, "attribute_id 9999 is not in"},
		// The remedy for an attribute added to Magento 1 after data mode.
		{"remedy named", table, uint64(9999), nil, "If the attribute was added to Magento 1 after data mode ran, run `shiplog migrate data --reset`"},
		{"broken map row", table, uint64(300), nil, `m2_id "x"`},
		{"NULL stays", table, nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := bind(tc.tb, nil, env)
			if err != nil {
				t.Fatal(err)
			}
			rec := []any{int64(5), tc.in, "v"}
			err = fn(rec, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if rec[1] != tc.in {
					t.Errorf("a failed row's attribute_id changed to %v", rec[1])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec[1] != tc.want {
				t.Errorf("attribute_id %v (%T), want %v (%T)", rec[1], rec[1], tc.want, tc.want)
			}
		})
	}
	if len(reads) != 1 {
		t.Errorf("the map was read %d times, want once: %v", len(reads), reads)
	}
	if _, err := bind(table, Params{"map": "x"}, env); err == nil || !strings.Contains(err.Error(), `unknown param "map"`) {
		t.Errorf("a param: %v", err)
	}
	if _, err := bind(table, nil, &HandlerEnv{}); err == nil || !strings.Contains(err.Error(), "without a database connection") {
		t.Errorf("no lookups: %v", err)
	}
}

// TestEavAttributeSetAndGroupId: attribute_set_id and attribute_group_id
// through the EAV step's set and group maps. The map rows are those the
// step writes for the reference's eav test databases
// (tests/integration/resource/eav): product Default 4 -> 4, customer
// Default 1 -> 1, a Magento 1 only set 9 -> 12; groups General (4) and
// Prices (5) of the product set -> Magento 2's Product Details (7). A set
// id 0 (Magento's "no set": the root category) stays; a group id 0 is not
// a group and fails, as any id the map lacks does.
func TestEavAttributeSetAndGroupId(t *testing.T) {
	l := NewLookups(func(side, table string) (*LookupRows, error) {
		switch {
		case side == SideDestination && table == EavAttributeSetMapTable:
			return NewLookupRows([]string{"m1_id", "m2_id", "entity_type_code", "attribute_set_name"}, [][]any{
				{uint64(4), uint64(4), "catalog_product", "Default"}, {uint64(1), uint64(1), "customer", "Default"},
				{uint64(9), uint64(12), "catalog_product", "Clothing"},
			}), nil
		case side == SideDestination && table == EavAttributeGroupMapTable:
			return NewLookupRows([]string{"m1_id", "m2_id", "m1_set_id", "attribute_group_name"}, [][]any{
				{uint64(4), uint64(7), uint64(4), "Product Details"}, {uint64(5), uint64(7), uint64(4), "Product Details"},
			}), nil
		}
		return nil, errors.New("unexpected table " + table)
	})
	tb := &cdc.Table{Name: "catalog_product_entity", Columns: []cdc.Column{
		{Name: "entity_id", DataType: "int"}, {Name: "attribute_set_id", DataType: "smallint", Unsigned: true}}}
	env := &HandlerEnv{Lookups: l}
	tests := []struct {
		handler string
		in      any
		want    any
		wantErr string
	}{
		{EavAttributeSetIdHandler, uint64(4), uint64(4), ""},
		{EavAttributeSetIdHandler, uint64(9), uint64(12), ""},
		{EavAttributeSetIdHandler, "9", uint64(12), ""},
		{EavAttributeSetIdHandler, uint64(0), uint64(0), ""},
		{EavAttributeSetIdHandler, nil, nil, ""},
		{EavAttributeSetIdHandler, uint64(3), nil, "Magento 1 attribute_set_id 3 is not in the EAV step's attribute set map (_shiplog_eav_attribute_set_map)"},
		{EavAttributeGroupIdHandler, uint64(5), uint64(7), ""},
		{EavAttributeGroupIdHandler, uint64(0), nil, "attribute_group_id 0 is not in the EAV step's attribute group map"},
		{EavAttributeGroupIdHandler, uint64(6), nil, "attribute_group_id 6 is not in"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %v", tc.handler, tc.in), func(t *testing.T) {
			f, ok := LookupHandler(`\` + tc.handler)
			if !ok {
				t.Fatal("handler not registered")
			}
			fn, err := f(nil, Binding{Area: "source", Table: tb.Name, Field: "attribute_set_id", Index: 1, Column: tb.Columns[1], Rec: tb, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			rec := []any{int64(1), tc.in}
			err = fn(rec, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if rec[1] != tc.in {
					t.Errorf("a failed row's id changed to %v", rec[1])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec[1] != tc.want {
				t.Errorf("%v (%T), want %v (%T)", rec[1], rec[1], tc.want, tc.want)
			}
		})
	}
	f, _ := LookupHandler(EavAttributeSetIdHandler)
	if _, err := f(Params{"x": "1"}, Binding{Column: tb.Columns[1], Rec: tb, Index: 1, Env: env}); err == nil || !strings.Contains(err.Error(), `unknown param "x"`) {
		t.Errorf("a param: %v", err)
	}
}
