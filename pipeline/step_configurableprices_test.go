package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
)

// TestCfgPicker: of the price query's rows (ordered by child, store,
// parent) the first per child and store is kept; a child with rows of
// several parents is counted once however many stores; a price of several
// deltas with a percentage among them is counted (the reference's grouped
// query leaves those to row order), one of fixed deltas only is not.
func TestCfgPicker(t *testing.T) {
	rows := []struct {
		p    cfgPrice
		kept bool
	}{
		{cfgPrice{child: "11", store: "0", parent: "10", deltas: 1}, true},
		{cfgPrice{child: "11", store: "0", parent: "50", deltas: 1}, false},
		{cfgPrice{child: "11", store: "1", parent: "10", deltas: 1}, true},
		{cfgPrice{child: "11", store: "1", parent: "50", deltas: 1}, false},
		{cfgPrice{child: "12", store: "1", parent: "10", deltas: 2}, true},
		{cfgPrice{child: "12", store: "2", parent: "10", deltas: 2, percents: 1}, true},
		{cfgPrice{child: "13", store: "0", parent: "10", deltas: 1, percents: 1}, true},
		{cfgPrice{child: "13", store: "0", parent: "20", deltas: 3, percents: 3}, false},
		// Store "1" again after another child: a new child and store.
		{cfgPrice{child: "14", store: "1", parent: "20", deltas: 2, percents: 2}, true},
	}
	var k cfgPicker
	for i, r := range rows {
		if got := k.take(r.p); got != r.kept {
			t.Errorf("row %d (%+v): kept %v, want %v", i, r.p, got, r.kept)
		}
	}
	if k.multiParent != 2 {
		t.Errorf("children with several parents: %d, want 2 (11 and 13)", k.multiParent)
	}
	if k.mixed != 2 {
		t.Errorf("several deltas with a percentage: %d, want 2 (12 in store 2, 14)", k.mixed)
	}
}

// TestCfgMissing: a missing document and missing fields are blocking
// errors in the reference's words (its AbstractIntegrity); field names
// match whatever their case; present ones are no problem.
func TestCfgMissing(t *testing.T) {
	want := []cfgFields{
		{"catalog_product_super_attribute_pricing", []string{"website_id", "pricing_value"}},
		{"catalog_product_super_link", []string{"product_id"}},
		{"catalog_product_super_attribute", []string{"attribute_id"}},
	}
	have := map[string][]string{
		"m1_catalog_product_super_attribute_pricing": {"value_id", "PRICING_VALUE"},
		"m1_catalog_product_super_attribute":         {"product_super_attribute_id", "attribute_id"},
	}
	got := cfgMissing("source", "m1_", want, have)
	if len(got) != 2 {
		t.Fatalf("problems %+v, want 2", got)
	}
	for i, w := range []string{
		"Source fields are missing. Document: m1_catalog_product_super_attribute_pricing. Fields: website_id",
		"Source documents are missing: m1_catalog_product_super_link",
	} {
		if !strings.Contains(got[i].Msg, w) || !got[i].Blocking || got[i].Area != "source" {
			t.Errorf("problem %d: %+v, want a blocking source error with %q", i, got[i], w)
		}
	}
	dst := cfgMissing("destination", "", cfgDestFields, map[string][]string{"catalog_product_entity_decimal": {"value_id", "row_id", "attribute_id", "store_id", "value"}})
	if len(dst) != 1 || !strings.Contains(dst[0].Msg, "Destination fields are missing. Document: catalog_product_entity_decimal. Fields: entity_id") {
		t.Errorf("destination with row_id instead of entity_id: %+v", dst)
	}
}

// TestCfgPriceEntities: the follower recomputes after changes of the price
// attribute's rows only (either image; a row whose attribute is unknown
// counts), by entity id, each once; other decimal attributes' rows are
// not its business.
func TestCfgPriceEntities(t *testing.T) {
	tbl := &cdc.Table{Name: "catalog_product_entity_decimal", Columns: []cdc.Column{{Name: "value_id"}, {Name: "attribute_id"}, {Name: "store_id"}, {Name: "entity_id"}, {Name: "value"}}, Key: []int{0}}
	changes := []cdc.Change{
		{Op: cdc.OpUpdate, Table: tbl, Before: []any{int64(1), int64(77), int64(0), int64(11), "1"}, After: []any{int64(1), int64(77), int64(0), int64(11), "2"}},
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(2), int64(78), int64(0), int64(12), "3"}},     // another attribute
		{Op: cdc.OpDelete, Table: tbl, Before: []any{int64(3), []byte("77"), int64(1), int64(13), "4"}}, // price, as bytes
		{Op: cdc.OpUpdate, Table: tbl, Before: []any{int64(4), int64(78), int64(0), int64(14), "1"}, After: []any{int64(4), int64(77), int64(0), int64(14), "1"}},
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(5), nil, int64(0), int64(15), "1"}},
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(6), int64(77), int64(1), int64(11), "5"}}, // 11 again
	}
	got := cfgDistinct(cfgPriceEntities(changes, "77"))
	if want := "[11 13 14 15]"; fmt.Sprint(got) != want {
		t.Errorf("entities %v, want %s", got, want)
	}
	if got := cfgPriceEntities(changes[1:2], "77"); len(got) != 0 {
		t.Errorf("another attribute's row: entities %v, want none", got)
	}
}

// TestCfgFollowHelpers: ids deduplicated across lists by string form
// (int64 and bytes alike); chunks of at most n, none for no ids; the
// follower reads the four tables the data stage's query joins, and not the
// pricing table (the destination has none).
func TestCfgFollowHelpers(t *testing.T) {
	if got := fmt.Sprint(cfgDistinct([]any{int64(1), []byte("2")}, []any{"1", int64(2), int64(3)})); got != "[1 [50] 3]" {
		t.Errorf("distinct: %s", got)
	}
	ids := []any{1, 2, 3, 4, 5}
	if got := fmt.Sprint(cfgChunks(ids, 2)); got != "[[1 2] [3 4] [5]]" {
		t.Errorf("chunks: %s", got)
	}
	if got := cfgChunks(nil, 2); got != nil {
		t.Errorf("chunks of none: %v", got)
	}
	if got := cfgPlaceholders(3); got != "?,?,?" {
		t.Errorf("placeholders: %s", got)
	}
	f := &cfgPricesFollower{}
	for table, want := range map[string]bool{
		"catalog_product_entity_decimal": true, "catalog_product_super_link": true, "catalog_product_super_attribute": true,
		"catalog_product_entity_int": true, "catalog_product_super_attribute_pricing": false, "catalog_product_entity_varchar": false,
	} {
		if got := f.follows(table); got != want {
			t.Errorf("follows(%s) = %v, want %v", table, got, want)
		}
	}
}

// TestCfgOwners: a super link's child comes from its row when the change
// carries it, and from what the follower recorded when it carries the key
// alone (a delete, an update's before image): without the record, the
// child of a deleted link would keep the price computed for it.
func TestCfgOwners(t *testing.T) {
	tbl := &cdc.Table{Name: "catalog_product_super_link", Columns: []cdc.Column{{Name: "link_id"}, {Name: "product_id"}, {Name: "parent_id"}}, Key: []int{0}}
	f := &cfgPricesFollower{}
	known := map[string]any{"1": "14"}
	got := f.owners([]cdc.Change{
		{Op: cdc.OpDelete, Table: tbl, Before: []any{int64(1), nil, nil}},                                               // recorded at start
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(2), int64(15), int64(10)}},                                    // recorded now
		{Op: cdc.OpDelete, Table: tbl, Before: []any{int64(3), nil, nil}},                                               // never seen: nothing
		{Op: cdc.OpUpdate, Table: tbl, Before: []any{int64(2), nil, nil}, After: []any{int64(2), int64(16), int64(10)}}, // 15 -> 16
	}, "link_id", "product_id", known)
	if want := "[14 15 15 16]"; fmt.Sprint(got) != want {
		t.Errorf("owners %v, want %s", got, want)
	}
	if fmt.Sprint(known["2"]) != "16" {
		t.Errorf("link 2 recorded as %v, want 16", known["2"])
	}
}

// TestFollowersRunLast: a lastFollower runs after the followers registered
// after it (the ConfigurablePrices follower writes over the rows the
// PostProcessing follower reads again from the source).
func TestFollowersRunLast(t *testing.T) {
	var order []string
	r := &Runtime{cfg: &config.Config{}}
	tbl := &cdc.Table{Name: "catalog_product_entity_decimal", Columns: []cdc.Column{{Name: "value_id"}}, Key: []int{0}}
	r.follow(&orderFollower{recordingFollower{"cfg", &order}})
	r.follow(&recordingFollower{"post", &order})
	if err := r.runFollowers(context.Background(), nil, []cdc.Change{{Op: cdc.OpInsert, Table: tbl, After: []any{int64(1)}}}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[post cfg]" {
		t.Errorf("followers ran %v, want [post cfg]", order)
	}
}

type recordingFollower struct {
	n     string
	order *[]string
}

func (f *recordingFollower) name() string        { return f.n }
func (f *recordingFollower) follows(string) bool { return true }
func (f *recordingFollower) follow(context.Context, *sql.Tx, []cdc.Change) error {
	*f.order = append(*f.order, f.n)
	return nil
}

type orderFollower struct{ recordingFollower }

func (*orderFollower) followsLast() {}

// TestCfgTakenOver: a decimal row (any product, attribute or store)
// written under the value_id of a child's price row names that child (the
// child's own weight row taking its store-2 price's id too); an unknown id
// or a delete names none.
func TestCfgTakenOver(t *testing.T) {
	tbl := &cdc.Table{Name: "catalog_product_entity_decimal", Columns: []cdc.Column{{Name: "value_id"}, {Name: "attribute_id"}, {Name: "store_id"}, {Name: "entity_id"}, {Name: "value"}}, Key: []int{0}}
	f := &cfgPricesFollower{priceRows: map[string]string{"13": "21", "14": "22"}}
	got := f.takenOver([]cdc.Change{
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(13), int64(80), int64(1), int64(60), "8"}},                                               // another product, another attribute
		{Op: cdc.OpUpdate, Table: tbl, Before: []any{int64(14), nil, nil, nil, nil}, After: []any{int64(14), int64(80), int64(1), int64(22), "1"}}, // the child's other row
		{Op: cdc.OpInsert, Table: tbl, After: []any{int64(15), int64(77), int64(0), int64(61), "1"}},                                               // unknown id
		{Op: cdc.OpDelete, Table: tbl, Before: []any{int64(13), nil, nil, nil, nil}},                                                               // a delete takes nothing over
	})
	if fmt.Sprint(got) != "[21 22]" {
		t.Errorf("taken over %v, want [21 22]", got)
	}
}
