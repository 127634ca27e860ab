//go:build !unit

package pipeline

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// TestInventoryStepIntegrityAndVolume: the Inventory step on the real
// Magento 2 schema (an install with MSI disabled) as MSI's tables come and
// go: none — nothing to do, nothing checked; some — the missing ones are
// errors (the reference checks all three tables once MSI is on); a table
// whose fields are not the reference's — missing fields block, extra ones
// do not; no source in inventory_source — an error, and DeltaStart refuses
// to run; the default source is "default" when there is one, else the
// first by code; a stock item without its product is a Volume mismatch
// (the reference's Volume counts both tables).
func TestInventoryStepIntegrityAndVolume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := magentoServer(t, magentoFixtures(t), "m2")
	db := loadMagentoSchema(t, m, magentoFixtures(t), "m2", "m2-schema.sql")
	exec := func(stmts ...string) {
		t.Helper()
		if err := m.Exec(ctx, "m2", append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, stmts...)...); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{}
	cfg.Destination.Database = "m2"
	r := &Runtime{cfg: cfg, dst: db}
	r.dest = newDestination(r)
	var logs testenv.Buffer
	env := &step.Env{Mode: step.ModeData, Destination: db, DestSchema: "m2", Config: cfg, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := &inventoryStep{r: r}
	check := func(what string, want ...string) []transform.Problem {
		t.Helper()
		problems, err := s.Integrity(ctx, env)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []string
		for _, p := range problems {
			got = append(got, p.Msg)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: problems\n  %s\nwant %d: %q", what, strings.Join(got, "\n  "), len(want), want)
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: problem %d is %q, want one with %q", what, i, got[i], w)
			}
		}
		return problems
	}

	// No MSI tables: nothing to check or do.
	check("no MSI")
	if s.msi || !strings.Contains(logs.String(), "no Inventory (MSI) tables") {
		t.Errorf("no MSI: msi=%v, log:\n%s", s.msi, logs.String())
	}
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := s.Volume(ctx, env); err != nil {
		t.Fatal(err)
	}

	// Some MSI tables: the others are missing; no source yet.
	exec(`CREATE TABLE inventory_source (source_code varchar(255) NOT NULL PRIMARY KEY, name varchar(255) NOT NULL)`,
		`CREATE TABLE inventory_source_item (source_item_id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, source_code varchar(255) NOT NULL,
			sku varchar(64) NOT NULL, quantity decimal(12,4) NOT NULL DEFAULT 0, note varchar(10) DEFAULT NULL, UNIQUE KEY (source_code, sku))`)
	problems := check("some MSI tables",
		"destination document inventory_source_item lacks the fields status",
		"has fields the step does not fill: note",
		"has Inventory (MSI) tables but not inventory_stock_sales_channel",
		"has Inventory (MSI) tables but not inventory_shipment_source",
		"inventory_source has no source")
	if !s.msi {
		t.Error("some MSI tables: the step thinks MSI absent")
	}
	for i, blocking := range []bool{true, false, true, true, true} {
		if problems[i].Blocking != blocking {
			t.Errorf("problem %q: blocking %v, want %v", problems[i].Msg, problems[i].Blocking, blocking)
		}
	}
	denv := *env
	denv.Mode = step.ModeDelta
	if err := s.DeltaStart(ctx, &denv); err == nil || !strings.Contains(err.Error(), "inventory_shipment_source") {
		t.Errorf("DeltaStart with MSI's tables incomplete: %v, want an error naming what is missing", err)
	}

	// All of them, as the reference wants them; two sources without
	// "default": the first by code.
	exec(`ALTER TABLE inventory_source_item DROP COLUMN note, ADD COLUMN status smallint unsigned NOT NULL DEFAULT 0`,
		`CREATE TABLE inventory_stock_sales_channel (type varchar(64) NOT NULL, code varchar(64) NOT NULL, stock_id int unsigned NOT NULL, PRIMARY KEY (type, code))`,
		`CREATE TABLE inventory_shipment_source (shipment_id int unsigned NOT NULL PRIMARY KEY, source_code varchar(255) NOT NULL)`,
		`INSERT INTO inventory_source (source_code, name) VALUES ('west', 'West'), ('east', 'East')`,
		`SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')`,
		`INSERT INTO store_website (website_id, code, name) VALUES (0, 'admin', 'Admin'), (1, 'base', 'Main'), (2, 'second', 'Second')`,
		`INSERT INTO catalog_product_entity (entity_id, attribute_set_id, type_id, sku) VALUES (1, 4, 'simple', 'A'), (2, 4, 'simple', 'B')`,
		// Product 3 does not exist; website 1's item is not website 0's.
		`INSERT INTO cataloginventory_stock_item (item_id, product_id, stock_id, qty, is_in_stock, website_id) VALUES
			(1, 1, 1, 5, 1, 0), (2, 2, 1, NULL, 0, 0), (3, 3, 1, 9, 1, 0), (4, 1, 2, 4, 1, 1)`,
		`INSERT INTO sales_shipment (entity_id, order_id, store_id) VALUES (10, 1, 1)`)
	check("complete")
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	assertRowsIn(t, db, map[string][]string{
		"SELECT source_code, sku, quantity, status FROM inventory_source_item ORDER BY sku": {`'east','A','5.0000','1'`, `'east','B','0.0000','0'`},
		"SELECT type, code, stock_id FROM inventory_stock_sales_channel ORDER BY code":      {`'website','base','1'`, `'website','second','1'`},
		"SELECT shipment_id, source_code FROM inventory_shipment_source":                    {`'10','east'`},
	})
	err := s.Volume(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "inventory_source_item: cataloginventory_stock_item has 4, inventory_source_item 2") {
		t.Errorf("Volume with a stock item without its product and one of website 1: %v", err)
	}

	// "default" is preferred; a second run changes quantities in place.
	exec(`INSERT INTO inventory_source (source_code, name) VALUES ('default', 'Default Source')`,
		`DELETE FROM cataloginventory_stock_item WHERE item_id IN (3, 4)`,
		`UPDATE cataloginventory_stock_item SET qty = 6 WHERE item_id = 1`,
		`DELETE FROM inventory_source_item`)
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := s.Data(ctx, env); err != nil {
		t.Fatal(err)
	}
	assertRowsIn(t, db, map[string][]string{
		"SELECT source_code, sku, quantity, status FROM inventory_source_item ORDER BY sku": {`'default','A','6.0000','1'`, `'default','B','0.0000','0'`},
		"SELECT shipment_id, source_code FROM inventory_shipment_source":                    {`'10','default'`},
	})
	if err := s.Volume(ctx, env); err != nil {
		t.Errorf("Volume after a complete run: %v", err)
	}
}

// assertRowsIn compares each query's rows (testenv.SortedRows' form:
// 'a','b',NULL) with want.
func assertRowsIn(t *testing.T, db *sql.DB, want map[string][]string) {
	t.Helper()
	for q, rows := range want {
		got, err := testenv.SortedRows(context.Background(), db, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if strings.Join(got, "\n") != strings.Join(rows, "\n") {
			t.Errorf("%s\n got:  %q\nwant: %q", q, got, rows)
		}
	}
}
