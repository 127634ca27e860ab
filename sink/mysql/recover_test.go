//go:build !unit

package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestRecoverAfterLostCommitAppliesOnce writes a batch whose COMMIT's
// outcome the writer could not know (it did commit), then, after Recover,
// the same batch again: the keyless table's insert is not applied twice.
// A batch that did not commit is applied once after Recover, in 1 and in 3
// partitions, with binlog positions and with change-log positions (which
// have no order: only an exact match says a batch committed).
func TestRecoverAfterLostCommitAppliesOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		parts int
		logs  bool
	}{{1, false}, {3, false}, {1, true}} {
		parts := c.parts
		t.Run(fmt.Sprintf("parts=%d,logs=%v", c.parts, c.logs), func(t *testing.T) {
			_, db, st := testDestination(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE n (a INT)")
			ctx := context.Background()
			tb := &cdc.Table{Schema: "d", Name: "t", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "v", DataType: "varchar", Charset: "utf8mb4"}}}
			nk := &cdc.Table{Schema: "d", Name: "n", Columns: []cdc.Column{{Name: "a", DataType: "int"}}}
			batch := func(p uint64, a int64) cdc.Batch {
				pos := cdc.Position{File: "binlog.000001", Pos: p}
				if c.logs {
					pos = cdc.Position{Logs: fmt.Sprintf("m2_cl_n=%d,m2_cl_t=%d", p, p)}
				}
				b := cdc.Batch{Pos: pos}
				for id := int64(1); id <= 20; id++ {
					b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpInsert, Table: tb, After: []any{id, []byte(fmt.Sprint(p))}, Pos: pos})
				}
				b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpInsert, Table: nk, After: []any{a}, Pos: pos})
				return b
			}
			count := func() int {
				var n int
				if err := db.QueryRow("SELECT COUNT(*) FROM n").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			w := NewWriter(db, st, Options{Parts: parts})
			if err := w.Write(ctx, batch(100, 1)); err != nil {
				t.Fatal(err)
			}
			// The batch committed, but say the connection broke during the
			// COMMIT: the caller writes it again after Recover.
			b := batch(200, 2)
			if err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := w.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 2 {
				t.Fatalf("keyless rows after a batch written again after Recover: %d, want 2", n)
			}
			// A batch that did not commit: Recover, then it is applied once.
			if err := w.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(ctx, batch(300, 3)); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 3 {
				t.Fatalf("keyless rows after a new batch: %d, want 3", n)
			}
			var v string
			if err := db.QueryRow("SELECT v FROM t WHERE id = 7").Scan(&v); err != nil || v != "300" {
				t.Fatalf("t.v = %q (%v), want 300", v, err)
			}
			ckpt, _, _, err := st.Checkpoint(ctx)
			if err != nil || ckpt.String() != batch(300, 3).Pos.String() {
				t.Fatalf("checkpoint %v (%v), want 300", ckpt, err)
			}
		})
	}
}
