//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEmptiedDestinationTableStopsTheStream: a copied table emptied on the
// destination outside shiplog while it was stopped (TRUNCATE, or DROP and
// CREATE) stops the next `migrate delta` and a restarted `run` (exit 1),
// naming the tables and `migrate data --reset`, before anything is streamed.
// The old code streamed on with the lag at 0 and the rows missing. Rows
// deleted on the source and streamed make no stop, though the destination
// then holds far fewer rows than were copied.
func TestEmptiedDestinationTableStopsTheStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(4000)
	ctx := context.Background()
	e.mustRun("migrate", "data")

	// Deleted on the source: three quarters of the orders, all but 100 events.
	if err := e.src.Exec(ctx, "shop", "DELETE FROM orders WHERE id > 1000", "DELETE FROM events LIMIT 900"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.mustRun("migrate", "delta", "--exit-when-caught-up") // checked again at this start: no stop
	e.assertIdentical()

	// Emptied on the destination while shiplog was stopped; the source
	// goes on changing.
	if err := e.dst.Exec(ctx, "shop_new", "TRUNCATE TABLE items"); err != nil {
		t.Fatal(err)
	}
	if err := e.src.Exec(ctx, "shop", "UPDATE items SET qty = qty + 1 WHERE order_id <= 10", "UPDATE orders SET status = 'paid' WHERE id <= 10"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
	expectFailure(t, r, 1, "shop_new.items: 0 row(s) now, 8000 copied", "migrate data --reset", "emptied or cut down outside shiplog")
	if strings.Contains(r.stderr, "shop_new.orders") || strings.Contains(r.stderr, "shop_new.events") {
		t.Fatalf("tables shrunk by source deletes reported:\n%s", r.stderr)
	}
	var paid int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE id <= 10 AND status = 'paid'").Scan(&paid); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "items"); n != 0 || paid == 10 {
		t.Fatalf("the stream went on: %d items, %d paid orders on the destination", n, paid)
	}

	// Dropped and created again, empty: a restarted daemon stops too.
	if err := e.dst.Exec(ctx, "shop_new", "DROP TABLE orders", shopDDL); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, e.config, "run")
	select {
	case <-d.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("run went on for 90s with emptied tables\n%s", d.stderr)
	}
	res := result{code: exitCode(t, d.err), stderr: d.stderr.String()}
	expectFailure(t, res, 1, "shop_new.items", "shop_new.orders: 0 row(s) now, 4000 copied, the source has 1000 or more", "migrate data --reset")

	// The way on when the source emptied and refilled them itself: the check is skipped.
	if r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up", "--ignore-emptied-tables"); r.code != 0 {
		t.Fatalf("--ignore-emptied-tables: exit %d\n%s", r.code, r.stderr)
	}
	if countRows(t, e, "items") == 0 {
		t.Fatal("--ignore-emptied-tables streamed nothing")
	}
}

func countRows(t *testing.T, e *env, table string) int {
	t.Helper()
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
