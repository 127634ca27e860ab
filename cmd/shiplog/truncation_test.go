//go:build !unit

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestRealMagento1SchemaStateIsStoredWhole copies a database with the 337
// tables of a real Magento 1 shop into a destination whose state tables an
// older version made (_shiplog_state.value TEXT, 64 KiB): the recorded source
// schema (~350 KB) is stored whole, so delta and verify that read it work.
func TestRealMagento1SchemaStateIsStoredWhole(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	e := openEnv(t, src, dst)
	schema := filepath.Join(fx, "schema", "m1-schema.sql")
	loadSchemaFile(t, src, "shop", schema)
	loadSchemaFile(t, dst, "shop_new", schema)
	if _, err := e.dstDB.Exec("CREATE TABLE _shiplog_state (name VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL, updated_at DATETIME(6) NOT NULL) DEFAULT CHARSET=utf8mb4"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("INSERT INTO admin_assert VALUES (7, 'Main', 'data')"); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n", src.Port, dst.Port))
	// Some Magento 1 tables have no key: --auto copies the others.
	e.mustRun("migrate", "data", "--auto")
	var n int
	if err := e.dstDB.QueryRow("SELECT LENGTH(value) FROM _shiplog_state WHERE name = 'source_schema'").Scan(&n); err != nil || n < 100_000 {
		t.Fatalf("recorded source schema: %d bytes (%v)", n, err)
	}
	if _, err := e.srcDB.Exec("UPDATE admin_assert SET assert_type = 'Renamed' WHERE assert_id = 7"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	var name string
	if err := e.dstDB.QueryRow("SELECT assert_type FROM admin_assert WHERE assert_id = 7").Scan(&name); err != nil || name != "Renamed" {
		t.Fatalf("streamed update: %q (%v)", name, err)
	}
	e.mustRun("verify", "--tables", "admin_assert")
}

// narrowTables are a source and a destination whose columns the destination
// makes narrower (precision, length, sign, character set, integer size,
// fractional seconds), with columns of equal types holding zero dates and ENUM
// error values. n1 goes by LOAD DATA, n2 (a JSON column) by INSERT.
var narrowTables = [2][]string{{
	"CREATE TABLE n1 (id INT PRIMARY KEY, price DECIMAL(10,2), code VARCHAR(20), cnt INT, note VARCHAR(20) CHARACTER SET utf8mb4, qty INT, at DATETIME(6), d DATE, e ENUM('a','b'))",
	"CREATE TABLE n2 (id INT PRIMARY KEY, price DECIMAL(10,2), code VARCHAR(20), cnt INT, note VARCHAR(20) CHARACTER SET utf8mb4, qty INT, at DATETIME(6), d DATE, e ENUM('a','b'), j JSON)",
}, {
	"CREATE TABLE n1 (id INT PRIMARY KEY, price DECIMAL(5,2), code VARCHAR(5), cnt INT UNSIGNED, note VARCHAR(20) CHARACTER SET latin1, qty SMALLINT, at DATETIME, d DATE, e ENUM('a','b'))",
	"CREATE TABLE n2 (id INT PRIMARY KEY, price DECIMAL(5,2), code VARCHAR(5), cnt INT UNSIGNED, note VARCHAR(20) CHARACTER SET latin1, qty SMALLINT, at DATETIME, d DATE, e ENUM('a','b'), j JSON)",
}}

// narrowFields are the fields narrowTables narrows, with both types.
var narrowFields = []string{
	"n1.price (decimal(5,2)) is narrower than source field n1.price (decimal(10,2))",
	"n1.code (varchar(5)) is narrower than source field n1.code (varchar(20))",
	"n1.cnt (int(10) unsigned) is narrower than source field n1.cnt (int(11))",
	"n1.note (varchar(20)) is narrower than source field n1.note (varchar(20))",
	"n1.qty (smallint(6)) is narrower than source field n1.qty (int(11))",
	"n1.at (datetime) is narrower than source field n1.at (datetime(6))",
}

// TestNarrowDestinationColumnsNeverClip: the integrity check warns of every
// narrowed field with both types (Magento's tool accepts them); with the
// map ignoring their datatypes too, values that fit are copied
// exactly (zero dates and ENUM error values as they are), values that do not
// are failed rows (exit 3), in the snapshot (LOAD DATA and INSERT) and in the
// stream.
func TestNarrowDestinationColumnsNeverClip(t *testing.T) {
	t.Parallel()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	e := openEnv(t, src, dst)
	ctx := context.Background()
	if err := src.Exec(ctx, "shop", append([]string{"SET SESSION sql_mode = ''"}, narrowTables[0]...)...); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "shop_new", narrowTables[1]...); err != nil {
		t.Fatal(err)
	}
	// Rows 1-3 fit (2: a zero date and the ENUM error value, 3: 'é' and '€'
	// in latin1); each of 11-16 has one value the destination cannot hold.
	rows := func(base int, json bool) string {
		j := ""
		if json {
			j = `, '{"k": 1}'`
		}
		vals := []string{
			"(%d, 999.99, 'abcde', 5, 'plain', 32767, '2024-01-02 03:04:05.000000', '2024-01-02', 'a'%s)",
			"(%d, -999.99, '', 0, '', -32768, '0000-00-00 00:00:00.000000', '0000-00-00', ''%s)",
			"(%d, 0.01, 'x', 1, 'café €', 0, '2024-01-02 03:04:05.000000', NULL, 'b'%s)",
			"(%d, 1000.00, 'a', 1, 'a', 1, NULL, NULL, 'a'%s)",
			"(%d, 1.00, 'abcdef', 1, 'a', 1, NULL, NULL, 'a'%s)",
			"(%d, 1.00, 'a', -1, 'a', 1, NULL, NULL, 'a'%s)",
			"(%d, 1.00, 'a', 1, 'rouble ₽', 1, NULL, NULL, 'a'%s)",
			"(%d, 1.00, 'a', 1, 'a', 32768, NULL, NULL, 'a'%s)",
			"(%d, 1.00, 'a', 1, 'a', 1, '2024-01-02 03:04:05.500000', NULL, 'a'%s)",
		}
		ids := []int{1, 2, 3, 11, 12, 13, 14, 15, 16}
		var out []string
		for i, v := range vals {
			out = append(out, fmt.Sprintf(v, base+ids[i], j))
		}
		return strings.Join(out, ",")
	}
	insert := func(base int) {
		t.Helper()
		if err := src.Exec(ctx, "shop", "SET SESSION sql_mode = ''",
			"INSERT INTO n1 VALUES "+rows(base, false), "INSERT INTO n2 VALUES "+rows(base, true)); err != nil {
			t.Fatal(err)
		}
	}
	insert(0)
	// 60 more fitting rows in one transaction: the stream's LOAD DATA path.
	bulk := func(base int) {
		t.Helper()
		var vals []string
		for i := 0; i < 60; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 1.50, 'bulk', 1, 'n', 1, NULL, NULL, 'a')", base+i))
		}
		if err := src.Exec(ctx, "shop", "INSERT INTO n1 VALUES "+strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
	}

	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n", src.Port, dst.Port))
	// Magento's tool accepts narrower columns: a warning per field, and
	// values that do not fit become failed rows (below), never clipped.
	r := runShiplog(t, e.config, nil, "check")
	if r.code != 0 {
		t.Fatalf("check: exit %d, want 0 (warnings)\n%s", r.code, r.stdout)
	}
	for _, f := range narrowFields {
		if !strings.Contains(r.stdout, "Destination field "+f) {
			t.Errorf("check does not report %q:\n%s", f, r.stdout)
		}
	}

	// The map says so: values that fit are copied, the others are failed rows.
	var ignores []string
	for _, tb := range []string{"n1", "n2"} {
		for _, f := range []string{"price", "code", "cnt", "note", "qty", "at"} {
			ignores = append(ignores, fmt.Sprintf("<datatype>%s.%s</datatype>", tb, f))
		}
	}
	mapFile := filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(mapFile, []byte(`<?xml version="1.0"?><map><source><field_rules><ignore>`+
		strings.Join(ignores, "")+`</ignore></field_rules></source></map>`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", src.Port, dst.Port, mapFile))
	if r := e.mustRun("check"); !strings.Contains(r.stdout, "n1.price (decimal(5,2)) is narrower") || !strings.Contains(r.stdout, "recorded as failed rows") {
		t.Fatalf("check with the datatype ignores: no warning for n1.price:\n%s", r.stdout)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "data"), 3, "partial success")
	insert(100)
	bulk(1000)
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 3)

	want := func(base int) []string {
		return []string{
			fmt.Sprintf("'%d','999.99','abcde','5','plain','32767','2024-01-02 03:04:05','2024-01-02','a'", base+1),
			fmt.Sprintf("'%d','-999.99','','0','','-32768','0000-00-00 00:00:00','0000-00-00',''", base+2),
			fmt.Sprintf("'%d','0.01','x','1','café €','0','2024-01-02 03:04:05',NULL,'b'", base+3),
		}
	}
	for _, tb := range []string{"n1", "n2"} {
		got := rowsOf(t, e.dstDB, "SELECT id, price, code, cnt, note, qty, at, d, e FROM "+tb+" WHERE id < 1000 ORDER BY id")
		w := append(want(0), want(100)...)
		sort.Strings(w)
		sameRows(t, tb, w, got)
	}
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM n1 WHERE id >= 1000 AND price = 1.50 AND code = 'bulk'").Scan(&n); err != nil || n != 60 {
		t.Fatalf("streamed bulk rows: %d (%v)", n, err)
	}
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_failed_rows WHERE handler = 'destination column type'").Scan(&n); err != nil || n != 2*2*6 {
		t.Fatalf("failed rows recorded: %d (%v), want 24", n, err)
	}
	var reason string
	if err := e.dstDB.QueryRow("SELECT error FROM _shiplog_failed_rows WHERE table_name = 'n1' AND field = 'price' LIMIT 1").Scan(&reason); err != nil ||
		!strings.Contains(reason, "decimal(5,2)") || !strings.Contains(reason, "1000.00") {
		t.Fatalf("failed row reason: %q (%v)", reason, err)
	}
}

// TestRefusedHandlerStopsAuto: a map using a handler shiplog refuses
// (Magento's Encrypt on card data) is an error under --auto too, naming the
// handler, the field and the remedy, and nothing is copied.
func TestRefusedHandlerStopsAuto(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE payment (id INT PRIMARY KEY, cc_number_enc VARCHAR(128))")
	if _, err := e.srcDB.Exec("INSERT INTO payment VALUES (1, 'secret-card-data')"); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(mapFile, []byte(`<?xml version="1.0"?><map><source><field_rules>
<transform><field>payment.cc_number_enc</field><handler class="\Migration\Handler\Encrypt"/></transform>
</field_rules></source></map>`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", e.src.Port, e.dst.Port, mapFile))
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "data", "--auto"), 1,
		`Handler \Migration\Handler\Encrypt on payment.cc_number_enc cannot run`, "ignore it in the map", "--auto does not go past these")
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM payment").Scan(&n); err != nil || n != 0 {
		t.Fatalf("destination rows: %d (%v), want none", n, err)
	}
}
