//go:build !unit

package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestTxStreamAppliesPartsInOneTransaction applies a source transaction in
// two parts through a TxStream of a writer with 2 partitions, resumed where
// partition 1 had applied the whole transaction already (an earlier run
// committed it there) and partition 0 had not: nothing is visible before
// Commit, partition 1's rows are left as they were, partition 0's get the
// transaction's values, and both checkpoints end after it. A TxStream rolled
// back leaves nothing.
func TestTxStreamAppliesPartsInOneTransaction(t *testing.T) {
	t.Parallel()
	_, db, st := testDestination(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	ctx := context.Background()
	tb := &cdc.Table{Schema: "d", Name: "t", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "v", DataType: "varchar", Charset: "utf8mb4"}}}
	pos := func(n uint64) cdc.Position { return cdc.Position{File: "binlog.000001", Pos: n} }
	changes := func(from, to int64, v string, p cdc.Position) []cdc.Change {
		var cs []cdc.Change
		for id := from; id <= to; id++ {
			cs = append(cs, cdc.Change{Op: cdc.OpInsert, Table: tb, After: []any{id, []byte(fmt.Sprintf("%s%d", v, id))}, Pos: p})
		}
		return cs
	}
	w := NewWriter(db, st, Options{Parts: 2})
	if err := w.Write(ctx, cdc.Batch{Pos: pos(200), Changes: changes(1, 40, "a", pos(200))}); err != nil {
		t.Fatal(err)
	}
	// An earlier run committed partition 1's part of the transaction
	// (200, 400]: its rows hold "done", its checkpoint is 400.
	inPart1 := map[int64]bool{}
	for id := int64(1); id <= 40; id++ {
		if w.partOf(compact(changes(id, id, "x", pos(1)))[0]) == 1 {
			inPart1[id] = true
			if _, err := db.Exec("UPDATE t SET v = 'done' WHERE id = ?", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(inPart1) == 0 || len(inPart1) == 40 {
		t.Fatalf("%d of 40 keys in partition 1", len(inPart1))
	}
	if _, err := db.Exec("UPDATE _shiplog_checkpoint SET position = ? WHERE id = 2", pos(400).String()); err != nil {
		t.Fatal(err)
	}
	parts, err := st.PartCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w = NewWriter(db, st, Options{Parts: 2})
	w.Resume(parts)

	count := func(q string) (n int) {
		t.Helper()
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Rolled back: nothing.
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, cdc.Batch{Pos: pos(200), Partial: true, Changes: changes(1, 20, "c", pos(300))}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v LIKE 'c%'"); n != 0 {
		t.Fatalf("%d rows of a rolled back TxStream", n)
	}
	// A commit at the position before the transaction is refused: its
	// parts would be applied again after a restart.
	tx, err = w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, cdc.Batch{Pos: pos(200), Partial: true, Changes: changes(1, 20, "c", pos(300))}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx, pos(200), cdc.Batch{}.Time); err == nil {
		t.Fatal("a commit at the position before the transaction was accepted")
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v LIKE 'c%'"); n != 0 {
		t.Fatalf("%d rows of a refused commit", n)
	}

	tx, err = w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, cdc.Batch{Pos: pos(200), Partial: true, Changes: changes(1, 20, "c", pos(300))}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, cdc.Batch{Pos: pos(400), Changes: changes(21, 40, "c", pos(400))}); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v LIKE 'c%'"); n != 0 {
		t.Fatalf("%d rows of the transaction visible before its commit", n)
	}
	if err := tx.Commit(ctx, pos(400), cdc.Batch{}.Time); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v LIKE 'c%'"); n != 40-len(inPart1) {
		t.Fatalf("%d rows of the transaction, want partition 0's %d", n, 40-len(inPart1))
	}
	if n := count("SELECT COUNT(*) FROM t WHERE v = 'done'"); n != len(inPart1) {
		t.Fatalf("%d rows of partition 1 left as the earlier run wrote them, want %d", n, len(inPart1))
	}
	if parts, err = st.PartCheckpoints(ctx); err != nil || len(parts) != 2 || parts[0].Pos != pos(400) || parts[1].Pos != pos(400) {
		t.Fatalf("checkpoints after the commit: %+v, %v", parts, err)
	}
}
