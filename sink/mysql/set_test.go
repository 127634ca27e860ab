package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestSetOrderedWithItsRowsWrites: an OpSet (a routed source row setting a
// column of an entity row, transform.Route) is applied after the writes of
// its row that came before it and before those after it; compaction must
// not drop the insert it sets a column of, and a table with sets keeps its
// order (its deletes are not moved first).
func TestSetOrderedWithItsRowsWrites(t *testing.T) {
	tb := &cdc.Table{Schema: "db", Name: "e", Key: []int{0}, Columns: []cdc.Column{
		{Name: "id", DataType: "int"}, {Name: "email", DataType: "varchar", Charset: "utf8mb4"},
		{Name: "first", DataType: "varchar", Charset: "utf8mb4", KeepExisting: true}, {Name: "updated_at", DataType: "timestamp"}}}
	ins := func(id int64, e string) cdc.Change {
		return cdc.Change{Op: cdc.OpInsert, Table: tb, After: []any{id, []byte(e), cdc.Default, nil}}
	}
	upd := func(id int64, e string) cdc.Change {
		return cdc.Change{Op: cdc.OpUpdate, Table: tb, Before: []any{id, nil, nil, nil}, After: []any{id, []byte(e), cdc.Default, nil}}
	}
	del := func(id int64) cdc.Change {
		return cdc.Change{Op: cdc.OpDelete, Table: tb, Before: []any{id, nil, nil, nil}}
	}
	set := func(id int64, v any) cdc.Change {
		return cdc.Change{Op: cdc.OpSet, Table: tb, After: []any{id, nil, v, nil}, Set: []int{2}}
	}
	for _, tc := range []struct {
		name    string
		changes []cdc.Change
		want    string
	}{
		{"insert, set, update keeps all three", []cdc.Change{ins(1, "a"), set(1, "Ann"), upd(1, "b")}, "upsert 1; set 1; upsert 1"},
		{"insert, set, delete: the delete comes last", []cdc.Change{ins(1, "a"), set(1, "Ann"), del(1)}, "upsert 1; set 1; delete 1"},
		{"without sets, the last write of a key wins", []cdc.Change{ins(1, "a"), upd(1, "b"), del(1)}, "delete 1"},
		{"a set between other keys' writes", []cdc.Change{ins(2, "x"), set(1, "Ann"), del(2)}, "set 1; delete 2"},
		{"delete then insert again, then set", []cdc.Change{del(1), ins(1, "a"), set(1, "Bo")}, "upsert 1; set 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range group(compact(tc.changes)) {
				got = append(got, fmt.Sprintf("%s %v", o.kind, o.row[0]))
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
	w := &Writer{maxStmt: 1 << 20}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"Ann", "UPDATE `db`.`e` SET `first`=_utf8mb4'Ann',`updated_at`=`updated_at` WHERE `id`=7"},
		{cdc.Default, "UPDATE `db`.`e` SET `first`=DEFAULT,`updated_at`=`updated_at` WHERE `id`=7"},
		{nil, "UPDATE `db`.`e` SET `first`=NULL,`updated_at`=`updated_at` WHERE `id`=7"},
	} {
		buf, n, err := w.statement(nil, compact([]cdc.Change{set(7, tc.v)}))
		if err != nil || n != 1 || string(buf) != tc.want {
			t.Errorf("statement %q (%d, %v), want %q", buf, n, err, tc.want)
		}
	}
	// A set that creates its row when missing (a change-log round may bring
	// a value row before its entity's insert).
	c := set(7, "Ann")
	c.Create = true
	want := "INSERT INTO `db`.`e` (`id`,`first`) VALUES (7,_utf8mb4'Ann') ON DUPLICATE KEY UPDATE `first`=VALUES(`first`),`updated_at`=`updated_at`"
	if buf, n, err := w.statement(nil, compact([]cdc.Change{c})); err != nil || n != 1 || string(buf) != want {
		t.Errorf("statement %q (%d, %v), want %q", buf, n, err, want)
	}
}
