//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// gridsMatchSales counts, per grid, the documents of the destination's
// sales tables whose grid row is missing or disagrees with them, and the
// grid rows whose document is gone — joins written here, apart from the
// step's queries (names by CONCAT_WS, the payment by MIN: one payment per
// order here). Each must be 0.
var gridsMatchSales = map[string][]string{
	`SELECT COUNT(*) FROM sales_order o
		LEFT JOIN sales_order_address b ON b.entity_id = o.billing_address_id
		LEFT JOIN sales_order_address s ON s.entity_id = o.shipping_address_id
		LEFT JOIN sales_order_grid g ON g.entity_id = o.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.status <=> o.status AND g.increment_id <=> o.increment_id AND g.updated_at <=> o.updated_at
			AND g.customer_name <=> TRIM(CONCAT_WS(' ', IFNULL(o.customer_firstname, ''), IFNULL(o.customer_lastname, '')))
			AND g.billing_name <=> TRIM(CONCAT_WS(' ', IFNULL(b.firstname, ''), IFNULL(b.lastname, '')))
			AND g.shipping_name <=> TRIM(CONCAT_WS(' ', IFNULL(s.firstname, ''), IFNULL(s.lastname, '')))
			AND g.payment_method <=> (SELECT MIN(p.method) FROM sales_order_payment p WHERE p.parent_id = o.entity_id))`: {`'0'`},
	`SELECT COUNT(*) FROM sales_invoice i JOIN sales_order o ON o.entity_id = i.order_id
		LEFT JOIN sales_order_address b ON b.entity_id = i.billing_address_id
		LEFT JOIN sales_invoice_grid g ON g.entity_id = i.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.order_id <=> o.entity_id AND g.order_increment_id <=> o.increment_id AND g.state <=> i.state
			AND g.customer_name <=> TRIM(CONCAT_WS(' ', IFNULL(o.customer_firstname, ''), IFNULL(o.customer_lastname, '')))
			AND g.billing_name <=> TRIM(CONCAT_WS(' ', IFNULL(b.firstname, ''), IFNULL(b.lastname, '')))
			AND g.payment_method <=> (SELECT MIN(p.method) FROM sales_order_payment p WHERE p.parent_id = o.entity_id))`: {`'0'`},
	`SELECT COUNT(*) FROM sales_shipment d JOIN sales_order o ON o.entity_id = d.order_id
		LEFT JOIN sales_order_address s ON s.entity_id = d.shipping_address_id
		LEFT JOIN sales_shipment_grid g ON g.entity_id = d.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.order_status <=> o.status AND g.total_qty <=> d.total_qty
			AND g.shipping_name <=> TRIM(CONCAT_WS(' ', IFNULL(s.firstname, ''), IFNULL(s.lastname, ''))))`: {`'0'`},
	`SELECT COUNT(*) FROM sales_creditmemo d JOIN sales_order o ON o.entity_id = d.order_id
		LEFT JOIN sales_creditmemo_grid g ON g.entity_id = d.entity_id
		WHERE g.entity_id IS NULL OR NOT (g.order_status <=> o.status AND g.order_base_grand_total <=> o.base_grand_total AND g.base_grand_total <=> d.base_grand_total)`: {`'0'`},
	`SELECT (SELECT COUNT(*) FROM sales_order_grid g LEFT JOIN sales_order d ON d.entity_id = g.entity_id WHERE d.entity_id IS NULL),
		(SELECT COUNT(*) FROM sales_invoice_grid g LEFT JOIN sales_invoice d ON d.entity_id = g.entity_id WHERE d.entity_id IS NULL),
		(SELECT COUNT(*) FROM sales_shipment_grid g LEFT JOIN sales_shipment d ON d.entity_id = g.entity_id WHERE d.entity_id IS NULL),
		(SELECT COUNT(*) FROM sales_creditmemo_grid g LEFT JOIN sales_creditmemo d ON d.entity_id = g.entity_id WHERE d.entity_id IS NULL)`: {`'0','0','0','0'`},
}

// TestStockConfigOrderGridsFollowTheStream: the stock config.xml's
// OrderGrids step keeps Magento 2's grids in step with what one
// `migrate delta --exit-when-caught-up` streams, on the real schemas,
// through the binlog and through the change-log triggers — no second run.
//
// The Magento 1 writes, made before the run: an order inserted with its
// two addresses and its payment in one transaction (Magento 1 sets the
// order's address ids once the addresses exist); order 1's status changed
// (its order grid row, and the order status its shipment's and credit
// memo's grid rows show); an invoice added to the new order (its grid row
// takes the order's customer, payment and address); order 2's billing
// address renamed and order 3's payment method changed (an address or a
// payment changes its order's grid row); order 6 deleted with Magento 1's
// foreign keys on, which take its invoice with it (both grid rows go:
// Magento 1's grids lose them too, so a fresh data migration would not
// have them — the reference's delta keeps them). A stray grid row of no
// order goes when delta starts. Every grid is checked against the sales
// tables by joins written here, and the changed rows against values
// worked out by hand; each would be wrong without the follower (the
// grids are rebuilt when delta starts, before the stream writes these
// changes).
func TestStockConfigOrderGridsFollowTheStream(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"binlog", "triggers"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			testOrderGridsFollowTheStream(t, source)
		})
	}
}

func testOrderGridsFollowTheStream(t *testing.T, deltaSource string) {
	s, _ := newStockStoreStreaming(t, deltaSource)
	s.exec(append(append([]string(nil), salesStoreM1...),
		// Order 6 with an invoice, to be deleted.
		`INSERT INTO sales_flat_order (entity_id, store_id, increment_id, state, status, store_name, customer_firstname, customer_lastname, grand_total, base_grand_total, created_at, updated_at)
			VALUES (6, 1, '100000009', 'processing', 'processing', 'Main Website', 'Eve', 'Kim', 12, 12, '2020-01-06 10:00:00', '2020-01-06 10:00:00')`,
		`INSERT INTO sales_flat_invoice (entity_id, order_id, store_id, increment_id, state, grand_total, base_grand_total, created_at, updated_at)
			VALUES (3, 6, 1, '100000009', 2, 12, 12, '2020-01-06 11:00:00', '2020-01-06 11:00:00')`,
		`INSERT INTO sales_flat_order_grid (entity_id, store_id, increment_id, status) VALUES (6, 1, '100000009', 'processing')`,
		`INSERT INTO sales_flat_invoice_grid (entity_id, order_id, store_id) VALUES (3, 6, 1)`,
	)...)
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0", salesEntityTypesM2); err != nil {
		t.Fatal(err)
	}
	s.e.mustRun("migrate", "settings")
	s.e.mustRun("migrate", "data")
	s.assertRows(gridsMatchSales)
	s.assertRows(map[string][]string{
		"SELECT entity_id FROM sales_order_grid":   {`'1'`, `'2'`, `'3'`, `'6'`},
		"SELECT entity_id FROM sales_invoice_grid": {`'1'`, `'3'`},
	})

	s.exec(
		"BEGIN",
		`INSERT INTO sales_flat_order (entity_id, store_id, increment_id, state, status, store_name, customer_firstname, customer_lastname, customer_email,
			grand_total, base_grand_total, created_at, updated_at)
			VALUES (5, 1, '100000005', 'new', 'pending', 'Main Website', 'Fay', 'Orr', 'fay@example.com', 40, 40, '2020-02-01 10:00:00', '2020-02-01 10:00:00')`,
		`INSERT INTO sales_flat_order_address (entity_id, parent_id, address_type, firstname, lastname, street, city, region, postcode) VALUES
			(4, 5, 'billing', 'Fay', 'Orr', '5 Elm St', 'Capital City', 'CA', '90001'),
			(5, 5, 'shipping', 'Gus', 'Orr', '6 Oak St', 'Capital City', 'CA', '90002')`,
		`INSERT INTO sales_flat_order_payment (entity_id, parent_id, method) VALUES (3, 5, 'purchaseorder')`,
		`UPDATE sales_flat_order SET billing_address_id = 4, shipping_address_id = 5 WHERE entity_id = 5`,
		`INSERT INTO sales_flat_order_grid (entity_id, store_id, increment_id, status) VALUES (5, 1, '100000005', 'pending')`,
		"COMMIT",
		`UPDATE sales_flat_order SET status = 'closed', state = 'closed', updated_at = '2020-02-02 10:00:00' WHERE entity_id = 1`,
		`INSERT INTO sales_flat_invoice (entity_id, order_id, store_id, increment_id, state, grand_total, base_grand_total, billing_address_id, shipping_address_id, created_at, updated_at)
			VALUES (2, 5, 1, '100000002', 1, 40, 40, 4, 5, '2020-02-03 10:00:00', '2020-02-03 10:00:00')`,
		`INSERT INTO sales_flat_invoice_grid (entity_id, order_id, store_id) VALUES (2, 5, 1)`,
		`UPDATE sales_flat_order_address SET firstname = 'Cyd' WHERE entity_id = 3`,
		`UPDATE sales_flat_order_payment SET method = 'free' WHERE entity_id = 2`,
	)
	// With foreign key checks on: Magento 1 deletes the invoice and both
	// grid rows with the order.
	if err := s.src.Exec(context.Background(), "magento1", "DELETE FROM sales_flat_order WHERE entity_id = 6"); err != nil {
		t.Fatal(err)
	}

	// A grid row whose order the destination does not hold (as one left
	// by apply --from-kafka, which keeps no grids): delta's start deletes
	// it.
	if err := s.dst.Exec(context.Background(), "magento2",
		`INSERT INTO sales_order_grid (entity_id, increment_id, store_id, status) VALUES (99, '100000099', 1, 'pending')`); err != nil {
		t.Fatal(err)
	}

	delta := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if strings.Contains(delta.stderr, "applied once, when delta mode starts: orders") || strings.Contains(delta.stderr, "level=ERROR") {
		t.Errorf("migrate delta:\n%s", delta.stderr)
	}
	if w := `msg="order grid refreshed from the sales tables" mode=delta step="OrderGrids Step" stage=delta table=sales_order_grid documents=4 deleted=1`; !strings.Contains(delta.stderr, w) {
		t.Errorf("migrate delta did not log %s:\n%s", w, delta.stderr)
	}
	s.assertRows(gridsMatchSales)
	s.assertRows(map[string][]string{
		"SELECT entity_id, status, customer_name, billing_name, shipping_name, billing_address, payment_method, updated_at FROM sales_order_grid": {
			`'1','closed','Ann Lee','Ann Lee','Bob Lee','1 Main St, Springfield, IL, 62701','checkmo','2020-02-02 10:00:00'`,
			`'2','pending','Solo','Cyd','',', Ogdenville, ,',NULL,'2020-01-03 10:00:00'`,
			`'3','canceled','Zoé Roux','','',', , ,','free','2020-01-04 10:00:00'`,
			`'5','pending','Fay Orr','Fay Orr','Gus Orr','5 Elm St, Capital City, CA, 90001','purchaseorder','2020-02-01 10:00:00'`,
		},
		"SELECT entity_id, order_id, order_increment_id, customer_name, billing_name, shipping_address, payment_method FROM sales_invoice_grid": {
			`'1','1','100000001','Ann Lee','Ann Lee','2 Side St, Shelbyville, , 62565','checkmo'`,
			`'2','5','100000005','Fay Orr','Fay Orr','6 Oak St, Capital City, CA, 90002','purchaseorder'`,
		},
		"SELECT entity_id, order_status FROM sales_shipment_grid":   {`'1','closed'`},
		"SELECT entity_id, order_status FROM sales_creditmemo_grid": {`'1','closed'`},
	})
}
