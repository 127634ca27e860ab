//go:build !unit

package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// TestDataIntegrityOnTheMagento1Schema: the Data Integrity step on the real
// Magento 1 schema (its 444 foreign keys). Empty, it finds nothing. With
// orphans written with FOREIGN_KEY_CHECKS=0 it reports one error per key,
// in the reference's words (expectation of the reference's
// tests/integration/testsuite/Migration/Step/DataIntegrity/IntegrityTest.php:
// the distinct orphaned values, comma-separated, of the child field), with
// the rows counted; a NULL key is no orphan; a key of two columns is checked
// (the reference reads only single-column keys), one with a NULL part is
// not an orphan (MATCH SIMPLE). A key whose query outlives the deadline is
// an error saying it was not checked.
func TestDataIntegrityOnTheMagento1Schema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := magentoServer(t, magentoFixtures(t), "m1")
	db := loadMagentoSchema(t, m, magentoFixtures(t), "m1", "m1-schema.sql")
	var logs testenv.Buffer
	env := &step.Env{Mode: step.ModeData, Source: db, SourceSchema: "m1", Log: slog.New(slog.NewTextHandler(&logs, nil))}

	problems, err := (&dataIntegrityStep{}).Integrity(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Fatalf("an empty Magento 1 schema has orphans: %v", problems)
	}
	if !strings.Contains(logs.String(), "data integrity: 444 foreign key(s) of ") {
		t.Errorf("the step did not say it checked the schema's 444 keys:\n%s", logs.String())
	}

	if err := m.Exec(ctx, "m1", "SET FOREIGN_KEY_CHECKS = 0",
		"INSERT INTO core_website (website_id, code, name) VALUES (1, 'base', 'Main')",
		"INSERT INTO core_store_group (group_id, website_id, name, root_category_id, default_store_id) VALUES (1, 1, 'Main', 2, 1)",
		"INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (1, 'default', 1, 1, 'Default', 0, 1)",
		"INSERT INTO sales_flat_order (entity_id, store_id) VALUES (5, 1)",
		// Items 1-3 lost their orders (998, 999); 4 has its order; the
		// store of 1 and 2 is NULL, of 3 a store that does not exist.
		`INSERT INTO sales_flat_order_item (item_id, order_id, store_id) VALUES (1, 999, NULL), (2, 999, NULL), (3, 998, 7), (4, 5, 1)`,
		// Two columns, one of them NULL in the second row.
		"CREATE TABLE pair_parent (a INT, b INT, PRIMARY KEY (a, b))",
		"CREATE TABLE pair_child (id INT PRIMARY KEY, a INT, b INT, CONSTRAINT fk_pair FOREIGN KEY (a, b) REFERENCES pair_parent (a, b))",
		"INSERT INTO pair_parent VALUES (1, 1)",
		"INSERT INTO pair_child VALUES (1, 1, 1), (2, 1, NULL), (3, 1, 2)",
	); err != nil {
		t.Fatal(err)
	}
	problems, err = (&dataIntegrityStep{}).Integrity(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FK_SALES_FLAT_ORDER_ITEM_ORDER_ID_SALES_FLAT_ORDER_ENTITY_ID": "Foreign key (FK_SALES_FLAT_ORDER_ITEM_ORDER_ID_SALES_FLAT_ORDER_ENTITY_ID) constraint fails on source database. " +
			"Orphan records id: 998,999 from `sales_flat_order_item`.`order_id` has no referenced records in `sales_flat_order` (3 row(s); delete them or restore their parent rows in the source)",
		"FK_SALES_FLAT_ORDER_ITEM_STORE_ID_CORE_STORE_STORE_ID": "Foreign key (FK_SALES_FLAT_ORDER_ITEM_STORE_ID_CORE_STORE_STORE_ID) constraint fails on source database. " +
			"Orphan records id: 7 from `sales_flat_order_item`.`store_id` has no referenced records in `core_store` (1 row(s);",
		"fk_pair": "Orphan records id: (1,2) from `pair_child`.(`a`,`b`) has no referenced records in `pair_parent` (1 row(s);",
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(problems), len(want), problems)
	}
	for _, p := range problems {
		if p.Severity != transform.Error || p.Blocking || p.Area != "source" {
			t.Errorf("problem %+v: want a non-blocking source error (--auto makes it a warning)", p)
		}
		found := false
		for key, w := range want {
			if strings.Contains(p.Msg, "Foreign key ("+key+")") {
				found = true
				if !strings.Contains(p.Msg, w) {
					t.Errorf("got  %s\nwant %s", p.Msg, w)
				}
			}
		}
		if !found {
			t.Errorf("unexpected problem: %s", p.Msg)
		}
	}

	// The deadline: no key can be checked in a nanosecond; each says so.
	problems, err = (&dataIntegrityStep{timeout: time.Nanosecond}).Integrity(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 445 {
		t.Errorf("%d problems with a deadline of 1ns, want one per key (445)", len(problems))
	}
	for _, p := range problems[:min(len(problems), 3)] {
		if !strings.Contains(p.Msg, "could not be checked for orphan records within 1ns; run the query by hand: SELECT ") {
			t.Errorf("deadline problem: %s", p.Msg)
		}
	}
}
