//go:build !unit

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// binlogOffset is the offset of the source's current binlog file.
func binlogOffset(t *testing.T, db *sql.DB) uint64 {
	t.Helper()
	row, ok, err := testenv.FirstRow(context.Background(), db, "SHOW MASTER STATUS")
	if err != nil || !ok {
		t.Fatalf("SHOW MASTER STATUS: %v %v", ok, err)
	}
	var n uint64
	fmt.Sscan(row["Position"], &n)
	return n
}

// ddlGroupStart is "file:offset" of the GTID event that opens the event group
// of the last statement in the current binlog file whose text ends with stmt.
func ddlGroupStart(t *testing.T, db *sql.DB, stmt string) string {
	t.Helper()
	row, ok, err := testenv.FirstRow(context.Background(), db, "SHOW MASTER STATUS")
	if err != nil || !ok {
		t.Fatalf("SHOW MASTER STATUS: %v %v", ok, err)
	}
	file := row["File"]
	rows, err := db.Query("SHOW BINLOG EVENTS IN '" + file + "'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var groupStart, found uint64
	for rows.Next() {
		var name, typ, info string
		var pos, serverID, end uint64
		if err := rows.Scan(&name, &pos, &typ, &serverID, &end, &info); err != nil {
			t.Fatal(err)
		}
		if typ == "Gtid" {
			groupStart = pos
		}
		if typ == "Query" && strings.HasSuffix(info, stmt) {
			found = groupStart
		}
	}
	if found == 0 {
		t.Fatalf("%q is not in %s", stmt, file)
	}
	return fmt.Sprintf("%s:%d", file, found)
}

// checkpoints returns the "file:offset" of every apply partition's
// checkpoint row.
func checkpoints(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := testenv.SortedRows(context.Background(), db, "SELECT position FROM _shiplog_checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Fields(strings.Trim(r, "'"))[0]
	}
	return out
}

// sourceState checksums every table of the source over its columns now, and
// returns a function that checks the destination holds the same rows (over
// the same columns), naming each table that differs.
func (e *env) sourceState() (check func(what string)) {
	e.t.Helper()
	ctx := context.Background()
	cols := map[string][]string{}
	rows, err := e.srcDB.Query(`SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = 'shop' AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT IN ('VIRTUAL', 'PERSISTENT', 'STORED')
		ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var tb, c string
		if err := rows.Scan(&tb, &c); err != nil {
			e.t.Fatal(err)
		}
		cols[tb] = append(cols[tb], c)
	}
	rows.Close()
	type sum struct {
		sum string
		n   int64
	}
	want := map[string]sum{}
	for tb, c := range cols {
		s, n, err := testenv.Checksum(ctx, e.srcDB, "shop", tb, c)
		if err != nil {
			e.t.Fatal(err)
		}
		want[tb] = sum{s, n}
	}
	return func(what string) {
		e.t.Helper()
		var diffs []string
		for tb, c := range cols {
			s, n, err := testenv.Checksum(ctx, e.dstDB, "shop_new", tb, c)
			if err != nil {
				e.t.Fatal(err)
			}
			if s != want[tb].sum || n != want[tb].n {
				diffs = append(diffs, fmt.Sprintf("%s: source had %d rows, destination has %d (or other values)", tb, want[tb].n, n))
			}
		}
		if len(diffs) > 0 {
			e.t.Fatalf("%s: the destination is not the source as of before the DDL:\n%s", what, strings.Join(diffs, "\n"))
		}
	}
}

// TestDDLStopAppliesEverythingBeforeItAndSkipDDLGoesOn: transactions
// committed by a concurrent writer, then a DDL on a copied table. At the stop
// every transaction before the DDL is on the destination and every apply
// partition is checkpointed at the DDL's event group; the error names the
// commands that go on; `migrate delta --skip-ddl`, after the same change on
// the destination, passes the statement and the stream equals the source
// again. Rounds alternate between a stream that runs beside the writer and
// one started on a backlog (the reader then runs far ahead of the writer).
func TestDDLStopAppliesEverythingBeforeItAndSkipDDLGoesOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(300)
	e.mustRun("migrate", "data")
	ctx := context.Background()
	rounds := []string{
		"ALTER TABLE orders ADD COLUMN extra INT",
		"TRUNCATE TABLE events",
		"ALTER TABLE items MODIFY sku VARCHAR(40) CHARACTER SET latin1 NOT NULL",
		"TRUNCATE items",
		"ALTER TABLE orders DROP COLUMN extra",
		"RENAME TABLE events TO events_old, events_old TO events",
	}
	for i, ddl := range rounds {
		daemon := i%2 == 0
		start := binlogOffset(t, e.srcDB)
		// Unpaced: the round waits for a volume of writes, not a time.
		stopWriter := e.writerPaced(uint64(i+1), 0)
		var cmd *exec.Cmd
		var stderr fmt.Stringer
		if daemon {
			c, errb := e.startStream()
			cmd, stderr = c, errb
		}
		waitFor(t, "the writer's transactions", 2*time.Minute, func() bool { return binlogOffset(t, e.srcDB) > start+400_000 })
		if err := stopWriter(); err != nil {
			t.Fatal(err)
		}
		check := e.sourceState()
		if _, err := e.srcDB.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		at := ddlGroupStart(t, e.srcDB, ddl)

		var r result
		if daemon {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				r = result{code: exitCode(t, err), stderr: stderr.String()}
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: migrate delta did not stop at %s\n%s", i, ddl, tail(stderr.String()))
			}
		} else {
			r = runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
		}
		expectFailure(t, r, 1, ddl, "checkpointed at "+at+" ",
			"then run `shiplog --config "+e.config+" migrate delta --skip-ddl`",
			"`shiplog --config "+e.config+" migrate data --reset`")
		check(fmt.Sprintf("round %d (%s)", i, ddl))
		for _, cp := range checkpoints(t, e.dstDB) {
			if cp != at {
				t.Fatalf("round %d: checkpoints %v, want every one at the DDL's event group %s", i, checkpoints(t, e.dstDB), at)
			}
		}
		// A restart without --skip-ddl stops at the same statement.
		if i == 0 {
			expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, ddl, "checkpointed at "+at+" ")
		}

		if err := e.dst.Exec(ctx, "shop_new", ddl); err != nil {
			t.Fatal(err)
		}
		e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
		e.assertIdentical()
		if i == 0 {
			expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--skip-ddl", "--exit-when-caught-up"), 1,
				"no DDL statement to skip")
		}
	}
	// The stream goes on under writes.
	start := binlogOffset(t, e.srcDB)
	stopWriter := e.writerPaced(99, 0)
	cmd, stderr := e.startStream()
	waitFor(t, "the writer's transactions", 2*time.Minute, func() bool { return binlogOffset(t, e.srcDB) > start+200_000 })
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	_ = stderr
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestSkipDDLChecksTheNewSchemaAgainstTheMap: --skip-ddl without the change
// on the destination is refused by the integrity check, and the stream stays
// at the statement.
func TestSkipDDLChecksTheNewSchemaAgainstTheMap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both(shopDDL)
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('a', 1, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('b', 2, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	ddl := "ALTER TABLE orders ADD COLUMN extra INT"
	if _, err := e.srcDB.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	at := ddlGroupStart(t, e.srcDB, ddl)
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, ddl, "checkpointed at "+at+" ")
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--skip-ddl", "--exit-when-caught-up"), 1,
		"integrity check failed", "extra")
	if cps := checkpoints(t, e.dstDB); len(cps) == 0 || cps[0] != at {
		t.Fatalf("checkpoints %v moved from %s", cps, at)
	}
	if err := e.dst.Exec(context.Background(), "shop_new", ddl); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestLowerCaseTableNamesDDLStops: on a source with lower_case_table_names=1,
// a TRUNCATE and an ALTER that spell a copied table's name in upper case stop
// the stream (the rows before them applied); after the same change on the
// destination --skip-ddl goes on and the copy equals the source.
func TestLowerCaseTableNamesDDLStops(t *testing.T) {
	t.Parallel()
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1, ExtraArgs: []string{"--lower-case-table-names=1"}})
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	ctx := context.Background()
	if err := src.Exec(ctx, "", "CREATE DATABASE SHOP"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE shop_new"); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
`, src.Port, dst.Port))
	if err := src.Exec(ctx, "shop", strings.Replace(shopDDL, "CREATE TABLE orders", "CREATE TABLE Orders", 1)); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "shop_new", shopDDL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec(`INSERT INTO ORDERS (customer, amount, note, updated) SELECT CONCAT('ç-', seq), seq, 'é', NOW(6) FROM seq_1_to_50`); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	for _, ddl := range []string{
		"TRUNCATE TABLE ORDERS",
		"ALTER TABLE `SHOP`.`Orders` CONVERT TO CHARACTER SET latin1",
		"TRUNCATE Shop.ORDERS",
	} {
		if _, err := e.srcDB.Exec(`INSERT INTO Orders (customer, amount, note, updated) VALUES ('ü', 42, 'ß', NOW(6))`); err != nil {
			t.Fatal(err)
		}
		check := e.sourceState()
		if _, err := e.srcDB.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		at := ddlGroupStart(t, e.srcDB, ddl)
		expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1,
			"DDL on copied table `shop`.`orders`", ddl, "checkpointed at "+at+" ")
		check(ddl)
		if err := dst.Exec(ctx, "shop_new", strings.NewReplacer("SHOP", "shop_new", "Shop", "shop_new", "Orders", "orders", "ORDERS", "orders").Replace(ddl)); err != nil {
			t.Fatal(err)
		}
		e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
		e.assertIdentical()
	}
	if _, err := e.srcDB.Exec(`INSERT INTO orders (customer, amount, note, updated) VALUES ('ü', 43, 'ß', NOW(6))`); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestTypeChangeWithoutDDLIsCaughtByTableMap: a column type, length and
// character set change the stream never sees as a statement (made with
// binary logging off while shiplog was stopped) is caught when the table's
// next table-map event arrives: delta stops naming each changed column,
// nothing of the changed rows applied.
func TestTypeChangeWithoutDDLIsCaughtByTableMap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both(shopDDL)
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('a', 1, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('b', 2, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
	if err := e.src.Exec(context.Background(), "shop", "SET SESSION sql_log_bin = 0; "+
		"ALTER TABLE orders MODIFY customer VARCHAR(64) CHARACTER SET latin1 NOT NULL, MODIFY amount DECIMAL(10,2) NOT NULL, MODIFY id BIGINT NOT NULL AUTO_INCREMENT"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('Øle', 3, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
	expectFailure(t, r, 1, "a copied table changed: table orders",
		"column id: signedness bigint not null, planned bigint(20) unsigned not null",
		"column customer: character set varchar(64) character set latin1 not null, planned varchar(64) character set utf8mb4 not null",
		"column amount: length decimal(10,2) not null, planned decimal(12,2) not null",
		"migrate data --reset")
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n != 2 {
		t.Fatalf("destination orders: %d %v, want the 2 rows from before the change", n, err)
	}
}

// TestSkipDDLOfTruncateRebasesTheEmptiedTableCheck: a source TRUNCATE stops
// the stream; the user truncates the destination table too and passes the
// statement with --skip-ddl. The source table then fills again (fewer rows
// than the copy had): the next start must stream those rows, not take the
// destination table, emptied by the user as told, for one emptied outside
// shiplog (the check compares with what the destination had when the
// statement was passed, not with the copy).
func TestSkipDDLOfTruncateRebasesTheEmptiedTableCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(300)
	e.mustRun("migrate", "data")
	ctx := context.Background()
	if _, err := e.srcDB.Exec("TRUNCATE TABLE events"); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, "TRUNCATE TABLE events")
	if err := e.dst.Exec(ctx, "shop_new", "TRUNCATE TABLE events"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--skip-ddl", "--exit-when-caught-up")
	// The copy had 75 rows; 60 come back on the source while shiplog is
	// stopped.
	for i := range 60 {
		if _, err := e.srcDB.Exec("INSERT INTO events VALUES ('again', ?, NOW())", fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}
