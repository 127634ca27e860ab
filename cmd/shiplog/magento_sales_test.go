//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// salesStoreM1 is a Magento 1 store with sales documents: stores 0-2,
// Magento 1's sales entity types (as installed: order 5, invoice 6,
// creditmemo 7, shipment 8) and their last increment ids per store, three
// orders (one with both addresses and a payment, one with a billing
// address of a first name only and no payment, one of store 2 without
// addresses), and an invoice, a shipment and a credit memo of order 1; each
// document in its Magento 1 grid.
var salesStoreM1 = append(append([]string(nil), storeAdminAndDefault...),
	`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (2, 'french', 1, 1, 'French', 1, 1)`,
	`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model, increment_model, increment_per_store) VALUES
		(5, 'order', 'sales/order', 'eav/entity_increment_numeric', 1), (6, 'invoice', 'sales/order_invoice', 'eav/entity_increment_numeric', 1),
		(7, 'creditmemo', 'sales/order_creditmemo', 'eav/entity_increment_numeric', 1), (8, 'shipment', 'sales/order_shipment', 'eav/entity_increment_numeric', 1)`,
	`INSERT INTO eav_entity_store (entity_store_id, entity_type_id, store_id, increment_prefix, increment_last_id) VALUES
		(1, 5, 1, '1', '100000002'), (2, 5, 2, '2', '200000001'), (3, 6, 1, '1', '100000001'), (4, 7, 1, '1', '100000001'), (5, 8, 1, '1', '100000001')`,
	`INSERT INTO sales_flat_order (entity_id, store_id, increment_id, state, status, store_name, customer_firstname, customer_lastname, customer_email, customer_group_id,
		grand_total, base_grand_total, base_subtotal, base_shipping_amount, total_paid, shipping_description, billing_address_id, shipping_address_id,
		base_currency_code, order_currency_code, created_at, updated_at) VALUES
		(1, 1, '100000001', 'complete', 'complete', 'Main Website', 'Ann', 'Lee', 'ann@example.com', 1, 100, 100, 90, 10, 100, 'Flat Rate', 1, 2, 'USD', 'USD', '2020-01-01 10:00:00', '2020-01-02 10:00:00'),
		(2, 1, '100000002', 'new', 'pending', 'Main Website', NULL, 'Solo', 'solo@example.com', 0, 20, 20, 20, 0, NULL, NULL, 3, NULL, 'USD', 'USD', '2020-01-03 10:00:00', '2020-01-03 10:00:00'),
		(3, 2, '200000001', 'canceled', 'canceled', 'French', 'Zoé', 'Roux', 'zoe@example.com', 1, 7.5, 7.5, 7.5, 0, NULL, 'Free', NULL, NULL, 'EUR', 'EUR', '2020-01-04 10:00:00', '2020-01-04 10:00:00')`,
	`INSERT INTO sales_flat_order_address (entity_id, parent_id, address_type, firstname, lastname, street, city, region, postcode) VALUES
		(1, 1, 'billing', 'Ann', 'Lee', '1 Main St', 'Springfield', 'IL', '62701'),
		(2, 1, 'shipping', 'Bob', 'Lee', '2 Side St', 'Shelbyville', NULL, '62565'),
		(3, 2, 'billing', 'Cy', NULL, NULL, 'Ogdenville', NULL, NULL)`,
	`INSERT INTO sales_flat_order_payment (entity_id, parent_id, method) VALUES (1, 1, 'checkmo'), (2, 3, 'checkmo')`,
	`INSERT INTO sales_flat_invoice (entity_id, order_id, store_id, increment_id, state, grand_total, base_grand_total, subtotal, shipping_amount,
		billing_address_id, shipping_address_id, created_at, updated_at) VALUES (1, 1, 1, '100000001', 2, 100, 100, 88, 12, 1, 2, '2020-01-01 11:00:00', '2020-01-01 11:00:00')`,
	`INSERT INTO sales_flat_shipment (entity_id, order_id, store_id, increment_id, total_qty, billing_address_id, shipping_address_id, created_at, updated_at)
		VALUES (1, 1, 1, '100000001', 2, 1, 2, '2020-01-01 12:00:00', '2020-01-01 12:00:00')`,
	`INSERT INTO sales_flat_creditmemo (entity_id, order_id, store_id, increment_id, state, base_grand_total, subtotal, shipping_amount, adjustment_positive,
		billing_address_id, shipping_address_id, created_at, updated_at) VALUES (1, 1, 1, '100000001', 2, 30, 25, 0, 5, 1, 2, '2020-01-05 10:00:00', '2020-01-05 10:00:00')`,
	`INSERT INTO sales_flat_order_grid (entity_id, store_id, increment_id, status) VALUES (1, 1, '100000001', 'complete'), (2, 1, '100000002', 'pending'), (3, 2, '200000001', 'canceled')`,
	`INSERT INTO sales_flat_invoice_grid (entity_id, order_id, store_id) VALUES (1, 1, 1)`,
	`INSERT INTO sales_flat_shipment_grid (entity_id, order_id, store_id) VALUES (1, 1, 1)`,
	`INSERT INTO sales_flat_creditmemo_grid (entity_id, order_id, store_id) VALUES (1, 1, 1)`,
)

// salesEntityTypesM2 are Magento 2's sales entity types (the SalesIncrement
// step's sequences are per type).
const salesEntityTypesM2 = `INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model, increment_model, increment_per_store) VALUES
	(5, 'order', 'Magento\\Sales\\Model\\ResourceModel\\Order', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
	(6, 'invoice', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Invoice', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
	(7, 'creditmemo', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Creditmemo', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
	(8, 'shipment', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Shipment', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1)`

// salesGridCheck counts, per grid, the Magento 2 sales documents whose
// grid row is missing or disagrees with the document and its order — a
// join written here, apart from the step's queries. Each must be 0.
var salesGridCheck = map[string][]string{
	`SELECT COUNT(*) FROM sales_order o LEFT JOIN sales_order_grid g ON g.entity_id = o.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.increment_id <=> o.increment_id AND g.status <=> o.status AND g.store_id <=> o.store_id
		AND g.grand_total <=> o.grand_total AND g.customer_email <=> o.customer_email AND g.created_at <=> o.created_at)`: {`'0'`},
	`SELECT COUNT(*) FROM sales_invoice i JOIN sales_order o ON o.entity_id = i.order_id LEFT JOIN sales_invoice_grid g ON g.entity_id = i.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.increment_id <=> i.increment_id AND g.order_increment_id <=> o.increment_id AND g.grand_total <=> i.grand_total)`: {`'0'`},
	`SELECT COUNT(*) FROM sales_shipment s JOIN sales_order o ON o.entity_id = s.order_id LEFT JOIN sales_shipment_grid g ON g.entity_id = s.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.increment_id <=> s.increment_id AND g.order_status <=> o.status AND g.total_qty <=> s.total_qty)`: {`'0'`},
	`SELECT COUNT(*) FROM sales_creditmemo c JOIN sales_order o ON o.entity_id = c.order_id LEFT JOIN sales_creditmemo_grid g ON g.entity_id = c.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.increment_id <=> c.increment_id AND g.order_status <=> o.status AND g.base_grand_total <=> c.base_grand_total)`: {`'0'`},
}

// TestStockConfigSalesSteps: the stock config.xml's OrderGrids and
// SalesIncrement steps after its Map step, on the real schemas.
//
// Data mode: the four Magento 2 grids hold one row per document of Magento
// 1's grids, built from the migrated sales tables — checked by a join
// written here and, for the joined columns, by values worked out by hand
// from the reference's column expressions (OrderGrids/Helper.php: names
// and addresses trimmed after concatenating parts that are empty when NULL, the first
// payment's method); the next increment id of each type and store
// continues Magento 1's (read as Magento 2 numbers: the sequence table's
// AUTO_INCREMENT), and the sequence meta/profile rows name every table.
//
// Delta mode (binlog, and the change-log triggers): Magento 1 takes order 100000003 and order 2 moves
// on. The first delta run raises the order sequence at its start (and
// TestSalesSequencesFollowTheStream checks the sequences while the stream
// runs); the grids follow what that run streams (magento_ordergrids_test.go
// tests them further); a second run changes nothing.
func TestStockConfigSalesSteps(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			testStockConfigSalesSteps(t, source)
		})
	}
}

func testStockConfigSalesSteps(t *testing.T, deltaSource string) {
	s, _ := newStockStoreStreaming(t, deltaSource)
	s.exec(salesStoreM1...)
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0", salesEntityTypesM2); err != nil {
		t.Fatal(err)
	}
	s.e.mustRun("migrate", "settings")
	data := s.e.mustRun("migrate", "data")
	for _, w := range []string{
		`msg="order grid rebuilt" mode=data step="OrderGrids Step" stage=data table=sales_order_grid documents=3`,
		`msg="order grid rebuilt" mode=data step="OrderGrids Step" stage=data table=sales_creditmemo_grid documents=1`,
		`msg="sales sequences migrated" mode=data step="SalesIncrement Step" stage=data tables=15 continued=5`,
	} {
		if !strings.Contains(data.stderr, w) {
			t.Errorf("migrate data did not log %s:\n%s", w, data.stderr)
		}
	}
	if strings.Contains(data.stderr, "OrderGrids Step\\\" (mode data) is not supported") || strings.Contains(data.stderr, "level=ERROR") {
		t.Errorf("migrate data:\n%s", data.stderr)
	}
	s.assertRows(salesGridCheck)
	s.assertRows(map[string][]string{
		"SELECT entity_id, increment_id, store_id, status, customer_name, billing_name, shipping_name, billing_address, shipping_address, payment_method, grand_total, subtotal, shipping_and_handling, shipping_information, customer_group FROM sales_order_grid ORDER BY entity_id": {
			`'1','100000001','1','complete','Ann Lee','Ann Lee','Bob Lee','1 Main St, Springfield, IL, 62701','2 Side St, Shelbyville, , 62565','checkmo','100.0000','90.0000','10.0000','Flat Rate','1'`,
			// No shipping address: the reference's expression leaves
			// ', , ,' (TRIM takes the blanks only).
			`'2','100000002','1','pending','Solo','Cy','',', Ogdenville, ,',', , ,',NULL,'20.0000','20.0000','0.0000',NULL,'0'`,
			`'3','200000001','2','canceled','Zoé Roux','','',', , ,',', , ,','checkmo','7.5000','7.5000','0.0000','Free','1'`,
		},
		// subtotal and shipping_and_handling are the order's (base_subtotal,
		// base_shipping_amount), not the invoice's own 88 and 12: the
		// reference's OrderGrids Helper::getSalesInvoiceColumnsGrid.
		"SELECT entity_id, increment_id, order_id, order_increment_id, store_name, customer_name, billing_name, payment_method, grand_total, subtotal, shipping_and_handling, state FROM sales_invoice_grid": {
			`'1','100000001','1','100000001','Main Website','Ann Lee','Ann Lee','checkmo','100.0000','90.0000','10.0000','2'`,
		},
		"SELECT entity_id, increment_id, order_id, order_increment_id, order_status, shipping_name, billing_name, shipping_address, total_qty, shipping_information FROM sales_shipment_grid": {
			`'1','100000001','1','100000001','complete','Bob Lee','Ann Lee','2 Side St, Shelbyville, , 62565','2.0000','Flat Rate'`,
		},
		"SELECT entity_id, increment_id, order_id, order_increment_id, order_status, billing_name, base_grand_total, adjustment_positive, order_base_grand_total, payment_method FROM sales_creditmemo_grid": {
			`'1','100000001','1','100000001','complete','Ann Lee','30.0000','5.0000','100.0000','checkmo'`,
		},
		// The next number of each sequence (Magento 2 prefixes it with
		// the profile's prefix, the store id): Magento 1's last plus one.
		"SELECT table_name, auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'sequence\\_%' AND table_name NOT LIKE 'sequence\\_rma%' ORDER BY table_name": {
			`'sequence_creditmemo_0','1'`, `'sequence_creditmemo_1','2'`, `'sequence_creditmemo_2','1'`,
			`'sequence_invoice_0','1'`, `'sequence_invoice_1','2'`, `'sequence_invoice_2','1'`,
			`'sequence_order_0','1'`, `'sequence_order_1','3'`, `'sequence_order_2','2'`,
			`'sequence_shipment_0','1'`, `'sequence_shipment_1','2'`, `'sequence_shipment_2','1'`,
		},
		"SELECT m.entity_type, m.store_id, m.sequence_table, p.prefix, p.is_active FROM sales_sequence_meta m JOIN sales_sequence_profile p USING (meta_id) WHERE m.entity_type = 'order' ORDER BY m.store_id": {
			`'order','0','sequence_order_0','','1'`, `'order','1','sequence_order_1','1','1'`, `'order','2','sequence_order_2','2','1'`,
		},
		"SELECT COUNT(*) FROM sales_sequence_meta": {`'15'`},
	})

	// Delta.
	s.exec(
		`INSERT INTO sales_flat_order (entity_id, store_id, increment_id, state, status, customer_firstname, customer_lastname, grand_total, base_grand_total, created_at, updated_at)
			VALUES (4, 1, '100000003', 'new', 'pending', 'Dee', 'New', 15, 15, '2020-02-01 10:00:00', '2020-02-01 10:00:00')`,
		`INSERT INTO sales_flat_order_grid (entity_id, store_id, increment_id, status) VALUES (4, 1, '100000003', 'pending')`,
		`UPDATE eav_entity_store SET increment_last_id = '100000003' WHERE entity_store_id = 1`,
		`UPDATE sales_flat_order SET status = 'processing', state = 'processing' WHERE entity_id = 2`,
		`UPDATE sales_flat_order_grid SET status = 'processing' WHERE entity_id = 2`,
	)
	delta := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
	for _, w := range []string{
		`msg="order grids follow the stream: each batch that writes these tables refreshes the grid rows of its documents in its transaction" mode=delta step="OrderGrids Step" stage=delta tables=sales_creditmemo,sales_invoice,sales_order,sales_order_address,sales_order_payment,sales_shipment`,
		`msg="sales sequences caught up with Magento 1's last increment ids" mode=delta step="SalesIncrement Step" stage=delta raised=1`,
	} {
		if !strings.Contains(delta.stderr, w) {
			t.Errorf("migrate delta did not log %s:\n%s", w, delta.stderr)
		}
	}
	gridOrders := "SELECT entity_id, status, customer_name FROM sales_order_grid ORDER BY entity_id"
	s.assertRows(map[string][]string{
		// The stream brought the orders, and the grid rows with them.
		"SELECT entity_id, status FROM sales_order ORDER BY entity_id": {`'1','complete'`, `'2','processing'`, `'3','canceled'`, `'4','pending'`},
		gridOrders: {`'1','complete','Ann Lee'`, `'2','processing','Solo'`, `'3','canceled','Zoé Roux'`, `'4','pending','Dee New'`},
		"SELECT auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'sequence_order_1'": {`'4'`},
	})
	s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
	s.assertRows(salesGridCheck)
	s.assertRows(map[string][]string{
		gridOrders: {`'1','complete','Ann Lee'`, `'2','processing','Solo'`, `'3','canceled','Zoé Roux'`, `'4','pending','Dee New'`},
		"SELECT auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'sequence_order_1'": {`'4'`},
	})
}
