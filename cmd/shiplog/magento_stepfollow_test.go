//go:build !unit

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Steps whose destination rows derive from rows the Map step streams keep
// them in step in the batch's transaction (stream followers): checked here
// on the real schemas through the stock config.xml, with both delta
// sources, right after one `migrate delta --exit-when-caught-up` (or, where
// the step's delta start would catch up anyway, while the stream runs).

// newStockStoreFollowed is newStockStoreStreaming with the stock
// deltalog.xml.dist plus a group of docs (document -> key): Magento's
// change logs do not cover every document the Map step copies, and the
// change-log source streams only those the file lists.
func newStockStoreFollowed(t *testing.T, source string, docs map[string]string) *stockStore {
	t.Helper()
	s, fx := newStockStore(t)
	opts := map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key}
	if source == "triggers" {
		opts["delta_source"] = "triggers"
		if len(docs) > 0 {
			opts["delta_document_groups_file"] = deltalogWith(t, fx, docs)
		}
	}
	s.config = stockConfigXML(t, fx, s.src, s.dst, opts)
	s.e.config = s.config
	return s
}

// deltalogWith writes the stock deltalog.xml.dist with one more group
// holding docs (document -> key) and returns its path.
func deltalogWith(t *testing.T, fx string, docs map[string]string) string {
	t.Helper()
	stock, err := os.ReadFile(filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "deltalog.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(docs))
	for d := range docs {
		names = append(names, d)
	}
	sort.Strings(names)
	group := "<group name=\"delta_test_followed\">\n"
	for _, d := range names {
		group += fmt.Sprintf("        <document key=\"%s\">%s</document>\n", docs[d], d)
	}
	text := strings.Replace(string(stock), "</groups>", "    "+group+"    </group>\n</groups>", 1)
	if text == string(stock) {
		t.Fatal("the stock deltalog.xml.dist has no </groups>")
	}
	p := filepath.Join(t.TempDir(), "deltalog.xml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ratingsActiveCheck counts, written here apart from the step's statement,
// the ratings whose is_active is not what the reference's Ratings\Data
// leaves when no rating lost its store views: 1 exactly when a rating_store
// row of a store other than admin (0) names it.
const ratingsActiveCheck = `SELECT COUNT(*) FROM rating r
	WHERE r.is_active <> EXISTS (SELECT 1 FROM rating_store s WHERE s.rating_id = r.rating_id AND s.store_id > 0)`

// TestRatingsFollowTheStream: the stock config.xml runs the Ratings step in
// data mode only, and its map writes rating.is_active 0 (SetValue); the
// ratings and store views Magento 1 changes after data mode are streamed
// by the Map step, and the Ratings follower marks active, in the same
// transaction, those with a store view — without it, rating 1 (changed
// position) would be inactive again after the run. With the change logs,
// rating and rating_store are added to the deltalog file (the stock one
// leaves them out, as the reference's does).
func TestRatingsFollowTheStream(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			s := newStockStoreFollowed(t, source, map[string]string{"rating": "rating_id", "rating_store": "rating_id,store_id"})
			s.exec(storeAdminAndDefault...)
			s.exec(
				`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (2, 'french', 1, 1, 'French Store View', 1, 1)`,
				`INSERT INTO rating_entity (entity_id, entity_code) VALUES (1, 'product'), (2, 'product_review'), (3, 'review')`,
				`INSERT INTO rating (rating_id, entity_id, rating_code, position) VALUES (1, 1, 'Quality', 0), (2, 1, 'Price', 0), (3, 1, 'Value', 0), (4, 1, 'Unused', 0)`,
				`INSERT INTO rating_store (rating_id, store_id) VALUES (1, 0), (1, 1), (1, 2), (2, 0), (3, 2)`,
			)
			s.e.mustRun("migrate", "settings")
			s.e.mustRun("migrate", "data")
			ratings := "SELECT rating_id, rating_code, position, is_active FROM rating"
			s.assertRows(map[string][]string{
				ratings:            {"'1','Quality','0','1'", "'2','Price','0','0'", "'3','Value','0','1'", "'4','Unused','0','0'"},
				ratingsActiveCheck: {"'0'"},
			})

			// Rating 1 (store views) and 2 (admin only) change; rating 5
			// comes with a store view, 6 with the admin store only; the
			// unused rating 4 gets a store view (its rating row unwritten).
			s.exec(
				`UPDATE rating SET position = 3 WHERE rating_id = 1`,
				`UPDATE rating SET position = 2 WHERE rating_id = 2`,
				`INSERT INTO rating (rating_id, entity_id, rating_code, position) VALUES (5, 1, 'Fresh', 1), (6, 1, 'Hidden', 1)`,
				`INSERT INTO rating_store (rating_id, store_id) VALUES (5, 1), (6, 0), (4, 2)`,
			)
			d := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if strings.Contains(d.stderr, "Ratings step") {
				t.Errorf("delta warns about the Ratings step, which the stream now follows:\n%s", d.stderr)
			}
			s.assertRows(map[string][]string{
				ratings: {"'1','Quality','3','1'", "'2','Price','2','0'", "'3','Value','0','1'", "'4','Unused','0','1'",
					"'5','Fresh','1','1'", "'6','Hidden','1','0'"},
				ratingsActiveCheck: {"'0'"},
			})
		})
	}
}

// salesSequenceCheck finds, per sequence table of stores 1 and 2 written
// here apart from the step's code, whether its top value is below the
// number of a Magento 2 document of its type and store (the increment id
// with the store's one-digit prefix cut off): 0 rows when every sequence is
// ahead of every migrated id.
const salesSequenceCheck = `SELECT t, s FROM (
	SELECT 'order' t, 1 s, (SELECT MAX(sequence_value) FROM sequence_order_1) top, (SELECT MAX(CAST(SUBSTRING(increment_id, 2) AS UNSIGNED)) FROM sales_order WHERE store_id = 1) used
	UNION ALL SELECT 'order', 2, (SELECT MAX(sequence_value) FROM sequence_order_2), (SELECT MAX(CAST(SUBSTRING(increment_id, 2) AS UNSIGNED)) FROM sales_order WHERE store_id = 2)
	UNION ALL SELECT 'invoice', 1, (SELECT MAX(sequence_value) FROM sequence_invoice_1), (SELECT MAX(CAST(SUBSTRING(increment_id, 2) AS UNSIGNED)) FROM sales_invoice WHERE store_id = 1)
	UNION ALL SELECT 'invoice', 2, (SELECT MAX(sequence_value) FROM sequence_invoice_2), (SELECT MAX(CAST(SUBSTRING(increment_id, 2) AS UNSIGNED)) FROM sales_invoice WHERE store_id = 2)
) x WHERE used IS NOT NULL AND (top IS NULL OR top < used)`

// TestSalesSequencesFollowTheStream: the stock config.xml runs the
// SalesIncrement step in delta mode; its delta start raises the sequences to
// Magento 1's numbers as they are then, and while the stream runs, an order
// and an invoice Magento 1 takes afterwards (with their eav_entity_store
// numbers, in one transaction as Magento 1 does) raise sequence_order_1 and
// sequence_invoice_2 in the transaction that writes them (a credit memo of
// a store Magento 1 never numbered credit memos in, written with the
// invoice, raises nothing and stops nothing): as soon as the
// documents are on Magento 2, no sequence is behind them (without the
// follower, sequence_order_1 would stay at 2 and sequence_invoice_2 empty
// until the next delta start).
func TestSalesSequencesFollowTheStream(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			s := newStockStoreFollowed(t, source, nil)
			s.exec(salesStoreM1...)
			if err := s.dst.Exec(context.Background(), "magento2", salesEntityTypesM2); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			s.e.mustRun("migrate", "data")
			seqTops := "SELECT (SELECT MAX(sequence_value) FROM sequence_order_1), (SELECT MAX(sequence_value) FROM sequence_invoice_2), (SELECT COUNT(*) FROM sequence_creditmemo_2)"
			s.assertRows(map[string][]string{seqTops: {"'2',NULL,'0'"}, salesSequenceCheck: nil})

			d := startDaemon(t, s.config, "migrate", "delta")
			waitFor(t, "the delta start to catch the sequences up", 60*time.Second, func() bool {
				select {
				case <-d.exited:
					t.Fatalf("migrate delta exited: %v\n%s", d.err, d.stderr)
				default:
				}
				return strings.Contains(d.stderr.String(), "sales sequences caught up with Magento 1's last increment ids")
			})
			s.exec("BEGIN",
				`UPDATE eav_entity_store SET increment_last_id = '100000007' WHERE entity_store_id = 1`,
				`INSERT INTO sales_flat_order (entity_id, store_id, increment_id, state, status, created_at, updated_at) VALUES (5, 1, '100000007', 'new', 'pending', '2020-02-01 10:00:00', '2020-02-01 10:00:00')`,
				"COMMIT", "BEGIN",
				// A credit memo of a store whose credit memos Magento 1
				// never numbered: nothing to raise, the invoice's still is.
				`INSERT INTO sales_flat_creditmemo (entity_id, order_id, store_id, increment_id, state, created_at, updated_at) VALUES (2, 3, 2, '200000001', 2, '2020-02-01 11:00:00', '2020-02-01 11:00:00')`,
				`INSERT INTO eav_entity_store (entity_store_id, entity_type_id, store_id, increment_prefix, increment_last_id) VALUES (6, 6, 2, '2', '200000004')`,
				`INSERT INTO sales_flat_invoice (entity_id, order_id, store_id, increment_id, state, created_at, updated_at) VALUES (2, 3, 2, '200000004', 2, '2020-02-01 11:00:00', '2020-02-01 11:00:00')`,
				"COMMIT")
			waitFor(t, "the order and invoice on Magento 2", 60*time.Second, func() bool {
				return strings.Join(rowsOf(t, s.e.dstDB, "SELECT (SELECT COUNT(*) FROM sales_order WHERE entity_id = 5) + (SELECT COUNT(*) FROM sales_invoice WHERE entity_id = 2) + (SELECT COUNT(*) FROM sales_creditmemo WHERE entity_id = 2)"), "") == "'3'"
			})
			s.assertRows(map[string][]string{seqTops: {"'7','4','0'"}, salesSequenceCheck: nil})
			d.stop(t)
			if strings.Contains(d.stderr.String(), "SalesIncrement step's delta is applied once") {
				t.Errorf("delta still warns that the SalesIncrement step's delta is applied once:\n%s", d.stderr)
			}
		})
	}
}

// TestInventoryFollowsTheStream: with Magento 2's Inventory (MSI) tables,
// the stock items, products and shipments the Map step streams after data
// mode reach inventory_source_item and inventory_shipment_source in the
// same transaction — one `migrate delta --exit-when-caught-up` (whose start
// catches up only with what the destination had then: without the
// follower, none of these changes would be in MSI's tables after it). A
// stock item deleted in Magento 1, a product given another sku and a
// deleted shipment leave no source item or shipment source behind, as a
// fresh migration would have none. Checked against Magento 1's rows by
// queries written here (the reference's Inventory\Model\SourceItem and
// ShipmentSource: website 0's stock items with their product's sku, in the
// default source; every shipment from the default source).
func TestInventoryFollowsTheStream(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			s := newStockStoreFollowed(t, source, nil)
			s.exec(storeAdminAndDefault...)
			s.exec(
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1)`,
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
					(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'),
					(2, 4, 4, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05'),
					(3, 4, 4, 'simple', 'P-3', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
				`INSERT INTO cataloginventory_stock (stock_id, stock_name) VALUES (1, 'Default')`,
				`INSERT INTO cataloginventory_stock_item (item_id, product_id, stock_id, qty, is_in_stock) VALUES (1, 1, 1, 10.5, 1), (2, 2, 1, 0, 0), (3, 3, 1, 7, 0)`,
				`INSERT INTO sales_flat_order (entity_id, store_id, increment_id) VALUES (1, 1, '100000001')`,
				`INSERT INTO sales_flat_shipment (entity_id, store_id, order_id, increment_id) VALUES (1, 1, 1, '100000001'), (2, 1, 1, '100000002')`,
			)
			if err := s.dst.Exec(context.Background(), "magento2", append([]string{
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
					(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
			}, msiTables...)...); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			s.e.mustRun("migrate", "data")
			items := "SELECT source_code, sku, quantity, status FROM inventory_source_item ORDER BY sku"
			shipments := "SELECT shipment_id, source_code FROM inventory_shipment_source ORDER BY shipment_id"
			s.assertRows(map[string][]string{
				items:     {`'default','P-1','10.5000','1'`, `'default','P-2','0.0000','0'`, `'default','P-3','7.0000','0'`},
				shipments: {`'1','default'`, `'2','default'`},
			})

			s.exec(
				`UPDATE cataloginventory_stock_item SET qty = 3, is_in_stock = 1 WHERE product_id = 3`,
				`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES (4, 4, 4, 'simple', 'P-4', '2020-01-03 03:04:05', '2020-01-03 03:04:05')`,
				`INSERT INTO cataloginventory_stock_item (item_id, product_id, stock_id, qty, is_in_stock) VALUES (4, 4, 1, 2, 1)`,
				`DELETE FROM cataloginventory_stock_item WHERE product_id = 2`,
				`UPDATE catalog_product_entity SET sku = 'P-1b' WHERE entity_id = 1`,
				`INSERT INTO sales_flat_shipment (entity_id, store_id, order_id, increment_id) VALUES (3, 1, 1, '100000003')`,
				`DELETE FROM sales_flat_shipment WHERE entity_id = 2`,
			)
			d := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if !strings.Contains(d.stderr, "inventory caught up at delta start") || strings.Contains(d.stderr, "is not streamed") {
				t.Errorf("delta: the Inventory step's word at delta start:\n%s", d.stderr)
			}
			s.assertRows(map[string][]string{
				items:     {`'default','P-1b','10.5000','1'`, `'default','P-3','3.0000','1'`, `'default','P-4','2.0000','1'`},
				shipments: {`'1','default'`, `'3','default'`},
			})
			m1 := rowsOf(t, s.e.srcDB, "SELECT p.sku, si.qty, si.is_in_stock FROM cataloginventory_stock_item si JOIN catalog_product_entity p ON p.entity_id = si.product_id")
			m2 := rowsOf(t, s.e.dstDB, "SELECT sku, quantity, status FROM inventory_source_item WHERE source_code = 'default'")
			if strings.Join(m1, "\n") != strings.Join(m2, "\n") {
				t.Errorf("stock items after delta:\n Magento 1: %v\n Magento 2 source items: %v", m1, m2)
			}
			m1 = rowsOf(t, s.e.srcDB, "SELECT entity_id FROM sales_flat_shipment")
			m2 = rowsOf(t, s.e.dstDB, "SELECT shipment_id FROM inventory_shipment_source WHERE source_code = 'default'")
			if strings.Join(m1, "\n") != strings.Join(m2, "\n") {
				t.Errorf("shipments after delta:\n Magento 1: %v\n Magento 2 shipment sources: %v", m1, m2)
			}
		})
	}
}
