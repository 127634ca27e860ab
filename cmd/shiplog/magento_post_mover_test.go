//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// TestStockConfigPostProcessingMover: with the stock config.xml (the
// PostProcessing Step in data mode), the reference's
// EntityTypeTextToVarcharMover (values of multiselect product attributes
// are moved from catalog_product_entity_text into _varchar, INSERT ... ON
// DUPLICATE by its unique key, and deleted from _text) is an Upsert route
// on the Map step's plan of _text: after data the multiselect values are in
// _varchar and not in _text, a textarea value stays in _text; delta
// (binlog and change logs) updates, deletes and inserts them there, and
// moves a textarea value that becomes a multiselect one. Checked in SQL by
// attribute code on the destination, and `shiplog verify` passes.
func TestStockConfigPostProcessingMover(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			s, _ := newStockStoreStreaming(t, delta)
			s.exec(storeAdminAndDefault...)
			s.exec(
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
					(85, 4, 'name', 'varchar', 'text', 0), (87, 4, 'url_key', 'varchar', 'text', 0), (88, 4, 'url_path', 'varchar', 'text', 0), (92, 4, 'colors', 'text', 'multiselect', 1), (93, 4, 'notes', 'text', 'textarea', 1)`,
				`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (85, 0, 1), (87, 0, 1), (88, 0, 1), (92, 0, 1), (93, 0, 1)`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1)`,
				`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (1, 4, 4, 7, 85, 1), (2, 4, 4, 7, 92, 2), (3, 4, 4, 7, 93, 3)`,
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
					(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), (2, 4, 4, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
				// value_ids 1 and 2 in both tables: a moved row must not
				// take (or be overwritten by) a _varchar row's value_id.
				`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (1, 4, 85, 0, 1, 'Phone'), (2, 4, 85, 0, 2, 'Case')`,
				`INSERT INTO catalog_product_entity_text (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
					(1, 4, 92, 0, 1, '3,4'), (2, 4, 93, 0, 1, 'fragile'), (3, 4, 92, 1, 1, '5')`,
			)
			if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES (73, 4, 'name', 'varchar', 'text'), (121, 4, 'url_key', 'varchar', 'text'), (124, 4, 'url_path', 'varchar', 'text')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
					(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
			); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			s.e.mustRun("migrate", "data")
			// Independent of the plan: by attribute code.
			const varchars = "SELECT v.entity_id, a.attribute_code, v.store_id, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) ORDER BY v.entity_id, a.attribute_code, v.store_id"
			const texts = "SELECT v.entity_id, a.attribute_code, v.store_id, v.value FROM catalog_product_entity_text v JOIN eav_attribute a USING (attribute_id) ORDER BY v.entity_id, a.attribute_code, v.store_id"
			s.assertRows(map[string][]string{
				varchars: {"'1','colors','0','3,4'", "'1','colors','1','5'", "'1','name','0','Phone'", "'2','name','0','Case'"},
				texts:    {"'1','notes','0','fragile'"},
				"SELECT COUNT(*) FROM catalog_product_entity_varchar WHERE value_id IN (1, 2)": {"'2'"},
			})
			// A second data run (the copies empty and copy again) leaves the same.
			s.e.mustRun("migrate", "data")
			s.assertRows(map[string][]string{
				varchars: {"'1','colors','0','3,4'", "'1','colors','1','5'", "'1','name','0','Phone'", "'2','name','0','Case'"},
				texts:    {"'1','notes','0','fragile'"},
			})

			s.exec(
				`UPDATE catalog_product_entity_text SET value = '3' WHERE value_id = 1`,
				`DELETE FROM catalog_product_entity_text WHERE value_id = 3`,
				`INSERT INTO catalog_product_entity_text (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (4, 4, 92, 0, 2, '6'), (5, 4, 93, 1, 2, 'heavy')`,
				// A textarea value becomes a multiselect one (moved), and
				// a new one leaves it.
				`UPDATE catalog_product_entity_text SET attribute_id = 92, store_id = 1, value = '7' WHERE value_id = 2`,
				`UPDATE catalog_product_entity_text SET attribute_id = 93, value = 'was 6' WHERE value_id = 4`,
				`UPDATE catalog_product_entity_varchar SET value = 'Phone 2' WHERE value_id = 1`,
			)
			s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			s.assertRows(map[string][]string{
				varchars: {"'1','colors','0','3'", "'1','colors','1','7'", "'1','name','0','Phone 2'", "'2','name','0','Case'"},
				texts:    {"'2','notes','0','was 6'", "'2','notes','1','heavy'"},
			})
			if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity_text,catalog_product_entity_varchar"); r.code != 0 {
				t.Errorf("verify after delta: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			// verify compares the moved rows in _varchar: one changed
			// there by hand differs.
			if _, err := s.e.dstDB.Exec("UPDATE catalog_product_entity_varchar SET value = 'x' WHERE value = '7'"); err != nil {
				t.Fatal(err)
			}
			if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity_text"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "catalog_product_entity_varchar") {
				t.Errorf("verify passed with a moved value changed on the destination (or did not name _varchar): exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if delta != "binlog" {
				return
			}
			// cutover's window verify compares the moved rows the window
			// changed in _varchar too: a destination trigger spoils the
			// stream's write of one, and cutover must not succeed.
			if err := s.dst.Exec(context.Background(), "magento2",
				"UPDATE catalog_product_entity_varchar SET value = '7' WHERE value = 'x'",
				"CREATE TRIGGER spoil BEFORE UPDATE ON catalog_product_entity_varchar FOR EACH ROW SET NEW.value = IF(NEW.value = '8', 'spoilt', NEW.value)",
				"CREATE TRIGGER spoil_new BEFORE INSERT ON catalog_product_entity_varchar FOR EACH ROW SET NEW.value = IF(NEW.value = '8', 'spoilt', NEW.value)",
			); err != nil {
				t.Fatal(err)
			}
			s.exec(`UPDATE catalog_product_entity_text SET value = '8' WHERE value_id = 2`)
			cut := cutoverBesideDelta(t, s.config)
			if cut.err == nil || !strings.Contains(cut.stderr.String(), "window read") || !strings.Contains(cut.stderr.String(), "catalog_product_entity_varchar") {
				t.Errorf("cutover with a moved row spoilt on the destination: %v (want a window verify that fails naming catalog_product_entity_varchar)\n%s", cut.err, cut.stderr)
			}
			s.assertRows(map[string][]string{varchars: {"'1','colors','0','3'", "'1','colors','1','spoilt'", "'1','name','0','Phone 2'", "'2','name','0','Case'"}})
		})
	}
}
