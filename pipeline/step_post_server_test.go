//go:build !unit

package pipeline

import (
	"context"
	"fmt"
	"log/slog"
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
// dest.sql: getLeftoverAttributeIds() == [1111]). The cleanups delete, per
// table, exactly the rows each targets; a NULL value outside the set and a
// product in a real category stay; a second run deletes nothing.
func TestPostProcessingOnTheMagento2Schema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var fixtures string
	for _, d := range []string{filepath.Join(root, "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if fileThere(filepath.Join(d, "schema", "m2-schema.sql")) {
			fixtures = d
			break
		}
	}
	if fixtures == "" {
		t.Fatal("the Magento fixtures (../shared/fixtures/magento) are missing")
	}
	m := testenv.MariaDBT(t, testenv.Options{})
	if err := m.Exec(ctx, "", "CREATE DATABASE m2"); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("m2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := testenv.ExecFile(ctx, db, filepath.Join(fixtures, "schema", "m2-schema.sql")); err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(0)
	if err := m.Exec(ctx, "m2", "SET FOREIGN_KEY_CHECKS = 0",
		"INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code) VALUES (70, 4, 'sku'), (115, 4, 'quantity_and_stock_status'), (80, 4, 'color'), (1, 1, 'website_id')",
		// The reference's dest.sql: 1111 is in the set but not an attribute.
		"INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (70, 4, 4, 7, 70, 20), (113, 4, 4, 7, 115, 3), (114, 4, 4, 7, 1111, 4)",
		// Product 2's set 9 has no attributes.
		"INSERT INTO catalog_product_entity (entity_id, attribute_set_id, sku) VALUES (1, 4, 'a'), (2, 9, 'b')",
		`INSERT INTO catalog_product_entity_int (value_id, attribute_id, store_id, entity_id, value) VALUES
			(1, 115, 0, 1, 1),     -- in the set: stays
			(2, 80, 0, 1, 5),      -- color is not in set 4: set leftover
			(3, 80, 1, 1, NULL),   -- not in the set but NULL: stays (the reference skips NULL values)
			(4, 1111, 0, 1, 7),    -- no such attribute: EAV leftover
			(5, 115, 0, 2, 3)      -- set 9 lacks it: set leftover`,
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
	if len(s.leftover) != 32 || len(s.setLeftover) != 6 {
		t.Errorf("groups file: %d leftover and %d set-leftover tables, want the reference's 32 and 6", len(s.leftover), len(s.setLeftover))
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
		"eav leftover data eav_entity_attribute":                 1,
		"eav leftover data catalog_product_entity_int":           1,
		"eav leftover data customer_entity_varchar":              1,
		"eav leftover data eav_attribute_option":                 1,
		"attribute set leftover data catalog_product_entity_int": 2,
		"products in root catalog catalog_category_product":      2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deleted\n got  %v\n want %v", got, want)
	}
	if !strings.Contains(logs.String(), "cleanup=\"attribute set leftover data\" table=catalog_product_entity_int rows=2") ||
		!strings.Contains(logs.String(), "post processing: done\" deleted=8") {
		t.Errorf("the deleted-record counts are not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the stock groups file names tables the Magento 2 schema lacks:\n%s", logs.String())
	}
	for table, ids := range map[string]string{
		"catalog_product_entity_int": "1,3", "customer_entity_varchar": "1", "eav_attribute_option": "1",
		"eav_entity_attribute": "70,113", "catalog_category_product": "2",
	} {
		key := map[string]string{"catalog_product_entity_int": "value_id", "customer_entity_varchar": "value_id",
			"eav_attribute_option": "option_id", "eav_entity_attribute": "entity_attribute_id", "catalog_category_product": "entity_id"}[table]
		var left string
		if err := db.QueryRowContext(ctx, "SELECT GROUP_CONCAT("+key+" ORDER BY "+key+") FROM "+table).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != ids {
			t.Errorf("%s keeps %s, want %s", table, left, ids)
		}
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
	if len(s.deleted) != 32+6+1 {
		t.Errorf("second run cleaned %d tables, want 39", len(s.deleted))
	}
}
