//go:build !unit

package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/state"
)

// TestPartitionedWriteResumesEachPartition applies batches in 2 partitions
// on a real server. One partition's transaction fails (a destination trigger
// refuses one row); the other commits its part and its checkpoint. A writer
// resumed from the partitions' checkpoints, given the failed batch again,
// applies only the failed partition's part: the keyless table's insert
// (partition 0, committed) is not duplicated, and both partitions end at
// the batch's position.
func TestPartitionedWriteResumesEachPartition(t *testing.T) {
	t.Parallel()
	m, db, st := testDestination(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE n (a INT)")
	ctx := context.Background()
	tb := &cdc.Table{Schema: "d", Name: "t", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "v", DataType: "varchar", Charset: "utf8mb4"}}}
	nk := &cdc.Table{Schema: "d", Name: "n", Columns: []cdc.Column{{Name: "a", DataType: "int"}}}
	pos := func(n uint64) cdc.Position { return cdc.Position{File: "binlog.000001", Pos: n} }
	batch := func(p cdc.Position, v string, keyless bool) cdc.Batch {
		b := cdc.Batch{Pos: p}
		for id := int64(1); id <= 40; id++ {
			b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpInsert, Table: tb, After: []any{id, []byte(fmt.Sprintf("%s%d", v, id))}, Pos: p})
		}
		if keyless {
			b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpInsert, Table: nk, After: []any{int64(7)}, Pos: p})
		}
		return b
	}
	w := NewWriter(db, st, Options{Parts: 2})
	if err := w.Write(ctx, batch(pos(100), "a", false)); err != nil {
		t.Fatal(err)
	}
	parts, err := st.PartCheckpoints(ctx)
	if err != nil || len(parts) != 2 || parts[0].Pos != pos(100) || parts[1].Pos != pos(100) {
		t.Fatalf("after the first batch: %+v, %v", parts, err)
	}
	// A row of partition 1 is refused: that partition's transaction fails.
	victim := int64(0)
	for id := int64(1); id <= 40 && victim == 0; id++ {
		if w.partOf(compact([]cdc.Change{{Op: cdc.OpInsert, Table: tb, After: []any{id, []byte("x")}}})[0]) == 1 {
			victim = id
		}
	}
	if victim == 0 {
		t.Fatal("no key of 40 hashes to partition 1")
	}
	if err := m.Exec(ctx, "d", fmt.Sprintf("CREATE TRIGGER refuse BEFORE UPDATE ON t FOR EACH ROW BEGIN IF NEW.id = %d THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END", victim)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, batch(pos(200), "b", true)); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("write with a refused row: %v", err)
	}
	ckpt, _, _, err := st.Checkpoint(ctx)
	if err != nil || ckpt != pos(100) {
		t.Fatalf("checkpoint after a partition failed: %v, %v; want the lower partition's %v", ckpt, err, pos(100))
	}
	count := func(q string) (n int) {
		t.Helper()
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Partition 0 committed its part (b values, the keyless row), 1 did not.
	p0b := count("SELECT COUNT(*) FROM t WHERE v LIKE 'b%'")
	if p0b == 0 || p0b == 40 || count("SELECT COUNT(*) FROM n") != 1 {
		t.Fatalf("after the failed batch: %d rows of b, %d keyless rows; want partition 0's part only", p0b, count("SELECT COUNT(*) FROM n"))
	}
	if err := m.Exec(ctx, "d", "DROP TRIGGER refuse"); err != nil {
		t.Fatal(err)
	}
	parts, err = st.PartCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w2 := NewWriter(db, st, Options{Parts: 2})
	w2.Resume(parts)
	if err := w2.Write(ctx, batch(pos(200), "b", true)); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v LIKE 'b%'"); n != 40 {
		t.Fatalf("after the resumed batch: %d rows of b, want 40", n)
	}
	if n := count("SELECT COUNT(*) FROM n"); n != 1 {
		t.Fatalf("the keyless row was applied again: %d rows", n)
	}
	if parts, err = st.PartCheckpoints(ctx); err != nil || parts[0].Pos != pos(200) || parts[1].Pos != pos(200) {
		t.Fatalf("checkpoints after the resumed batch: %+v, %v", parts, err)
	}
	// Back to one partition: the second row goes with the next commit.
	w1 := NewWriter(db, st, Options{Parts: 1})
	if err := w1.Write(ctx, cdc.Batch{Pos: pos(300)}); err != nil {
		t.Fatal(err)
	}
	if parts, err = st.PartCheckpoints(ctx); err != nil || len(parts) != 1 || parts[0].Pos != pos(300) {
		t.Fatalf("checkpoints after going back to one partition: %+v, %v", parts, err)
	}
}

// testDestination starts a server with database d holding the tables of ddl
// and shiplog's state tables, and opens it as a destination.
func testDestination(t *testing.T, ddl ...string) (*testenv.MariaDB, *sql.DB, *state.State) {
	t.Helper()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "d", ddl...); err != nil {
		t.Fatal(err)
	}
	cfg, err := gomysql.ParseDSN(m.DSN("d"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gomysql.NewConnector(SessionConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	st := state.NewState(db, "d")
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return m, db, st
}
