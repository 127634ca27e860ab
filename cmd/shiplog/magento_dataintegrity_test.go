//go:build !unit

package main

import (
	"os"
	"strings"
	"testing"
)

// TestStockConfigDataIntegrityStep: the stock config.xml's "Data Integrity
// Step" runs (it is no longer warned about as not supported, unlike the
// steps shiplog lacks). Order items whose order is gone, and a row of a
// table the stock map ignores (the reference checks every table of the
// source: Migration\Step\DataIntegrity\Integrity reads the adapter's whole
// document list), stop `migrate data` before anything is written, each key
// named in the reference's words with its orphaned ids and rows; a NULL key
// is no orphan; `check` reports the same. With --auto they are warnings and the migration goes on,
// copying the rows as they are.
func TestStockConfigDataIntegrityStep(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXMLAsShipped(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	// A step shiplog does not have (the Commerce edition's sales order
	// step, listed as a config.xml written for it would).
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	withUnknown := strings.Replace(string(b), `<steps mode="data">`, `<steps mode="data">
        <step title="SalesOrder Step">
            <integrity>Migration\Step\SalesOrder\Integrity</integrity>
            <data>Migration\Step\SalesOrder\Data</data>
        </step>`, 1)
	if withUnknown == string(b) {
		t.Fatal(`the stock config.xml has no <steps mode="data">`)
	}
	if err := os.WriteFile(s.config, []byte(withUnknown), 0o600); err != nil {
		t.Fatal(err)
	}
	s.exec(storeAdmin...)
	s.exec(
		`INSERT INTO sales_flat_order (entity_id, store_id, increment_id) VALUES (5, 0, '100000005')`,
		// Items 1-3 lost their orders; 4 has its order. No item has a
		// store: NULL references nothing.
		`INSERT INTO sales_flat_order_item (item_id, order_id, store_id, sku) VALUES (1, 999, NULL, 'a'), (2, 999, NULL, 'b'), (3, 998, NULL, 'c'), (4, 5, NULL, 'd')`,
		// dataflow_batch is ignored by the stock map; its profile is gone.
		`INSERT INTO dataflow_batch (batch_id, profile_id, store_id) VALUES (1, 42, 0)`,
	)
	items := "Foreign key (FK_SALES_FLAT_ORDER_ITEM_ORDER_ID_SALES_FLAT_ORDER_ENTITY_ID) constraint fails on source database. " +
		"Orphan records id: 998,999 from `sales_flat_order_item`.`order_id` has no referenced records in `sales_flat_order` " +
		"(3 row(s); delete them or restore their parent rows in the source)"
	batch := "Foreign key (FK_DATAFLOW_BATCH_PROFILE_ID_DATAFLOW_PROFILE_PROFILE_ID) constraint fails on source database. " +
		"Orphan records id: 42 from `dataflow_batch`.`profile_id` has no referenced records in `dataflow_profile` (1 row(s);"

	// check is data mode's integrity check: the same errors, on stdout.
	r := runShiplog(t, s.config, nil, "check")
	checkOut := r.stdout
	if r.code != 1 || !strings.Contains(r.stdout, items) || !strings.Contains(r.stdout, batch) {
		t.Errorf("check: exit %d, want 1 naming the orphans\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runShiplog(t, s.config, nil, "migrate", "data")
	expectFailure(t, r, 1, "integrity check failed", items, batch, "--auto")
	if strings.Contains(r.stderr, `Magento step \"Data Integrity Step\" (mode data) is not supported`) {
		t.Errorf("the Data Integrity step is still skipped:\n%s", r.stderr)
	}
	// The steps shiplog lacks are errors of the same check (--auto:
	// warnings), in check and in migrate data.
	unknown := `config.xml lists the Magento step \"SalesOrder Step\" for data mode, which shiplog does not have; remove it from <steps mode=\"data\"> in config.xml, or pass --auto to run the mode without it`
	if !strings.Contains(r.stderr, `level=ERROR msg="`+unknown) || !strings.Contains(checkOut, strings.ReplaceAll(unknown, `\"`, `"`)) {
		t.Errorf("the steps shiplog lacks are not integrity errors:\n%s", r.stderr)
	}
	for _, notOrphan := range []string{"FK_SALES_FLAT_ORDER_ITEM_STORE_ID", "FK_DATAFLOW_BATCH_STORE_ID"} {
		if strings.Contains(r.stderr, notOrphan) {
			t.Errorf("%s is reported, but its rows' parents exist or are NULL:\n%s", notOrphan, r.stderr)
		}
	}
	if got := rowsOf(t, s.e.dstDB, "SELECT COUNT(*) FROM sales_order_item"); len(got) != 1 || got[0] != "'0'" {
		t.Fatalf("the integrity errors did not stop the copy: sales_order_item has %v rows", got)
	}

	r = runShiplog(t, s.config, nil, "migrate", "data", "--auto")
	if r.code != 0 {
		t.Fatalf("migrate data --auto: exit %d, want 0\n%s", r.code, r.stderr)
	}
	for _, w := range []string{items, batch, `config.xml lists the Magento step "SalesOrder Step" for data mode`} {
		if !strings.Contains(r.stderr, `level=WARN msg="`+strings.ReplaceAll(w, `"`, `\"`)) {
			t.Errorf("--auto: no warning %s:\n%s", w, r.stderr)
		}
	}
	s.assertRows(map[string][]string{
		"SELECT item_id, order_id, sku FROM sales_order_item ORDER BY item_id": {"'1','999','a'", "'2','999','b'", "'3','998','c'", "'4','5','d'"},
	})
}
