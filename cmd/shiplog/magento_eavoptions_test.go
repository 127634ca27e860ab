//go:build !unit

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// eavOptionLabels read, on either side, what the options and the select and
// multiselect product values name by label (store 0), never by id.
const (
	eavOptionsByLabel = "SELECT a.attribute_code, o.option_id, v.store_id, v.value FROM eav_attribute_option o JOIN eav_attribute a USING (attribute_id) JOIN eav_attribute_option_value v USING (option_id) ORDER BY o.option_id, v.store_id"
	eavSelectByLabel  = "SELECT i.entity_id, a.attribute_code, v.value FROM catalog_product_entity_int i JOIN eav_attribute a USING (attribute_id) JOIN eav_attribute_option_value v ON v.option_id = i.value AND v.store_id = 0 ORDER BY i.entity_id, a.attribute_code"
	eavMultiByLabel   = "SELECT t.entity_id, a.attribute_code, GROUP_CONCAT(v.value ORDER BY v.value) FROM catalog_product_entity_varchar t JOIN eav_attribute a USING (attribute_id) JOIN eav_attribute_option_value v ON FIND_IN_SET(v.option_id, t.value) AND v.store_id = 0 GROUP BY t.entity_id, a.attribute_code ORDER BY t.entity_id"
)

// TestEAVStepOptionsOnRealSchemas: attribute options with the stock
// config.xml.dist and map.xml.dist on the real Magento 1.9 and 2.4 schemas.
// The reference keeps Magento 1's option ids: its Map step empties Magento
// 2's eav_attribute_option and eav_attribute_option_value (clearDocument)
// and copies Magento 1's rows (map.xml.dist has no rule for them); its EAV
// step does not touch them (Step/Eav/Data.php). shiplog's Map step does
// the same, attribute_id translated. So Magento 2's own options, whose ids
// overlap Magento 1's (color's Green under Magento 1's Blue id 4), are
// gone, and every select and multiselect value names, in Magento 2, the
// option label it names in Magento 1: compared by label on both sides
// after the copy, a second run and delta. What the reference leaves wrong
// (Step/Eav leaves Magento 2's swatches and default_value alone), shiplog
// sets right: the swatch of Green (option 4, Blue after the copy) and of
// the Magento 2-only swatch_kind's option are deleted, the one of
// manufacturer's Acme (option 1 on both sides, the same option) kept;
// color's Magento 2 default_value 4 (Green) becomes Magento 1's 3 (Red);
// swatch_kind's lost option is warned about. An attribute added to Magento
// 1 during delta fails its values with the remedy, migrate data --reset,
// which migrates them. A map that leaves
// eav_attribute_option_value out is an integrity error (values would carry
// Magento 2's labels).
func TestEAVStepOptionsOnRealSchemas(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	s.e.config = s.config
	s.exec(storeAdminAndDefault...)
	s.exec(
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, default_value, backend_model, is_user_defined) VALUES
			(81, 4, 'manufacturer', 'int', 'select', NULL, NULL, 1), (92, 4, 'color', 'int', 'select', '3', NULL, 1),
			(200, 4, 'shiplog_fabric', 'varchar', 'multiselect', NULL, 'eav/entity_attribute_backend_array', 1), (87, 4, 'url_key', 'varchar', 'text', NULL, NULL, 0)`,
		`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (81, 1, 1), (92, 1, 1), (200, 1, 1), (87, 0, 1)`,
		`INSERT INTO eav_attribute_option (option_id, attribute_id, sort_order) VALUES (1, 81, 0), (3, 92, 0), (4, 92, 1), (5, 200, 0), (6, 200, 1)`,
		`INSERT INTO eav_attribute_option_value (value_id, option_id, store_id, value) VALUES
			(1, 1, 0, 'Acme'), (3, 3, 0, 'Red'), (4, 4, 0, 'Blue'), (5, 4, 1, 'Bleu'), (6, 5, 0, 'Cotton'), (7, 6, 0, 'Wool')`,
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1)`,
		// The set links the attributes the products have values of (values
		// outside it are the PostProcessing step's leftovers).
		`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES
			(1, 4, 4, 7, 81, 1), (2, 4, 4, 7, 92, 2), (3, 4, 4, 7, 200, 3), (4, 4, 4, 7, 87, 4)`,
		`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
			(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), (2, 4, 4, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
		`INSERT INTO catalog_product_entity_int (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
			(1, 4, 92, 0, 1, 4), (2, 4, 92, 0, 2, 3), (3, 4, 81, 0, 1, 1)`,
		`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (1, 4, 200, 0, 1, '5,6')`,
	)
	// Magento 2's own: the attributes under other ids, options whose ids
	// overlap Magento 1's, swatches and a default naming them.
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, default_value) VALUES
			(83, 4, 'manufacturer', 'int', 'select', NULL), (93, 4, 'color', 'int', 'select', '4'), (150, 4, 'swatch_kind', 'int', 'select', NULL),
			(121, 4, 'url_key', 'varchar', 'text', NULL)`,
		`INSERT INTO catalog_eav_attribute (attribute_id, is_global) VALUES (83, 1), (93, 1), (150, 1), (121, 0)`,
		`INSERT INTO eav_attribute_option (option_id, attribute_id, sort_order) VALUES (1, 83, 0), (2, 83, 1), (4, 93, 0), (7, 150, 0)`,
		`INSERT INTO eav_attribute_option_value (value_id, option_id, store_id, value) VALUES (1, 1, 0, 'Acme'), (2, 2, 0, 'Other'), (3, 4, 0, 'Green'), (4, 7, 0, 'Round')`,
		`INSERT INTO eav_attribute_option_swatch (swatch_id, option_id, store_id, type, value) VALUES (1, 1, 0, 0, 'Acme'), (2, 4, 0, 1, '#00ff00'), (3, 7, 0, 0, 'R')`,
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
			(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
	); err != nil {
		t.Fatal(err)
	}
	// What Magento 1 names by label, written here from the rows above
	// (rowsOf sorts rows as text).
	wantOptions := []string{
		"'color','3','0','Red'", "'color','4','0','Blue'", "'color','4','1','Bleu'", "'manufacturer','1','0','Acme'",
		"'shiplog_fabric','5','0','Cotton'", "'shiplog_fabric','6','0','Wool'",
	}
	wantSelect := []string{"'1','color','Blue'", "'1','manufacturer','Acme'", "'2','color','Red'"}
	wantMulti := []string{"'1','shiplog_fabric','Cotton,Wool'"}
	same := func(when, q string, want []string) {
		t.Helper()
		m1, m2 := rowsOf(t, s.e.srcDB, q), rowsOf(t, s.e.dstDB, q)
		if strings.Join(m1, "\n") != strings.Join(want, "\n") || strings.Join(m2, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %s\n Magento 1: %v\n Magento 2: %v\n want:      %v", when, q, m1, m2, want)
		}
	}
	check := func(when string) {
		t.Helper()
		same(when, eavOptionsByLabel, wantOptions)
		same(when, eavSelectByLabel, wantSelect)
		same(when, eavMultiByLabel, wantMulti)
		assertQueries(t, s.e.dstDB, when+": ", map[string][]string{
			// Acme's swatch (the same option on both sides) stays; Green's
			// and Round's go.
			"SELECT swatch_id, option_id, value FROM eav_attribute_option_swatch ORDER BY swatch_id": {"'1','1','Acme'"},
			// color's default names Magento 1's Red; the others as they were.
			"SELECT attribute_code, default_value FROM eav_attribute WHERE attribute_code IN ('color', 'manufacturer', 'swatch_kind') ORDER BY attribute_code": {
				"'color','3'", "'manufacturer',NULL", "'swatch_kind',NULL",
			},
		})
	}
	r := runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 || !strings.Contains(r.stderr, "EAV attribute options") {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "lose their own options: catalog_product/swatch_kind (1)") || !strings.Contains(r.stderr, "swatches_deleted=2") ||
		!strings.Contains(r.stderr, "default_values_set=1") {
		t.Errorf("migrate data: no warning of swatch_kind's lost option, or counts not logged\n%s", r.stderr)
	}
	check("after the copy")
	r = runShiplog(t, s.config, nil, "migrate", "data", "--reset")
	if r.code != 0 || !strings.Contains(r.stderr, "swatches_deleted=0") || !strings.Contains(r.stderr, "default_values_set=0") || strings.Contains(r.stderr, "lose their own options") {
		t.Fatalf("migrate data --reset: exit %d, want nothing more to do about options\n%s", r.code, r.stderr)
	}
	check("after a second run")

	// Delta: an option added in Magento 1, a value naming it, a value
	// moved to another option.
	s.exec(`INSERT INTO eav_attribute_option (option_id, attribute_id, sort_order) VALUES (8, 200, 2)`,
		`INSERT INTO eav_attribute_option_value (value_id, option_id, store_id, value) VALUES (8, 8, 0, 'Linen')`,
		`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (2, 4, 200, 0, 2, '8,5')`,
		`UPDATE catalog_product_entity_int SET value = 3 WHERE value_id = 1`)
	s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
	wantOptions = append(wantOptions, "'shiplog_fabric','8','0','Linen'")
	wantSelect = []string{"'1','color','Red'", "'1','manufacturer','Acme'", "'2','color','Red'"}
	wantMulti = append(wantMulti, "'2','shiplog_fabric','Cotton,Linen'")
	check("after delta")
	if r := runShiplog(t, s.config, nil, "verify", "--tables", "eav_attribute_option,eav_attribute_option_value,catalog_product_entity_int,catalog_product_entity_varchar"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An attribute added to Magento 1 during delta: its value is a failed
	// row naming the remedy, which then migrates it.
	s.exec(`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES (201, 4, 'late_note', 'varchar', 'text', 1)`,
		`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (201, 1, 1)`,
		`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (5, 4, 4, 7, 201, 5)`,
		`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (3, 4, 201, 0, 1, 'late')`)
	r = runShiplog(t, s.config, nil, "migrate", "delta", "--exit-when-caught-up")
	if r.code == 0 {
		t.Fatalf("migrate delta: exit 0 with a value of an attribute the EAV step has not migrated\n%s", r.stderr)
	}
	if got := rowsOf(t, s.e.dstDB, "SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'catalog_product_entity_varchar' AND error LIKE '%attribute_id 201 is not in%shiplog migrate data --reset%'"); strings.Join(got, "") != "'1'" {
		t.Fatalf("failed rows of late_note's value naming the remedy: %v", got)
	}
	s.e.mustRun("migrate", "data", "--reset")
	const late = "SELECT t.entity_id, a.attribute_code, t.value FROM catalog_product_entity_varchar t JOIN eav_attribute a USING (attribute_id) WHERE a.attribute_code = 'late_note'"
	same("after the remedy", late, []string{"'1','late_note','late'"})
	check("after the remedy")

	// A map that leaves the option labels out: an integrity error, nothing
	// written.
	dist, err := os.ReadFile(filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "map.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dist), "<document_rules>") {
		t.Fatal("map.xml.dist has no <document_rules>")
	}
	noLabels := strings.Replace(string(dist), "<document_rules>", "<document_rules>\n<ignore><document>eav_attribute_option_value</document></ignore>", 1)
	mapFile := filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(mapFile, []byte(noLabels), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key, "map_file": mapFile})
	r = runShiplog(t, cfg, nil, "migrate", "data", "--reset")
	if r.code == 0 || !strings.Contains(r.stderr, "the map leaves eav_attribute_option_value out, but Magento 1 has attribute options") {
		t.Fatalf("migrate data with a map leaving option labels out: exit %d, want the EAV step's integrity error\n%s", r.code, r.stderr)
	}
	check("after the refused run")
}
