package transform

import (
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestMapRoutedUpsert: text value table t (value_id, entity_id, attr,
// value) whose attr 5 rows are rows of value table w keyed by (entity_id,
// attr) — the PostProcessing step's multiselect mover (the reference's
// EntityTypeTextToVarcharMover moves them from catalog_product_entity_text
// into _varchar with INSERT ... ON DUPLICATE and deletes them from _text).
func TestMapRoutedUpsert(t *testing.T) {
	srcT := tbl("t", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("attr", "int"), col("value", "varchar"))
	dstT := tbl("t", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("attr", "int"), col("value", "varchar"))
	plan, problems := Compile(&Rules{}, []*cdc.Table{srcT}, []*cdc.Table{dstT})
	if HasErrors(problems) {
		t.Fatalf("compile: %v", problems)
	}
	// w's columns: id (the source value_id negated), attr, entity_id, value.
	w := tbl("w", []int{2, 1}, col("id", "int"), col("attr", "int"), col("entity_id", "int"), col("value", "varchar"))
	project := func(d []any) []any {
		var id any
		if v, ok := d[0].(int64); ok {
			id = -v
		}
		return []any{id, d[2], d[1], d[3]}
	}
	tp := plan.Table("t").WithRoute(func(row []any, gone bool) (Route, error) {
		if row[2] == int64(5) {
			return Route{Kind: Upsert, Table: w, Project: project}, nil
		}
		return Route{Kind: Carry}, nil
	}, 1, 2)
	row := func(id, e, attr int64, v any) []any { return []any{id, e, attr, v} }
	for _, tc := range []struct {
		name string
		c    cdc.Change
		want string
	}{
		// A change log's insert (no before image) may be an upsert of a row
		// carried before (attr changed): its mapping in t is deleted.
		{"moved row inserted", cdc.Change{Op: cdc.OpInsert, After: row(1, 7, 5, "1,2")}, "delete t[1 <nil> <nil> <nil>]; insert w[-1 5 7 1,2]"},
		{"moved row read by the copy's stream", cdc.Change{Op: cdc.OpRead, After: row(1, 7, 5, "1,2"), Before: nil}, "delete t[1 <nil> <nil> <nil>]; read w[-1 5 7 1,2]"},
		{"moved row updated", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 5, "1,2"), After: row(1, 7, 5, "3")}, "update w[-1 5 7 3]"},
		{"moved row deleted (a change log's delete: key and the route's reads)", cdc.Change{Op: cdc.OpDelete, Before: row(1, 7, 5, nil)}, "delete w[-1 5 7 <nil>]"},
		{"moved row becomes carried", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 5, "1"), After: row(1, 7, 3, "1")}, "delete w[-1 5 7 1]; insert t[1 7 3 1]"},
		{"carried row becomes moved", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 3, "1"), After: row(1, 7, 5, "1")}, "delete t[1 <nil> <nil> <nil>]; insert w[-1 5 7 1]"},
		{"carried row inserted", cdc.Change{Op: cdc.OpInsert, After: row(2, 7, 3, "x")}, "insert t[2 7 3 x]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Table = tp.Source
			out, f, err := tp.MapRouted(c)
			if err != nil || f != nil {
				t.Fatalf("err %v, failure %+v", err, f)
			}
			if got := describe(out); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for _, d := range out {
				if d.Table.Name == "w" && d.Table != w {
					t.Errorf("a moved row must name the route's table")
				}
			}
		})
	}
	// The copy's row of w, and the update of a moved row's key: the writer
	// deletes the old key (its before image is projected too).
	got, err := tp.Moved(row(3, 8, 5, "9"), Route{Kind: Upsert, Table: w, Project: project})
	if err != nil || len(got) != 4 || got[0] != int64(-3) || got[2] != int64(8) {
		t.Errorf("copied row of w: %v %v", got, err)
	}
	out, _, err := tp.MapRouted(cdc.Change{Op: cdc.OpUpdate, Table: tp.Source, Before: row(1, 7, 5, "1"), After: row(1, 9, 5, "1")})
	if err != nil || len(out) != 1 || out[0].Before == nil || out[0].Before[2] != int64(7) || out[0].After[2] != int64(9) {
		t.Errorf("moved row's key changed: %+v %v", out, err)
	}
	bad := tp.WithRoute(func([]any, bool) (Route, error) { return Route{Kind: Upsert, Table: w}, nil })
	if _, err := bad.RouteOf(row(1, 7, 5, "1"), false); err == nil {
		t.Error("an Upsert route without a projection must be refused")
	}
}

// TestOwnRowsAndAsRowsOf: the plan of rows moved into another table, for
// verify, and a plan's own rows of its destination.
func TestOwnRowsAndAsRowsOf(t *testing.T) {
	src := tbl("t", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("value", "varchar"))
	dst := tbl("t", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("value", "varchar"))
	plan, problems := Compile(&Rules{}, []*cdc.Table{src}, []*cdc.Table{dst})
	if HasErrors(problems) {
		t.Fatalf("compile: %v", problems)
	}
	tp := plan.Table("t")
	if where, own := tp.OwnRows(); where != "" || !own([]any{int64(-1)}) {
		t.Errorf("a plan without own rows owns every row: %q", where)
	}
	neg := tp.WithOwnRows("`value_id` >= 0", func(k []any) bool { return k[0].(int64) >= 0 })
	if where, own := neg.OwnRows(); where != "`value_id` >= 0" || own([]any{int64(-1)}) || !own([]any{int64(1)}) {
		t.Errorf("own rows: %q", where)
	}
	w := tbl("w", []int{1}, col("value_id", "int"), col("entity_id", "int"), col("value", "varchar"))
	rows, err := tp.WithRoute(func([]any, bool) (Route, error) { return Route{Kind: Skip}, nil }).AsRowsOf(w)
	if err != nil || rows.Dest != w || rows.Routed() {
		t.Fatalf("rows of w: %v %v", rows, err)
	}
	if got, err := rows.Row([]any{int64(1), int64(7), "a"}); err != nil || len(got) != 3 || got[1] != int64(7) {
		t.Errorf("mapped row of w: %v %v", got, err)
	}
	other := tbl("w", []int{1}, col("id", "int"), col("entity_id", "int"), col("value", "varchar"))
	if _, err := tp.AsRowsOf(other); err == nil {
		t.Error("a destination of other columns must be refused")
	}
	if also := tp.WithAlsoVerify(rows).AlsoVerify(); len(also) != 1 || also[0] != rows {
		t.Errorf("plans verified with tp: %v", also)
	}
}
