//go:build !unit

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

func expectFailure(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
}

func TestBadConfigIsExit2NamingTheKey(t *testing.T) {
	t.Parallel()
	e := &env{t: t}
	cfg := e.writeConfig("source: {host: 127.0.0.1, database: shop, passwd: x}\ndestination: {database: d}\n")
	expectFailure(t, runShiplog(t, cfg, nil, "migrate", "data"), 2, "source.passwd")
	cfg = e.writeConfig("source: {port: nope, database: shop}\ndestination: {database: d}\n")
	expectFailure(t, runShiplog(t, cfg, nil, "status"), 2, "source.port")
	expectFailure(t, runShiplog(t, cfg, nil, "migrate", "data", "--no-such-flag"), 2, "no-such-flag")
}

func TestWrongPasswordIsReportedWithoutTheSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	if err := e.src.Exec(ctx, "", "CREATE USER 'app'@'%' IDENTIFIED BY 'right-one'", "GRANT ALL ON *.* TO 'app'@'%'"); err != nil {
		t.Fatal(err)
	}
	cfg := e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: app, database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
`, e.src.Port, e.dst.Port))
	r := runShiplog(t, cfg, []string{"SHIPLOG_SOURCE_PASSWORD=s3cr3t-Wr0ng"}, "migrate", "data")
	expectFailure(t, r, 1, "Access denied", "source")
	if strings.Contains(r.stderr+r.stdout, "s3cr3t-Wr0ng") {
		t.Fatalf("the password appears in the output:\n%s", r.stderr)
	}
}

func TestServerWithoutUsableBinlogIsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts testenv.Options
		want string
	}{
		{"binlog off", testenv.Options{}, "log_bin"},
		{"statement format", testenv.Options{Binlog: true, BinlogFormat: "STATEMENT"}, "binlog_format"},
		{"minimal metadata", testenv.Options{Binlog: true, RowMetadata: "MINIMAL"}, "binlog_row_metadata"},
	}
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 9})
	if err := dst.Exec(context.Background(), "", "CREATE DATABASE shop_new", "CREATE TABLE shop_new.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := testenv.MariaDBT(t, c.opts)
			if err := src.Exec(context.Background(), "", "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			e := &env{t: t}
			cfg := e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n", src.Port, dst.Port))
			expectFailure(t, runShiplog(t, cfg, nil, "migrate", "data"), 1, c.want)
			var n int
			db, _ := dst.Open("shop_new")
			defer db.Close()
			if err := db.QueryRow("SELECT COUNT(*) FROM _shiplog_tables").Scan(&n); err == nil && n > 0 {
				t.Fatalf("progress was recorded although the source was refused")
			}
		})
	}
}

func TestIntegrityErrorsStopDataMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.both("CREATE TABLE ok (id INT PRIMARY KEY, v INT)")
	if err := e.src.Exec(ctx, "shop", "CREATE TABLE only_source (id INT PRIMARY KEY)", "CREATE TABLE nokey (a INT)", "INSERT INTO ok VALUES (1, 1)"); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "shop_new", "CREATE TABLE nokey (a INT)"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "data")
	expectFailure(t, r, 1, "Source documents are not mapped: only_source", "nokey", "full_row_tables")
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM ok").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows were copied despite integrity errors: %d %v", n, err)
	}
	r = runShiplog(t, e.config, nil, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "Errors (2):\n  source:\n") || !strings.Contains(r.stdout, "only_source") {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// --auto reports the errors as warnings and copies what it can.
	r = runShiplog(t, e.config, nil, "migrate", "data", "--auto")
	if r.code != 0 || !strings.Contains(r.stderr, "level=WARN") {
		t.Fatalf("--auto: exit %d\n%s", r.code, r.stderr)
	}
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM ok").Scan(&n); err != nil || n != 1 {
		t.Fatalf("--auto did not copy the mapped table: %d %v", n, err)
	}
}

func TestPurgedCheckpointIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(20)
	e.mustRun("migrate", "data")
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop", "UPDATE orders SET amount = 3", "FLUSH BINARY LOGS", "UPDATE orders SET amount = 4"); err != nil {
		t.Fatal(err)
	}
	var file string
	var pos int64
	var a, b, c any
	row := e.srcDB.QueryRow("SHOW MASTER STATUS")
	if err := row.Scan(&file, &pos, &a, &b); err != nil {
		if err := e.srcDB.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b, &c); err != nil {
			t.Fatal(err)
		}
	}
	// MariaDB keeps a log until its binlog checkpoint has passed it: purge
	// until the first log is gone.
	waitFor(t, "the purge", 30*time.Second, func() bool {
		if err := e.src.Exec(ctx, "", "PURGE BINARY LOGS TO '"+file+"'"); err != nil {
			t.Fatal(err)
		}
		var first string
		var size any
		if err := e.srcDB.QueryRow("SHOW BINARY LOGS").Scan(&first, &size); err != nil {
			t.Fatal(err)
		}
		return first == file
	})
	r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
	expectFailure(t, r, 1, "purged", "--reset")
	// The one action leads, so a log line cut at 100 characters still holds it.
	lead := "shiplog: run `shiplog --config " + e.config + " migrate data --reset` to copy again"
	if !strings.Contains(r.stderr, "\n"+lead) && !strings.HasPrefix(r.stderr, lead) {
		t.Fatalf("the error does not lead with the remedy %q:\n%s", lead, r.stderr)
	}
}

// TestVolumeCheckNamesMisplacedRows: a destination trigger moves one row to
// another key while it is copied, so both tables hold the same number of rows
// and a whole-table COUNT(*) would agree. The volume check counts in key
// ranges, fails data mode, and names both keys.
func TestVolumeCheckNamesMisplacedRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.both("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))")
	if err := e.src.Exec(ctx, "shop", "INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_25000"); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "shop_new",
		"CREATE TRIGGER misplace BEFORE INSERT ON items FOR EACH ROW BEGIN IF NEW.id = 12345 THEN SET NEW.id = 9000000; END IF; END"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "data")
	expectFailure(t, r, 1, "volume check failed", "source has 25000 rows at the snapshot, destination items has 25000",
		"missing in the destination: id=12345", "extra in the destination: id=9000000")
	// Without the trigger the same copy passes its volume check.
	if err := e.dst.Exec(ctx, "shop_new", "DROP TRIGGER misplace"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data", "--reset")
	e.assertIdentical()
}

// TestSnapshotWithoutLocalInfile: a destination with local_infile = OFF
// refuses LOAD DATA LOCAL; the copy says so once and goes on with INSERT.
func TestSnapshotWithoutLocalInfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.both("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))")
	if err := e.src.Exec(ctx, "shop", "INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_5000"); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "", "SET GLOBAL local_infile = OFF"); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("migrate", "data")
	if !strings.Contains(r.stderr, "refuses LOAD DATA LOCAL INFILE") {
		t.Fatalf("no word of the refused LOAD DATA:\n%s", r.stderr)
	}
	e.assertIdentical()
}

// TestRowOverMaxAllowedPacket: a source row larger than the destination's
// max_allowed_packet stops the stream (and a copy that cannot use LOAD DATA)
// with an error naming the table, the row's key, the setting with its value,
// and the remedy.
func TestRowOverMaxAllowedPacket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	e.both("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)")
	// max_allowed_packet is read by each new connection: shiplog's only.
	if err := e.dst.Exec(ctx, "", "SET GLOBAL max_allowed_packet = 1048576"); err != nil {
		t.Fatal(err)
	}
	if err := e.src.Exec(ctx, "shop", "INSERT INTO blobs VALUES (1, 'small'), (7, REPEAT('x', 2*1024*1024)), (8, 'small')"); err != nil {
		t.Fatal(err)
	}
	// LOAD DATA is not bound by max_allowed_packet: the copy goes through.
	e.mustRun("migrate", "data")
	e.assertIdentical()

	want := []string{"table blobs", "id=7", "max_allowed_packet", "1048576", "SET GLOBAL max_allowed_packet"}
	if err := e.src.Exec(ctx, "shop", "UPDATE blobs SET b = REPEAT('y', 2*1024*1024) WHERE id = 7", "UPDATE blobs SET b = 'x' WHERE id = 8"); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, want...)

	// Without LOAD DATA the copy writes INSERT statements, and says the same.
	if err := e.dst.Exec(ctx, "", "SET GLOBAL local_infile = 0"); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "data", "--reset"), 1, want...)
}
