//go:build !unit

package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestStreamUpsertsUseReplaceOnlyWhenSafe: a stream batch of upserts goes
// through LOAD DATA ... REPLACE only into a table whose every column it
// writes and that has no triggers; a destination column the map does not
// fill keeps its value, and a trigger sees updates, not deletes.
func TestStreamUpsertsUseReplaceOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	_, db, st := testDestination(t,
		"CREATE TABLE whole (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE wider (id INT PRIMARY KEY, v VARCHAR(20), extra INT NOT NULL DEFAULT 5)",
		"CREATE TABLE watched (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE audit (n INT)",
		"CREATE TRIGGER watched_del AFTER DELETE ON watched FOR EACH ROW INSERT INTO audit VALUES (OLD.id)",
		"INSERT INTO whole SELECT seq, 'old' FROM seq_1_to_100",
		"INSERT INTO wider SELECT seq, 'old', 9 FROM seq_1_to_100",
		"INSERT INTO watched SELECT seq, 'old' FROM seq_1_to_100")
	ctx := context.Background()
	loads := func() (n int64) {
		var name string
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	w := NewWriter(db, st, Options{Parts: 1})
	for i, name := range []string{"whole", "wider", "watched"} {
		tb := &cdc.Table{Schema: "d", Name: name, Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "v", DataType: "varchar", Charset: "utf8mb4"}}}
		b := cdc.Batch{Pos: cdc.Position{File: "binlog.000001", Pos: uint64(100 + i)}}
		for id := int64(1); id <= 100; id++ {
			b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpUpdate, Table: tb, Before: []any{id, []byte("old")}, After: []any{id, []byte(fmt.Sprintf("new%d", id))}})
		}
		before := loads()
		if err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		used := loads() > before
		if want := name == "whole"; used != want {
			t.Errorf("%s: LOAD DATA used = %v, want %v", name, used, want)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + name + " WHERE v = CONCAT('new', id)").Scan(&n); err != nil || n != 100 {
			t.Errorf("%s: %d rows updated (%v), want 100", name, n, err)
		}
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM wider WHERE extra = 9").Scan(&n); err != nil || n != 100 {
		t.Errorf("wider: %d rows kept their extra column (%v), want 100", n, err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM audit").Scan(&n); err != nil || n != 0 {
		t.Errorf("watched: the delete trigger fired %d times (%v), want 0", n, err)
	}
}
