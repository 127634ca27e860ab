package pipeline

import (
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestPlanEavTypes: Magento 2's entity types take Magento 1's default
// attribute set (through the set map) and increment settings, as the
// reference's migrateEntityTypes writes Magento 1's row over Magento 2's;
// their classes, tables and ids stay Magento 2's. An entity type Magento 2
// lacks is left out; a default set the set map lacks keeps Magento 2's,
// with a warning; a value the map leaves to the destination (cdc.Default)
// is not written.
func TestPlanEavTypes(t *testing.T) {
	dest := &cdc.Table{Name: "eav_entity_type", Columns: []cdc.Column{{Name: "entity_type_id"}, {Name: "entity_type_code"}, {Name: "entity_model"},
		{Name: "default_attribute_set_id"}, {Name: "increment_per_store"}, {Name: "increment_pad_length"}, {Name: "increment_pad_char"}}}
	rows := map[string][]any{
		"catalog_product": {int64(4), "catalog_product", `Magento\Catalog\Model\ResourceModel\Product`, int64(9), int64(0), int64(10), "0"},
		"customer":        {int64(1), "customer", "x", int64(1), int64(0), int64(8), cdc.Default},
		"order":           {int64(5), "order", "x", int64(77), int64(1), int64(8), "0"},
		"acme_thing":      {int64(9), "acme_thing", "x", int64(20), int64(0), int64(8), "0"},
	}
	dstIDs := map[string]string{"catalog_product": "4", "customer": "1", "order": "5"}
	setMap := map[string]string{"9": "12", "1": "1"}
	ups, warnings := planEavTypes(dest, rows, dstIDs, setMap)
	want := map[string]eavTypeUpdate{
		"4": {code: "catalog_product", cols: []string{"default_attribute_set_id", "increment_per_store", "increment_pad_length", "increment_pad_char"}, vals: []any{"12", int64(0), int64(10), "0"}},
		"1": {code: "customer", cols: []string{"default_attribute_set_id", "increment_per_store", "increment_pad_length"}, vals: []any{"1", int64(0), int64(8)}},
		"5": {code: "order", cols: []string{"increment_per_store", "increment_pad_length", "increment_pad_char"}, vals: []any{int64(1), int64(8), "0"}},
	}
	if len(ups) != len(want) {
		t.Errorf("updates of %d entity types, want %d: %+v", len(ups), len(want), ups)
	}
	for id, w := range want {
		u := ups[id]
		if u.code != w.code || !slices.Equal(u.cols, w.cols) || !slices.Equal(u.vals, w.vals) {
			t.Errorf("entity type %s: %+v, want %+v", id, u, w)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "entity type order: Magento 1's default attribute set 77 is not migrated") {
		t.Errorf("warnings %q", warnings)
	}
}
