package cascade

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

func tbl(name string, key []int, cols ...cdc.Column) *cdc.Table {
	return &cdc.Table{Schema: "s", Name: name, Columns: cols, Key: key}
}

func col(name, typ string) cdc.Column { return cdc.Column{Name: name, DataType: typ, ColumnType: typ} }

func nullable(c cdc.Column) cdc.Column { c.Nullable = true; return c }

func vcol(name string) cdc.Column {
	return cdc.Column{Name: name, DataType: "varchar", ColumnType: "varchar(20)", Charset: "utf8mb4", Nullable: true}
}

// shopTables: parent(id, code) <- child(id, parent_id, parent_code) <-
// grandchild(id, child_id); tag(id) <- child_tag(child_id, tag_id);
// pair(a, b) <- pairchild(id, a, b); mid(id, parent_id) <- leaf(id, mid_id).
func shopTables() []*cdc.Table {
	return []*cdc.Table{
		tbl("parent", []int{0}, col("id", "int"), vcol("code")),
		tbl("child", []int{0}, col("id", "int"), col("parent_id", "int"), vcol("parent_code"), col("v", "int")),
		tbl("grandchild", []int{0}, col("id", "int"), nullable(col("child_id", "int"))),
		tbl("tag", []int{0}, col("id", "int")),
		tbl("child_tag", []int{0, 1}, col("child_id", "int"), col("tag_id", "int")),
		tbl("pair", []int{0, 1}, col("a", "int"), col("b", "int")),
		tbl("pairchild", []int{0}, col("id", "int"), col("a", "int"), col("b", "int")),
		tbl("mid", []int{0}, col("id", "int"), col("parent_id", "int")),
		tbl("leaf", []int{0}, col("id", "int"), col("mid_id", "int")),
		tbl("nokey", nil, col("x", "int"), col("parent_id", "int")),
	}
}

func shopKeys() []ForeignKey {
	return []ForeignKey{
		{Name: "child_parent", Child: "child", Parent: "parent", ChildCols: []string{"parent_id"}, ParentCols: []string{"id"}, OnDelete: Cascade, OnUpdate: Cascade},
		{Name: "child_code", Child: "child", Parent: "parent", ChildCols: []string{"parent_code"}, ParentCols: []string{"code"}, OnDelete: SetNull, OnUpdate: Cascade},
		{Name: "gc_child", Child: "grandchild", Parent: "child", ChildCols: []string{"child_id"}, ParentCols: []string{"id"}, OnDelete: Cascade, OnUpdate: SetNull},
		{Name: "ct_tag", Child: "child_tag", Parent: "tag", ChildCols: []string{"tag_id"}, ParentCols: []string{"id"}, OnDelete: Cascade},
		{Name: "pc_pair", Child: "pairchild", Parent: "pair", ChildCols: []string{"a", "b"}, ParentCols: []string{"a", "b"}, OnDelete: Cascade, OnUpdate: Cascade},
		{Name: "leaf_mid", Child: "leaf", Parent: "mid", ChildCols: []string{"mid_id"}, ParentCols: []string{"id"}, OnDelete: Cascade},
		{Name: "mid_parent", Child: "mid", Parent: "parent", ChildCols: []string{"parent_id"}, ParentCols: []string{"id"}, OnDelete: Cascade},
		{Name: "restricted", Child: "nokey", Parent: "parent", ChildCols: []string{"parent_id"}, ParentCols: []string{"id"}},
	}
}

// plan compiles rules over shopTables (the destination is the source with
// renames applied and ignored tables left out).
func plan(t *testing.T, rules *transform.Rules) *transform.Plan {
	t.Helper()
	if rules == nil {
		rules = &transform.Rules{}
	}
	ignored := map[string]bool{}
	for _, r := range rules.Source.IgnoreDocuments {
		ignored[r.Name] = true
	}
	renamed := map[string]string{}
	for _, r := range rules.Source.RenameDocuments {
		renamed[r.From] = r.To
	}
	var dst []*cdc.Table
	for _, s := range shopTables() {
		if ignored[s.Name] {
			continue
		}
		d := *s
		d.Columns = append([]cdc.Column(nil), s.Columns...)
		if to, ok := renamed[s.Name]; ok {
			d.Name = to
		}
		dst = append(dst, &d)
	}
	p, problems := transform.Compile(rules, shopTables(), dst)
	if transform.HasErrors(problems) {
		t.Fatalf("plan: %v", problems)
	}
	return p
}

func ignore(names ...string) []transform.Rule {
	var out []transform.Rule
	for _, n := range names {
		out = append(out, transform.Rule{Name: n})
	}
	return out
}

// base ignores the tables whose keys the refusal cases need on their own.
func base() *transform.Rules {
	return &transform.Rules{Source: transform.Area{IgnoreDocuments: ignore("nokey")}}
}

func TestCompileFollowsCopiedChildren(t *testing.T) {
	rules := base()
	rules.Source.RenameDocuments = []transform.Rename{{From: "grandchild", To: "gkid"}, {From: "parent", To: "mother"}}
	rules.Source.IgnoreDocuments = append(rules.Source.IgnoreDocuments, ignore("tag")...)
	s, err := Compile(shopKeys(), plan(t, rules))
	if err != nil {
		t.Fatal(err)
	}
	names := s.Names()
	for _, want := range []string{"child_parent", "child_code", "gc_child", "ct_tag", "pc_pair", "leaf_mid", "mid_parent"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("key %s not followed (%v)", want, names)
		}
	}
	// The ignored parent tag still cascades into its copied child.
	if got := s.Parents(); !reflect.DeepEqual(got, []string{"child", "mid", "pair", "parent", "tag"}) {
		t.Errorf("parents: %v", got)
	}
	if !s.IsParent("tag") || s.IsParent("grandchild") {
		t.Errorf("IsParent(tag) = %v, IsParent(grandchild) = %v", s.IsParent("tag"), s.IsParent("grandchild"))
	}
	if got := s.ChildrenOf("child"); !reflect.DeepEqual(got, []string{"grandchild"}) {
		t.Errorf("children of child: %v", got)
	}
	// A set of keys without actions is empty.
	e, err := Compile([]ForeignKey{shopKeys()[7]}, plan(t, base()))
	if err != nil || !e.Empty() {
		t.Fatalf("keys without actions: empty %v, %v", e.Empty(), err)
	}
}

func TestCompileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules func(*transform.Rules)
		keys  func([]ForeignKey) []ForeignKey
		want  []string
	}{
		{name: "child without key",
			rules: func(r *transform.Rules) { r.Source.IgnoreDocuments = nil; r.FullRowTables = []string{"nokey"} },
			keys: func(k []ForeignKey) []ForeignKey {
				k[7].OnDelete = SetNull
				return k
			},
			want: []string{"foreign key restricted", "the destination table nokey has no primary or unique NOT NULL key", "add a key or ignore nokey in the map"}},
		{name: "parent in another database",
			keys: func(k []ForeignKey) []ForeignKey {
				k[3].ParentSchema = "other"
				return k
			},
			want: []string{"foreign key ct_tag", "the parent is in database other", "ignore child_tag in the map"}},
		{name: "SET DEFAULT",
			keys: func(k []ForeignKey) []ForeignKey {
				k[4].OnUpdate = SetDefault
				return k
			},
			want: []string{"foreign key pc_pair", "SET DEFAULT is not supported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := base()
			if tc.rules != nil {
				tc.rules(rules)
			}
			keys := shopKeys()
			if tc.keys != nil {
				keys = tc.keys(keys)
			}
			s, err := Compile(keys, plan(t, rules))
			if err == nil {
				t.Fatalf("compiled (%v), want an error", s.Names())
			}
			if s != nil {
				t.Errorf("a set with the error")
			}
			for _, w := range append(tc.want, "source foreign keys whose actions shiplog cannot repeat on the destination") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func pos(n uint64) cdc.Position { return cdc.Position{File: "bin.000001", Pos: n} }

func TestGeneratorMarkers(t *testing.T) {
	s, err := Compile(shopKeys(), plan(t, base()))
	if err != nil {
		t.Fatal(err)
	}
	src := shopTables()
	parent, child, pair := src[0], src[1], src[5]
	type marker struct {
		child     string
		cols      []int
		before    []any
		after     []any
		del       bool
		constrain string
	}
	markers := func(out []cdc.Change) []marker {
		var m []marker
		for _, c := range out {
			if c.Op != cdc.OpCascade {
				t.Fatalf("not a marker: %+v", c)
			}
			m = append(m, marker{c.Table.Name, c.Cascade.Cols, c.Before, c.After, c.Cascade.Delete, c.Cascade.Constraint})
		}
		return m
	}
	for _, tc := range []struct {
		name string
		c    cdc.Change
		want []marker
	}{
		{name: "delete of a parent",
			c: cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(5), "c5"}, Pos: pos(10)},
			want: []marker{
				{"child", []int{1}, []any{int64(5)}, nil, true, "child_parent"},
				{"child", []int{2}, []any{"c5"}, []any{nil}, false, "child_code"},
				{"mid", []int{1}, []any{int64(5)}, nil, true, "mid_parent"},
			}},
		{name: "delete of a parent whose code is NULL",
			c: cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(5), nil}, Pos: pos(10)},
			want: []marker{
				{"child", []int{1}, []any{int64(5)}, nil, true, "child_parent"},
				{"mid", []int{1}, []any{int64(5)}, nil, true, "mid_parent"},
			}},
		{name: "update of the referenced key",
			c: cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(6), "c5"}, Pos: pos(10)},
			want: []marker{
				{"child", []int{1}, []any{int64(5)}, []any{int64(6)}, false, "child_parent"},
			}},
		{name: "update of both referenced columns",
			c: cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(6), "C5"}, Pos: pos(10)},
			want: []marker{
				{"child", []int{1}, []any{int64(5)}, []any{int64(6)}, false, "child_parent"},
				{"child", []int{2}, []any{"c5"}, []any{"C5"}, false, "child_code"},
			}},
		{name: "update of a referenced column to NULL",
			c: cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(5), nil}, Pos: pos(10)},
			want: []marker{
				{"child", []int{2}, []any{"c5"}, []any{nil}, false, "child_code"},
			}},
		{name: "update that leaves the referenced columns",
			c: cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(5), "c5"}, Pos: pos(10)}},
		{name: "update from NULL",
			c: cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), nil}, After: []any{int64(5), "c5"}, Pos: pos(10)}},
		{name: "insert of a parent",
			c: cdc.Change{Op: cdc.OpInsert, Table: parent, After: []any{int64(5), "c5"}, Pos: pos(10)}},
		{name: "update of a key whose action on update is SET NULL",
			c: cdc.Change{Op: cdc.OpUpdate, Table: child, Before: []any{int64(7), int64(1), nil, int64(0)}, After: []any{int64(8), int64(1), nil, int64(0)}, Pos: pos(10)},
			want: []marker{
				{"grandchild", []int{1}, []any{int64(7)}, []any{nil}, false, "gc_child"},
			}},
		{name: "update of one column of a two-column key",
			c: cdc.Change{Op: cdc.OpUpdate, Table: pair, Before: []any{int64(1), int64(2)}, After: []any{int64(1), int64(3)}, Pos: pos(10)},
			want: []marker{
				{"pairchild", []int{1, 2}, []any{int64(1), int64(2)}, []any{int64(1), int64(3)}, false, "pc_pair"},
			}},
		{name: "delete with a NULL in a two-column key",
			c: cdc.Change{Op: cdc.OpDelete, Table: pair, Before: []any{int64(1), nil}, Pos: pos(10)}},
		{name: "a table that is nobody's parent",
			c: cdc.Change{Op: cdc.OpDelete, Table: src[2], Before: []any{int64(1), int64(2)}, Pos: pos(10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.Generator().Add(nil, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got := markers(out); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("markers\n got %+v\nwant %+v", got, tc.want)
			}
			for _, m := range out {
				if m.Pos != tc.c.Pos {
					t.Errorf("marker at %v, change at %v", m.Pos, tc.c.Pos)
				}
			}
		})
	}

	t.Run("refresh: every change of a parent", func(t *testing.T) {
		g := s.Generator()
		g.Refresh = true
		out, err := g.Add(nil, cdc.Change{Op: cdc.OpInsert, Table: pair, After: []any{int64(1), int64(2)}, Pos: pos(10)})
		if err != nil {
			t.Fatal(err)
		}
		if got := markers(out); !reflect.DeepEqual(got, []marker{{"pairchild", []int{1, 2}, []any{int64(1), int64(2)}, nil, true, "pc_pair"}}) {
			t.Errorf("markers of an insert: %+v", got)
		}
	})

	t.Run("a table without a referenced column", func(t *testing.T) {
		old := tbl("parent", []int{0}, col("id", "int"))
		_, err := s.Generator().Add(nil, cdc.Change{Op: cdc.OpDelete, Table: old, Before: []any{int64(1)}})
		if err == nil || !strings.Contains(err.Error(), "table parent has no column code any more") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestGeneratorSkipsCopiesTakenLater: a child copied after the parent's
// change reflects its action already: no marker for it, while a child copied
// before still gets one.
func TestGeneratorSkipsCopiesTakenLater(t *testing.T) {
	s, err := Compile(shopKeys(), plan(t, base()))
	if err != nil {
		t.Fatal(err)
	}
	s.SkipUpTo(map[string]cdc.Position{"child": pos(100), "grandchild": pos(100), "parent": pos(500)})
	parent := shopTables()[0]
	names := func(at uint64) []string {
		out, err := s.Generator().Add(nil, cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(5), "c5"}, Pos: pos(at)})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, m := range out {
			n = append(n, m.Cascade.Constraint)
		}
		return n
	}
	if got := names(100); !reflect.DeepEqual(got, []string{"mid_parent"}) {
		t.Errorf("at the child's copy: %v", got)
	}
	if got := names(101); !reflect.DeepEqual(got, []string{"child_parent", "child_code", "mid_parent"}) {
		t.Errorf("after the child's copy: %v", got)
	}
}

// TestGeneratorRefusesCascadesPastALaterCopy: a parent's delete cascades
// into child, whose copy was taken after it (so the stream skips the
// action there: the copy has it), and on into grandchild, whose copy was
// taken before it: the grandchildren of the children the copy no longer
// has cannot be found, and the stream stops naming the tables instead of
// leaving them.
func TestGeneratorRefusesCascadesPastALaterCopy(t *testing.T) {
	s, err := Compile(shopKeys(), plan(t, base()))
	if err != nil {
		t.Fatal(err)
	}
	s.SkipUpTo(map[string]cdc.Position{"child": pos(100), "grandchild": pos(50)})
	parent := shopTables()[0]
	add := func(c cdc.Change) error {
		_, err := s.Generator().Add(nil, c)
		return err
	}
	del := cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(5), "c5"}}
	for _, tc := range []struct {
		at   uint64
		fail bool
	}{{40, false}, {50, false}, {60, true}, {100, true}, {101, false}} {
		del.Pos = pos(tc.at)
		err := add(del)
		if (err != nil) != tc.fail {
			t.Fatalf("delete at %d: %v, want an error: %v", tc.at, err, tc.fail)
		}
		if err != nil && !strings.Contains(err.Error(), "cascades through child, whose copy was taken after it") ||
			err != nil && !strings.Contains(err.Error(), "into grandchild, whose copy was taken before it") {
			t.Fatalf("error: %v", err)
		}
	}
	// An update that leaves the referenced columns cascades nowhere.
	if err := add(cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(5), "c5"}, Pos: pos(60)}); err != nil {
		t.Fatal(err)
	}
	// child_code's SET NULL changes parent_code, which no key references.
	if err := add(cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(5), "c6"}, Pos: pos(60)}); err != nil {
		t.Fatal(err)
	}
	// A key update cascades into child.parent_id, which no key references either.
	if err := add(cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(5), "c5"}, After: []any{int64(6), "c5"}, Pos: pos(60)}); err != nil {
		t.Fatal(err)
	}
}

// TestChainThroughAnUncopiedParentStopsWhenItActs: a key whose parent is
// itself changed by another key's action but is not copied (or not as it
// is) compiles — the parent's own changes are followed — and a change of a
// table whose action reaches it stops the stream when it comes, naming the
// keys and the remedy; changes that do not act through it pass.
func TestChainThroughAnUncopiedParentStopsWhenItActs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules func(r *transform.Rules)
		how   string
	}{
		{"mid not copied", func(r *transform.Rules) {
			r.Source.IgnoreDocuments = append(r.Source.IgnoreDocuments, ignore("mid")...)
		}, "which is not copied"},
		{"mid.id changed by a handler", func(r *transform.Rules) {
			r.Source.Transforms = []transform.Transform{{Field: "mid.id", Handler: transform.HandlerSpec{Name: "SetValue", Params: []transform.Param{{Name: "value", Value: "1"}}}}}
		}, "which is not copied with columns id as they are"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := base()
			tc.rules(rules)
			s, err := Compile(shopKeys(), plan(t, rules))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if !s.Watches("parent") || !s.Watches("mid") || s.Watches("leaf") {
				t.Fatalf("Watches: parent %v, mid %v, leaf %v; want the grandparent and the parent", s.Watches("parent"), s.Watches("mid"), s.Watches("leaf"))
			}
			parent := tbl("parent", []int{0}, col("id", "int"), col("code", "varchar"), col("name", "varchar"))
			mid := tbl("mid", []int{0}, col("id", "int"), col("parent_id", "int"))
			g := s.Generator()
			// A direct delete of a mid row is logged: followed.
			if _, err := g.Add(nil, cdc.Change{Op: cdc.OpDelete, Table: mid, Before: []any{int64(5), int64(1)}}); err != nil {
				t.Fatalf("a delete of mid: %v", err)
			}
			// An update of parent's columns no key references acts on nothing.
			if _, err := g.Add(nil, cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(1), "c1", "a"}, After: []any{int64(1), "c1", "b"}}); err != nil {
				t.Fatalf("an update of parent.name: %v", err)
			}
			// A delete of a parent row deletes mid rows the binlog does not
			// show, and their leaves: stop.
			_, err = g.Add(nil, cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(1), "c1", "a"}})
			for _, w := range []string{"foreign key mid_parent", "a change of parent acts through mid_parent on mid", tc.how, "leaf_mid", "copy mid (those columns unchanged) or ignore leaf in the map", "migrate data --reset"} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("a delete of parent: %v, want an error naming %q", err, w)
				}
			}
		})
	}
}

// TestUnfollowableKeyStopsWhenItActs: a key whose child column is not
// copied as it is compiles; a change of its parent it acts on stops the
// stream with the key, the action and the remedy; other changes pass.
func TestUnfollowableKeyStopsWhenItActs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rules  func(r *transform.Rules)
		parent *cdc.Table
		row    []any
		want   []string
	}{
		{"child column changed by a handler", func(r *transform.Rules) {
			r.Source.Transforms = []transform.Transform{{Field: "child.parent_id", Handler: transform.HandlerSpec{Name: "SetValue", Params: []transform.Param{{Name: "value", Value: "1"}}}}}
		}, tbl("parent", []int{0}, col("id", "int"), col("code", "varchar"), col("name", "varchar")), []any{int64(1), "c1", "a"},
			[]string{"foreign key child_parent (child.parent_id -> parent.id)", "ON DELETE CASCADE, ON UPDATE CASCADE", "column child.parent_id is not copied to the destination as it is", "ignore child in the map", "migrate data --reset"}},
		{"child column ignored", func(r *transform.Rules) {
			r.Source.IgnoreFields = ignore("grandchild.child_id")
			r.Destination.IgnoreFields = ignore("grandchild.child_id")
		}, tbl("child", []int{0}, col("id", "int"), col("parent_id", "int"), col("parent_code", "varchar")), []any{int64(3), int64(1), "c1"},
			[]string{"foreign key gc_child", "ON DELETE CASCADE, ON UPDATE SET NULL", "column grandchild.child_id is not copied to the destination as it is"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := base()
			tc.rules(rules)
			s, err := Compile(shopKeys(), plan(t, rules))
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			g := s.Generator()
			upd := append([]any(nil), tc.row...)
			upd[len(upd)-1] = "other" // a column no key references
			if _, err := g.Add(nil, cdc.Change{Op: cdc.OpUpdate, Table: tc.parent, Before: tc.row, After: upd}); err != nil {
				t.Fatalf("an update no key acts on: %v", err)
			}
			_, err = g.Add(nil, cdc.Change{Op: cdc.OpDelete, Table: tc.parent, Before: tc.row})
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("a delete of %s: %v, want an error naming %q", tc.parent.Name, err, w)
				}
			}
		})
	}
}
