//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// TestStockConfigPostProcessingSetLeftovers: with the stock config.xml (the
// PostProcessing Step in data mode), the reference's
// AttributeSetLeftoverDataCleaner (a product's non-NULL values of attributes
// its attribute set does not link are deleted; NULL values and values of a
// product that does not exist stay; store-level values go too; the Data
// Integrity step refuses value rows of a product Magento 1 lacks, so that
// case is TestPostProcessingOnTheMagento2Schema's): after data
// the leftovers are gone and counted, `shiplog verify` does not miss them;
// delta (binlog and change logs) keeps it so right after each batch: a new
// product with its values in one transaction, a value becoming non-NULL on
// an attribute outside the set, and a product moved to another set (its
// values the new set lacks go, the ones it links come back from Magento 1,
// which the stream alone would not bring: no value row changed), and back.
// Checked in SQL by sku, attribute code and set name on the destination.
func TestStockConfigPostProcessingSetLeftovers(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			s, _ := newStockStoreStreaming(t, delta)
			s.exec(storeAdminAndDefault...)
			s.exec(
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
					(85, 4, 'name', 'varchar', 'text', 0), (87, 4, 'url_key', 'varchar', 'text', 0), (96, 4, 'status', 'int', 'select', 0), (100, 4, 'shoe_size', 'int', 'text', 1)`,
				`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (85, 0, 1), (87, 0, 1), (96, 0, 1), (100, 0, 1)`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1), (9, 4, 'Shoes', 2)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1), (8, 9, 'General', 1, 1)`,
				// Default links name, url_key and status; Shoes links name, status and shoe_size.
				`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES
					(1, 4, 4, 7, 85, 1), (2, 4, 4, 7, 87, 2), (3, 4, 9, 8, 85, 1), (4, 4, 9, 8, 100, 2), (5, 4, 4, 7, 96, 3), (6, 4, 9, 8, 96, 3)`,
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
					(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), (2, 4, 9, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
				`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
					(1, 4, 85, 0, 1, 'Phone'), (2, 4, 87, 0, 1, 'phone'), (3, 4, 85, 0, 2, 'Boot'), (4, 4, 87, 0, 2, 'boot'), (5, 4, 87, 1, 2, 'boot-1')`,
				`INSERT INTO catalog_product_entity_int (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
					(1, 4, 100, 0, 1, 40), (2, 4, 100, 1, 1, NULL), (4, 4, 100, 0, 2, 42), (7, 4, 96, 0, 1, 1)`,
			)
			if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES (73, 4, 'name', 'varchar', 'text'), (121, 4, 'url_key', 'varchar', 'text'), (97, 4, 'status', 'int', 'select')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
					(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
			); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			r := s.e.mustRun("migrate", "data")
			for _, w := range []string{
				`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="attribute set leftover data" table=catalog_product_entity_int rows=1`,
				`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="attribute set leftover data" table=catalog_product_entity_varchar rows=2`,
			} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("migrate data did not log %s:\n%s", w, r.stderr)
				}
			}
			// Independent of the plan: by sku, attribute code and set name.
			const values = `SELECT COALESCE(p.sku, CONCAT('#', v.entity_id)), a.attribute_code, v.store_id, COALESCE(v.value, 'NULL') FROM
				(SELECT entity_id, attribute_id, store_id, CAST(value AS CHAR) value FROM catalog_product_entity_int
				 UNION ALL SELECT entity_id, attribute_id, store_id, value FROM catalog_product_entity_varchar) v
				JOIN eav_attribute a USING (attribute_id) LEFT JOIN catalog_product_entity p USING (entity_id)
				ORDER BY 1, 2, 3`
			const sets = "SELECT p.sku, s.attribute_set_name FROM catalog_product_entity p JOIN eav_attribute_set s USING (attribute_set_id) ORDER BY p.sku"
			s.assertRows(map[string][]string{
				sets: {"'P-1','Default'", "'P-2','Shoes'"},
				values: {
					"'P-1','name','0','Phone'", "'P-1','shoe_size','1','NULL'", "'P-1','status','0','1'", "'P-1','url_key','0','phone'",
					"'P-2','name','0','Boot'", "'P-2','shoe_size','0','42'"},
			})
			verify := func(when string) {
				t.Helper()
				if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity,catalog_product_entity_int,catalog_product_entity_varchar"); r.code != 0 {
					t.Errorf("verify %s: exit %d\n%s%s", when, r.code, r.stdout, r.stderr)
				}
			}
			verify("after data")

			// A new product and its values in one transaction; P-1's NULL
			// value outside its set becomes one; P-2 moves to Default.
			tx, err := s.e.srcDB.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES (3, 4, 4, 'simple', 'P-3', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
				`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (6, 4, 85, 0, 3, 'Tab')`,
				`INSERT INTO catalog_product_entity_int (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (6, 4, 100, 0, 3, 44)`,
			} {
				if _, err := tx.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			s.exec(
				`UPDATE catalog_product_entity_int SET value = 45 WHERE value_id = 2`,
				`UPDATE catalog_product_entity SET attribute_set_id = 4 WHERE entity_id = 2`,
			)
			s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			s.assertRows(map[string][]string{
				sets: {"'P-1','Default'", "'P-2','Default'", "'P-3','Default'"},
				values: {
					"'P-1','name','0','Phone'", "'P-1','status','0','1'", "'P-1','url_key','0','phone'",
					"'P-2','name','0','Boot'", "'P-2','url_key','0','boot'", "'P-2','url_key','1','boot-1'",
					"'P-3','name','0','Tab'"},
			})
			verify("after the set change")

			// Back to Shoes: shoe_size comes back, url_key goes.
			s.exec(`UPDATE catalog_product_entity SET attribute_set_id = 9 WHERE entity_id = 2`)
			s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			s.assertRows(map[string][]string{
				sets: {"'P-1','Default'", "'P-2','Shoes'", "'P-3','Default'"},
				values: {
					"'P-1','name','0','Phone'", "'P-1','status','0','1'", "'P-1','url_key','0','phone'",
					"'P-2','name','0','Boot'", "'P-2','shoe_size','0','42'",
					"'P-3','name','0','Tab'"},
			})
			verify("after the set change back")
		})
	}
}
