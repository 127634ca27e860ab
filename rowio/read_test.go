//go:build !unit

package rowio_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
)

// TestReadsOnARealServer reads a table keyed by an integer and a latin1
// string every way rowio reads rows: in keyset chunks, by key, one row and
// whole; and the binary log position of the server.
func TestReadsOnARealServer(t *testing.T) {
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE s"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "s",
		"CREATE TABLE t (k1 INT NOT NULL, k2 VARCHAR(8) CHARACTER SET latin1 NOT NULL, v DOUBLE, PRIMARY KEY (k1, k2))",
		"INSERT INTO t SELECT seq DIV 2, IF(seq % 2 = 0, 'a''\\\\', _latin1 X'E9'), seq / 4 FROM seq_0_to_9",
		"CREATE TABLE _shiplog_x (id INT PRIMARY KEY)",
	); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := rowio.LoadTables(ctx, db, "s", "_shiplog_")
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Name != "t" || !reflect.DeepEqual(tables[0].Key, []int{0, 1}) {
		t.Fatalf("tables: %+v", tables)
	}
	tb := tables[0]

	conn, release, err := rowio.RawConn(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]any
	var after []any
	for {
		rows, err := rowio.ReadChunk(ctx, conn, tb, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
		if len(rows) < 3 {
			break
		}
		after = tb.KeyOf(rows[len(rows)-1])
	}
	if len(all) != 10 {
		t.Fatalf("chunks read %d rows, want 10", len(all))
	}
	for i, r := range all {
		k2 := []byte("a'\\")
		if i%2 == 1 {
			k2 = []byte{0xe9}
		}
		want := []any{int64(i / 2), k2, float64(i) / 4}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("row %d: %#v, want %#v", i, r, want)
		}
	}
	found, err := rowio.ReadRowsByKey(ctx, conn, tb, tb.Key, [][]any{tb.KeyOf(all[7]), {int64(99), []byte("x")}, tb.KeyOf(all[2])})
	release()
	if err != nil || len(found) != 2 {
		t.Fatalf("by key: %d rows, %v", len(found), err)
	}
	row, ok, err := rowio.ReadRow(ctx, db, tb, tb.KeyOf(all[5]))
	if err != nil || !ok || !reflect.DeepEqual(row, all[5]) {
		t.Fatalf("ReadRow: %#v, %v, %v", row, ok, err)
	}
	var n int
	if err := rowio.ReadTable(ctx, db, tb, func([]any) error { n++; return nil }); err != nil || n != 10 {
		t.Fatalf("ReadTable: %d rows, %v", n, err)
	}

	st, ok, err := rowio.ReadMasterStatus(ctx, db)
	if err != nil || !ok || st.File == "" || st.Pos == 0 {
		t.Fatalf("master status: %+v, %v, %v", st, ok, err)
	}
	// The position moves with a write.
	if err := m.Exec(ctx, "s", "INSERT INTO t VALUES (100, 'z', 0)"); err != nil {
		t.Fatal(err)
	}
	st2, _, err := rowio.ReadMasterStatus(ctx, db)
	if err != nil || fmt.Sprint(st2) == fmt.Sprint(st) {
		t.Fatalf("master status after a write: %+v (before %+v), %v", st2, st, err)
	}
}
