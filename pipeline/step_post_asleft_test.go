package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// TestPostSetLeftoverRoute: the attribute-set leftover route (the
// reference's AttributeSetLeftoverData query, asked per row) skips a
// non-NULL value whose product exists and whose set does not link the
// attribute, in any store and whatever canonical form the ids come in;
// it carries a NULL value, a value of a product the state does not hold (the
// reference's inner join), of a set with no members known (every attribute
// is then outside it: skipped) and gives every other row the route the plan
// had before (here: url_path skipped). A row gone is judged alike.
func TestPostSetLeftoverRoute(t *testing.T) {
	table := func() []*cdc.Table {
		return []*cdc.Table{{Schema: "s", Name: "catalog_product_entity_int", Key: []int{0}, Columns: []cdc.Column{
			{Name: "value_id", DataType: "int"}, {Name: "attribute_id", DataType: "smallint", Unsigned: true},
			{Name: "store_id", DataType: "smallint", Unsigned: true}, {Name: "entity_id", DataType: "int", Unsigned: true},
			{Name: "value", DataType: "int"}}}}
	}
	plan, problems := transform.Compile(nil, table(), table())
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	tp := plan.Table("catalog_product_entity_int").WithRoute(postSkipWhen(1, map[string]bool{"97": true}), 1)
	st := &postSetState{
		sets:    map[string]string{"1": "4", "2": "9", "3": "12"},
		members: map[string]map[string]bool{"4": {"73": true, "97": true}, "9": {"73": true, "80": true}},
	}
	routed, err := postSetLeftoverRoute(tp, "entity_id", func() (*postSetState, error) { return st, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		row  []any
		want transform.RouteKind
	}{
		{"in the set", []any{int64(1), uint64(73), uint64(0), uint64(1), int64(5)}, transform.Carry},
		{"outside the set", []any{int64(2), uint64(80), uint64(0), uint64(1), int64(5)}, transform.Skip},
		{"outside the set, store level", []any{int64(3), uint64(80), uint64(2), uint64(1), int64(5)}, transform.Skip},
		{"outside the set, ids as int64", []any{int64(3), int64(80), int64(2), int64(1), int64(5)}, transform.Skip},
		{"outside the set but NULL", []any{int64(4), uint64(80), uint64(0), uint64(1), nil}, transform.Carry},
		{"in the other product's set", []any{int64(5), uint64(80), uint64(0), uint64(2), int64(5)}, transform.Carry},
		{"a product the destination lacks", []any{int64(6), uint64(80), uint64(0), uint64(99), int64(5)}, transform.Carry},
		{"a set without members", []any{int64(7), uint64(73), uint64(0), uint64(3), int64(5)}, transform.Skip},
		{"in the set, the earlier route skips it", []any{int64(8), uint64(97), uint64(0), uint64(1), int64(5)}, transform.Skip},
		{"outside the other product's set", []any{int64(9), uint64(81), uint64(0), uint64(2), int64(5)}, transform.Skip},
	} {
		for _, gone := range []bool{false, true} {
			got, err := routed.RouteOf(tc.row, gone)
			if err != nil || got.Kind != tc.want {
				t.Errorf("%s (gone=%v): %v %v, want %v", tc.name, gone, got.Kind, err, tc.want)
			}
		}
	}
	// The state changes under the route (the stream's follower).
	st.mu.Lock()
	st.sets["2"] = "4"
	st.mu.Unlock()
	if got, _ := routed.RouteOf([]any{int64(5), uint64(80), uint64(0), uint64(2), int64(5)}, false); got.Kind != transform.Skip {
		t.Errorf("after product 2 moved to set 4: %v, want skip", got.Kind)
	}
	// The destination's sets unreadable: the route's error stops what asked.
	broken, err := postSetLeftoverRoute(tp, "entity_id", func() (*postSetState, error) { return nil, errors.New("no eav_entity_attribute") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.RouteOf([]any{int64(1), uint64(73), uint64(0), uint64(1), int64(5)}, false); err == nil || !strings.Contains(err.Error(), "no eav_entity_attribute") {
		t.Errorf("unreadable sets: %v, want the error", err)
	}
	if got, err := broken.RouteOf([]any{int64(4), uint64(80), uint64(0), uint64(1), nil}, false); err != nil || got.Kind != transform.Carry {
		t.Errorf("unreadable sets, a NULL value: %v %v, want carry without reading them", got.Kind, err)
	}
	// A plan without the columns the route reads is an integrity error.
	noValue := []*cdc.Table{{Schema: "s", Name: "catalog_product_entity_int", Key: []int{0}, Columns: []cdc.Column{{Name: "value_id", DataType: "int"}, {Name: "entity_id", DataType: "int"}}}}
	plan, _ = transform.Compile(nil, noValue, noValue)
	if _, err := postSetLeftoverRoute(plan.Table("catalog_product_entity_int"), "entity_id", func() (*postSetState, error) { return st, nil }); err == nil || !strings.Contains(err.Error(), "leave the PostProcessing Step out") {
		t.Errorf("a table without value and attribute_id: %v, want an integrity error naming the remedy", err)
	}
}

// TestPostSetLeftoverSQL: the key column (row_id only when both the value
// table and the product table have it, as Commerce's staging) and the
// delete statement, whole and for some products.
func TestPostSetLeftoverSQL(t *testing.T) {
	cols := map[string]map[string]bool{
		"m2_catalog_product_entity":          {"entity_id": true, "attribute_set_id": true},
		"m2_catalog_product_entity_int":      {"value_id": true, "entity_id": true, "attribute_id": true, "value": true},
		"m2_catalog_product_entity_gallery":  {"value_id": true, "entity_id": true, "attribute_id": true},
		"m2_catalog_product_entity_decimal":  {"value_id": true, "row_id": true, "entity_id": true, "attribute_id": true, "value": true},
		"m2_catalog_product_entity_datetime": {"value_id": true, "row_id": true, "attribute_id": true, "value": true},
	}
	for table, want := range map[string]string{
		"catalog_product_entity_int": "entity_id", "catalog_product_entity_gallery": "", "catalog_product_entity_decimal": "entity_id",
		"catalog_product_entity_datetime": "", "catalog_product_entity_text": "",
	} {
		if got := postSetLeftoverKey(cols, "m2_", table); got != want {
			t.Errorf("%s: key %q, want %q", table, got, want)
		}
	}
	cols["m2_catalog_product_entity"]["row_id"] = true
	if got := postSetLeftoverKey(cols, "m2_", "catalog_product_entity_decimal"); got != "row_id" {
		t.Errorf("Commerce staging: key %q, want row_id", got)
	}
	const whole = "DELETE v FROM `m2_catalog_product_entity_int` v JOIN `m2_catalog_product_entity` p ON p.`entity_id` = v.`entity_id` WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM `m2_eav_entity_attribute` e WHERE e.attribute_set_id = p.attribute_set_id AND e.attribute_id = v.attribute_id)"
	if got := postSetLeftoverDelete("m2_", "catalog_product_entity_int", "entity_id", 0); got != whole {
		t.Errorf("delete:\n got  %s\n want %s", got, whole)
	}
	if got := postSetLeftoverDelete("m2_", "catalog_product_entity_int", "entity_id", 3); got != whole+" AND v.`entity_id` IN (?, ?, ?)" {
		t.Errorf("delete of 3 products: %s", got)
	}
}

// TestPostSetLeftoverDocuments: the documents_attribute_set_leftover_values
// group (the reference's defaults without the option; none when the file
// lacks the group).
func TestPostSetLeftoverDocuments(t *testing.T) {
	dir := t.TempDir()
	groups := filepath.Join(dir, "groups.xml")
	if err := os.WriteFile(groups, []byte(`<groups>
  <group name="documents_leftover_values"><document>weee_tax</document></group>
  <group name="documents_attribute_set_leftover_values"><document>Catalog_Product_Entity_Int</document><document>catalog_product_entity_text</document></group>
</groups>`), 0o644); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.xml")
	if err := os.WriteFile(none, []byte(`<groups><group name="documents_leftover_values"><document>weee_tax</document></group></groups>`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		file string
		want []string
	}{
		{"no option", "", postDefaultSetLeftover},
		{"the group", groups, []string{"catalog_product_entity_int", "catalog_product_entity_text"}},
		{"no such group", none, []string{}},
	} {
		env := &step.Env{Config: &config.Config{Path: filepath.Join(dir, "config.xml")}}
		env.Config.Options.Magento = map[string]string{}
		if c.file != "" {
			env.Config.Options.Magento["eav_document_groups_file"] = c.file
		}
		got, err := postSetLeftoverDocuments(env)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if _, err := postSetLeftoverDocuments(&step.Env{Config: &config.Config{Path: filepath.Join(dir, "config.xml"), Options: config.Options{Magento: map[string]string{"eav_document_groups_file": filepath.Join(dir, "missing.xml")}}}}); err == nil || !strings.Contains(err.Error(), "eav_document_groups_file") {
		t.Errorf("a missing file: %v, want an error naming the option", err)
	}
}
