//go:build !unit

package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/step"
)

// TestPostProcessingOnTheMagento2Schema: the PostProcessing step's Data on
// the real Magento 2 schema, with the stock eav-document-groups.xml.dist and
// rows written by hand with FOREIGN_KEY_CHECKS=0 (as leftovers come to be).
// The attribute 1111 in eav_entity_attribute, absent from eav_attribute, is
// the reference's expectation (tests/integration/testsuite/Migration/Step/
// PostProcessing/Model/EavLeftoverDataTest.php on resource/post_processing/
// dest.sql: getLeftoverAttributeIds() == [1111]). The step deletes, per
// table, exactly the rows of attributes that do not exist, then the
// non-NULL product values of attributes outside their product's attribute
// set (store-level ones too; a product's NULL values and the values of a
// product that does not exist stay); it leaves what the reference's later
// cleanups would delete or move (routes on the Map step's plan, which this
// Data alone does not run; see step_post.go): products in the root
// category, multiselect values in the text table, product url_path values.
// A second run deletes nothing.
func TestPostProcessingOnTheMagento2Schema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fixtures := magentoFixtures(t)
	m := magentoServer(t, fixtures, "m2")
	db := loadMagentoSchema(t, m, fixtures, "m2", "m2-schema.sql")
	if err := m.Exec(ctx, "m2", "SET FOREIGN_KEY_CHECKS = 0",
		"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
		"INSERT INTO store (store_id, code, website_id, group_id, name) VALUES (0, 'admin', 0, 0, 'Admin'), (1, 'default', 1, 1, 'Default'), (2, 'two', 1, 1, 'Two')",
		"INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'x'), (3, 'catalog_category', 'x')",
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, frontend_input) VALUES (70, 4, 'sku', 'text'),
			(115, 4, 'quantity_and_stock_status', 'boolean'), (80, 4, 'color', 'select'), (1, 1, 'website_id', 'select'),
			(90, 4, 'colors', 'multiselect'), (91, 4, 'description', 'textarea'), (97, 4, 'url_path', 'text'),
			(98, 3, 'url_path', 'text'), (99, 3, 'tags', 'multiselect')`,
		"INSERT INTO eav_entity_attribute (entity_type_id, attribute_set_id, attribute_group_id, attribute_id) VALUES (4, 4, 7, 90), (4, 4, 7, 91), (4, 4, 7, 97)",
		// Multiselect values of products move to varchar (one replaces
		// an older varchar value); a category's multiselect and a
		// product textarea stay in text.
		"INSERT INTO catalog_product_entity_text (value_id, attribute_id, store_id, entity_id, value) VALUES (1, 90, 0, 1, '3,4'), (2, 90, 1, 1, '5'), (3, 91, 0, 1, 'long text')",
		"INSERT INTO catalog_category_entity_text (value_id, attribute_id, store_id, entity_id, value) VALUES (1, 99, 0, 2, '1,2')",
		// url_path of products goes; of categories stays.
		"INSERT INTO catalog_product_entity_varchar (value_id, attribute_id, store_id, entity_id, value) VALUES (1, 90, 0, 1, 'old'), (2, 97, 0, 1, 'a.html'), (3, 97, 1, 1, 'a1.html'), (4, 70, 0, 1, 'keep')",
		"INSERT INTO catalog_category_entity_varchar (value_id, attribute_id, store_id, entity_id, value) VALUES (1, 98, 0, 2, 'cat')",
		// The reference's dest.sql: 1111 is in the set but not an attribute.
		"INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (70, 4, 4, 7, 70, 20), (113, 4, 4, 7, 115, 3), (114, 4, 4, 7, 1111, 4)",
		// Product 2's set 9 has no attributes.
		"INSERT INTO catalog_product_entity (entity_id, attribute_set_id, sku) VALUES (1, 4, 'a'), (2, 9, 'b')",
		`INSERT INTO catalog_product_entity_int (value_id, attribute_id, store_id, entity_id, value) VALUES
			(1, 115, 0, 1, 1),     -- in the set: stays
			(2, 80, 0, 1, 5),      -- color is not in set 4: set leftover
			(3, 80, 1, 1, NULL),   -- not in the set but NULL: stays (the reference skips NULL values)
			(4, 1111, 0, 1, 7),    -- no such attribute: EAV leftover
			(5, 115, 0, 2, 3),     -- set 9 lacks it: set leftover
			(6, 80, 2, 1, 9),      -- store-level value outside the set: set leftover too
			(7, 80, 0, 3, 4)       -- product 3 does not exist: kept (the reference joins the product)`,
		`INSERT INTO catalog_product_entity_decimal (value_id, attribute_id, store_id, entity_id, value) VALUES
			(1, 91, 0, 1, 1.5),    -- in set 4: stays
			(2, 91, 0, 2, 2.5),    -- set 9 has nothing: set leftover
			(3, 91, 1, 2, NULL)    -- NULL: stays`,
		"INSERT INTO customer_entity_varchar (value_id, attribute_id, entity_id, value) VALUES (1, 1, 1, 'x'), (2, 2222, 1, 'y')",
		"INSERT INTO eav_attribute_option (option_id, attribute_id) VALUES (1, 80), (2, 3333)",
		"INSERT INTO catalog_category_product (entity_id, category_id, product_id) VALUES (1, 1, 1), (2, 2, 1), (3, 1, 2)",
	); err != nil {
		t.Fatal(err)
	}

	cfg := &config.Config{}
	cfg.Options.Magento = map[string]string{"eav_document_groups_file": filepath.Join(fixtures, "dmt", "etc", "opensource-to-opensource", "eav-document-groups.xml.dist")}
	var logs testenv.Buffer
	env := &step.Env{Mode: step.ModeData, Destination: db, DestSchema: "m2", Config: cfg, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := &postStep{}
	if problems, err := s.Integrity(ctx, env); err != nil || len(problems) != 0 {
		t.Fatalf("Integrity: %v %v", problems, err)
	}
	if len(s.leftover) != 32 {
		t.Errorf("groups file: %d leftover tables, want the reference's 32", len(s.leftover))
	}
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, d := range s.deleted {
		if d.Rows != 0 {
			got[d.Cleanup+" "+d.Table] = d.Rows
		}
	}
	want := map[string]int64{
		"eav leftover data eav_entity_attribute":       1,
		"eav leftover data catalog_product_entity_int": 1,
		"eav leftover data customer_entity_varchar":    1,
		"eav leftover data eav_attribute_option":       1,
		// AttributeSetLeftoverDataCleaner (no integration test in the
		// reference; its Model\AttributeSetLeftoverData's query): int 2,
		// 5 and 6, decimal 2.
		"attribute set leftover data catalog_product_entity_int":     3,
		"attribute set leftover data catalog_product_entity_decimal": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deleted\n got  %v\n want %v", got, want)
	}
	if !strings.Contains(logs.String(), "cleanup=\"eav leftover data\" table=customer_entity_varchar rows=1") ||
		!strings.Contains(logs.String(), "post processing: done\" deleted=8") {
		t.Errorf("the deleted-record counts are not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the stock groups file names tables the Magento 2 schema lacks:\n%s", logs.String())
	}
	for table, ids := range map[string]string{
		"catalog_product_entity_int": "1,3,7", "catalog_product_entity_decimal": "1,3", "customer_entity_varchar": "1", "eav_attribute_option": "1",
		"eav_entity_attribute": "1,2,3,70,113", "catalog_category_product": "1,2,3",
		"catalog_product_entity_text": "1,2,3", "catalog_category_entity_text": "1", "catalog_category_entity_varchar": "1",
	} {
		key := map[string]string{"catalog_product_entity_int": "value_id", "customer_entity_varchar": "value_id",
			"eav_attribute_option": "option_id", "eav_entity_attribute": "entity_attribute_id", "catalog_category_product": "entity_id"}[table]
		if key == "" {
			key = "value_id"
		}
		var left string
		if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT("+key+" ORDER BY "+key+") FROM "+table).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != ids {
			t.Errorf("%s keeps %s, want %s", table, left, ids)
		}
	}

	var varchar string
	if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT(CONCAT(attribute_id, '/', store_id, '=', value) ORDER BY attribute_id, store_id) FROM catalog_product_entity_varchar").Scan(&varchar); err != nil {
		t.Fatal(err)
	}
	if varchar != "70/0=keep,90/0=old,97/0=a.html,97/1=a1.html" {
		t.Errorf("catalog_product_entity_varchar: %s, want it as written", varchar)
	}

	// A second run deletes nothing.
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	for _, d := range s.deleted {
		if d.Rows != 0 {
			t.Errorf("second run deleted %d row(s) of %s (%s)", d.Rows, d.Table, d.Cleanup)
		}
	}
	if len(s.deleted) != 38 {
		t.Errorf("second run cleaned %d tables, want 32 + 6", len(s.deleted))
	}

	// dest_prefix: the step cleans the prefixed tables; a table of the
	// groups file the destination lacks is a warning naming it. A failing
	// delete (a trigger refuses it) stops the step and leaves every table
	// as it was: one transaction.
	if err := m.Exec(ctx, "", "CREATE DATABASE pre"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "pre",
		"CREATE TABLE m2_eav_attribute (attribute_id INT PRIMARY KEY)",
		"CREATE TABLE m2_eav_attribute_option (option_id INT PRIMARY KEY, attribute_id INT)",
		"CREATE TABLE eav_attribute_option (option_id INT PRIMARY KEY, attribute_id INT)",
		"INSERT INTO m2_eav_attribute VALUES (1)",
		"INSERT INTO m2_eav_attribute_option VALUES (1, 1), (2, 2)",
		"INSERT INTO eav_attribute_option VALUES (1, 1), (2, 2)",
		"CREATE TABLE m2_weee_tax (value_id INT PRIMARY KEY, attribute_id INT)",
		"INSERT INTO m2_weee_tax VALUES (1, 3)",
		"CREATE TRIGGER no_delete BEFORE DELETE ON m2_weee_tax FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'",
	); err != nil {
		t.Fatal(err)
	}
	pre, err := m.Open("pre")
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	groups := filepath.Join(t.TempDir(), "groups.xml")
	if err := os.WriteFile(groups, []byte(`<groups><group name="documents_leftover_values"><document>eav_attribute_option</document><document>weee_tax</document><document>salesrule_product_attribute</document></group></groups>`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = &config.Config{}
	cfg.Options.DestPrefix = "m2_"
	cfg.Options.Magento = map[string]string{"eav_document_groups_file": groups, "edition_migrate": "opensource-to-opensource"}
	logs = testenv.Buffer{}
	env = &step.Env{Mode: step.ModeData, Destination: pre, DestSchema: "pre", Config: cfg, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s = &postStep{}
	if err := s.Data(ctx, env); err == nil || !strings.Contains(err.Error(), "post processing (eav leftover data): m2_weee_tax: ") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a refused delete: %v, want an error naming m2_weee_tax", err)
	}
	var left int
	if err := pre.QueryRowContext(ctx, "SELECT COUNT(*) FROM m2_eav_attribute_option").Scan(&left); err != nil || left != 2 {
		t.Errorf("a failed run deleted rows of m2_eav_attribute_option (%d left, %v): not one transaction", left, err)
	}
	if err := m.Exec(ctx, "pre", "DROP TRIGGER no_delete", "DROP TABLE m2_weee_tax"); err != nil {
		t.Fatal(err)
	}
	logs = testenv.Buffer{}
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	if len(s.deleted) != 1 || s.deleted[0] != (postDeleted{Cleanup: "eav leftover data", Table: "m2_eav_attribute_option", Rows: 1}) {
		t.Errorf("with dest_prefix m2_: deleted %+v, want option 2 of m2_eav_attribute_option alone", s.deleted)
	}
	var unprefixed int
	if err := pre.QueryRowContext(ctx, "SELECT COUNT(*) FROM eav_attribute_option").Scan(&unprefixed); err != nil || unprefixed != 2 {
		t.Errorf("the unprefixed table was cleaned: %d rows left (%v)", unprefixed, err)
	}
	for _, w := range []string{"cleanup=\"eav leftover data\" table=m2_weee_tax", "cleanup=\"eav leftover data\" table=m2_salesrule_product_attribute"} {
		if !strings.Contains(logs.String(), "level=WARN msg=\"post processing: a table the step cleans or reads is not in the destination (or lacks a column); that cleanup skips it\" "+w) {
			t.Errorf("no warning for %s:\n%s", w, logs.String())
		}
	}
}
