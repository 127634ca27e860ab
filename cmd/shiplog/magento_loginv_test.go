//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// msiTables are Magento 2's Inventory (MSI) tables as its install creates
// them (2.4's db_schema of Magento_Inventory, Magento_InventorySales,
// Magento_InventoryShipping, Magento_InventoryReservations), with the rows
// the install adds: the default source and stock and the base website's
// sales channel. The fixture's m2-schema.sql is of an install with MSI
// disabled, so it has none of them.
var msiTables = []string{
	"SET FOREIGN_KEY_CHECKS = 0",
	`CREATE TABLE inventory_source (
		source_code varchar(255) NOT NULL, name varchar(255) NOT NULL, enabled smallint unsigned NOT NULL DEFAULT 1,
		description text, latitude decimal(8,6) DEFAULT NULL, longitude decimal(9,6) DEFAULT NULL,
		country_id varchar(2) NOT NULL, region_id int unsigned DEFAULT NULL, region varchar(255) DEFAULT NULL,
		city varchar(255) DEFAULT NULL, street varchar(255) DEFAULT NULL, postcode varchar(255) NOT NULL,
		contact_name varchar(255) DEFAULT NULL, email varchar(255) DEFAULT NULL, phone varchar(255) DEFAULT NULL,
		fax varchar(255) DEFAULT NULL, use_default_carrier_config smallint unsigned NOT NULL DEFAULT 1,
		PRIMARY KEY (source_code)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_stock (stock_id int unsigned NOT NULL AUTO_INCREMENT, name varchar(255) NOT NULL, PRIMARY KEY (stock_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_source_stock_link (link_id int unsigned NOT NULL AUTO_INCREMENT, stock_id int unsigned NOT NULL, source_code varchar(255) NOT NULL,
		priority smallint unsigned NOT NULL, PRIMARY KEY (link_id), UNIQUE KEY INVENTORY_SOURCE_STOCK_LINK_STOCK_ID_SOURCE_CODE (stock_id, source_code)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_source_item (source_item_id int unsigned NOT NULL AUTO_INCREMENT, source_code varchar(255) NOT NULL, sku varchar(64) NOT NULL,
		quantity decimal(12,4) NOT NULL DEFAULT '0.0000', status smallint unsigned NOT NULL DEFAULT 0, PRIMARY KEY (source_item_id),
		UNIQUE KEY INVENTORY_SOURCE_ITEM_SOURCE_CODE_SKU (source_code, sku), KEY INVENTORY_SOURCE_ITEM_SKU_SOURCE_CODE_QUANTITY (sku, source_code, quantity),
		CONSTRAINT INVENTORY_SOURCE_ITEM_SOURCE_CODE_INVENTORY_SOURCE_SOURCE_CODE FOREIGN KEY (source_code) REFERENCES inventory_source (source_code) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_stock_sales_channel (type varchar(64) NOT NULL, code varchar(64) NOT NULL, stock_id int unsigned NOT NULL, PRIMARY KEY (type, code),
		CONSTRAINT INVENTORY_STOCK_SALES_CHANNEL_STOCK_ID_INVENTORY_STOCK_STOCK_ID FOREIGN KEY (stock_id) REFERENCES inventory_stock (stock_id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_shipment_source (shipment_id int unsigned NOT NULL, source_code varchar(255) NOT NULL, PRIMARY KEY (shipment_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE inventory_reservation (reservation_id int unsigned NOT NULL AUTO_INCREMENT, stock_id int unsigned NOT NULL, sku varchar(64) NOT NULL,
		quantity decimal(10,4) NOT NULL DEFAULT '0.0000', metadata varchar(255) DEFAULT NULL, PRIMARY KEY (reservation_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`INSERT INTO inventory_source (source_code, name, enabled, description, country_id, postcode) VALUES ('default', 'Default Source', 1, 'Default Source', 'US', '00000')`,
	`INSERT INTO inventory_stock (stock_id, name) VALUES (1, 'Default Stock')`,
	`INSERT INTO inventory_source_stock_link (stock_id, source_code, priority) VALUES (1, 'default', 1)`,
	`INSERT INTO inventory_stock_sales_channel (type, code, stock_id) VALUES ('website', 'base', 1)`,
}

// TestLogAndInventoryStepsOnRealSchemas: the stock config.xml's Log and
// Inventory steps on the real schemas, with visitors, logins, stock items
// and shipments inserted in Magento 1, checked by SQL written here from the
// reference's Log\Data (log_visitor joined with log_customer, first_visit_at
// as created_at, map-log.xml) and Inventory\Model\* (source items of website
// 0's stock items in the default source, the websites but admin as sales
// channels of stock 1, shipments from the default source) — with MSI's
// tables on the destination and without them (the fixture's schema, an
// install with MSI disabled: nothing to do). Delta: the Log step streams
// the new visitor (magento_log_delta_test.go tests its delta); the
// Inventory step follows the stock item the stream writes into its source
// item in the same run (TestInventoryFollowsTheStream has more).
func TestLogAndInventoryStepsOnRealSchemas(t *testing.T) {
	t.Parallel()
	for _, msi := range []bool{true, false} {
		name := map[bool]string{true: "msi", false: "legacy"}[msi]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, fx := newStockStore(t)
			s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
			s.e.config = s.config
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
				`INSERT INTO cataloginventory_stock_item (item_id, product_id, stock_id, qty, is_in_stock) VALUES
					(1, 1, 1, 10.5, 1), (2, 2, 1, 0, 0), (3, 3, 1, 7, 0)`,
				`INSERT INTO sales_flat_order (entity_id, store_id, increment_id) VALUES (1, 1, '100000001')`,
				`INSERT INTO sales_flat_shipment (entity_id, store_id, order_id, increment_id) VALUES (1, 1, 1, '100000001'), (2, 1, 1, '100000002')`,
				// Visitor 1 logged in twice (customers 7, then 8); 2 never;
				// 3 once, with a session id that fits Magento 2.4's
				// varchar(1).
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES
					(1, 'a0b1c2d3e4f5a0b1c2d3e4f5a0', '2020-01-01 10:00:00', '2020-01-01 11:00:00', 5, 1),
					(2, NULL, '2020-02-01 10:00:00', '2020-02-01 10:30:00', 0, 1),
					(3, 'x', '2020-03-01 10:00:00', '2020-03-01 12:00:00', 9, 1)`,
				`INSERT INTO log_customer (log_id, visitor_id, customer_id, login_at, logout_at, store_id) VALUES
					(1, 1, 7, '2020-01-01 10:05:00', '2020-01-01 10:10:00', 1), (2, 1, 8, '2020-01-01 10:20:00', NULL, 1),
					(3, 3, 9, '2020-03-01 10:01:00', NULL, 1)`,
			)
			stmts := []string{"SET FOREIGN_KEY_CHECKS = 0",
				`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
				`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1)`,
				`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
					(7, 4, 'Product Details', 10, 1, 'product-details', 'basic')`,
				// A visitor of Magento 2's own: the Log step clears it.
				`INSERT INTO customer_visitor (visitor_id, customer_id, session_id, created_at, last_visit_at) VALUES (99, NULL, NULL, '2021-01-01 00:00:00', '2021-01-01 00:00:00')`,
			}
			if msi {
				stmts = append(stmts, msiTables...)
			}
			if err := s.dst.Exec(context.Background(), "magento2", stmts...); err != nil {
				t.Fatal(err)
			}
			s.e.mustRun("migrate", "settings")
			data := s.e.mustRun("migrate", "data")
			if !strings.Contains(data.stderr, "session ids that do not fit") || !strings.Contains(data.stderr, "visitors=1") {
				t.Errorf("no warning that one visitor's session id was left NULL:\n%s", data.stderr)
			}
			// Expected here from map-log.xml and Log\Data: last_url_id and
			// store_id ignored, first_visit_at as created_at, the customer
			// of the visitor's latest login (NULL: none).
			want := map[string][]string{
				"SELECT visitor_id, customer_id, session_id, created_at, last_visit_at FROM customer_visitor ORDER BY visitor_id": {
					`'1','8',NULL,'2020-01-01 10:00:00','2020-01-01 11:00:00'`,
					`'2',NULL,NULL,'2020-02-01 10:00:00','2020-02-01 10:30:00'`,
					`'3','9','x','2020-03-01 10:00:00','2020-03-01 12:00:00'`,
				},
				"SELECT product_id, qty, is_in_stock FROM cataloginventory_stock_item ORDER BY product_id": {
					`'1','10.5000','1'`, `'2','0.0000','0'`, `'3','7.0000','0'`,
				},
			}
			if msi {
				want["SELECT source_code, sku, quantity, status FROM inventory_source_item ORDER BY sku"] = []string{
					`'default','P-1','10.5000','1'`, `'default','P-2','0.0000','0'`, `'default','P-3','7.0000','0'`,
				}
				want["SELECT type, code, stock_id FROM inventory_stock_sales_channel ORDER BY code"] = []string{`'website','base','1'`}
				want["SELECT shipment_id, source_code FROM inventory_shipment_source ORDER BY shipment_id"] = []string{`'1','default'`, `'2','default'`}
				want["SELECT COUNT(*) FROM inventory_reservation"] = []string{`'0'`}
			} else {
				if !strings.Contains(data.stderr, "no Inventory (MSI) tables") {
					t.Errorf("no word that the destination has no MSI tables:\n%s", data.stderr)
				}
				want["SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'magento2' AND TABLE_NAME LIKE 'inventory%'"] = []string{`'0'`}
			}
			s.assertRows(want)
			// The same by a query over Magento 1's rows: each stock item's
			// product's sku, quantity and status.
			if msi {
				m1 := rowsOf(t, s.e.srcDB, "SELECT p.sku, si.qty, si.is_in_stock FROM cataloginventory_stock_item si JOIN catalog_product_entity p ON p.entity_id = si.product_id ORDER BY p.sku")
				m2 := rowsOf(t, s.e.dstDB, "SELECT sku, quantity, status FROM inventory_source_item WHERE source_code = 'default' ORDER BY sku")
				if strings.Join(m1, "\n") != strings.Join(m2, "\n") {
					t.Errorf("stock items:\n Magento 1: %v\n Magento 2 source items: %v", m1, m2)
				}
			}

			// Delta: a stock item and a visitor change in Magento 1.
			s.exec(`UPDATE cataloginventory_stock_item SET qty = 3, is_in_stock = 1 WHERE product_id = 3`,
				`INSERT INTO log_visitor (visitor_id, session_id, first_visit_at, last_visit_at, last_url_id, store_id) VALUES (4, NULL, '2020-04-01 10:00:00', '2020-04-01 10:00:00', 0, 1)`)
			d1 := s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if !strings.Contains(d1.stderr, "customer_visitor.customer_id follows each batch") {
				t.Errorf("delta: no word that the Log step streams the visitors:\n%s", d1.stderr)
			}
			if strings.Contains(d1.stderr, "the Inventory step's delta is not streamed") {
				t.Errorf("delta still warns that the Inventory step's delta is not streamed:\n%s", d1.stderr)
			}
			if got := strings.Contains(d1.stderr, "inventory caught up at delta start"); got != msi {
				t.Errorf("delta: word of the Inventory step's delta start: %v, want %v:\n%s", got, msi, d1.stderr)
			}
			want["SELECT product_id, qty, is_in_stock FROM cataloginventory_stock_item ORDER BY product_id"][2] = `'3','3.0000','1'`
			visitors := "SELECT visitor_id, customer_id, session_id, created_at, last_visit_at FROM customer_visitor ORDER BY visitor_id"
			want[visitors] = append(want[visitors], `'4',NULL,NULL,'2020-04-01 10:00:00','2020-04-01 10:00:00'`)
			if msi {
				// Followed in the stream's transaction: no second run.
				want["SELECT source_code, sku, quantity, status FROM inventory_source_item ORDER BY sku"][2] = `'default','P-3','3.0000','1'`
			}
			s.assertRows(want) // visitor 4 streamed, the source item followed
		})
	}
}
