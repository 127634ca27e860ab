//go:build !unit

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// loadResourceSQL runs one of the reference's integration-test databases
// (dmt/tests/integration/resource/<step>/*.sql) in database name of m, in a
// session with NO_AUTO_VALUE_ON_ZERO as the reference's test framework
// loads them: their admin store, group and website have id 0, which an
// AUTO_INCREMENT column would otherwise renumber.
func loadResourceSQL(t *testing.T, m *testenv.MariaDB, name, path string) {
	t.Helper()
	loadSQLFile(t, m, name, path, "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
}

// TestStoresStepOnTheReferenceTestDatabases runs settings mode with the
// stock config.xml (its settings mode lists the Settings and Stores steps;
// stores_map_file is the stock map-stores.xml.dist) on the reference's
// resource/stores/{source,dest}.sql. The reference's
// tests/integration/testsuite/Migration/Step/Stores/IntegrityTest.php
// expects the integrity check to pass (dest.sql's store_group has no code
// column: the map's rules on it are skipped), and DataTest.php expects 2
// rows in each of store, store_group and store_website; the rows themselves
// are source.sql's, copied field by field (core_website's is_staging,
// master_login, master_password and visibility are ignored by the map).
// Data.php clears each destination document before the copy (TRUNCATE): a
// destination row the source lacks is gone. A second run changes nothing.
func TestStoresStepOnTheReferenceTestDatabases(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	res := filepath.Join(fx, "dmt", "tests", "integration", "resource", "stores")
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	loadResourceSQL(t, m, "magento1", filepath.Join(res, "source.sql"))
	loadResourceSQL(t, m, "magento2", filepath.Join(res, "dest.sql"))
	// The Settings step the same config.xml lists needs the settings tables
	// (the stores databases have none): empty ones, with the columns it
	// reads.
	ctx := context.Background()
	for _, db := range []string{"magento1", "magento2"} {
		if err := m.Exec(ctx, db, "CREATE TABLE core_config_data (config_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, scope VARCHAR(8) NOT NULL DEFAULT 'default', scope_id INT NOT NULL DEFAULT 0, path VARCHAR(255) NOT NULL DEFAULT 'general', value TEXT, UNIQUE KEY (scope, scope_id, path))"); err != nil {
			t.Fatal(err)
		}
	}
	// A destination store, group and website the source does not have.
	if err := m.Exec(ctx, "magento2",
		"INSERT INTO store VALUES (5, 'stale', 1, 1, 'Stale', 0, 1)",
		"INSERT INTO store_group VALUES (5, 1, 'Stale', 0, 5)",
		"INSERT INTO store_website VALUES (5, 'stale', 'Stale', 0, 5, 0)"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, src: m, dst: m, config: stockConfigXML(t, fx, m, m, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})}
	var err error
	if e.dstDB, err = m.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dstDB.Close() })
	want := map[string][]string{
		"SELECT * FROM store ORDER BY store_id": {
			"'0','admin','0','0','Admin','0','1'",
			"'1','default','1','1','English','0','1'",
		},
		"SELECT * FROM store_group ORDER BY group_id": {
			"'0','0','Default','0','0'",
			"'1','1','First Main Store','2','1'",
		},
		"SELECT * FROM store_website ORDER BY website_id": {
			"'0','admin','Admin','0','0','0'",
			"'1','base','Main Website','0','1','1'",
		},
	}
	// Without stores_map_file the step cannot know its map: settings mode
	// stops before writing, naming the option.
	noMap := &env{t: t, config: stockConfigXML(t, fx, m, m, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key, "stores_map_file": ""})}
	if r := runShiplog(t, noMap.config, nil, "migrate", "settings"); r.code == 0 || !strings.Contains(r.stderr, "options/stores_map_file") {
		t.Fatalf("settings without stores_map_file: exit %d, want a failure naming the option\n%s", r.code, r.stderr)
	}
	if got := rowsOf(t, e.dstDB, "SELECT store_id FROM store WHERE store_id = 5"); len(got) != 1 {
		t.Fatalf("settings without stores_map_file wrote the stores: %q", got)
	}
	// A row the destination cannot hold (a store name longer than a
	// narrowed column) stops the step with the error naming it, and nothing
	// written: the destination's stores stay as they were.
	if err := m.Exec(ctx, "magento2", "ALTER TABLE store MODIFY name VARCHAR(5) NOT NULL"); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, e.config, nil, "migrate", "settings"); r.code == 0 || !strings.Contains(r.stderr, "Stores step: source core_store row store_id=1: ") {
		t.Fatalf("settings with a store name too long for Magento 2: exit %d, want a failure naming the row\n%s", r.code, r.stderr)
	}
	if got := rowsOf(t, e.dstDB, "SELECT store_id FROM store ORDER BY store_id"); strings.Join(got, " ") != "'0' '5'" {
		t.Fatalf("a failed copy changed the destination's stores: %q", got)
	}
	if err := m.Exec(ctx, "magento2", "ALTER TABLE store MODIFY name VARCHAR(255) NOT NULL"); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		args := []string{"migrate", "settings"}
		if run == 2 {
			args = append(args, "--reset") // a plain run skips the Stores step, done
		}
		r := e.mustRun(args...)
		if !strings.Contains(r.stderr, "stores migrated") || strings.Contains(r.stderr, `\"Stores Step\" (mode settings) is not supported`) {
			t.Fatalf("run %d: the Stores step did not run:\n%s", run, r.stderr)
		}
		assertQueries(t, e.dstDB, fmt.Sprintf("run %d: ", run), want)
	}
}

// TestStockConfigXMLMigratesStores: the stock config.xml on the real
// schemas. A Magento 1 shop with two websites (besides admin), three store
// groups and three store views becomes Magento 2's stores, replacing the
// ones Magento 2 was installed with; StoreGroupCode gives each group the
// code the reference makes from its name (white space to "_", lower case,
// only a-z 0-9 - _, no leading non-letters: "2nd Shop!" is "nd_shop").
// Rows that reference a store (cms_page_store) are left as they are: the
// clearing does not cascade, as the reference's TRUNCATE with foreign key
// checks off does not.
func TestStockConfigXMLMigratesStores(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true, Schemas: []testenv.Schema{m1Schema(fx, "magento1"), m2Schema(fx, "magento2")}})
	ctx := context.Background()
	if err := m.Exec(ctx, "magento1", "SET FOREIGN_KEY_CHECKS = 0", "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
		`INSERT INTO core_website (website_id, code, name, sort_order, default_group_id, is_default) VALUES
			(0, 'admin', 'Admin', 0, 0, 0), (1, 'base', 'Main Website', 0, 1, 1), (2, 'wholesale', 'Wholesale', 1, 3, 0)`,
		`INSERT INTO core_store_group (group_id, website_id, name, root_category_id, default_store_id) VALUES
			(0, 0, 'Default', 0, 0), (1, 1, 'Main Website Store', 2, 1), (2, 1, '2nd Shop!', 2, 3), (3, 2, 'Wholesale  Store', 3, 4)`,
		`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES
			(0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1),
			(3, 'second', 1, 2, 'Second View', 1, 1), (4, 'wholesale_en', 2, 3, 'Wholesale English', 0, 0)`,
	); err != nil {
		t.Fatal(err)
	}
	// Magento 2 as installed: admin and default website, group and store;
	// a CMS page shown in store 1.
	if err := m.Exec(ctx, "magento2", "SET FOREIGN_KEY_CHECKS = 0", "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
		`INSERT INTO store_website VALUES (0, 'admin', 'Admin', 0, 0, 0), (1, 'base', 'Main Website', 0, 1, 1)`,
		`INSERT INTO store_group VALUES (0, 0, 'Default', 0, 0, 'default'), (1, 1, 'Main Website Store', 2, 1, 'main_website_store')`,
		`INSERT INTO store VALUES (0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1)`,
		`INSERT INTO cms_page (page_id, title, identifier) VALUES (1, 'Home', 'home')`,
		`INSERT INTO cms_page_store (page_id, store_id) VALUES (1, 1)`,
	); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, src: m, dst: m, config: stockConfigXML(t, fx, m, m, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})}
	var err error
	if e.dstDB, err = m.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dstDB.Close() })
	// One destination transaction: a copy that fails at the last document
	// (a trigger refuses website "wholesale") leaves Magento 2's stores,
	// groups and websites as they were, though the first two documents were
	// already cleared and copied in it.
	installed := map[string][]string{
		"SELECT store_id, code, website_id, group_id, name, sort_order, is_active FROM store ORDER BY store_id": {
			"'0','admin','0','0','Admin','0','1'", "'1','default','1','1','Default Store View','0','1'"},
		"SELECT group_id, website_id, code, name, root_category_id, default_store_id FROM store_group ORDER BY group_id": {
			"'0','0','default','Default','0','0'", "'1','1','main_website_store','Main Website Store','2','1'"},
		"SELECT website_id, code, name, sort_order, default_group_id, is_default FROM store_website ORDER BY website_id": {
			"'0','admin','Admin','0','0','0'", "'1','base','Main Website','0','1','1'"},
	}
	if err := m.Exec(ctx, "magento2", `CREATE TRIGGER refuse_wholesale BEFORE INSERT ON store_website FOR EACH ROW
		IF NEW.code = 'wholesale' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no wholesale'; END IF`); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, e.config, nil, "migrate", "settings"); r.code == 0 || !strings.Contains(r.stderr, "no wholesale") {
		t.Fatalf("settings with a refused website: exit %d, want a failure naming the refusal\n%s", r.code, r.stderr)
	}
	assertQueries(t, e.dstDB, "after a failed copy (want Magento 2's as installed): ", installed)
	if err := m.Exec(ctx, "magento2", "DROP TRIGGER refuse_wholesale"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"SELECT store_id, code, website_id, group_id, name, sort_order, is_active FROM store ORDER BY store_id": {
			"'0','admin','0','0','Admin','0','1'",
			"'1','default','1','1','Default Store View','0','1'",
			"'3','second','1','2','Second View','1','1'",
			"'4','wholesale_en','2','3','Wholesale English','0','0'",
		},
		"SELECT group_id, website_id, code, name, root_category_id, default_store_id FROM store_group ORDER BY group_id": {
			"'0','0','default','Default','0','0'",
			"'1','1','main_website_store','Main Website Store','2','1'",
			"'2','1','nd_shop','2nd Shop!','2','3'",
			"'3','2','wholesale_store','Wholesale  Store','3','4'",
		},
		"SELECT website_id, code, name, sort_order, default_group_id, is_default FROM store_website ORDER BY website_id": {
			"'0','admin','Admin','0','0','0'",
			"'1','base','Main Website','0','1','1'",
			"'2','wholesale','Wholesale','1','3','0'",
		},
		"SELECT page_id, store_id FROM cms_page_store": {"'1','1'"},
	}
	for run := 1; run <= 2; run++ {
		e.mustRun("migrate", "settings")
		assertQueries(t, e.dstDB, fmt.Sprintf("run %d: ", run), want)
	}
}
