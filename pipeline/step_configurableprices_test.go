package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/step"
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

// TestCfgDeltaWarns: listed in delta mode (the stock config does not list
// it), the step says at the start of every delta run what it does not
// follow and the remedy, and its Delta returns at once.
func TestCfgDeltaWarns(t *testing.T) {
	var buf bytes.Buffer
	env := &step.Env{Mode: step.ModeDelta, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	s := &configurablePricesStep{}
	if err := s.DeltaStart(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := s.Delta(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"level=WARN", "super attribute prices changed in Magento 1 after data mode are not followed", "migrate data --reset"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("delta start logged %q, want %q in it", buf.String(), w)
		}
	}
}
