package transform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// routeFixture: entity table e (id, email) whose destination also has
// first, a column the plan keeps for routed rows; value table v (value_id,
// entity_id, attr, value) whose attr 1 rows are e.first, attr 2 rows are
// left out, and other rows are copied (as Magento's customer value tables:
// static attributes' rows become entity columns).
func routeFixture(t *testing.T) (ent, val *TablePlan) {
	t.Helper()
	srcE := tbl("e", []int{0}, col("id", "int"), col("email", "varchar"))
	srcV := tbl("v", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("attr", "int"), col("value", "varchar"))
	dstE := tbl("e", []int{0}, col("id", "int"), col("email", "varchar"), col("first", "varchar"))
	dstV := tbl("v", []int{0}, col("value_id", "int"), col("entity_id", "int"), col("attr", "int"), col("value", "varchar"))
	rules := &Rules{}
	rules.Destination.IgnoreFields = []Rule{{Name: "e.first"}}
	plan, problems := Compile(rules, []*cdc.Table{srcE, srcV}, []*cdc.Table{dstE, dstV})
	if HasErrors(problems) {
		t.Fatalf("compile: %v", problems)
	}
	ent, err := plan.Table("e").WithKept([]cdc.Column{col("first", "varchar")})
	if err != nil {
		t.Fatal(err)
	}
	first := ent.Dest.ColumnIndex("first")
	val = plan.Table("v").WithRoute(func(row []any, gone bool) (Route, error) {
		switch row[2] {
		case int64(1):
			r := Route{Kind: SetColumn, Table: ent.Dest, Col: first, Key: []any{row[1]}, Value: row[3]}
			if gone {
				r.Value = cdc.Default
			}
			if s, ok := row[3].(string); ok && len(s) > 5 && !gone {
				return r, errors.New("value too long")
			}
			return r, nil
		case int64(2):
			return Route{Kind: Skip}, nil
		case int64(4):
			// Both: the column gets the value, and the row stays.
			r := Route{Kind: SetColumn, Table: ent.Dest, Col: first, Key: []any{row[1]}, Value: row[3], AlsoCarry: true}
			if gone {
				r.Value = cdc.Default
			}
			return r, nil
		}
		return Route{Kind: Carry}, nil
	}, 1, 2, 0)
	return ent, val
}

func describe(cs []cdc.Change) string {
	var out []string
	for _, c := range cs {
		switch c.Op {
		case cdc.OpSet:
			out = append(out, fmt.Sprintf("set %s%v cols %v", c.Table.Name, c.After, c.Set))
		case cdc.OpDelete:
			out = append(out, fmt.Sprintf("delete %s%v", c.Table.Name, c.Before))
		default:
			out = append(out, fmt.Sprintf("%s %s%v", c.Op, c.Table.Name, c.After))
		}
	}
	return strings.Join(out, "; ")
}

func TestMapRouted(t *testing.T) {
	ent, val := routeFixture(t)
	if ent.Dest.Columns[2].Name != "first" || !ent.Dest.Columns[2].KeepExisting {
		t.Fatalf("kept column: %+v", ent.Dest.Columns)
	}
	row := func(id, e, attr int64, v any) []any { return []any{id, e, attr, v} }
	def := fmt.Sprint(cdc.Default)
	for _, tc := range []struct {
		name          string
		c             cdc.Change
		want, wantErr string
	}{
		{"insert of a static row sets the column", cdc.Change{Op: cdc.OpInsert, After: row(1, 7, 1, "Ann")}, "set e[7 <nil> Ann] cols [2]", ""},
		{"delete of a static row sets the default", cdc.Change{Op: cdc.OpDelete, Before: row(1, 7, 1, "Ann")}, "set e[7 <nil> " + def + "] cols [2]", ""},
		{"update of a static row sets the new value", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 1, "Ann"), After: row(1, 7, 1, "Bo")}, "set e[7 <nil> Bo] cols [2]", ""},
		{"static row moved to another entity", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 1, "Ann"), After: row(1, 8, 1, "Ann")},
			"set e[7 <nil> " + def + "] cols [2]; set e[8 <nil> Ann] cols [2]", ""},
		{"static row becomes a copied one", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 1, "Ann"), After: row(1, 7, 3, "Ann")},
			"set e[7 <nil> " + def + "] cols [2]; insert v[1 7 3 Ann]", ""},
		{"copied row becomes a static one", cdc.Change{Op: cdc.OpUpdate, Before: row(1, 7, 3, "Ann"), After: row(1, 7, 1, "Ann")},
			"delete v[1 <nil> <nil> <nil>]; set e[7 <nil> Ann] cols [2]", ""},
		// An insert of a skipped row deletes its mapping: a change log reads
		// an updated row as an upsert without its before image, and the
		// row's earlier version (attr 3) may be in the destination.
		{"skipped row inserted (or upserted)", cdc.Change{Op: cdc.OpInsert, After: row(2, 7, 2, "x")}, "delete v[2 <nil> <nil> <nil>]", ""},
		{"skipped row deleted", cdc.Change{Op: cdc.OpDelete, Before: row(2, 7, 2, "x")}, "", ""},
		{"skipped row becomes copied", cdc.Change{Op: cdc.OpUpdate, Before: row(2, 7, 2, "x"), After: row(2, 7, 3, "x")}, "insert v[2 7 3 x]", ""},
		{"copied row inserted", cdc.Change{Op: cdc.OpInsert, After: row(3, 7, 3, "y")}, "insert v[3 7 3 y]", ""},
		{"copied row updated", cdc.Change{Op: cdc.OpUpdate, Before: row(3, 7, 3, "y"), After: row(3, 7, 3, "z")}, "update v[3 7 3 z]", ""},
		{"copied row deleted", cdc.Change{Op: cdc.OpDelete, Before: row(3, 7, 3, "y")}, "delete v[3 <nil> <nil> <nil>]", ""},
		{"row set and carried: insert", cdc.Change{Op: cdc.OpInsert, After: row(5, 7, 4, "H")}, "set e[7 <nil> H] cols [2]; insert v[5 7 4 H]", ""},
		{"row set and carried: update", cdc.Change{Op: cdc.OpUpdate, Before: row(5, 7, 4, "H"), After: row(5, 7, 4, "I")}, "set e[7 <nil> I] cols [2]; update v[5 7 4 I]", ""},
		{"row set and carried: delete", cdc.Change{Op: cdc.OpDelete, Before: row(5, 7, 4, "H")}, "set e[7 <nil> " + def + "] cols [2]; delete v[5 <nil> <nil> <nil>]", ""},
		{"set-only row becomes set and carried", cdc.Change{Op: cdc.OpUpdate, Before: row(5, 7, 1, "Ann"), After: row(5, 7, 4, "H")},
			"set e[7 <nil> " + def + "] cols [2]; insert v[5 7 4 H]; set e[7 <nil> H] cols [2]", ""},
		{"set and carried row becomes set-only", cdc.Change{Op: cdc.OpUpdate, Before: row(5, 7, 4, "H"), After: row(5, 7, 1, "Ann")},
			"set e[7 <nil> " + def + "] cols [2]; delete v[5 <nil> <nil> <nil>]; set e[7 <nil> Ann] cols [2]", ""},
		{"router error stops", cdc.Change{Op: cdc.OpInsert, After: row(4, 7, 1, "toolong")}, "", "value too long"},
		{"router error on a gone row does not apply", cdc.Change{Op: cdc.OpDelete, Before: row(4, 7, 1, "toolong")}, "set e[7 <nil> " + def + "] cols [2]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Table = val.Source
			out, f, err := val.MapRouted(c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "table v") {
					t.Fatalf("error %v, want one naming table v and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || f != nil {
				t.Fatalf("err %v, failure %+v", err, f)
			}
			if got := describe(out); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for _, d := range out {
				if d.Op == cdc.OpSet && d.Table != ent.Dest {
					t.Errorf("a set must name the entity plan's own table (a sink orders it with that plan's writes)")
				}
			}
		})
	}
}

func TestRouteOfAndWithKept(t *testing.T) {
	ent, val := routeFixture(t)
	// The entity plan writes the kept column as its default on new rows.
	got, err := ent.Row([]any{int64(7), "a@b"})
	if err != nil || len(got) != 3 || got[2] != cdc.Default || got[1] != "a@b" {
		t.Fatalf("entity row %v, %v", got, err)
	}
	if _, err := ent.WithKept([]cdc.Column{col("FIRST", "varchar")}); err == nil {
		t.Error("a column the plan fills already must be refused")
	}
	for _, tc := range []struct {
		row  []any
		want RouteKind
	}{
		{[]any{int64(1), int64(7), int64(1), "a"}, SetColumn},
		{[]any{int64(1), int64(7), int64(2), "a"}, Skip},
		{[]any{int64(1), int64(7), int64(9), "a"}, Carry},
	} {
		r, err := val.RouteOf(tc.row, false)
		if err != nil || r.Kind != tc.want {
			t.Errorf("route of %v: %v %v, want %v", tc.row, r.Kind, err, tc.want)
		}
	}
	if got := fmt.Sprint(val.RouteReads(), ent.RouteReads()); got != "[1 2] []" {
		t.Errorf("columns the router reads (the key left out): %s", got)
	}
	if r, err := ent.RouteOf([]any{int64(1), "x"}, false); err != nil || r.Kind != Carry || ent.Routed() || !val.Routed() {
		t.Errorf("a plan without a router carries every row: %v %v", r.Kind, err)
	}
	creates := val.WithRoute(func(row []any, gone bool) (Route, error) {
		return Route{Kind: SetColumn, Table: ent.Dest, Col: 2, Key: []any{row[1]}, Value: row[3], Create: !gone}, nil
	})
	for _, c := range []cdc.Change{
		{Op: cdc.OpInsert, Table: val.Source, After: []any{int64(1), int64(7), int64(1), "a"}},
		{Op: cdc.OpDelete, Table: val.Source, Before: []any{int64(1), int64(7), int64(1), "a"}},
	} {
		out, _, err := creates.MapRouted(c)
		if err != nil || len(out) != 1 || out[0].Create != (c.Op == cdc.OpInsert) {
			t.Errorf("%s: the set's Create must be the route's: %+v %v", c.Op, out, err)
		}
	}
	bad := val.WithRoute(func([]any, bool) (Route, error) {
		return Route{Kind: SetColumn, Table: ent.Dest, Col: 0, Key: []any{int64(1)}}, nil
	})
	if _, err := bad.RouteOf([]any{int64(1), int64(7), int64(1), "a"}, false); err == nil {
		t.Error("a route into the key column must be refused")
	}
}

func TestMerge(t *testing.T) {
	a := tbl("a", []int{0}, col("id", "int"))
	b := tbl("b", []int{0}, col("id", "int"))
	p1, _ := Compile(nil, []*cdc.Table{a}, []*cdc.Table{a})
	p2, _ := Compile(nil, []*cdc.Table{b}, []*cdc.Table{b})
	m, err := Merge(p1, p2, "map.xml", "customer_map_file")
	if err != nil || m.Table("a") == nil || m.Table("b") == nil || len(m.Tables()) != 2 || m.Tables()[0].Source.Name != "a" {
		t.Fatalf("merge: %v %v", m, err)
	}
	if _, err := Merge(p1, p1, "map.xml", "customer_map_file"); err == nil || !strings.Contains(err.Error(), "source table a is planned by both map.xml and customer_map_file") {
		t.Errorf("same source table: %v", err)
	}
	// Another source table written into the same destination table.
	rules := &Rules{}
	rules.Source.RenameDocuments = []Rename{{From: "b", To: "a"}}
	p3, problems := Compile(rules, []*cdc.Table{b}, []*cdc.Table{a})
	if HasErrors(problems) || p3.Table("b") == nil {
		t.Fatalf("rename: %v", problems)
	}
	if _, err := Merge(p1, p3, "map.xml", "customer_map_file"); err == nil || !strings.Contains(err.Error(), "destination table a is written by both map.xml (from a) and customer_map_file (from b)") {
		t.Errorf("same destination table: %v", err)
	}
	if _, err := NewPlan(p1.Table("a"), p1.Table("a")); err == nil {
		t.Error("NewPlan must refuse a table planned twice")
	}
}
