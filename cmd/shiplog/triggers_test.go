//go:build !unit

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestTriggerDeltaLosesNothing runs delta from trigger-fed change logs, as a
// user without replication grants on a source without a binlog, through a
// non-identity map, under concurrent writes, with delta killed and restarted,
// and data mode reset and rerun; the destination must end equal to the
// transformed source, and uninstall must leave the user's own trigger alone.
func TestTriggerDeltaLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testenv.MariaDBT(t, testenv.Options{}) // no binlog at all
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	if err := src.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "shop",
		`CREATE TABLE shop.orders (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(64) NOT NULL, amount DECIMAL(10,2) NOT NULL, note VARCHAR(64) CHARACTER SET latin1)`,
		`CREATE TABLE shop.items (order_id INT UNSIGNED NOT NULL, line INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line))`,
		`CREATE TABLE shop.order_count (id INT PRIMARY KEY, n INT NOT NULL)`,
		`INSERT INTO shop.order_count VALUES (1, 0)`,
		// The user's own trigger on a logged table and event.
		`CREATE TRIGGER shop.count_orders AFTER INSERT ON shop.orders FOR EACH ROW UPDATE shop.order_count SET n = n + 1 WHERE id = 1`,
		`INSERT INTO shop.orders (email, amount, note) SELECT CONCAT('User', seq, '@Example.com'), seq, 'café' FROM seq_1_to_500`,
		`INSERT INTO shop.items SELECT o.id, l.seq, l.seq FROM shop.orders o JOIN seq_1_to_3 l`,
		// A user with no replication grants: only what the change logs need.
		`CREATE USER 'mig'@'%' IDENTIFIED BY 'pw'`,
		`GRANT SELECT, INSERT, DELETE, CREATE, DROP, TRIGGER, LOCK TABLES ON shop.* TO 'mig'@'%'`,
		// InnoDB's table ids, which show a TRUNCATE no trigger logs.
		`GRANT PROCESS ON *.* TO 'mig'@'%'`,
	); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "",
		"CREATE DATABASE shop_new",
		`CREATE TABLE shop_new.sales_order (id INT UNSIGNED NOT NULL PRIMARY KEY, email VARCHAR(64) NOT NULL, amount DECIMAL(10,2) NOT NULL, note VARCHAR(64) CHARACTER SET latin1)`,
		`CREATE TABLE shop_new.items (order_id INT UNSIGNED NOT NULL, line INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line))`,
		`CREATE TABLE shop_new.order_count (id INT PRIMARY KEY, n INT NOT NULL)`,
	); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mapFile := filepath.Join(dir, "map.yaml")
	if err := os.WriteFile(mapFile, []byte(`source:
  documents:
    rename: [{from: orders, to: sales_order}]
  fields:
    transform:
      - {field: orders.email, eval: "lower(email)"}
      - {field: orders.note, handler: AddPrefix, params: {prefix: "M1 "}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	deltalogFile := filepath.Join(dir, "deltalog.xml")
	if err := os.WriteFile(deltalogFile, []byte(`<groups><group name="delta_map">
  <document key="id">orders</document>
  <document key="order_id,line">items</document>
  <document>order_count</document>
</group></groups>`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	e.config = e.writeConfig(fmt.Sprintf(`source: {port: %d, user: mig, password: pw, database: shop}
destination: {port: %d, database: shop_new}
map: %s
delta: {source: triggers, deltalog: %s}
options: {bulk_size: 50}
`, src.Port, dst.Port, mapFile, deltalogFile))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	stopWriter := writeLoop(t, func(i int) error {
		id := 1 + rng.IntN(700)
		var err error
		switch rng.IntN(6) {
		case 0:
			_, err = e.srcDB.Exec("INSERT INTO orders (email, amount, note) VALUES (?, ?, 'naïve')", fmt.Sprintf("New%d@X.ORG", i), i%1000)
		case 1:
			_, err = e.srcDB.Exec("UPDATE orders SET amount = amount + 1, email = CONCAT('Upd', ?, '@X.org') WHERE id = ?", i, id)
		case 2:
			_, err = e.srcDB.Exec("DELETE FROM orders WHERE id = ?", id)
		case 3:
			_, err = e.srcDB.Exec("INSERT INTO items VALUES (?, 9, 1) ON DUPLICATE KEY UPDATE qty = qty + 1", id)
		case 4:
			// a key change: the old key's row must disappear downstream
			_, err = e.srcDB.Exec("UPDATE IGNORE items SET line = line + 10 WHERE order_id = ? AND line < 10", id)
		case 5:
			err = execTx(e.srcDB, func(tx *sql.Tx) error {
				if _, err := tx.Exec("DELETE FROM items WHERE order_id = ?", id); err != nil {
					return err
				}
				_, err := tx.Exec("UPDATE orders SET note = 'moved' WHERE id = ?", id)
				return err
			})
		}
		return err
	})

	e.mustRun("migrate", "data")
	// Reset and copy again while writes go on: triggers are not duplicated
	// and no change is lost.
	e.mustRun("migrate", "data", "--reset")
	for i := 0; i < 3; i++ {
		cmd, _ := startKillable(t, e.config, "migrate", "delta")
		time.Sleep(time.Duration(300+rand.IntN(400)) * time.Millisecond) // let it apply, then crash it anywhere
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	r := e.mustRun("status")
	var st struct {
		DeltaSource  string           `json:"delta_source"`
		DeltaBacklog map[string]int64 `json:"delta_backlog"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.DeltaSource != "triggers" || len(st.DeltaBacklog) != 3 {
		t.Fatalf("status: %v\n%s", err, r.stdout)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	sameRows(t, "sales_order", rowsOf(t, e.srcDB, "SELECT id, LOWER(email), amount, CONCAT('M1 ', note) FROM orders"),
		rowsOf(t, e.dstDB, "SELECT id, email, amount, note FROM sales_order"))
	sameRows(t, "items", rowsOf(t, e.srcDB, "SELECT * FROM items"), rowsOf(t, e.dstDB, "SELECT * FROM items"))
	sameRows(t, "order_count", rowsOf(t, e.srcDB, "SELECT * FROM order_count"), rowsOf(t, e.dstDB, "SELECT * FROM order_count"))
	var left int
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM m2_cl_orders").Scan(&left); err != nil || left != 0 {
		t.Fatalf("log rows left after catching up: %d %v", left, err)
	}
	// Ours: three per logged table; the user's trigger is still there.
	var ours, theirs int
	if err := e.srcDB.QueryRow("SELECT SUM(TRIGGER_NAME LIKE 'shiplog\\_%'), SUM(TRIGGER_NAME = 'count_orders') FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'").Scan(&ours, &theirs); err != nil || ours != 9 || theirs != 1 {
		t.Fatalf("triggers: shiplog %d (want 9), user %d (want 1), %v", ours, theirs, err)
	}
	e.mustRun("deltalog", "uninstall")
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'").Scan(&ours); err != nil || ours != 1 {
		t.Fatalf("after uninstall %d triggers, want only the user's", ours)
	}
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME LIKE 'm2\\_cl\\_%'").Scan(&ours); err != nil || ours != 0 {
		t.Fatalf("change-log tables left after uninstall: %d", ours)
	}
	var before, after int
	_ = e.srcDB.QueryRow("SELECT n FROM order_count").Scan(&before)
	if _, err := e.srcDB.Exec("INSERT INTO orders (email, amount) VALUES ('x@y', 1)"); err != nil {
		t.Fatal(err)
	}
	_ = e.srcDB.QueryRow("SELECT n FROM order_count").Scan(&after)
	if after != before+1 {
		t.Fatalf("the user's trigger no longer runs: %d -> %d", before, after)
	}
	if strings.Contains(r.stderr, "pw") && strings.Contains(r.stderr, "mig:pw") {
		t.Fatal("password in output")
	}
}

// TestTriggerDeltaCarriesNativeTypeKeys copies tables keyed by UUID and
// INET6/INET4 in chunks of 7 and follows their changes (key changes and
// deletes among them) through trigger-fed change logs, whose key columns
// have the same types: the destination ends equal and verify agrees.
func TestTriggerDeltaCarriesNativeTypeKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testenv.MariaDBT(t, testenv.Options{}) // no binlog
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	if err := src.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE shop_new"); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	e.both(testenv.TypeMatrixKeyDDL...)
	if err := src.Exec(ctx, "shop", testenv.TypeMatrixKeyRows...); err != nil {
		t.Fatal(err)
	}
	deltalogFile := filepath.Join(t.TempDir(), "deltalog.xml")
	if err := os.WriteFile(deltalogFile, []byte(`<groups><group name="delta_map">
  <document key="u">types_uuid</document>
  <document key="a,b">types_inet</document>
</group></groups>`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf(`source: {port: %d, user: root, database: shop}
destination: {port: %d, database: shop_new}
delta: {source: triggers, deltalog: %s}
options: {bulk_size: 7}
`, src.Port, dst.Port, deltalogFile))
	same := func() {
		t.Helper()
		for _, table := range []string{"types_uuid", "types_inet"} {
			q := "SELECT * FROM " + table
			sameRows(t, table, rowsOf(t, e.srcDB, q), rowsOf(t, e.dstDB, q))
		}
	}
	e.mustRun("migrate", "data")
	same()
	if err := src.Exec(ctx, "shop", testenv.TypeMatrixKeyChanges...); err != nil {
		t.Fatal(err)
	}
	var logged int
	if err := e.srcDB.QueryRow("SELECT COUNT(DISTINCT u) FROM m2_cl_types_uuid").Scan(&logged); err != nil || logged < 50 {
		t.Fatalf("change log of types_uuid holds %d keys (%v)", logged, err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	same()
	if r := runShiplog(t, e.config, nil, "verify", "--chunk-rows", "7", "--recheck", "-1s"); r.code != 0 || !strings.Contains(r.stdout, "no differences") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
