package mysql

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

func testTable() *cdc.Table {
	return &cdc.Table{Schema: "db", Name: "t", Key: []int{0}, Columns: []cdc.Column{
		{Name: "id", DataType: "int"}, {Name: "v", DataType: "varchar", Charset: "utf8mb4"}}}
}

func TestCompactKeepsFinalStatePerKeyInOrder(t *testing.T) {
	tb := testTable()
	row := func(id int64, v string) []any { return []any{id, []byte(v)} }
	changes := []cdc.Change{
		{Op: cdc.OpInsert, Table: tb, After: row(1, "a")},
		{Op: cdc.OpInsert, Table: tb, After: row(2, "b")},
		{Op: cdc.OpUpdate, Table: tb, Before: row(1, "a"), After: row(1, "a2")},
		{Op: cdc.OpDelete, Table: tb, Before: row(2, "b")},
		{Op: cdc.OpUpdate, Table: tb, Before: row(1, "a2"), After: row(3, "moved")}, // key change
		{Op: cdc.OpInsert, Table: tb, After: row(2, "again")},
	}
	ops := compact(changes)
	var got []string
	for _, o := range ops {
		switch o.kind {
		case opUpsert:
			got = append(got, "upsert "+string(o.row[1].([]byte)))
		case opDelete:
			got = append(got, "delete "+string(rowio.AppendKey(nil, o.row)[1:]))
		}
	}
	want := []string{"delete \x00\x00\x00\x00\x00\x00\x00\x01", "upsert moved", "upsert again"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestCompactFullRowKeepsEveryChange(t *testing.T) {
	tb := testTable()
	tb.Key = nil
	changes := []cdc.Change{
		{Op: cdc.OpInsert, Table: tb, After: []any{int64(1), []byte("x")}},
		{Op: cdc.OpInsert, Table: tb, After: []any{int64(1), []byte("x")}},
		{Op: cdc.OpUpdate, Table: tb, Before: []any{int64(1), []byte("x")}, After: []any{int64(1), []byte("y")}},
	}
	ops := compact(changes)
	kinds := make([]opKind, len(ops))
	for i, o := range ops {
		kinds[i] = o.kind
	}
	want := []opKind{opInsert, opInsert, opDeleteRow, opInsert}
	if len(kinds) != len(want) {
		t.Fatalf("got %v want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("got %v want %v", kinds, want)
		}
	}
}

func TestStatementSplitsByBytes(t *testing.T) {
	tb := testTable()
	w := &Writer{maxStmt: 100}
	ops := make([]op, 50)
	for i := range ops {
		ops[i] = op{kind: opUpsert, table: tb, row: []any{int64(i), []byte("it's")}}
	}
	buf, n, err := w.statement(nil, ops)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 1 || n >= 50 {
		t.Fatalf("statement covered %d rows, want a bounded prefix", n)
	}
	s := string(buf)
	if !strings.HasPrefix(s, "INSERT INTO `db`.`t` (`id`,`v`) VALUES (0,_utf8mb4'it''s')") || !strings.HasSuffix(s, " ON DUPLICATE KEY UPDATE `v`=VALUES(`v`)") {
		t.Fatalf("statement: %s", s)
	}
}

func TestGroupPutsDeletesFirstOnlyForExactKeys(t *testing.T) {
	ints := testTable()
	strs := &cdc.Table{Schema: "db", Name: "s", Key: []int{0}, Columns: []cdc.Column{{Name: "k", DataType: "varchar", Charset: "utf8mb4"}}}
	ops := []op{
		{kind: opUpsert, table: ints, row: []any{int64(1), nil}},
		{kind: opUpsert, table: strs, row: []any{[]byte("A")}},
		{kind: opDelete, table: ints, row: []any{int64(2)}},
		{kind: opDelete, table: strs, row: []any{[]byte("a")}},
		{kind: opUpsert, table: ints, row: []any{int64(3), nil}},
	}
	got := group(ops)
	want := []string{"t delete", "t upsert", "t upsert", "s upsert", "s delete"}
	for i, o := range got {
		if s := o.table.Name + " " + o.kind.String(); s != want[i] {
			t.Fatalf("op %d: %s, want %s (all: %v)", i, s, want[i], got)
		}
	}
}
