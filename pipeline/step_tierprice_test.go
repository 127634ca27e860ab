package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
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

// magentoFixture is a file of the shared Magento fixtures (beside the
// checkout, as CI lays them out), by its path under fixtures/magento.
func magentoFixture(t *testing.T, rel ...string) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared"), "/work/shared"} {
		p := filepath.Join(append([]string{d, "fixtures", "magento"}, rel...)...)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("the Magento fixture %s is missing (../shared/fixtures/magento)", filepath.Join(rel...))
	return ""
}

// TestTierPriceSources: the group price document is migrated for a 1.7+
// edition_number, not for the versions the reference's helper lists as
// without it, and with an empty edition_number (where the reference leaves
// it out without a word) when the source has it, with a note.
func TestTierPriceSources(t *testing.T) {
	both := []string{tierPriceDoc, groupPriceDoc}
	for _, tc := range []struct {
		edition  string
		hasGroup bool
		want     []string
		note     string
	}{
		{edition: "1.9.4.5", hasGroup: true, want: both},
		{edition: "1.9.2.1", hasGroup: true, want: both}, // the reference's integration config
		// Named 1.9 but without the table: Integrity reports the missing
		// document, as the reference's does.
		{edition: "1.9.4.5", hasGroup: false, want: both},
		{edition: "1.6.2.0", hasGroup: false, want: []string{tierPriceDoc}},
		{edition: " 1.11.0.0 ", hasGroup: false, want: []string{tierPriceDoc}},
		{edition: "1.11.2.0", hasGroup: true, want: []string{tierPriceDoc}, note: "which has no catalog_product_entity_group_price, but the source has one"},
		{edition: "", hasGroup: true, want: both, note: "edition_number is not set: the reference then leaves catalog_product_entity_group_price out"},
		{edition: "", hasGroup: false, want: []string{tierPriceDoc}},
	} {
		got, note := tierPriceSources(tc.edition, tc.hasGroup)
		if !slices.Equal(got, tc.want) {
			t.Errorf("edition %q, group price table %v: documents %v, want %v", tc.edition, tc.hasGroup, got, tc.want)
		}
		if (note == "") != (tc.note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("edition %q, group price table %v: note %q, want one with %q", tc.edition, tc.hasGroup, note, tc.note)
		}
	}
}

func tierCol(name, typ string, nullable bool) cdc.Column {
	dt := strings.FieldsFunc(typ, func(r rune) bool { return r == '(' || r == ' ' })[0]
	return cdc.Column{Name: name, DataType: dt, ColumnType: typ, Nullable: nullable, HasDefault: true}
}

// tierPriceSchemas are Magento 1.9's tier and group price tables and Magento
// 2.4's tier price table, as in schema/m1-schema.sql and m2-schema.sql; or
// (reference) those of the reference's resource/tier_price databases: a
// custom_field in the tier prices, no is_percent, no percentage_value, and
// the destination's types those of Magento 1.
func tierPriceSchemas(reference bool) (src, dst []*cdc.Table) {
	tier := &cdc.Table{Schema: "m1", Name: tierPriceDoc, Key: []int{0}, Columns: []cdc.Column{
		tierCol("value_id", "int(11)", false), tierCol("entity_id", "int(10) unsigned", false),
		tierCol("all_groups", "smallint(5) unsigned", false), tierCol("customer_group_id", "smallint(5) unsigned", false),
		tierCol("qty", "decimal(12,4)", false), tierCol("value", "decimal(12,4)", false), tierCol("website_id", "smallint(5) unsigned", false),
	}}
	group := &cdc.Table{Schema: "m1", Name: groupPriceDoc, Key: []int{0}, Columns: []cdc.Column{
		tierCol("value_id", "int(11)", false), tierCol("entity_id", "int(10) unsigned", false),
		tierCol("all_groups", "smallint(5) unsigned", false), tierCol("customer_group_id", "smallint(5) unsigned", false),
		tierCol("value", "decimal(12,4)", false), tierCol("website_id", "smallint(5) unsigned", false),
	}}
	dest := &cdc.Table{Schema: "m2", Name: tierPriceDoc, Key: []int{0}, Unique: [][]int{{1, 2, 3, 4, 6}}, Columns: []cdc.Column{
		tierCol("value_id", "int", false), tierCol("entity_id", "int unsigned", false),
		tierCol("all_groups", "smallint unsigned", false), tierCol("customer_group_id", "int unsigned", false),
		tierCol("qty", "decimal(12,4)", false), tierCol("value", "decimal(20,6)", false), tierCol("website_id", "smallint unsigned", false),
	}}
	if reference {
		tier.Columns = append(tier.Columns, tierCol("custom_field", "smallint(5) unsigned", false))
		dest.Columns = slices.Clone(tier.Columns[:7])
	} else {
		group.Columns = append(group.Columns, tierCol("is_percent", "smallint(5) unsigned", false))
		dest.Columns = append(dest.Columns, tierCol("percentage_value", "decimal(5,2)", true))
	}
	return []*cdc.Table{tier, group}, []*cdc.Table{dest}
}

// TestTierPricePlans: the stock map-tier-price.xml.dist (the 1.9.4.5
// folder's, which the stock config.xml.dist names) compiles over the real
// tables with the step's rules into a plan per source document, both to
// Magento 2's tier price table: value_id emptied, is_percent and
// percentage_value left out, and the group price plan without qty (the
// step writes 1). The reference's integration maps: map-tier-price.xml
// ignores its custom_field; map-tier-price-fail.xml does not, which is the
// error its IntegrityTest::testPerformFail expects, word for word.
func TestTierPricePlans(t *testing.T) {
	stock := magentoFixture(t, "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "map-tier-price.xml.dist")
	files := []string{"dmt", "tests", "integration", "testsuite", "Migration", "_files"}
	testMap := magentoFixture(t, append(files, "map-tier-price.xml")...)
	failMap := magentoFixture(t, append(files, "map-tier-price-fail.xml")...)
	for _, tc := range []struct {
		name      string
		file      string
		reference bool
		rules     bool
		errs      []string
	}{
		{name: "stock map", file: stock, rules: true},
		{name: "reference test map", file: testMap, reference: true, rules: true},
		{name: "reference fail map", file: failMap, reference: true, rules: true,
			errs: []string{"Source fields are not mapped. Document: catalog_product_entity_tier_price. Fields: custom_field"}},
		// Without the step's rules the group prices would have nowhere to
		// go: the rules are what pair them with the tier prices.
		{name: "stock map without the step's rules", file: stock,
			errs: []string{"Source documents are not mapped: catalog_product_entity_group_price"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := transform.ReadMap(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			src, dst := tierPriceSchemas(tc.reference)
			docs := []string{tierPriceDoc, groupPriceDoc}
			if tc.rules {
				tierPriceRules(docs)(rules, src)
			}
			plan, problems := transform.Compile(rules, src, dst)
			var errs []string
			for _, p := range problems {
				if p.Severity == transform.Error {
					errs = append(errs, p.Msg)
				}
			}
			all := strings.Join(errs, "\n")
			for _, w := range tc.errs {
				if !strings.Contains(all, w) {
					t.Errorf("no error %q in:\n%s", w, all)
				}
			}
			if len(tc.errs) > 0 {
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %s", all)
			}
			tier, group := plan.Table(tierPriceDoc), plan.Table(groupPriceDoc)
			if tier == nil || group == nil || tier.Dest.Name != tierPriceDoc || group.Dest.Name != tierPriceDoc {
				t.Fatalf("plans: tier %v, group %v; want both to %s", tier, group, tierPriceDoc)
			}
			// Rows of the reference's resource/tier_price/source.sql.
			tierRow := []any{int64(1), int64(1), int64(0), int64(1), "1.0000", "15.0000", int64(0)}
			if tc.reference {
				tierRow = append(tierRow, int64(9))
			}
			groupRow := []any{int64(2), int64(6), int64(0), int64(3), "95.0000", int64(0)}
			if !tc.reference {
				groupRow = append(groupRow, int64(1))
			}
			for _, rc := range []struct {
				tp   *transform.TablePlan
				row  []any
				want map[string]any
			}{
				{tier, tierRow, map[string]any{"entity_id": int64(1), "customer_group_id": int64(1), "qty": "1.0000", "value": "15.0000", "website_id": int64(0)}},
				{group, groupRow,
					map[string]any{"entity_id": int64(6), "all_groups": int64(0), "customer_group_id": int64(3), "value": "95.0000"}},
			} {
				out, err := rc.tp.Row(rc.row)
				if err != nil {
					t.Fatalf("%s row %v: %v", rc.tp.Source.Name, rc.row, err)
				}
				for c, v := range rc.want {
					i := rc.tp.Dest.ColumnIndex(c)
					if i < 0 || fmt.Sprint(out[i]) != fmt.Sprint(v) {
						t.Errorf("%s: %s at %d in %v, want %v", rc.tp.Source.Name, c, i, out, v)
					}
				}
				if i := rc.tp.Dest.ColumnIndex("value_id"); tc.file == stock && (i < 0 || out[i] != nil) {
					t.Errorf("%s: value_id not emptied by the stock map's SetValue: %v", rc.tp.Source.Name, out)
				}
				for _, c := range []string{"is_percent", "percentage_value", "custom_field"} {
					if rc.tp.Dest.ColumnIndex(c) >= 0 {
						t.Errorf("%s writes %s", rc.tp.Source.Name, c)
					}
				}
			}
			if group.Dest.ColumnIndex("qty") >= 0 {
				t.Errorf("the group price plan fills qty: %v", group.Dest.KeyNames())
			}
			// What the step writes: never value_id (whatever the map says,
			// as the reference empties it), and qty 1 for group prices.
			for _, c := range []struct {
				tp    *transform.TablePlan
				group bool
			}{{tier, false}, {group, true}} {
				cols, pos, err := tierPriceColumns(c.tp.Dest, c.group)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, col := range cols {
					names = append(names, col.Name)
				}
				want := "entity_id,all_groups,customer_group_id,qty,value,website_id"
				if c.group {
					want = "entity_id,all_groups,customer_group_id,value,website_id,qty"
					if pos[len(pos)-1] != -1 {
						t.Errorf("qty of a group price taken from the plan's field %d", pos[len(pos)-1])
					}
				}
				if strings.Join(names, ",") != want {
					t.Errorf("%s: writes %s, want %s", c.tp.Source.Name, strings.Join(names, ","), want)
				}
			}
		})
	}
}

// TestTierPriceColumnsRefusesAQtyForGroupPrices: a map that moves a group
// price field onto qty would be overwritten by the step's 1: an error
// rather than a silent choice.
func TestTierPriceColumnsRefusesAQtyForGroupPrices(t *testing.T) {
	dest := &cdc.Table{Name: tierPriceDoc, Columns: []cdc.Column{tierCol("entity_id", "int", false), tierCol("qty", "decimal(12,4)", false)}}
	if _, _, err := tierPriceColumns(dest, true); err == nil || !strings.Contains(err.Error(), "qty") {
		t.Errorf("err = %v, want one naming qty", err)
	}
	if _, _, err := tierPriceColumns(dest, false); err != nil {
		t.Errorf("tier prices fill qty: %v", err)
	}
}

// TestTierPriceInsert: one multi-row INSERT whose duplicates (the unique
// key of product, all groups, customer group, qty, website) take the later
// row's values, as the reference's insert-or-update; values as literals.
func TestTierPriceInsert(t *testing.T) {
	dest := &cdc.Table{Schema: "m2", Name: tierPriceDoc}
	cols := []cdc.Column{tierCol("entity_id", "int unsigned", false), tierCol("value", "decimal(20,6)", false), tierCol("qty", "decimal(12,4)", false)}
	got, err := tierPriceInsert(dest, cols, [][]any{{int64(1), "15.0000", "1.0000"}, {int64(6), "95.5", groupPriceQty}})
	if err != nil {
		t.Fatal(err)
	}
	want := "INSERT INTO `m2`.`catalog_product_entity_tier_price` (`entity_id`,`value`,`qty`) VALUES (1,'15.0000','1.0000'),(6,'95.5','1.0000')" +
		" ON DUPLICATE KEY UPDATE `entity_id`=VALUES(`entity_id`),`value`=VALUES(`value`),`qty`=VALUES(`qty`)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := tierPriceInsert(dest, cols, [][]any{{int64(1), struct{}{}, "1"}}); err == nil || !strings.Contains(err.Error(), "value") {
		t.Errorf("a value of no SQL form: err = %v, want one naming the field", err)
	}
}

// TestTierPriceSourceCount: the volume counts distinct prices by the
// destination's unique key, a group price with qty 1, as the reference's
// Volume keys them; with no group price document, tier prices only.
func TestTierPriceSourceCount(t *testing.T) {
	for _, tc := range []struct {
		docs []string
		want string
	}{
		{[]string{"`m1`.`t`"}, "SELECT COUNT(*) FROM (SELECT `entity_id`,`all_groups`,`customer_group_id`,`qty`,`website_id` FROM `m1`.`t`) AS prices"},
		{[]string{"`m1`.`t`", "`m1`.`g`"}, "SELECT COUNT(*) FROM (SELECT `entity_id`,`all_groups`,`customer_group_id`,`qty`,`website_id` FROM `m1`.`t`" +
			" UNION SELECT `entity_id`,`all_groups`,`customer_group_id`,CAST(1.0000 AS DECIMAL(12,4)),`website_id` FROM `m1`.`g`) AS prices"},
	} {
		if got := tierPriceSourceCount(tc.docs); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// TestTierPriceDeltaSaysNothingIsFollowed: listed in delta mode, the step
// returns at once, warns, and its volume check has nothing to count.
func TestTierPriceDeltaSaysNothingIsFollowed(t *testing.T) {
	var logs bytes.Buffer
	env := &step.Env{Mode: step.ModeDelta, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, s := range []step.Step{&tierPriceStep{}} {
		logs.Reset()
		if err := s.Delta(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if err := s.Volume(context.Background(), env); err != nil {
			t.Fatalf("%T: volume in delta mode: %v", s, err)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "after data mode") {
			t.Errorf("%T: no warning that changes after data mode are not followed:\n%s", s, logs.String())
		}
	}
	// The Ratings step's delta is its follower (TestFollowRatings): listed
	// in delta mode, it says nothing more.
	logs.Reset()
	if err := (&ratingsStep{r: &Runtime{cfg: &config.Config{}}}).Delta(context.Background(), env); err != nil || logs.Len() > 0 {
		t.Errorf("the Ratings step's Delta: %v, log %q", err, logs.String())
	}
	if err := (&tierPriceStep{}).Data(context.Background(), env); err == nil || !strings.Contains(err.Error(), "no plan") {
		t.Errorf("data without a plan: %v", err)
	}
}
