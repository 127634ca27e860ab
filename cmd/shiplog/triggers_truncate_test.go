//go:build !unit

package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// triggerEnv is a source without a binlog and a destination with the shop
// orders and items tables (300 orders), copied with delta.source: triggers.
func triggerEnv(t *testing.T) *env {
	t.Helper()
	src := testenv.MariaDBT(t, testenv.Options{}) // no binlog
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	ctx := context.Background()
	if err := src.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE shop_new"); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	e.both(shopDDL, itemsDDL)
	if err := src.Exec(ctx, "shop",
		`INSERT INTO orders (customer, amount, note, updated) SELECT CONCAT('cust-', seq, ' ✓'), seq * 1.25, REPEAT('n', seq % 50), NOW(6) FROM seq_1_to_300`,
		`INSERT INTO items SELECT o.id, l.seq, CONCAT('SKU-é', o.id, '-', l.seq), l.seq, o.id / 3 FROM orders o JOIN seq_1_to_2 l`,
	); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
delta: {source: triggers}
options: {bulk_size: 100}
`, src.Port, dst.Port))
	return e
}

// rowWriter inserts, updates and deletes orders and items rows (and now and
// then runs ANALYZE TABLE) until stopped: nothing a trigger misses.
func (e *env) rowWriter(seed uint64) (stop func() error) {
	rng := rand.New(rand.NewPCG(seed, 11))
	return writeLoop(e.t, func(i int) error {
		id := 1 + rng.IntN(400)
		var err error
		switch rng.IntN(7) {
		case 0:
			_, err = e.srcDB.Exec("INSERT INTO orders (customer, amount, note, updated) VALUES (?, ?, 'w', NOW(6))", fmt.Sprintf("w-%d", i), i%1000)
		case 1:
			_, err = e.srcDB.Exec("UPDATE orders SET amount = amount + 1, status = 'paid' WHERE id = ?", id)
		case 2:
			_, err = e.srcDB.Exec("DELETE FROM orders WHERE id = ?", id)
		case 3:
			_, err = e.srcDB.Exec("INSERT INTO items VALUES (?, ?, 'SKU-w', 1, 2.5) ON DUPLICATE KEY UPDATE qty = qty + 1", id, 1+rng.IntN(5))
		case 4:
			_, err = e.srcDB.Exec("UPDATE IGNORE items SET line = line + 10 WHERE order_id = ? AND line < 10", id)
		case 5:
			_, err = e.srcDB.Exec("DELETE FROM items WHERE order_id = ?", id)
		case 6:
			if i%40 == 6 {
				_, err = e.srcDB.Exec("ANALYZE TABLE orders, items")
			}
		}
		return err
	})
}

// TestTriggerDeltaStopsAtTruncateUnderWrites: a change-log delta streams
// under row writes (and ANALYZE TABLE), which never stop it; a TRUNCATE of a
// logged table, with writes to it going on, stops it with exit 1 naming the
// table and the commands that go on. Nothing read after the TRUNCATE was
// applied: emptying the destination table and `migrate delta --skip-ddl`
// ends equal to the source, and the stream goes on.
func TestTriggerDeltaStopsAtTruncateUnderWrites(t *testing.T) {
	t.Parallel()
	e := triggerEnv(t)
	e.mustRun("migrate", "data")
	stopWriter := e.rowWriter(uint64(time.Now().UnixNano()))
	d := startDaemon(t, e.config, "migrate", "delta")
	// Row writes for a while: the stream keeps running and applying them.
	var applying time.Time
	waitFor(t, "the stream to apply row changes for 3s", time.Minute, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("migrate delta stopped under row writes: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		if applying.IsZero() {
			var n int
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE note = 'w'").Scan(&n)
			if n > 0 {
				applying = time.Now()
			}
			return false
		}
		return time.Since(applying) > 3*time.Second
	})
	if _, err := e.srcDB.Exec("TRUNCATE TABLE items"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
		t.Fatalf("migrate delta did not stop at the TRUNCATE of a logged table\n%s", tail(d.stderr.String()))
	}
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	r := result{code: exitCode(t, d.err), stderr: d.stderr.String()}
	want := []string{"a copied table changed", "`shop`.`items`: emptied or rebuilt: TRUNCATE",
		"for a TRUNCATE, empty the destination table", "then run `shiplog --config " + e.config + " migrate delta --skip-ddl`",
		"`shiplog --config " + e.config + " migrate data --reset`"}
	expectFailure(t, r, 1, want...)
	// A restart stops again, before applying anything.
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, want[1])

	if _, err := e.dstDB.Exec("TRUNCATE TABLE items"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
	e.assertShopEqual("after emptying the destination table and --skip-ddl")
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--skip-ddl", "--exit-when-caught-up"), 1, "no DDL statement to skip")

	stopWriter = e.rowWriter(7)
	d = startDaemon(t, e.config, "migrate", "delta")
	start := time.Now()
	waitFor(t, "2s more of writes", time.Minute, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("migrate delta stopped under row writes after --skip-ddl: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		return time.Since(start) > 2*time.Second
	})
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	d.stop(t)
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertShopEqual("at the end")
}

// TestTriggerDeltaCatchesTableChangesMadeWhileStopped: changes no trigger
// logs, made while shiplog is stopped, stop the next `migrate delta` with
// exit 1 naming the table and what changed, with the destination as it was
// (nothing after the change applied); the remedy the error names ends
// equal. A source user without PROCESS, who cannot see InnoDB's table ids,
// is refused before any trigger is installed.
func TestTriggerDeltaCatchesTableChangesMadeWhileStopped(t *testing.T) {
	t.Parallel()
	e := triggerEnv(t)
	ctx := context.Background()
	if err := e.src.Exec(ctx, "", "CREATE USER 'mig'@'%' IDENTIFIED BY 'pw'",
		"GRANT SELECT, INSERT, DELETE, CREATE, DROP, TRIGGER, LOCK TABLES ON shop.* TO 'mig'@'%'"); err != nil {
		t.Fatal(err)
	}
	noProcess := e.writeConfig(strings.Replace(readFile(t, e.config), "user: root", "user: mig, password: pw", 1))
	expectFailure(t, runShiplog(t, noProcess, nil, "migrate", "data"), 2, "GRANT PROCESS ON *.* TO 'mig'@'%'", "TRUNCATE")
	var triggers int
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'").Scan(&triggers); err != nil || triggers != 0 {
		t.Fatalf("%d triggers installed (%v) by a data mode that could not go on", triggers, err)
	}

	e.mustRun("migrate", "data")
	write := func(stmts ...string) {
		t.Helper()
		for _, q := range stmts {
			if _, err := e.srcDB.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	rows := []string{
		"INSERT INTO orders (customer, amount, updated) VALUES ('after', 1, NOW(6))",
		"UPDATE orders SET amount = amount + 2 ORDER BY id DESC LIMIT 3",
		"INSERT INTO items VALUES (1, 77, 'after', 1, 1) ON DUPLICATE KEY UPDATE qty = qty + 1",
		"DELETE FROM items ORDER BY order_id LIMIT 1",
	}
	write(rows...)
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertShopEqual("caught up")
	rounds := []struct {
		change []string // on the source, while shiplog is stopped
		want   string
		remedy []string // on the destination, before --skip-ddl
	}{
		{[]string{"TRUNCATE TABLE orders"}, "`shop`.`orders`: emptied or rebuilt: TRUNCATE", []string{"TRUNCATE TABLE orders"}},
		{[]string{"OPTIMIZE TABLE items"}, "`shop`.`items`: emptied or rebuilt: TRUNCATE, OPTIMIZE TABLE", nil},
		{[]string{"ALTER TABLE orders ADD COLUMN extra INT", "UPDATE orders SET extra = id"}, "`shop`.`orders`: column `extra` added: int(11)",
			[]string{"ALTER TABLE orders ADD COLUMN extra INT"}},
		{[]string{"ALTER TABLE items ADD INDEX (sku)"}, "`shop`.`items`: altered: ALTER TABLE", nil},
		{[]string{"ALTER TABLE orders MODIFY note VARCHAR(200)"}, "`shop`.`orders`: emptied or rebuilt", []string{"ALTER TABLE orders MODIFY note VARCHAR(200)"}},
	}
	for i, rd := range rounds {
		what := fmt.Sprintf("round %d (%s)", i, rd.change[0])
		before := shopSums(t, e.dstDB, "shop_new")
		// CREATE_TIME counts seconds: a change in the second the last one
		// was accepted in would look the same.
		sec := time.Now().Unix()
		waitFor(t, "the next second", 2*time.Second, func() bool { return time.Now().Unix() > sec })
		write(rd.change...)
		write(rows...)
		r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
		expectFailure(t, r, 1, "a copied table changed", rd.want, "migrate delta --skip-ddl", "migrate data --reset")
		if after := shopSums(t, e.dstDB, "shop_new"); after != before {
			t.Fatalf("%s: the destination changed at the stop:\nbefore %s\nafter  %s", what, before, after)
		}
		if err := e.dst.Exec(ctx, "shop_new", rd.remedy...); err != nil {
			t.Fatal(err)
		}
		e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
		e.assertShopEqual(what + ": after --skip-ddl")
		write(rows...)
		e.mustRun("migrate", "delta", "--exit-when-caught-up")
		e.assertShopEqual(what + ": later")
	}

	// A table dropped and created again lost its triggers: only a new copy
	// goes on.
	write("DROP TABLE items", itemsDDL, "INSERT INTO items VALUES (5, 1, 'new', 1, 1)")
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1,
		"`shop`.`items`: emptied or rebuilt", "`shop`.`items` no longer logged", "migrate data --reset")
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--skip-ddl", "--exit-when-caught-up"), 1,
		"`shop`.`items` no longer logged", "migrate data --reset")
	e.mustRun("migrate", "data", "--reset")
	write(rows...)
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertShopEqual("after migrate data --reset")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shopSums checksums the orders and items tables of schema on db.
func shopSums(t *testing.T, db *sql.DB, schema string) string {
	t.Helper()
	var out []string
	for _, table := range []string{"orders", "items"} {
		sum, n, err := testenv.Checksum(context.Background(), db, schema, table, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s: %d rows %s", table, n, sum))
	}
	return strings.Join(out, "; ")
}

// assertShopEqual fails unless the destination's orders and items equal the
// source's (the change logs on the source are not compared).
func (e *env) assertShopEqual(what string) {
	e.t.Helper()
	if a, b := shopSums(e.t, e.srcDB, "shop"), shopSums(e.t, e.dstDB, "shop_new"); a != b {
		e.t.Fatalf("%s: source and destination differ:\nsource      %s\ndestination %s", what, a, b)
	}
}
