//go:build !unit

package binlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
)

func TestCheckServerSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		opts testenv.Options
		want error
	}{
		{"statement format", testenv.Options{Binlog: true, BinlogFormat: "STATEMENT"}, ErrNotRowFormat},
		{"minimal metadata", testenv.Options{Binlog: true, RowMetadata: "MINIMAL"}, ErrRowMetadataNotFull},
		{"binlog off", testenv.Options{}, ErrBinlogOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testenv.MariaDBT(t, c.opts)
			db, err := m.Open("")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = CheckServer(ctx, db)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Logf("%v", err)
			if c.want == ErrBinlogOff {
				if _, err := HeadPosition(ctx, db, ""); !errors.Is(err, ErrBinlogOff) {
					t.Errorf("HeadPosition without binlog: got %v", err)
				}
			}
		})
	}
}

// streamUntil streams from `from` until Stream returns, collecting batches.
func streamUntil(ctx context.Context, m *testenv.MariaDB, from cdc.Position, cfg Config) ([]cdc.Batch, error) {
	cfg.Host, cfg.Port, cfg.User = "127.0.0.1", uint16(m.Port), "root"
	var batches []cdc.Batch
	err := NewReader(cfg).Stream(ctx, from, func(_ context.Context, b cdc.Batch) error {
		batches = append(batches, b)
		return nil
	})
	return batches, err
}

func TestStreamMariaDB(t *testing.T) {
	t.Parallel()
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	flavor, err := CheckServer(ctx, db)
	if err != nil || flavor != "mariadb" {
		t.Fatalf("CheckServer: %q %v", flavor, err)
	}
	if err := m.Exec(ctx, "",
		"CREATE DATABASE shop", "CREATE DATABASE other",
		`CREATE TABLE shop.t (
			id INT PRIMARY KEY,
			ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
			mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
			d DECIMAL(65,30), f FLOAT, db DOUBLE, b BIT(64),
			c CHAR(10), vc VARCHAR(50) CHARACTER SET utf8mb4, bn BINARY(4), vb VARBINARY(10), bl BLOB, tx TEXT,
			e ENUM('small','medium','large'), st SET('a','b','c'), j JSON,
			dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, yr YEAR, g GEOMETRY
		) DEFAULT CHARSET=utf8mb4`,
		"CREATE TABLE shop.skipped (id INT PRIMARY KEY)",
		"CREATE TABLE other.x (id INT PRIMARY KEY, v VARCHAR(10))",
	); err != nil {
		t.Fatal(err)
	}
	head, err := HeadPosition(ctx, db, flavor)
	if err != nil {
		t.Fatal(err)
	}
	if head.File == "" || head.Pos == 0 || head.GTID == "" {
		t.Fatalf("head position %v lacks file, offset or GTID", head)
	}
	if err := CheckPositionAvailable(ctx, db, head); err != nil {
		t.Fatal(err)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	exec("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'")
	exec("BEGIN",
		`INSERT INTO shop.t VALUES (1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
			9223372036854775807, 18446744073709551615,
			'12345678901234567890123456789012345.123456789012345678901234567890', 1.5, -2.25, b'1111111111111111111111111111111111111111111111111111111111111111',
			'abc', 'héllo 🙂', X'01020000', X'00FF', X'DEADBEEF00', 'text ✓',
			'large', 'a,c', '{"k": [1, 2]}',
			'2024-02-29', '-838:59:59.000000', '9999-12-31 23:59:59.999999', '2024-01-02 03:04:05.678', 2155, ST_GeomFromText('POINT(1 2)'))`,
		`INSERT INTO shop.t (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, d, b, c, vb, st, dt, tm, dtm, yr)
			VALUES (2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
			'-0.000000000000000000000000000001', b'0', '', '', '', '0000-00-00', '-00:00:01.500000', '0000-00-00 00:00:00', 0)`,
		"INSERT INTO other.x VALUES (1, 'no')",
		"INSERT INTO shop.skipped VALUES (1)",
		"COMMIT")
	exec("BEGIN", "INSERT INTO other.x VALUES (2, 'no')", "COMMIT")
	exec("BEGIN", "UPDATE shop.t SET vc = 'changed', tm = '12:00:00' WHERE id = 1", "DELETE FROM shop.t WHERE id = 2", "COMMIT")
	exec("ALTER TABLE other.x ADD COLUMN z INT") // another schema's DDL: an empty batch
	exec("ALTER TABLE shop.t ADD COLUMN z INT")

	var geom []byte
	if err := db.QueryRowContext(ctx, "SELECT g FROM shop.t WHERE id = 1").Scan(&geom); err != nil {
		t.Fatal(err)
	}

	batches, err := streamUntil(ctx, m, head, Config{
		Schema: "shop", Tables: func(name string) bool { return name != "skipped" }, HeartbeatPeriod: 200 * time.Millisecond,
	})
	var ddl *DDLError
	if !errors.As(err, &ddl) {
		t.Fatalf("Stream: got %v, want a *DDLError", err)
	}
	if !strings.Contains(ddl.Statement, "ALTER TABLE shop.t ADD COLUMN z") || ddl.Table != "t" ||
		!strings.Contains(ddl.Error(), "DDL on copied table `shop`.`t` at "+ddl.Pos.String()+": ALTER TABLE shop.t") {
		t.Fatalf("DDL error: %v (%+v)", ddl, ddl)
	}

	var withRows []cdc.Batch
	last := head
	sawOtherOnly := false
	for _, b := range batches {
		if b.Pos.Compare(last) < 0 {
			t.Fatalf("position went backwards: %v after %v", b.Pos, last)
		}
		if !strings.HasPrefix(b.Pos.GTID, "0-1-") {
			t.Fatalf("batch at %v lacks the MariaDB GTID", b.Pos)
		}
		last = b.Pos
		if len(b.Changes) > 0 {
			withRows = append(withRows, b)
		} else if len(withRows) == 1 && !b.Time.IsZero() {
			sawOtherOnly = true // the transaction on other.x only
		}
		for _, c := range b.Changes {
			if c.Table.Schema != "shop" || c.Table.Name != "t" {
				t.Fatalf("change of unselected table %s.%s emitted", c.Table.Schema, c.Table.Name)
			}
			if c.Pos != b.Pos || !c.CommitTime.Equal(b.Time) || b.Time.IsZero() {
				t.Fatalf("change pos/time %v %v differ from batch %v %v", c.Pos, c.CommitTime, b.Pos, b.Time)
			}
		}
	}
	if ddl.Pos != last {
		t.Errorf("DDL position %v, want the last emitted %v", ddl.Pos, last)
	}
	if !sawOtherOnly {
		t.Error("the transaction touching only other.x gave no empty batch")
	}
	if len(withRows) != 2 || len(withRows[0].Changes) != 2 || len(withRows[1].Changes) != 2 {
		for _, b := range batches {
			t.Logf("batch %v: %d changes", b.Pos, len(b.Changes))
		}
		t.Fatalf("want 2 transactions of 2 changes each")
	}
	tbl := withRows[0].Changes[0].Table
	if withRows[1].Changes[0].Table != tbl {
		t.Error("the table pointer changed though the table did not")
	}
	if !reflect.DeepEqual(tbl.Key, []int{0}) || tbl.KeyName != "PRIMARY" {
		t.Errorf("key %v %q", tbl.Key, tbl.KeyName)
	}
	wantTypes := "int tinyint tinyint smallint smallint mediumint mediumint int int bigint bigint decimal float double bit " +
		"char varchar binary varbinary blob text enum set longtext date time datetime timestamp year geometry"
	var gotTypes []string
	for _, c := range tbl.Columns {
		gotTypes = append(gotTypes, c.DataType)
	}
	if strings.Join(gotTypes, " ") != wantTypes {
		t.Errorf("data types\n got %s\nwant %s", strings.Join(gotTypes, " "), wantTypes)
	}
	if !tbl.Columns[2].Unsigned || tbl.Columns[1].Unsigned || tbl.Columns[0].Nullable || !tbl.Columns[1].Nullable {
		t.Errorf("unsigned/nullable flags wrong: %+v %+v", tbl.Columns[1], tbl.Columns[2])
	}
	if tbl.Columns[11].ColumnType != "decimal(65,30)" || tbl.Columns[16].ColumnType != "varchar(50)" || tbl.Columns[25].ColumnType != "time(6)" {
		t.Errorf("column types %q %q %q", tbl.Columns[11].ColumnType, tbl.Columns[16].ColumnType, tbl.Columns[25].ColumnType)
	}

	row1 := []any{int64(1), int64(127), uint64(255), int64(32767), uint64(65535), int64(8388607), uint64(16777215),
		int64(2147483647), uint64(4294967295), int64(9223372036854775807), uint64(18446744073709551615),
		"12345678901234567890123456789012345.123456789012345678901234567890", float32(1.5), float64(-2.25), uint64(18446744073709551615),
		[]byte("abc"), []byte("héllo 🙂"), []byte{1, 2, 0, 0}, []byte{0, 0xff}, []byte{0xde, 0xad, 0xbe, 0xef, 0}, []byte("text ✓"),
		"large", "a,c", []byte(`{"k": [1, 2]}`),
		"2024-02-29", "-838:59:59.000000", "9999-12-31 23:59:59.999999", "2024-01-02 03:04:05.678", int64(2155), geom}
	row2 := []any{int64(2), int64(-128), uint64(0), int64(-32768), uint64(0), int64(-8388608), uint64(0),
		int64(-2147483648), uint64(0), int64(-9223372036854775808), uint64(0),
		"-0.000000000000000000000000000001", nil, nil, uint64(0),
		[]byte{}, nil, nil, []byte{}, nil, nil,
		nil, "", nil,
		"0000-00-00", "-00:00:01.500000", "0000-00-00 00:00:00.000000", nil, int64(0), nil}
	row1After := append([]any(nil), row1...)
	row1After[16], row1After[25] = []byte("changed"), "12:00:00.000000"

	check := func(what string, c cdc.Change, op cdc.Op, before, after []any) {
		t.Helper()
		if c.Op != op {
			t.Errorf("%s: op %v, want %v", what, c.Op, op)
		}
		for _, img := range []struct {
			name      string
			got, want []any
		}{{"before", c.Before, before}, {"after", c.After, after}} {
			if len(img.got) != len(img.want) {
				t.Errorf("%s %s: %d values, want %d", what, img.name, len(img.got), len(img.want))
				continue
			}
			for i := range img.want {
				if !reflect.DeepEqual(img.got[i], img.want[i]) {
					t.Errorf("%s %s column %s: got %#v (%T), want %#v (%T)", what, img.name, tbl.Columns[i].Name,
						img.got[i], img.got[i], img.want[i], img.want[i])
				}
			}
		}
	}
	check("insert 1", withRows[0].Changes[0], cdc.OpInsert, nil, row1)
	check("insert 2", withRows[0].Changes[1], cdc.OpInsert, nil, row2)
	check("update 1", withRows[1].Changes[0], cdc.OpUpdate, row1, row1After)
	check("delete 2", withRows[1].Changes[1], cdc.OpDelete, row2, nil)

	// Resuming from an emitted position yields what followed it, and heartbeats
	// report the head while idle.
	head2, err := HeadPosition(ctx, db, flavor)
	if err != nil {
		t.Fatal(err)
	}
	if lag, err := LagBytes(ctx, db, withRows[0].Pos, head2); err != nil || lag <= 0 {
		t.Errorf("LagBytes: %d %v", lag, err)
	}
	resume := withRows[1].Pos
	sctx, stop := context.WithCancel(ctx)
	var after []cdc.Batch
	err = NewReader(Config{Host: "127.0.0.1", Port: uint16(m.Port), User: "root", Schema: "nothing", HeartbeatPeriod: 100 * time.Millisecond}).
		Stream(sctx, cdc.Position{GTID: resume.GTID}, func(_ context.Context, b cdc.Batch) error {
			after = append(after, b)
			if b.Pos.Compare(head2) >= 0 {
				stop()
			}
			return nil
		})
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GTID resume: %v", err)
	}
	if got := after[len(after)-1].Pos; got.File != head2.File || got.Pos != head2.Pos || got.GTID != head2.GTID {
		t.Errorf("GTID resume ended at %v, want head %v", got, head2)
	}

	// A purged position is reported by CheckPositionAvailable and by Stream.
	// MariaDB keeps a binlog until its binlog checkpoint has passed it (and
	// until dump threads let go of it), so purge until the file is gone.
	exec("FLUSH BINARY LOGS")
	now, err := HeadPosition(ctx, db, flavor)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		exec(fmt.Sprintf("PURGE BINARY LOGS TO '%s'", now.File))
		err = CheckPositionAvailable(ctx, db, head)
		if err != nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !errors.Is(err, ErrPositionPurged) || !strings.Contains(err.Error(), head.File) {
		t.Fatalf("CheckPositionAvailable on a purged file: %v", err)
	}
	if _, err := LagBytes(ctx, db, head, now); !errors.Is(err, ErrPositionPurged) {
		t.Errorf("LagBytes from a purged file: %v", err)
	}
	if _, err := streamUntil(ctx, m, cdc.Position{File: head.File, Pos: head.Pos}, Config{Schema: "shop"}); !errors.Is(err, ErrPositionPurged) {
		t.Fatalf("Stream from a purged file: %v", err)
	}
}

// TestStreamLargeTransactionInParts streams a 200,000-row transaction with
// MaxGroupBytes far below its size, and kills the replication connection
// after the first part: the parts carry the position before the
// transaction, their changes positions inside it, and after the reconnect
// the transaction is read again without emitting a change twice: every row
// arrives exactly once, in order, and the last batch ends the transaction.
func TestStreamLargeTransactionInParts(t *testing.T) {
	t.Parallel()
	// Rows events of at most 256 bytes: the transaction (about 200,000
	// events, 36 MB) is much more than the reader reads ahead (eventBuffer)
	// plus what loopback sockets hold (their buffers grow to a few MB), so
	// its end cannot have arrived before the kill. With 20,000 rows in 8 KB
	// events, and again with 200,000 short rows (3.4 MB), it could under
	// load: the test then failed for the missing reconnect.
	const rows = 200000
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true, ExtraArgs: []string{"--binlog-row-event-max-size=256"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := m.Exec(ctx, "", "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(200))"); err != nil {
		t.Fatal(err)
	}
	head, err := HeadPosition(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "shop",
		fmt.Sprintf("INSERT INTO shop.t SELECT seq, CONCAT('row ', seq, REPEAT('x', 160)) FROM seq_1_to_%d", rows),
		"INSERT INTO shop.t VALUES (0, 'after')"); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	var (
		batches  []cdc.Batch
		ids      []int64
		killed   bool
		finalPos cdc.Position
	)
	errDone := errors.New("done")
	cfg := Config{Host: "127.0.0.1", Port: uint16(m.Port), User: "root", Schema: "shop", MaxGroupBytes: 16 << 10,
		HeartbeatPeriod: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	err = NewReader(cfg).Stream(ctx, head, func(ctx context.Context, b cdc.Batch) error {
		// The transaction's last batch may hold no change (its last rows
		// event ended a part).
		if len(b.Changes) == 0 && (len(batches) == 0 || !batches[len(batches)-1].Partial) {
			return nil
		}
		batches = append(batches, b)
		for _, c := range b.Changes {
			ids = append(ids, c.After[0].(int64))
		}
		if b.Partial && !killed {
			killed = true
			// The replication connection dies in the middle of the transaction.
			var id int64
			if err := db.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'").Scan(&id); err != nil {
				return err
			}
			if _, err := db.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err != nil {
				return err
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				var n int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the killed replication connection %d is still there", id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !b.Partial && finalPos.IsZero() {
			finalPos = b.Pos
			if !strings.Contains(logs.String(), "reconnecting") {
				return fmt.Errorf("the transaction ended before the reader reconnected; logs:\n%s", logs.String())
			}
		}
		if !b.Partial && len(b.Changes) > 0 && b.Changes[0].After[0].(int64) == 0 {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Stream: %v", err)
	}
	if len(ids) != rows+1 {
		t.Fatalf("%d changes, want %d (%d rows once, then the next transaction's)", len(ids), rows+1, rows)
	}
	for i, id := range ids[:rows] {
		if id != int64(i+1) {
			t.Fatalf("change %d is of row %d, want %d", i, id, i+1)
		}
	}
	parts := 0
	for _, b := range batches[:len(batches)-2] {
		if !b.Partial {
			t.Fatalf("a batch before the transaction's last is not Partial: %+v", b.Pos)
		}
		if b.Pos.Compare(head) != 0 {
			t.Fatalf("a part carries position %s, want the position before the transaction, %s", b.Pos, head)
		}
		for _, c := range b.Changes {
			if c.Pos.Compare(head) <= 0 || c.Pos.Compare(finalPos) >= 0 {
				t.Fatalf("a change of a part has position %s, not inside the transaction (%s, %s)", c.Pos, head, finalPos)
			}
		}
		parts++
	}
	if last := batches[len(batches)-2]; last.Partial || last.Pos.Compare(head) <= 0 {
		t.Fatalf("the transaction's last batch: partial %v at %s", last.Partial, last.Pos)
	}
	if parts < 10 {
		t.Fatalf("the transaction came in %d parts, want many", parts)
	}
	t.Logf("%d parts; logs:\n%s", parts, logs.String())
}
