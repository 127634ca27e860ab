package pipeline

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

// TestReadAttributeGroups reads the reference's stock
// eav-attribute-groups.xml.dist (its "ignore" group: msrp_enabled,
// group_price, is_recurring, recurring_profile of catalog_product) and
// refuses broken files.
func TestReadAttributeGroups(t *testing.T) {
	stock := ""
	for _, d := range []string{filepath.Join("..", "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		p := filepath.Join(d, "dmt", "etc", "opensource-to-opensource", "eav-attribute-groups.xml.dist")
		if _, err := os.Stat(p); err == nil {
			stock = p
			break
		}
	}
	if stock == "" {
		t.Fatal("the Magento fixtures (../shared/fixtures/magento beside the checkout) are missing")
	}
	g, err := readAttributeGroups(stock)
	if err != nil {
		t.Fatal(err)
	}
	want := []attributeRef{{"catalog_product", "msrp_enabled"}, {"catalog_product", "group_price"}, {"catalog_product", "is_recurring"}, {"catalog_product", "recurring_profile"}}
	if !slices.Equal(g["ignore"], want) {
		t.Errorf("ignore group %v, want %v", g["ignore"], want)
	}
	if !slices.Contains(g["frontend_input_empty_allowed"], attributeRef{"catalog_category", "url_path"}) {
		t.Errorf("frontend_input_empty_allowed lacks catalog_category/url_path: %v", g["frontend_input_empty_allowed"])
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ text, want string }{
		"no type":    {`<groups><group name="ignore"><attribute>sku</attribute></group></groups>`, `group "ignore" has an <attribute> without type or code`},
		"no code":    {`<groups><group name="ignore"><attribute type="catalog_product"> </attribute></group></groups>`, "without type or code"},
		"broken xml": {`<groups><group name="ignore">`, "unexpected EOF"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".xml")
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := readAttributeGroups(p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v, want %q naming the file", err, tc.want)
			}
		})
	}
	if _, err := readAttributeGroups(filepath.Join(dir, "missing.xml")); err == nil {
		t.Error("a missing file read")
	}
}

// TestEavValueRules: with the EAV step in config.xml's data mode (by title
// or by its classes), the Map step's rules translate attribute_id of every
// source table the map copies that has one, after the map's own
// transforms, once; not of the tables the map ignores, of those without
// attribute_id, of another installation's (outside the prefix) or of the
// EAV step's own tables; without the step, nothing is added.
func TestEavValueRules(t *testing.T) {
	eavByTitle := config.Step{Mode: "data", Title: "EAV Step", Classes: []string{`Migration\Step\Eav\Integrity`, `Migration\Step\Eav\Data`}}
	eavByClass := config.Step{Mode: "data", Title: "Attributes", Classes: []string{`Migration\Step\Eav\Integrity`, `Migration\Step\Eav\Data`, `Migration\Step\Eav\Volume`}}
	mapStep := config.Step{Mode: "data", Title: "Map Step", Classes: []string{`Migration\Step\Map\Data`}}
	eavInDelta := config.Step{Mode: "delta", Title: "EAV Step"}
	withAttr := func(name string) *cdc.Table {
		return &cdc.Table{Name: name, Columns: []cdc.Column{{Name: "value_id"}, {Name: "attribute_id"}, {Name: "value"}}}
	}
	src := []*cdc.Table{
		withAttr("m1_catalog_product_entity_varchar"), withAttr("m1_eav_attribute_option"), withAttr("m1_weee_tax"),
		withAttr("m1_catalog_product_index_eav"),                           // ignored by the map
		withAttr("m1_eav_attribute"), withAttr("m1_CATALOG_EAV_ATTRIBUTE"), // the EAV step's
		withAttr("other_catalog_product_entity_int"), // outside the prefix
		{Name: "m1_catalog_product_entity", Columns: []cdc.Column{{Name: "entity_id"}, {Name: "sku"}}},
		// attribute_set_id (and attribute_group_id) through the set and
		// group maps; not in the EAV step's own set tables.
		{Name: "m1_catalog_category_entity", Columns: []cdc.Column{{Name: "entity_id"}, {Name: "attribute_set_id"}}},
		{Name: "m1_acme_layout", Columns: []cdc.Column{{Name: "id"}, {Name: "attribute_group_id"}, {Name: "attribute_id"}, {Name: "attribute_set_id"}}},
		{Name: "m1_eav_entity_attribute", Columns: []cdc.Column{{Name: "entity_attribute_id"}, {Name: "attribute_set_id"}, {Name: "attribute_group_id"}, {Name: "attribute_id"}}},
		{Name: "m1_EAV_ATTRIBUTE_GROUP", Columns: []cdc.Column{{Name: "attribute_group_id"}, {Name: "attribute_set_id"}}},
	}
	own := transform.Transform{Field: "catalog_product_entity_varchar.value", Handler: transform.HandlerSpec{Name: "CleanMultiselect"}}
	translated := []string{"catalog_product_entity_varchar.value",
		"catalog_product_entity_varchar.attribute_id", "eav_attribute_option.attribute_id", "weee_tax.attribute_id",
		"catalog_category_entity.attribute_set_id",
		"acme_layout.attribute_id", "acme_layout.attribute_set_id", "acme_layout.attribute_group_id"}
	handlers := map[string]string{"attribute_id": transform.EavAttributeIdHandler, "attribute_set_id": transform.EavAttributeSetIdHandler,
		"attribute_group_id": transform.EavAttributeGroupIdHandler}
	tests := []struct {
		name  string
		steps []config.Step
		want  []string
	}{
		{"by title", []config.Step{eavByTitle, mapStep}, translated},
		{"by classes", []config.Step{eavByClass, mapStep}, translated},
		{"no EAV step", []config.Step{mapStep}, []string{"catalog_product_entity_varchar.value"}},
		{"EAV only in delta", []config.Step{eavInDelta, mapStep}, []string{"catalog_product_entity_varchar.value"}},
		{"no config.xml", nil, []string{"catalog_product_entity_varchar.value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runtime{cfg: &config.Config{Steps: tc.steps}}
			rules := &transform.Rules{SourcePrefix: "m1_"}
			rules.Source.IgnoreDocuments = []transform.Rule{{Name: "catalog_product_index_*"}}
			rules.Source.Transforms = []transform.Transform{own}
			r.eavValueRules(rules, src)
			r.eavValueRules(rules, src) // twice: added once
			var got []string
			for _, tr := range rules.Source.Transforms {
				got = append(got, tr.Field)
				_, col, _ := strings.Cut(tr.Field, ".")
				if tr.Field != own.Field && tr.Handler.Name != handlers[col] {
					t.Errorf("%s: handler %s", tr.Field, tr.Handler.Name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("transforms on %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEAVStepRegistered: config.xml's EAV Step is the EAV step, in no mode
// by default.
func TestEAVStepRegistered(t *testing.T) {
	r := &Runtime{cfg: &config.Config{}}
	reg, err := r.stepRegistry(&modeRun{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []config.Step{{Mode: "data", Title: "eav step"}, {Mode: "data", Title: "x", Classes: []string{`Migration\Step\Eav\Data`, `Migration\Step\Eav\Volume`}}} {
		d, ok := reg.Lookup(s)
		if !ok || d.Name != "EAV" || len(d.Default) != 0 {
			t.Errorf("%+v: %+v %v", s, d, ok)
		}
	}
	if d, ok := reg.Lookup(config.Step{Mode: "data", Title: "x", Classes: []string{`Migration\Step\Eav\Data`, `Migration\Step\Map\Data`}}); ok {
		t.Errorf("a step of EAV and Map classes is %s", d.Name)
	}
}

// TestLookupStateTable: the EAV step's map, a shiplog table, is looked up
// without the destination's prefix and found although table lists leave
// shiplog's tables out.
func TestLookupStateTable(t *testing.T) {
	var skips []string
	m := &cdc.Table{Name: transform.EavAttributeMapTable}
	other := &cdc.Table{Name: "m2_eav_attribute"}
	l := &lookupReader{sides: map[string]lookupSide{
		transform.SideDestination: {schema: "magento2", prefix: "m2_", prefixKey: "dest_prefix"},
	}, describe: func(_ context.Context, _ *sql.DB, _, skip string) ([]*cdc.Table, error) {
		skips = append(skips, skip)
		if skip == transform.StateTablePrefix {
			return []*cdc.Table{other}, nil
		}
		return []*cdc.Table{other, m}, nil
	}}
	got, err := l.table(context.Background(), transform.SideDestination, l.sides[transform.SideDestination], transform.EavAttributeMapTable)
	if err != nil || got != m {
		t.Fatalf("map table: %v, %v", got, err)
	}
	got, err = l.table(context.Background(), transform.SideDestination, l.sides[transform.SideDestination], "eav_attribute")
	if err != nil || got != other {
		t.Fatalf("prefixed table: %v, %v", got, err)
	}
	if !slices.Equal(skips, []string{"", transform.StateTablePrefix}) {
		t.Errorf("table lists skipped %q", skips)
	}
}

// TestEavEmptyFrontendInput: the reference's AttributeFrontendInput check.
// Its cases: url_path of catalog_category is allowed an empty
// frontend_input by the stock eav-attribute-groups.xml.dist, the same code
// of another entity type is not; ignored attributes are not checked; NULL,
// "" and "0" are empty (PHP's empty()).
func TestEavEmptyFrontendInput(t *testing.T) {
	ignore := map[string]bool{eavKey("catalog_product", "msrp_enabled"): true}
	allowed := map[string]bool{eavKey("catalog_category", "url_path"): true}
	attrs := []eavAttribute{
		{ID: "1", EntityType: "catalog_category", Code: "url_path"},
		{ID: "2", EntityType: "catalog_product", Code: "url_path"},
		{ID: "3", EntityType: "catalog_product", Code: "msrp_enabled"},
		{ID: "4", EntityType: "catalog_product", Code: "sku", FrontendInput: "text"},
		{ID: "5", EntityType: "customer", Code: "odd", FrontendInput: "0"},
		{ID: "6", EntityType: "", Code: "orphan"},
	}
	got := eavEmptyFrontendInput("m1_eav_attribute", attrs, ignore, allowed)
	var ids []string
	for _, p := range got {
		ids = append(ids, p.Msg[:strings.Index(p.Msg, " has")])
		if p.Severity != transform.Error || p.Blocking || p.Table != "m1_eav_attribute" || !slices.Equal(p.Columns, []string{"frontend_input"}) ||
			!strings.Contains(p.Msg, "frontend_input_empty_allowed") {
			t.Errorf("problem %+v", p)
		}
	}
	want := []string{"attribute catalog_product/url_path (attribute_id 2)", "attribute customer/odd (attribute_id 5)", "attribute /orphan (attribute_id 6)"}
	if !slices.Equal(ids, want) {
		t.Errorf("problems for %q, want %q", ids, want)
	}
}

// TestEAVStepRefusesTheKafkaSink: with sink: kafka the destination database
// holds shiplog's state only; the EAV step, which writes eav_attribute
// itself, refuses (a blocking problem) before reading anything.
func TestEAVStepRefusesTheKafkaSink(t *testing.T) {
	r := &Runtime{cfg: &config.Config{}}
	r.dest = stateOnly{r: r}
	problems, err := (&eavStep{r: r}).Integrity(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !problems[0].Blocking || !strings.Contains(problems[0].Msg, "sink: kafka") || !strings.Contains(problems[0].Msg, "sink: mysql") {
		t.Errorf("problems %+v", problems)
	}
}
