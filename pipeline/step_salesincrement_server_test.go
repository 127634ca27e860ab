//go:build !unit

package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// salesSchemas loads the real Magento 1 and Magento 2 schemas into
// databases m1 and m2 of one server and returns their pools.
func salesSchemas(t *testing.T) (*testenv.MariaDB, *sql.DB, *sql.DB) {
	t.Helper()
	fixtures := magentoFixtures(t)
	m := magentoServer(t, fixtures, "m1", "m2")
	return m, loadMagentoSchema(t, m, fixtures, "m1", "m1-schema.sql"), loadMagentoSchema(t, m, fixtures, "m2", "m2-schema.sql")
}

// TestSalesIncrementOnTheReferenceFixture: the SalesIncrement step on rows
// that mirror the reference's sales_increment integration database
// (tests/integration/resource/sales_increment/{source,dest}.sql: stores 0
// and 1; eav_entity_store rows (1, 0, '0', '000000001'), (11, 1, '1',
// '100000003'), (16, 1, '1', '100000001'), (19, 1, '1', '100000001');
// Magento 2's eav_entity_type with order 11, invoice 16, shipment 19,
// creditmemo 23, rma_item 26, and a Magento 1 eav_entity_type without the
// sales types, as the fixture has none), written on the real schemas. What
// it expects is the reference's DataTest
// (tests/integration/testsuite/Migration/Step/SalesIncrement/DataTest.php):
// sales_sequence_meta and sales_sequence_profile exactly as listed there,
// and no error. The sequence tables' numbers are those of the reference's
// Data (the last number, so the next is one more); its Volume passes. A
// second run gives the same rows (meta ids from 1 again), and delta's start
// raises a sequence Magento 1 moved on and leaves one Magento 2 moved past.
func TestSalesIncrementOnTheReferenceFixture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, dst := salesSchemas(t)
	if err := m.Exec(ctx, "m1", "SET FOREIGN_KEY_CHECKS = 0",
		"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
		"INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1)",
		"INSERT INTO eav_entity_store VALUES (1, 1, 0, '0', '000000001'), (2, 11, 1, '1', '100000003'), (3, 16, 1, '1', '100000001'), (4, 19, 1, '1', '100000001')",
	); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "m2", "SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model, entity_table, increment_model, increment_per_store) VALUES
			(11, 'order', 'Magento\\Sales\\Model\\ResourceModel\\Order', 'sales_order', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
			(16, 'invoice', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Invoice', 'sales_order_entity', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
			(19, 'shipment', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Shipment', 'sales_order_entity', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
			(23, 'creditmemo', 'Magento\\Sales\\Model\\ResourceModel\\Order\\Creditmemo', 'sales_order_entity', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1),
			(26, 'rma_item', 'Magento\\Rma\\Model\\ResourceModel\\Item', 'magento_rma_item_entity', 'Magento\\Eav\\Model\\Entity\\Increment\\NumericValue', 1)`,
		// What a Magento 2 install leaves: the step clears it.
		"INSERT INTO sales_sequence_meta (meta_id, entity_type, store_id, sequence_table) VALUES (40, 'order', 1, 'sequence_order_1')",
		"INSERT INTO sales_sequence_profile (profile_id, meta_id, prefix, suffix, start_value, step, max_value, warning_value, is_active) VALUES (40, 40, NULL, NULL, 1, 1, 4294967295, 4294966295, 1)",
		"INSERT INTO sequence_order_1 (sequence_value) VALUES (77)",
	); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{cfg: &config.Config{}, src: src, dst: dst}
	r.dest = mappedRows{r: r}
	var logs bytes.Buffer
	env := &step.Env{Mode: step.ModeData, Source: src, Destination: dst, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := &salesIncrementStep{r: r}

	problems, err := s.Integrity(ctx, env)
	if err != nil || len(problems) != 0 {
		t.Fatalf("integrity on the real schemas: %v %v", problems, err)
	}
	// DataTest's $salesSequenceMeta and $salesSequenceProfile, row by row.
	var wantMeta, wantProfile []string
	i := 0
	for _, typ := range []string{"order", "invoice", "creditmemo", "shipment", "rma_item"} {
		for _, st := range []string{"0", "1"} {
			i++
			id := strconv.Itoa(i)
			wantMeta = append(wantMeta, "'"+id+"','"+typ+"','"+st+"','sequence_"+typ+"_"+st+"'")
			prefix := "''"
			if st == "1" {
				prefix = "'1'"
			}
			wantProfile = append(wantProfile, "'"+id+"','"+id+"',"+prefix+",'','1','1','4294967295','4294966295','1'")
		}
	}
	// The fixture's numbers: order 3, invoice and shipment 1 in store 1;
	// nothing else (entity type 1 is no sales type).
	wantNext := map[string]string{
		"sequence_order_0": "1", "sequence_order_1": "4", "sequence_invoice_0": "1", "sequence_invoice_1": "2",
		"sequence_creditmemo_0": "1", "sequence_creditmemo_1": "1", "sequence_shipment_0": "1", "sequence_shipment_1": "2",
		"sequence_rma_item_0": "1", "sequence_rma_item_1": "1",
	}
	for run := 1; run <= 2; run++ {
		if err := s.Data(ctx, env); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if err := s.Volume(ctx, env); err != nil {
			t.Errorf("run %d: volume: %v", run, err)
		}
		assertSalesRows(t, dst, "SELECT meta_id, entity_type, store_id, sequence_table FROM sales_sequence_meta ORDER BY meta_id", wantMeta)
		assertSalesRows(t, dst, "SELECT profile_id, meta_id, prefix, suffix, start_value, step, max_value, warning_value, is_active FROM sales_sequence_profile ORDER BY profile_id", wantProfile)
		for table, next := range wantNext {
			// What Magento 2 does to number: insert, read the id.
			assertSalesRows(t, dst, "SELECT AUTO_INCREMENT FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '"+table+"'", []string{"'" + next + "'"})
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the step logged an error or warning:\n%s", logs.String())
	}

	// Delta's start: Magento 1 took order 100000009 of store 1; Magento 2
	// already numbered past Magento 1's shipments of store 1.
	if err := m.Exec(ctx, "m1", "UPDATE eav_entity_store SET increment_last_id = '100000009' WHERE entity_store_id = 2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "m2", "INSERT INTO sequence_shipment_1 (sequence_value) VALUES (NULL), (NULL)"); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	denv := *env
	denv.Mode = step.ModeDelta
	if err := step.Run(ctx, step.ModeDelta, []step.Planned{{Title: "SalesIncrement Step", Step: s}}, &denv); err != nil {
		t.Fatal(err)
	}
	assertSalesRows(t, dst, "SELECT MAX(sequence_value) FROM sequence_order_1", []string{"'9'"})
	assertSalesRows(t, dst, "SELECT MAX(sequence_value) FROM sequence_shipment_1", []string{"'3'"})
	if err := s.Volume(ctx, &denv); err != nil {
		t.Errorf("delta volume: %v", err)
	}
	// The stream's sales documents are followed (the stream tests in
	// cmd/shiplog check what the follower does): no warning.
	if strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), `msg="sales sequences caught up with Magento 1's last increment ids" step="SalesIncrement Step"`) {
		t.Errorf("delta's start logged:\n%s", logs.String())
	}
	if len(s.r.followers) != 1 || s.r.followers[0].name() != "SalesIncrement step" || !s.r.followers[0].follows("sales_invoice") || s.r.followers[0].follows("sales_invoice_grid") {
		t.Errorf("delta's start registered followers %v, want the SalesIncrement step's, following the sales documents", s.r.followers)
	}
	// Data mode's Volume check fails on a number that differs (the
	// reference's message).
	if err := m.Exec(ctx, "m1", "UPDATE eav_entity_store SET increment_last_id = '100000010' WHERE entity_store_id = 2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Volume(ctx, env); err == nil || !strings.Contains(err.Error(), "mismatch in last increment id of order entity of store 1: source 10, destination sequence_order_1 9") {
		t.Errorf("volume after Magento 1 moved on: %v", err)
	}
}

// assertSalesRows compares the rows q reads on db with want.
func assertSalesRows(t *testing.T, db *sql.DB, q string, want []string) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var got []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v.Valid {
				parts[i] = "'" + v.String + "'"
			} else {
				parts[i] = "NULL"
			}
		}
		got = append(got, strings.Join(parts, ","))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s\n got:\n  %s\nwant:\n  %s", q, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestOrderGridsIntegrity: on the real schemas the OrderGrids step's
// integrity finds nothing; a sales column a grid is built from that the
// destination lacks, a missing Magento 2 grid and a missing Magento 1 grid
// are blocking errors naming them (the reference's Integrity names a grid
// field its query would fill and the table lacks); with none of Magento
// 1's grids the step warns and does nothing.
func TestOrderGridsIntegrity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, dst := salesSchemas(t)
	r := &Runtime{cfg: &config.Config{}, src: src, dst: dst}
	r.dest = mappedRows{r: r}
	s := &orderGridsStep{r: r}
	problems, err := s.Integrity(ctx, nil)
	if err != nil || len(problems) != 0 || s.cols == nil {
		t.Fatalf("the real schemas: %v %v", problems, err)
	}
	if err := m.Exec(ctx, "m2", "ALTER TABLE sales_order DROP COLUMN store_name", "DROP TABLE sales_shipment_grid"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "m1", "SET FOREIGN_KEY_CHECKS = 0", "DROP TABLE sales_flat_creditmemo_grid"); err != nil {
		t.Fatal(err)
	}
	problems, err = s.Integrity(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range problems {
		if !p.Blocking {
			t.Errorf("not blocking: %s", p.Msg)
		}
		msgs = append(msgs, p.Msg)
	}
	got := strings.Join(msgs, "\n")
	for _, w := range []string{
		"OrderGrids step: sales_order_grid cannot be built from the destination's sales tables: Error 1054 (42S22): Unknown column 'o.store_name'",
		"OrderGrids step: sales_invoice_grid cannot be built from the destination's sales tables: Error 1054 (42S22): Unknown column 'o.store_name'",
		"OrderGrids step: destination document sales_shipment_grid (or its entity_id) does not exist",
		"OrderGrids step: source document sales_flat_creditmemo_grid (or its entity_id) does not exist",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in:\n%s", w, got)
		}
	}
	if len(problems) != 4 || s.cols != nil {
		t.Errorf("%d problems, plan %v; want 4 and none:\n%s", len(problems), s.cols != nil, got)
	}
	if err := s.Data(ctx, &step.Env{Mode: step.ModeData}); err == nil || !strings.Contains(err.Error(), "no plan") {
		t.Errorf("data without a plan: %v", err)
	}
	if err := m.Exec(ctx, "m1", "SET FOREIGN_KEY_CHECKS = 0", "DROP TABLE sales_flat_order_grid, sales_flat_invoice_grid, sales_flat_shipment_grid"); err != nil {
		t.Fatal(err)
	}
	problems, err = s.Integrity(ctx, nil)
	if err != nil || len(problems) != 1 || problems[0].Severity != transform.Warning || !strings.Contains(problems[0].Msg, "the source has none of Magento 1's sales grids") {
		t.Errorf("no grids in the source: %v %v", problems, err)
	}
}
