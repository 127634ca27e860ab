//go:build !unit

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/rowio"
)

// TestStockConfigPostProcessingStep: the stock config.xml's "PostProcessing
// Step" runs in data mode, after the Map step (it is no longer warned about
// as not supported): a Magento 2 value row of an attribute that does not
// exist (left by a database written with the foreign keys off) is deleted
// and the count logged (the Map step has emptied the tables it copies; the
// leftovers are in tables only the EAV step writes); a second `migrate data`
// deletes nothing.
func TestStockConfigPostProcessingStep(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	s.exec(storeAdmin...)
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code) VALUES (73, 4, 'name')`,
		`INSERT INTO eav_attribute_option (option_id, attribute_id) VALUES (1, 73), (2, 4444)`,
		`INSERT INTO catalog_eav_attribute (attribute_id) VALUES (73), (4444)`,
		`INSERT INTO eav_entity_attribute (entity_type_id, attribute_set_id, attribute_group_id, attribute_id) VALUES (4, 4, 7, 73), (4, 4, 7, 4444)`,
	); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range []string{
		`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="eav leftover data" table=catalog_eav_attribute rows=1`,
		`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="eav leftover data" table=eav_entity_attribute rows=1`,
		`msg="post processing: done" mode=data step="PostProcessing Step" deleted=2`,
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("migrate data did not log %s:\n%s", w, r.stderr)
		}
	}
	s.assertRows(map[string][]string{
		"SELECT attribute_id FROM catalog_eav_attribute": {"'73'"},
		"SELECT attribute_id FROM eav_entity_attribute":  {"'73'"},
	})
	if strings.Contains(r.stderr, `Magento step \"PostProcessing Step\" (mode data) is not supported`) {
		t.Errorf("the PostProcessing step is still skipped:\n%s", r.stderr)
	}

	r = runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 || strings.Contains(r.stderr, "post processing: deleted records") {
		t.Errorf("second migrate data: exit %d, or it deleted again:\n%s", r.code, r.stderr)
	}
}

// TestStockConfigPostProcessingRoutes: with the stock config.xml (the
// PostProcessing Step in data mode), the reference's cleanups of products
// in the root catalog (ProductsInRootCatalogCleaner: catalog_category_product
// rows of the tree root, category 1) and of product url_path values
// (ProductUrlPathCleaner: catalog_product_entity_varchar rows of the
// catalog_product url_path attribute) are routes on the Map step's plan:
// settings, data, then delta (binlog and change logs) with rows moved into
// and out of what the cleanups target, inserted and updated there; the
// destination never holds them (checked in SQL, independently of the
// plan), the copy's volume check and `shiplog verify` pass, and data mode
// logs the rows left out per document. A category's url_path stays.
func TestStockConfigPostProcessingRoutes(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			s, _ := newStockStoreStreaming(t, delta)
			s.exec(storeAdminAndDefault...)
			s.exec(
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product'), (3, 'catalog_category', 'catalog/category')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
					(85, 4, 'name', 'varchar', 'text', 0), (87, 4, 'url_key', 'varchar', 'text', 0), (88, 4, 'url_path', 'varchar', 'text', 0),
					(41, 3, 'name', 'varchar', 'text', 0), (57, 3, 'url_path', 'varchar', 'text', 0)`,
				`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (85, 0, 1), (87, 0, 1), (88, 0, 1), (41, 0, 1), (57, 0, 1)`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1), (3, 3, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1)`,
				`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (1, 4, 4, 7, 85, 1), (2, 4, 4, 7, 87, 2), (3, 4, 4, 7, 88, 3)`,
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
					(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), (2, 4, 4, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
				`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
					(1, 4, 85, 0, 1, 'Phone'), (2, 4, 87, 0, 1, 'phone'), (3, 4, 88, 0, 1, 'phone.html'), (4, 4, 88, 1, 1, 'phone-1.html'), (5, 4, 85, 0, 2, 'Case')`,
				`INSERT INTO catalog_category_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (1, 3, 57, 0, 2, 'cat.html')`,
				// Category 1 is the tree's root.
				`INSERT INTO catalog_category_entity (entity_id, entity_type_id, attribute_set_id, parent_id, created_at, updated_at, path, position, level, children_count) VALUES
					(1, 3, 3, 0, '2020-01-02 03:04:05', '2020-01-02 03:04:05', '1', 0, 0, 4), (2, 3, 3, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', '1/2', 1, 1, 0),
					(3, 3, 3, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', '1/3', 2, 1, 0), (4, 3, 3, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', '1/4', 3, 1, 0),
					(5, 3, 3, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', '1/5', 4, 1, 0)`,
				`INSERT INTO catalog_category_product (category_id, product_id, position) VALUES (1, 1, 0), (2, 1, 1), (1, 2, 2), (3, 2, 3)`,
			)
			if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (3, 'catalog_category', 'Magento\\Catalog\\Model\\ResourceModel\\Category'), (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
				`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES
					(45, 3, 'name', 'varchar', 'text'), (73, 4, 'name', 'varchar', 'text'), (121, 4, 'url_key', 'varchar', 'text'),
					(124, 4, 'url_path', 'varchar', 'text'), (118, 3, 'url_path', 'varchar', 'text')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1), (3, 3, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
					(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
			); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			r := s.e.mustRun("migrate", "data")
			for _, w := range []string{
				`msg="post processing: records left out by the Map step" mode=data step="PostProcessing Step" cleanup="products in root catalog" table=catalog_category_product rows=2`,
				`msg="post processing: records left out by the Map step" mode=data step="PostProcessing Step" cleanup="product url_path" table=catalog_product_entity_varchar rows=2`,
			} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("migrate data did not log %s:\n%s", w, r.stderr)
				}
			}
			// Independent of the plan: by attribute code and category id.
			const links = "SELECT category_id, product_id, position FROM catalog_category_product ORDER BY category_id, product_id"
			const values = "SELECT v.entity_id, a.attribute_code, v.store_id, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) ORDER BY v.entity_id, a.attribute_code, v.store_id"
			const urlPaths = "SELECT COUNT(*) FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) JOIN eav_entity_type t USING (entity_type_id) WHERE a.attribute_code = 'url_path' AND t.entity_type_code = 'catalog_product'"
			const catPath = "SELECT v.entity_id, a.attribute_code, v.value FROM catalog_category_entity_varchar v JOIN eav_attribute a USING (attribute_id)"
			s.assertRows(map[string][]string{
				links:    {"'2','1','1'", "'3','2','3'"},
				values:   {"'1','name','0','Phone'", "'1','url_key','0','phone'", "'2','name','0','Case'"},
				urlPaths: {"'0'"},
				catPath:  {"'2','url_path','cat'"}, // map.xml.dist's TruncateSuffix
			})

			// A failed row recorded for a url_path value (as an older run
			// might have): retrying it (a second migrate data) deletes and
			// forgets it, never inserts it.
			key, err := rowio.EncodeKey([]any{int64(3)})
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(key))
			if _, err := s.e.dstDB.Exec("INSERT INTO _shiplog_failed_rows (table_name, key_hash, row_key, handler, field, error, position, first_seen, last_seen) VALUES ('catalog_product_entity_varchar', ?, ?, 'x', 'value', 'x', '', NOW(), NOW())",
				hex.EncodeToString(sum[:]), key); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "data")
			s.assertRows(map[string][]string{
				urlPaths: {"'0'"},
				"SELECT COUNT(*) FROM _shiplog_failed_rows": {"'0'"},
			})

			s.exec(
				// Deleted from the root, moved into it, out of it,
				// inserted there and elsewhere, updated there.
				`DELETE FROM catalog_category_product WHERE category_id = 1 AND product_id = 2`,
				`UPDATE catalog_category_product SET category_id = 1 WHERE category_id = 3 AND product_id = 2`,
				`UPDATE catalog_category_product SET category_id = 4, position = 7 WHERE category_id = 1 AND product_id = 1`,
				`INSERT INTO catalog_category_product (category_id, product_id, position) VALUES (1, 5, 0), (5, 2, 9)`,
				`UPDATE catalog_category_product SET position = 8 WHERE category_id = 1 AND product_id = 2`,
				// url_path values changed and added; one moved to url_key,
				// one url_key moved to url_path; two deleted.
				`UPDATE catalog_product_entity_varchar SET value = 'phone-new.html' WHERE value_id = 3`,
				`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (6, 4, 88, 0, 2, 'case.html'), (7, 4, 87, 0, 2, 'case')`,
				`UPDATE catalog_product_entity_varchar SET attribute_id = 87, value = 'phone-1' WHERE value_id = 4`,
				`DELETE FROM catalog_product_entity_varchar WHERE value_id = 3`,
				`UPDATE catalog_product_entity_varchar SET attribute_id = 88 WHERE value_id = 2`,
				`DELETE FROM catalog_product_entity_varchar WHERE value_id = 6`,
			)
			s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			s.assertRows(map[string][]string{
				links:    {"'2','1','1'", "'4','1','7'", "'5','2','9'"},
				values:   {"'1','name','0','Phone'", "'1','url_key','1','phone-1'", "'2','name','0','Case'", "'2','url_key','0','case'"},
				urlPaths: {"'0'"},
				catPath:  {"'2','url_path','cat'"},
			})
			if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_category_product,catalog_product_entity_varchar"); r.code != 0 {
				t.Errorf("verify after delta: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if delta == "binlog" {
				// cutover's window verify (the rows the binlog changed
				// between the checkpoint at its start and its final
				// position) does not expect the rows the routes leave
				// out either. The stream starts once cutover has read
				// its window start, so the changes are in the window.
				s.exec(
					`INSERT INTO catalog_category_product (category_id, product_id, position) VALUES (1, 9, 0)`,
					`UPDATE catalog_category_product SET category_id = 1 WHERE category_id = 2 AND product_id = 1`,
					`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (9, 4, 88, 2, 1, 'late.html')`,
				)
				cut := cutoverBesideDelta(t, s.config)
				if cut.err != nil || !strings.Contains(cut.stderr.String(), "window read") {
					t.Fatalf("cutover: %v (want a window verify)\n%s", cut.err, cut.stderr)
				}
				s.assertRows(map[string][]string{
					links:    {"'4','1','7'", "'5','2','9'"},
					urlPaths: {"'0'"},
				})
			}
			// verify still sees a root-catalog link written by hand.
			if _, err := s.e.dstDB.Exec("INSERT INTO catalog_category_product (category_id, product_id, position) VALUES (1, 1, 0)"); err != nil {
				t.Fatal(err)
			}
			if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_category_product"); r.code == 0 {
				t.Errorf("verify passed with a root-catalog link on the destination:\n%s", r.stdout)
			}
		})
	}
}

// cutoverBesideDelta runs `cutover` on config with `migrate delta` started
// once cutover has read its window start and waits for the lag (so the
// source changes made before are in its window), and returns the finished
// cutover; the delta daemon is stopped.
func cutoverBesideDelta(t *testing.T, config string) *daemon {
	t.Helper()
	cut := startDaemon(t, config, "cutover", "--max-lag", "2s", "--timeout", "90s")
	waitFor(t, "cutover to wait for the lag", 60*time.Second, func() bool {
		return strings.Contains(cut.stderr.String(), "waiting for the lag to drop under max-lag")
	})
	d := startDaemon(t, config, "migrate", "delta")
	select {
	case <-cut.exited:
	case <-time.After(120 * time.Second):
		t.Fatalf("cutover did not finish in 120s:\n%s", cut.stderr)
	}
	d.stop(t)
	return cut
}
